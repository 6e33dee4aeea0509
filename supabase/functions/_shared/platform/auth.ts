// What a verified caller may do: the claims a user's session carries, the one platform-administrator
// rule, and the claims a caller's SQL runs under. Who the caller is comes from credentials.ts, which
// verifies tokens and keys inside the function (verify_jwt is off everywhere: hosted's cannot check
// signing-key sessions or the new API keys).

import type { Caller } from "./credentials.ts";

export interface Claims {
  role?: string;
  sub?: string;
  email?: string;
  app_metadata?: Record<string, unknown>;
  [k: string]: unknown;
}

/** The one platform-administrator rule, as public.is_platform_admin() has it in SQL: the service
 * role, or a signed-in user whose app_metadata (writable only with the service role) says so. */
export function isPlatformAdmin(claims: Claims | null): boolean {
  return claims?.role === "service_role" ||
    (claims?.role === "authenticated" && claims.app_metadata?.platform_admin === true);
}

/** The claims a caller's SQL runs under (withRls): the user's own, or the service role's. */
export function callerClaims(caller: Caller): Claims | null {
  if (caller.kind === "user") return caller.claims;
  if (caller.kind === "service") return { role: "service_role" };
  return null;
}

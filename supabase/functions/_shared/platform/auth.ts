// Who is calling: the claims of the request's JWT. Functions with verify_jwt = true sit behind
// the platform gateway, which has already checked the signature and expiry, so this decodes
// without re-verifying (as Supabase's own guidance does) and never trusts an unverified route.

import { decodeJwt } from "jose";

export interface Claims {
  role?: string;
  sub?: string;
  email?: string;
  app_metadata?: Record<string, unknown>;
  [k: string]: unknown;
}

export function verifiedClaims(req: Request): Claims | null {
  const m = req.headers.get("authorization")?.match(/^Bearer\s+(\S+)$/i);
  if (!m) return null;
  try {
    return decodeJwt(m[1]) as Claims;
  } catch {
    return null;
  }
}

export function isServiceRole(req: Request): boolean {
  return verifiedClaims(req)?.role === "service_role";
}

/** The one platform-administrator rule, as public.is_platform_admin() has it in SQL: the service
 * role, or a signed-in user whose app_metadata (writable only with the service role) says so. */
export function isPlatformAdmin(claims: Claims | null): boolean {
  return claims?.role === "service_role" ||
    (claims?.role === "authenticated" && claims.app_metadata?.platform_admin === true);
}

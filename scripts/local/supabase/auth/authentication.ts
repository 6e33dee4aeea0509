// Who is calling (GoTrue's auth.go): the Bearer token, its verified claims, the user and session they name, and
// whether the caller is an admin (service_role) for the admin API.

import type { AuthConfig } from "./config.ts";
import { badRequest, forbidden, HttpError } from "./errors.ts";
import { type Claims, JwtRejected } from "./jwt.ts";
import { findUserById, NIL_UUID, type UserRow, UUID_RE } from "./users.ts";

const ADMIN_ROLES = new Set(["service_role", "supabase_admin"]);

export const isAdminRole = (role: string | null | undefined) => ADMIN_ROLES.has(role ?? "");

export interface Authenticated {
  claims: Claims;
  user: UserRow;
  sessionId: string | null;
}

function extractBearerToken(req: Request): string {
  const m = (req.headers.get("authorization") ?? "").match(/^(?:B|b)earer (\S+)$/);
  if (!m) throw new HttpError(401, "no_authorization", "This endpoint requires a Bearer token");
  return m[1];
}

async function parseJwtClaims(config: AuthConfig, req: Request): Promise<Claims> {
  try {
    return await config.jwt.verify(extractBearerToken(req), config.now());
  } catch (err) {
    if (!(err instanceof JwtRejected)) throw err;
    throw forbidden("bad_jwt", `invalid JWT: unable to parse or verify signature, ${err.message}`);
  }
}

/** GoTrue's requireAuthentication + maybeLoadUserOrSession. */
export async function requireAuthentication(config: AuthConfig, req: Request): Promise<Authenticated> {
  const claims = await parseJwtClaims(config, req);
  if (!claims.sub) throw forbidden("bad_jwt", "invalid claim: missing sub claim");
  if (!UUID_RE.test(claims.sub)) throw badRequest("bad_jwt", "invalid claim: sub claim must be a UUID");
  const user = await findUserById(config.sql, claims.sub);
  if (!user) throw forbidden("user_not_found", "User from sub claim in JWT does not exist");
  let sessionId: string | null = null;
  if (claims.session_id && claims.session_id !== NIL_UUID) {
    if (!UUID_RE.test(claims.session_id)) {
      throw forbidden("bad_jwt", "invalid claim: session_id claim must be a UUID");
    }
    const [s] = await config.sql`select id::text from auth.sessions where id = ${claims.session_id}`;
    if (!s) throw forbidden("session_not_found", "Session from session_id claim in JWT does not exist");
    sessionId = s.id;
  }
  return { claims, user, sessionId };
}

export async function requireAdmin(config: AuthConfig, req: Request): Promise<Claims> {
  const claims = await parseJwtClaims(config, req);
  if (!isAdminRole(String(claims.role ?? ""))) throw forbidden("not_admin", "User not allowed");
  return claims;
}

// JWTs for the local stack, shaped like the ones Supabase issues: HS256 with the project's JWT
// secret, `role` anon/service_role for the API keys, Supabase Auth's claims for user sessions.

import { jwtVerify, SignJWT } from "jose";

const enc = new TextEncoder();

export function randomSecret(bytes = 32): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...b)).replace(/[+/=]/g, "").slice(0, 48);
}

/** The anon and service_role API keys derived from a JWT secret (deterministic per secret). */
export async function deriveApiKeys(jwtSecret: string): Promise<{ anonKey: string; serviceRoleKey: string }> {
  const iat = 1_700_000_000; // fixed, so restarting the stack keeps the same keys
  const exp = iat + 10 * 365 * 24 * 3600;
  const sign = (role: string) =>
    new SignJWT({ iss: "supabase", ref: "switchboard-local", role })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(enc.encode(jwtSecret));
  return { anonKey: await sign("anon"), serviceRoleKey: await sign("service_role") };
}

/** A user access token with the claims Supabase Auth puts in its JWTs. */
export async function signUserToken(
  jwtSecret: string,
  user: {
    id: string;
    email?: string | null;
    app_metadata?: Record<string, unknown>;
    user_metadata?: Record<string, unknown>;
  },
  opts: { expiresInSeconds?: number; sessionId?: string; issuer?: string } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return await new SignJWT({
    aud: "authenticated",
    role: "authenticated",
    email: user.email ?? "",
    phone: "",
    app_metadata: user.app_metadata ?? { provider: "email", providers: ["email"] },
    user_metadata: user.user_metadata ?? {},
    aal: "aal1",
    amr: [{ method: "password", timestamp: now }],
    session_id: opts.sessionId ?? crypto.randomUUID(),
    is_anonymous: false,
  })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer(opts.issuer ?? "http://127.0.0.1:54321/auth/v1")
    .setSubject(user.id)
    .setIssuedAt(now)
    .setExpirationTime(now + (opts.expiresInSeconds ?? 3600))
    .sign(enc.encode(jwtSecret));
}

export type VerifyResult = { ok: true; claims: Record<string, unknown> } | { ok: false; reason: string };

/** Verifies an HS256 JWT the way Supabase's gateway does: signature, algorithm, expiry. */
export async function verifyJwt(token: string, jwtSecret: string): Promise<VerifyResult> {
  try {
    const { payload } = await jwtVerify(token, enc.encode(jwtSecret), { algorithms: ["HS256"] });
    return { ok: true, claims: payload as Record<string, unknown> };
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
}

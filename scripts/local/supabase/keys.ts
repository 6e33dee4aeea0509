// The local project's keys, shaped like the ones hosted Supabase issues. New projects sign user
// sessions with an asymmetric key (ES256, public half served as JWKS at
// /auth/v1/.well-known/jwks.json) and hand out `sb_publishable_…` / `sb_secret_…` API keys, which
// are not JWTs (https://supabase.com/docs/guides/auth/signing-keys,
// https://supabase.com/docs/guides/api/api-keys). The legacy HS256 secret and its anon/service_role
// JWTs still exist beside them until they are retired; `legacy` mode signs sessions with it.

import { exportJWK, generateKeyPair, importJWK, type JWK, jwtVerify, SignJWT } from "jose";

const enc = new TextEncoder();

export function randomSecret(bytes = 32): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...b)).replace(/[+/=]/g, "").slice(0, 48);
}

/** How the project signs user sessions: asymmetric (new projects) or the legacy shared secret. */
export type JwtMode = "asymmetric" | "legacy";

/** An ES256 signing key as Supabase Auth holds one: a key id and both halves as JWKs. */
export interface AsymmetricSigningKey {
  kid: string;
  privateJwk: JWK;
  publicJwk: JWK;
}

/** What signs a user token: the asymmetric key, or (legacy) the HS256 secret; `issuer` is the
 * project's Auth URL the token names (functions check it). */
export type UserTokenSigner =
  & ({ alg: "ES256"; key: AsymmetricSigningKey } | { alg: "HS256"; secret: string })
  & { issuer?: string };

export async function createSigningKey(): Promise<AsymmetricSigningKey> {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const kid = crypto.randomUUID();
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" };
  return { kid, privateJwk: { ...(await exportJWK(privateKey)), kid, alg: "ES256" }, publicJwk };
}

/** A new-style API key: `sb_publishable_` or `sb_secret_` and random URL-safe characters. */
export function newApiKey(kind: "publishable" | "secret"): string {
  return `sb_${kind}_${randomSecret(24).slice(0, 32)}`;
}

/** The JWKS Supabase Auth publishes: public halves only; a legacy-only project publishes none. */
export function jwks(keys: AsymmetricSigningKey[]): { keys: JWK[] } {
  return { keys: keys.map((k) => k.publicJwk) };
}

/** The legacy anon and service_role API keys derived from a JWT secret (deterministic per secret). */
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

/** A user access token with the claims Supabase Auth puts in its JWTs. A bare string signer is
 * the legacy HS256 secret. */
export async function signUserToken(
  signer: UserTokenSigner | string,
  user: {
    id: string;
    email?: string | null;
    app_metadata?: Record<string, unknown>;
    user_metadata?: Record<string, unknown>;
  },
  opts: { expiresInSeconds?: number; sessionId?: string; issuer?: string; role?: string } = {},
): Promise<string> {
  const s: UserTokenSigner = typeof signer === "string" ? { alg: "HS256", secret: signer } : signer;
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({
    aud: "authenticated",
    role: opts.role ?? "authenticated",
    email: user.email ?? "",
    phone: "",
    app_metadata: user.app_metadata ?? { provider: "email", providers: ["email"] },
    user_metadata: user.user_metadata ?? {},
    aal: "aal1",
    amr: [{ method: "password", timestamp: now }],
    session_id: opts.sessionId ?? crypto.randomUUID(),
    is_anonymous: false,
  })
    .setIssuer(opts.issuer ?? s.issuer ?? "http://127.0.0.1:54321/auth/v1")
    .setSubject(user.id)
    .setIssuedAt(now)
    .setExpirationTime(now + (opts.expiresInSeconds ?? 3600));
  if (s.alg === "HS256") return await jwt.setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(enc.encode(s.secret));
  return await jwt.setProtectedHeader({ alg: "ES256", typ: "JWT", kid: s.key.kid })
    .sign(await importJWK(s.key.privateJwk, "ES256"));
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

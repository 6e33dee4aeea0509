// The one place access tokens are signed and verified. A project on signing keys signs with its
// asymmetric key (ES256, `kid` in the header, public half at /.well-known/jwks.json) and still
// verifies tokens made with the legacy secret until that is revoked; a legacy project signs and
// verifies HS256 only (GoTrue's JWT keys: internal/conf/jwk.go, internal/api/auth.go). Verification
// failures carry golang-jwt's texts, which GoTrue puts into its "invalid JWT" message.

import { createLocalJWKSet, decodeProtectedHeader, importJWK, type JWK, jwtVerify, SignJWT } from "jose";
import { type AsymmetricSigningKey, jwks, type JwtMode } from "../keys.ts";

export interface Claims {
  sub?: string;
  role?: string;
  aud?: string | string[];
  session_id?: string;
  [k: string]: unknown;
}

export interface JwtSigner {
  sign(payload: Record<string, unknown>): Promise<string>;
  /** The verified claims at `nowMs`; throws JwtRejected with golang-jwt's reason. */
  verify(token: string, nowMs: number): Promise<Claims>;
  /** The JSON Web Key Set GoTrue publishes (public keys only; none for a legacy project). */
  jwks(): { keys: JWK[] };
}

export class JwtRejected extends Error {}

/** golang-jwt's error texts, which GoTrue puts into its "invalid JWT" message. */
function jwtFailure(err: unknown): string {
  const code = (err as { code?: string })?.code;
  switch (code) {
    case "ERR_JWT_EXPIRED":
      return "token has invalid claims: token is expired";
    case "ERR_JWT_CLAIM_VALIDATION_FAILED":
      return "token has invalid claims: token is not valid yet";
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
    case "ERR_JWKS_NO_MATCHING_KEY":
      return "token signature is invalid: signature is invalid";
    case "ERR_JOSE_ALG_NOT_ALLOWED":
      return "token signature is invalid: signing method is invalid";
    default:
      return "token is malformed: could not parse the token";
  }
}

export function createJwtSigner(opts: {
  jwtSecret: string;
  mode: JwtMode;
  signingKey: AsymmetricSigningKey | null;
}): JwtSigner {
  const secret = new TextEncoder().encode(opts.jwtSecret);
  const key = opts.mode === "asymmetric" ? opts.signingKey : null;
  if (opts.mode === "asymmetric" && !key) throw new Error("asymmetric mode needs a signing key");
  const published = jwks(key ? [key] : []);
  const keySet = key ? createLocalJWKSet(published) : null;
  let privateKey: CryptoKey | Uint8Array | null = null;
  return {
    async sign(payload) {
      if (!key) return await new SignJWT(payload).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(secret);
      privateKey ??= await importJWK(key.privateJwk, "ES256");
      return await new SignJWT(payload).setProtectedHeader({ alg: "ES256", typ: "JWT", kid: key.kid }).sign(privateKey);
    },
    async verify(token, nowMs) {
      try {
        const currentDate = new Date(nowMs);
        const alg = decodeProtectedHeader(token).alg;
        const { payload } = alg === "HS256" || !keySet
          ? await jwtVerify(token, secret, { algorithms: ["HS256"], currentDate })
          : await jwtVerify(token, keySet, { algorithms: ["ES256"], currentDate });
        return payload as Claims;
      } catch (err) {
        throw new JwtRejected(jwtFailure(err));
      }
    },
    jwks: () => published,
  };
}

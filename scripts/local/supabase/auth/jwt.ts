// The one place access tokens are signed and verified: HS256 with the project's JWT secret, as GoTrue does without
// signing keys; verification failures carry golang-jwt's texts, which GoTrue puts into its "invalid JWT" message.

import { jwtVerify, SignJWT } from "jose";

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
      return "token signature is invalid: signature is invalid";
    case "ERR_JOSE_ALG_NOT_ALLOWED":
      return "token signature is invalid: signing method is invalid";
    default:
      return "token is malformed: could not parse the token";
  }
}

export function createJwtSigner(jwtSecret: string): JwtSigner {
  const secret = new TextEncoder().encode(jwtSecret);
  return {
    sign: (payload) => new SignJWT(payload).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(secret),
    async verify(token, nowMs) {
      try {
        const { payload } = await jwtVerify(token, secret, { algorithms: ["HS256"], currentDate: new Date(nowMs) });
        return payload as Claims;
      } catch (err) {
        throw new JwtRejected(jwtFailure(err));
      }
    },
  };
}

// Who is calling, verified inside the function: hosted projects sign user sessions with an
// asymmetric key (JWKS) and issue `sb_publishable_…` / `sb_secret_…` API keys that are not JWTs, so
// the platform's verify_jwt cannot check them and is off for every function
// (https://supabase.com/docs/guides/functions/auth, /guides/functions/auth-headers). A user token
// must carry a valid signature from the project's JWKS (or, for a project still on the legacy
// secret, HS256 with SWITCHBOARD_LEGACY_JWT_SECRET), this project's issuer, audience
// `authenticated` and an unexpired `exp`. API keys are compared, never decoded.

import { timingSafeEqual } from "node:crypto";
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeProtectedHeader,
  type JSONWebKeySet,
  jwtVerify,
  type JWTVerifyGetKey,
} from "jose";
import { z } from "zod";
import type { Claims } from "./auth.ts";

export type Caller =
  /** A signed-in user, from a verified session token. */
  | { kind: "user"; claims: Claims }
  /** A server with a secret key (or the legacy service_role key): acts as the service role. */
  | { kind: "service" }
  /** Only the publishable key: a client that is not signed in. */
  | { kind: "public" }
  /** No credentials at all. */
  | { kind: "none" };

export type CredentialCheck = { ok: true; caller: Caller } | { ok: false; reason: string };
export type CredentialVerifier = (req: Request) => Promise<CredentialCheck>;

export interface CredentialOptions {
  /** The project's API URL; the issuer is `${supabaseUrl}/auth/v1`. */
  supabaseUrl: string;
  /** Inline JWKS (hosted functions get SUPABASE_JWKS); without it, fetched from the issuer and cached. */
  jwks?: JSONWebKeySet | null;
  /** Accept HS256 user tokens signed with this legacy secret (a project not yet on signing keys). */
  legacyJwtSecret?: string | null;
  /** Every secret key (SUPABASE_SECRET_KEYS), plus the legacy service_role JWT while it lives. */
  secretKeys: string[];
  /** Every publishable key (SUPABASE_PUBLISHABLE_KEYS), plus the legacy anon JWT. */
  publishableKeys: string[];
}

const ASYMMETRIC = ["ES256", "RS256", "EdDSA"];

const keyDictionary = z.record(z.string(), z.string());

/** The credential settings every function reads from its environment (hosted sets SUPABASE_*). */
export function credentialOptionsFromEnv(env: Record<string, string | undefined>): CredentialOptions {
  const dict = (name: string) => {
    const raw = env[name];
    if (!raw) return [];
    try {
      return Object.values(keyDictionary.parse(JSON.parse(raw)));
    } catch {
      throw new Error(`${name} must be a JSON object of key names to keys, e.g. {"default":"sb_…"}`);
    }
  };
  const jwks = env.SUPABASE_JWKS ? JSON.parse(env.SUPABASE_JWKS) : null;
  return {
    supabaseUrl: env.SUPABASE_URL ?? "",
    // Hosted sends {"keys":[…]} or a bare array.
    jwks: jwks === null ? null : Array.isArray(jwks) ? { keys: jwks } : jwks,
    legacyJwtSecret: env.SWITCHBOARD_LEGACY_JWT_SECRET ?? null,
    secretKeys: [...dict("SUPABASE_SECRET_KEYS"), env.SUPABASE_SECRET_KEY, env.SUPABASE_SERVICE_ROLE_KEY]
      .filter((k): k is string => !!k),
    publishableKeys: [...dict("SUPABASE_PUBLISHABLE_KEYS"), env.SUPABASE_PUBLISHABLE_KEY, env.SUPABASE_ANON_KEY]
      .filter((k): k is string => !!k),
  };
}

function sameString(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  if (x.length !== y.length) {
    timingSafeEqual(x, x);
    return false;
  }
  return timingSafeEqual(x, y);
}

const oneOf = (value: string, keys: string[]) => keys.reduce((hit, k) => sameString(value, k) || hit, false);

export function createCredentialVerifier(opts: CredentialOptions): CredentialVerifier {
  const issuer = `${opts.supabaseUrl.replace(/\/+$/, "")}/auth/v1`;
  // createRemoteJWKSet caches the set and refetches (with a cooldown) only for an unknown kid.
  let keySet: JWTVerifyGetKey | null = null;
  const getKey = (): JWTVerifyGetKey =>
    keySet ??= opts.jwks
      ? createLocalJWKSet(opts.jwks)
      : createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`), {
        cacheMaxAge: 10 * 60_000,
        cooldownDuration: 30_000,
      });
  const legacyKey = opts.legacyJwtSecret ? new TextEncoder().encode(opts.legacyJwtSecret) : null;

  async function verifyUserToken(token: string): Promise<CredentialCheck> {
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      return { ok: false, reason: "malformed token" };
    }
    const expected = { issuer, audience: "authenticated" };
    try {
      const { payload } = alg === "HS256"
        ? legacyKey ? await jwtVerify(token, legacyKey, { ...expected, algorithms: ["HS256"] }) : (() => {
          throw new Error("HS256 tokens are not accepted: the project signs sessions with its signing keys");
        })()
        : await jwtVerify(token, getKey(), { ...expected, algorithms: ASYMMETRIC });
      if (payload.role !== "authenticated" || typeof payload.sub !== "string") {
        return { ok: false, reason: "not a user session token" };
      }
      return { ok: true, caller: { kind: "user", claims: payload as Claims } };
    } catch (err) {
      return { ok: false, reason: err instanceof Error ? err.message : String(err) };
    }
  }

  return async (req) => {
    const bearer = req.headers.get("authorization")?.match(/^Bearer\s+(\S+)$/i)?.[1] ?? null;
    const apikey = req.headers.get("apikey");
    if (req.headers.get("authorization") && bearer === null) return { ok: false, reason: "not a Bearer token" };
    // supabase-js sends the API key as the bearer too when nobody is signed in: a key, not a JWT.
    const bearerIsKey = bearer !== null &&
      (bearer.startsWith("sb_") || oneOf(bearer, [...opts.secretKeys, ...opts.publishableKeys]));
    if (bearer !== null && !bearerIsKey) return await verifyUserToken(bearer);
    const key = apikey ?? (bearerIsKey ? bearer : null);
    if (key === null) return { ok: true, caller: { kind: "none" } };
    if (oneOf(key, opts.secretKeys)) return { ok: true, caller: { kind: "service" } };
    if (oneOf(key, opts.publishableKeys)) return { ok: true, caller: { kind: "public" } };
    return { ok: false, reason: "unknown API key" };
  };
}

// What the auth stand-in is configured with (GoTrue's GlobalConfiguration, the part it uses) and the defaults GoTrue
// has: every handler takes this one resolved value.

import type postgres from "postgres";
import type { AsymmetricSigningKey, JwtMode } from "../keys.ts";
import { createJwtSigner, type JwtSigner } from "./jwt.ts";

export interface AuthDeps {
  sql: postgres.Sql;
  jwtSecret: string;
  /** How sessions are signed: the project's asymmetric key (default when one is given) or the legacy secret. */
  jwtMode?: JwtMode;
  signingKey?: AsymmetricSigningKey | null;
  /** Legacy API keys (HS256 JWTs with role anon / service_role). */
  anonKey: string;
  serviceRoleKey: string;
  /** New API keys (sb_publishable_…, sb_secret_…), which the gateway swaps for the legacy JWTs. */
  publishableKey?: string;
  secretKey?: string;
  /** The `iss` claim, e.g. http://127.0.0.1:54321/auth/v1 (GoTrue's GOTRUE_JWT_ISSUER). */
  issuer: string;
  /** Access token lifetime (GoTrue's JWT_EXP, config.toml `jwt_expiry`); default 3600. */
  accessTokenTtlSeconds?: number;
  /** How long a rotated refresh token may still be exchanged (GoTrue's default is 10 s). */
  refreshTokenReuseIntervalSeconds?: number;
  /** GoTrue's password.min_length; default 6. */
  minimumPasswordLength?: number;
  /** The clock, in milliseconds (tests move it). Default Date.now. */
  now?: () => number;
}

export interface AuthConfig {
  sql: postgres.Sql;
  now: () => number;
  issuer: string;
  /** Access token lifetime, seconds. */
  ttl: number;
  reuseIntervalMs: number;
  minPasswordLength: number;
  /** Signs and verifies access tokens. */
  jwt: JwtSigner;
  /** The keys the gateway in front of GoTrue accepts as `apikey`. */
  apiKeys: Set<string>;
  /** What the gateway sends on to GoTrue for a new API key: the legacy JWT of the same role. */
  keyJwts: Map<string, string>;
}

export function resolveConfig(deps: AuthDeps): AuthConfig {
  return {
    sql: deps.sql,
    now: deps.now ?? Date.now,
    issuer: deps.issuer,
    ttl: deps.accessTokenTtlSeconds ?? 3600,
    reuseIntervalMs: (deps.refreshTokenReuseIntervalSeconds ?? 10) * 1000,
    minPasswordLength: deps.minimumPasswordLength ?? 6,
    jwt: createJwtSigner({
      jwtSecret: deps.jwtSecret,
      mode: deps.jwtMode ?? (deps.signingKey ? "asymmetric" : "legacy"),
      signingKey: deps.signingKey ?? null,
    }),
    apiKeys: new Set(
      [deps.anonKey, deps.serviceRoleKey, deps.publishableKey, deps.secretKey].filter((k) => !!k) as string[],
    ),
    keyJwts: new Map([
      ...(deps.publishableKey ? [[deps.publishableKey, deps.anonKey] as [string, string]] : []),
      ...(deps.secretKey ? [[deps.secretKey, deps.serviceRoleKey] as [string, string]] : []),
    ]),
  };
}

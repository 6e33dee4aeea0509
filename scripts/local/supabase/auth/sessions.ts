// Sessions and the tokens that carry them (GoTrue's issueRefreshToken, generateAccessToken, AccessTokenResponse):
// refresh tokens as GoTrue makes them, access-token claims from the user row and the session's AMR claims.

import type { AuthConfig } from "./config.ts";
import { notFound } from "./errors.ts";
import { DEFAULT_AUDIENCE, type Json } from "./request.ts";
import { type Db, findUserById, NIL_UUID, userWithIdentities } from "./users.ts";

/** GoTrue's secure alphanumeric refresh tokens: lowercase base32, 12 characters. */
export function newRefreshToken(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return [...bytes].map((b) => alphabet[b & 31]).join("");
}

export interface IssuedAccessToken {
  token: string;
  exp: number;
  user: Json;
}

/** GoTrue's generateAccessToken: claims from the user row and the session's AMR claims. */
export async function generateAccessToken(
  config: AuthConfig,
  db: Db,
  userId: string,
  sessionId: string,
): Promise<IssuedAccessToken> {
  const user = await findUserById(db, userId);
  if (!user) throw notFound("user_not_found", "User not found");
  const amr = await db<{ method: string; timestamp: number }[]>`
    select authentication_method as method, floor(extract(epoch from updated_at))::int8::float8 as timestamp
    from auth.mfa_amr_claims where session_id = ${sessionId} order by updated_at, id`;
  const iat = Math.floor(config.now() / 1000);
  const exp = iat + config.ttl;
  const payload: Json = {
    iss: config.issuer,
    sub: user.id,
    aud: user.aud ?? DEFAULT_AUDIENCE,
    exp,
    iat,
    email: user.email ?? "",
    phone: user.phone ?? "",
    app_metadata: user.raw_app_meta_data ?? {},
    user_metadata: user.raw_user_meta_data ?? {},
    role: user.role ?? "",
    aal: "aal1",
  };
  if (amr.length > 0) payload.amr = amr.map((a) => ({ method: a.method, timestamp: Number(a.timestamp) }));
  payload.session_id = sessionId;
  payload.is_anonymous = user.is_anonymous;
  const token = await config.jwt.sign(payload);
  return { token, exp, user: await userWithIdentities(db, user) };
}

/** A new session with its first refresh token and `method` in its AMR claims (GoTrue's issueRefreshToken). */
export async function issueRefreshToken(
  config: AuthConfig,
  tx: Db,
  session: { userId: string; userAgent: string | null; method: string; at: Date },
): Promise<{ issued: IssuedAccessToken; refreshToken: string }> {
  const { userId, userAgent, method, at } = session;
  const sessionId = crypto.randomUUID();
  const refreshToken = newRefreshToken();
  await tx`insert into auth.sessions (id, user_id, created_at, updated_at, aal, user_agent)
           values (${sessionId}, ${userId}, ${at}, ${at}, 'aal1', ${userAgent})`;
  await insertRefreshToken(tx, { token: refreshToken, userId, parent: null, sessionId, at });
  await tx`update auth.users set last_sign_in_at = ${at}, updated_at = ${at} where id = ${userId}`;
  await tx`insert into auth.mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method)
           values (${crypto.randomUUID()}, ${sessionId}, ${at}, ${at}, ${method})
           on conflict on constraint mfa_amr_claims_session_id_authentication_method_pkey
           do update set updated_at = excluded.updated_at`;
  return { issued: await generateAccessToken(config, tx, userId, sessionId), refreshToken };
}

export async function insertRefreshToken(
  tx: Db,
  t: { token: string; userId: string; parent: string | null; sessionId: string; at: Date },
): Promise<void> {
  await tx`insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
           values (${NIL_UUID}, ${t.token}, ${t.userId}, false, ${t.at}, ${t.at}, ${t.parent}, ${t.sessionId})`;
}

/** GoTrue's AccessTokenResponse. */
export function accessTokenResponse(
  config: AuthConfig,
  t: IssuedAccessToken,
  refreshToken: string,
  extra?: Json,
): Json {
  return {
    access_token: t.token,
    token_type: "bearer",
    expires_in: config.ttl,
    expires_at: t.exp,
    refresh_token: refreshToken,
    user: t.user,
    ...extra,
  };
}

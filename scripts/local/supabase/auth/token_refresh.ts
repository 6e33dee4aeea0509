// POST /token?grant_type=refresh_token (GoTrue's token_refresh.go): refresh-token rotation with GoTrue's reuse
// rules — a lost answer gets the current token again, a reuse outside the interval revokes the whole session.

import type { AuthConfig } from "./config.ts";
import { badRequest, CommitWithError, OAuthError } from "./errors.ts";
import { readJson, str } from "./request.ts";
import { json } from "./response.ts";
import { accessTokenResponse, generateAccessToken, insertRefreshToken, newRefreshToken } from "./sessions.ts";
import { findUserById, isBanned, UUID_RE } from "./users.ts";

export async function refreshTokenGrant(config: AuthConfig, req: Request): Promise<Response> {
  const body = await readJson(req);
  const presented = str(body, "refresh_token");
  if (presented === "") throw new OAuthError("invalid_request", "refresh_token required");
  const at = new Date(config.now());

  const result = await config.sql.begin(async (tx) => {
    const [token] = await tx<
      { id: string; token: string; user_id: string; revoked: boolean; session_id: string | null; updated_at: Date }[]
    >`
      select id::text, token, user_id, coalesce(revoked, false) as revoked, session_id::text, updated_at
      from auth.refresh_tokens where token = ${presented} for update`;
    if (!token) throw badRequest("refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found");
    const user = UUID_RE.test(token.user_id) ? await findUserById(tx, token.user_id) : null;
    if (!user) throw badRequest("refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found");
    if (isBanned(user, config.now())) throw badRequest("user_banned", "Invalid Refresh Token: User Banned");
    const [session] = token.session_id
      ? await tx<{ id: string; not_after: Date | null }[]>`
          select id::text, not_after from auth.sessions where id = ${token.session_id} for update`
      : [];
    if (!session) {
      await tx`delete from auth.refresh_tokens where id = ${token.id}`;
      return new CommitWithError(
        badRequest("session_not_found", "Invalid Refresh Token: No Valid Session Found"),
      );
    }
    if (session.not_after && at.getTime() > session.not_after.getTime()) {
      throw badRequest("session_expired", "Invalid Refresh Token: Session Expired");
    }

    let issuedToken = "";
    if (token.revoked) {
      const [active] = await tx<{ token: string; parent: string | null }[]>`
        select token, parent from auth.refresh_tokens
        where session_id = ${session.id} and revoked is false order by id desc limit 1`;
      if (active && active.parent === token.token) {
        // The client lost the answer to its last refresh: hand it the current token again.
        issuedToken = active.token;
      } else if (at.getTime() > token.updated_at.getTime() + config.reuseIntervalMs) {
        await tx`update auth.refresh_tokens set revoked = true, updated_at = ${at}
                 where session_id = ${session.id} and revoked = false`;
        return new CommitWithError(badRequest("refresh_token_already_used", "Invalid Refresh Token: Already Used"));
      }
    }
    if (issuedToken === "") {
      issuedToken = newRefreshToken();
      await tx`update auth.refresh_tokens set revoked = true, updated_at = ${at} where id = ${token.id}`;
      await insertRefreshToken(tx, {
        token: issuedToken,
        userId: user.id,
        parent: token.token,
        sessionId: session.id,
        at,
      });
      await tx`update auth.users set updated_at = ${at} where id = ${user.id}`;
    }
    await tx`update auth.sessions set refreshed_at = ${at}, updated_at = ${at}, user_agent = ${
      req.headers.get("user-agent")
    } where id = ${session.id}`;
    return { issued: await generateAccessToken(config, tx, user.id, session.id), refreshToken: issuedToken };
  });
  if (result instanceof CommitWithError) throw result.error;
  return json(req, 200, accessTokenResponse(config, result.issued, result.refreshToken));
}

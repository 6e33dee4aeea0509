// POST /token (GoTrue's token.go): the grant_type dispatch and the password grant, which checks the credentials and
// opens a session; the refresh_token grant is in token_refresh.ts.

import type { AuthConfig } from "./config.ts";
import { badRequest, unprocessable } from "./errors.ts";
import { passwordTooShort, verifyPassword } from "./password.ts";
import { readJson, requestAud, str } from "./request.ts";
import { json } from "./response.ts";
import { accessTokenResponse, issueRefreshToken } from "./sessions.ts";
import { refreshTokenGrant } from "./token_refresh.ts";
import { findUserByEmail, isBanned } from "./users.ts";

export async function token(config: AuthConfig, req: Request, url: URL): Promise<Response> {
  let grantType = url.searchParams.get("grant_type") ?? "";
  if (grantType === "" && (req.headers.get("content-type") ?? "").includes("application/x-www-form-urlencoded")) {
    grantType = new URLSearchParams(await req.clone().text()).get("grant_type") ?? "";
  }
  switch (grantType) {
    case "password":
      return await resourceOwnerPasswordGrant(config, req);
    case "refresh_token":
      return await refreshTokenGrant(config, req);
    default:
      throw badRequest("invalid_credentials", "unsupported_grant_type");
  }
}

// POST /token?grant_type=password
async function resourceOwnerPasswordGrant(config: AuthConfig, req: Request): Promise<Response> {
  const body = await readJson(req);
  const email = str(body, "email");
  const phone = str(body, "phone");
  const password = str(body, "password");
  if (email !== "" && phone !== "") {
    throw badRequest("validation_failed", "Only an email address or phone number should be provided on login.");
  }
  if (phone !== "") throw unprocessable("phone_provider_disabled", "Phone logins are disabled");
  if (email === "") throw badRequest("validation_failed", "missing email or phone");
  const user = await findUserByEmail(config.sql, email, requestAud(req));
  if (!user || !user.encrypted_password) throw badRequest("invalid_credentials", "Invalid login credentials");
  if (isBanned(user, config.now())) throw badRequest("user_banned", "User is banned");
  if (!(await verifyPassword(password, user.encrypted_password))) {
    throw badRequest("invalid_credentials", "Invalid login credentials");
  }
  if (!user.email_confirmed_at) throw badRequest("email_not_confirmed", "Email not confirmed");

  const at = new Date(config.now());
  const { issued, refreshToken } = await config.sql.begin((tx) =>
    issueRefreshToken(config, tx, { userId: user.id, userAgent: req.headers.get("user-agent"), method: "password", at })
  );
  const extra: Record<string, unknown> = {};
  if (passwordTooShort(password, config.minPasswordLength)) {
    extra.weak_password = {
      message: `Password should be at least ${config.minPasswordLength} characters.`,
      reasons: ["length"],
    };
  }
  return json(req, 200, accessTokenResponse(config, issued, refreshToken, extra));
}

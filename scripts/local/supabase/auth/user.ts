// GET and PUT /user (GoTrue's user.go): the signed-in user, and the changes a user may make — user_metadata and the
// password; e-mail and phone changes need GoTrue's confirmation messages, which this stand-in cannot send.

import type postgres from "postgres";
import { isAdminRole, requireAuthentication } from "./authentication.ts";
import type { AuthConfig } from "./config.ts";
import { badRequest, forbidden, unprocessable } from "./errors.ts";
import { checkPasswordStrength, hashPassword, verifyPassword } from "./password.ts";
import { obj, optionalStr, readJson, requestAud, str } from "./request.ts";
import { json } from "./response.ts";
import { loadUserJson, mergeMetadata, userWithIdentities, validateEmail, validatePhone } from "./users.ts";

export async function userGet(config: AuthConfig, req: Request): Promise<Response> {
  const { claims, user } = await requireAuthentication(config, req);
  const aud = Array.isArray(claims.aud) ? claims.aud[0] : claims.aud;
  if (!aud || aud !== requestAud(req)) {
    throw badRequest("validation_failed", "Token audience doesn't match request audience");
  }
  return json(req, 200, await userWithIdentities(config.sql, user));
}

export async function userUpdate(config: AuthConfig, req: Request): Promise<Response> {
  const { sql } = config;
  const { user, sessionId } = await requireAuthentication(config, req);
  const body = await readJson(req);
  const email = str(body, "email");
  const phone = str(body, "phone");
  const data = obj(body, "data");
  const appData = obj(body, "app_metadata");
  const password = optionalStr(body, "password");
  if (email !== "") validateEmail(email);
  if (phone !== "") validatePhone(phone);
  if (password !== null) checkPasswordStrength(password, config.minPasswordLength);
  if (appData && !isAdminRole(user.role)) {
    throw forbidden("not_admin", "Updating app_metadata requires admin privileges");
  }
  if ((email !== "" && email.toLowerCase() !== user.email) || (phone !== "" && validatePhone(phone) !== user.phone)) {
    throw unprocessable(
      "validation_failed",
      "Changing the e-mail address or phone number needs a confirmation message, which the local auth stand-in cannot send",
    );
  }
  let hash: string | null = null;
  if (password !== null && password !== "") {
    if (await verifyPassword(password, user.encrypted_password)) {
      throw unprocessable("same_password", "New password should be different from the old password.");
    }
    hash = await hashPassword(password);
  }
  const at = new Date(config.now());
  await sql.begin(async (tx) => {
    if (hash !== null) {
      await tx`update auth.users set encrypted_password = ${hash}, updated_at = ${at} where id = ${user.id}`;
      if (sessionId) await tx`delete from auth.sessions where user_id = ${user.id} and id <> ${sessionId}`;
      else await tx`delete from auth.sessions where user_id = ${user.id}`;
    }
    if (data) {
      const merged = mergeMetadata(user.raw_user_meta_data, data);
      await tx`update auth.users set raw_user_meta_data = ${tx.json(merged as postgres.JSONValue)}, updated_at = ${at}
               where id = ${user.id}`;
    }
    if (appData) {
      const merged = mergeMetadata(user.raw_app_meta_data, appData);
      await tx`update auth.users set raw_app_meta_data = ${tx.json(merged as postgres.JSONValue)}, updated_at = ${at}
               where id = ${user.id}`;
    }
  });
  return json(req, 200, await loadUserJson(sql, user.id));
}

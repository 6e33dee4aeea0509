// POST /invite (GoTrue's invite.go, routed in api.go behind requireAdminCredentials): a service_role caller invites
// an e-mail address. A new address becomes an unconfirmed user without a password; an address invited before and
// not yet confirmed is invited again; a confirmed user is refused with 422 email_exists.

import { createHash } from "node:crypto";
import { requireAdmin } from "./authentication.ts";
import type { AuthConfig } from "./config.ts";
import { unprocessable } from "./errors.ts";
import { obj, readJson, requestAud, str } from "./request.ts";
import { json } from "./response.ts";
import { findUserByEmail, insertUser, loadUserJson, validateEmail } from "./users.ts";

/** GoTrue's crypto.GenerateOtp with the mailer's default OTP length (6). */
function generateOtp(digits = 6): string {
  const n = crypto.getRandomValues(new Uint32Array(1))[0] % 10 ** digits;
  return String(n).padStart(digits, "0");
}

/** GoTrue's crypto.GenerateTokenHash: hex SHA-224 of the address followed by the OTP. */
const tokenHash = (email: string, otp: string) => createHash("sha224").update(email + otp).digest("hex");

// POST /invite  {email, data}
export async function invite(config: AuthConfig, req: Request): Promise<Response> {
  const { sql } = config;
  await requireAdmin(config, req);
  const body = await readJson(req);
  const email = validateEmail(str(body, "email"));
  const data = obj(body, "data");
  const aud = requestAud(req);
  const at = new Date(config.now());
  const existing = await findUserByEmail(sql, email, aud);
  // GoTrue: user.IsConfirmed() is EmailConfirmedAt != nil; DuplicateEmailMsg.
  if (existing?.email_confirmed_at) {
    throw unprocessable("email_exists", "A user with this email address has already been registered");
  }
  const id = await sql.begin(async (tx) => {
    const userId = existing?.id ??
      await insertUser(tx, {
        email,
        // signupNewUser without a password: nothing to sign in with until the invite is accepted.
        passwordHash: "",
        aud,
        appMetadata: { provider: "email", providers: ["email"] },
        userMetadata: data ?? {},
        at,
      });
    // sendInvite: a fresh confirmation token (the hash of address + OTP), invited_at and confirmation_sent_at.
    await tx`update auth.users set confirmation_token = ${tokenHash(email, generateOtp())}, invited_at = ${at},
               confirmation_sent_at = ${at}, updated_at = ${at} where id = ${userId}`;
    return userId;
  });
  // Hosted mails the invite link (GoTrue's mailer, behind its e-mail rate limit); the stand-in has no mailer, so
  // the invitee cannot accept it locally: it says so where the operator sees the stack's output.
  console.error(`auth: invite for ${email} recorded; no e-mail is sent by the local stand-in`);
  return json(req, 200, await loadUserJson(sql, id));
}

// Passwords as GoTrue keeps them (password.go, crypto): bcrypt hashes at cost 10 written as $2a$, their check, and
// the strength rules (at most 72 bytes, at least password.min_length characters).

import bcrypt from "bcryptjs";
import { badRequest, HttpError } from "./errors.ts";

const BCRYPT_COST = 10;
export const MAX_PASSWORD_BYTES = 72;
const enc = new TextEncoder();

/** A bcrypt hash as GoTrue writes it ($2a$, cost 10); Postgres crypt() reads it too. */
export async function hashPassword(password: string): Promise<string> {
  const salt = bcrypt.genSaltSync(BCRYPT_COST).replace(/^\$2b\$/, "$2a$");
  return await bcrypt.hash(password, salt);
}

export async function verifyPassword(password: string, hash: string | null): Promise<boolean> {
  if (!hash || !/^\$2[aby]?\$\d\d\$/.test(hash)) return false;
  try {
    return await bcrypt.compare(password, hash);
  } catch {
    return false;
  }
}

export const passwordTooLong = (password: string) => enc.encode(password).length > MAX_PASSWORD_BYTES;

/** Shorter than password.min_length (characters, not bytes). */
export const passwordTooShort = (password: string, minLength: number) => [...password].length < minLength;

export function weakPassword(minLength: number): HttpError {
  return new HttpError(422, "weak_password", `Password should be at least ${minLength} characters.`, ["length"]);
}

/** GoTrue's checkPasswordStrength for a new password. */
export function checkPasswordStrength(password: string, minLength: number): void {
  if (passwordTooLong(password)) {
    throw badRequest("validation_failed", `Password cannot be longer than ${MAX_PASSWORD_BYTES} characters`);
  }
  if (passwordTooShort(password, minLength)) throw weakPassword(minLength);
}

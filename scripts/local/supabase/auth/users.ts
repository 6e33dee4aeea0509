// Users as GoTrue's models keep and serialise them: auth.users and auth.identities rows, the user object's JSON
// (key order and omitempty included), inserts that fire the table's triggers, and e-mail, phone and metadata rules.

import type postgres from "postgres";
import { badRequest, notFound } from "./errors.ts";
import { hashPassword } from "./password.ts";
import { DEFAULT_AUDIENCE, type Json } from "./request.ts";
import { ensureAuthSchema } from "./schema.ts";

export const NIL_UUID = "00000000-0000-0000-0000-000000000000";
export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const DEFAULT_ROLE = "authenticated";

export type Db = postgres.Sql | postgres.TransactionSql;

export interface UserRow {
  id: string;
  aud: string | null;
  role: string | null;
  email: string | null;
  encrypted_password: string | null;
  phone: string | null;
  email_confirmed_at: string | null;
  invited_at: string | null;
  phone_confirmed_at: string | null;
  confirmation_sent_at: string | null;
  confirmed_at: string | null;
  last_sign_in_at: string | null;
  raw_app_meta_data: Json | null;
  raw_user_meta_data: Json | null;
  created_at: string | null;
  updated_at: string | null;
  banned_until: string | null;
  banned_until_ms: number | null;
  deleted_at: string | null;
  is_anonymous: boolean;
  is_sso_user: boolean;
}

interface IdentityRow {
  id: string;
  provider_id: string;
  user_id: string;
  identity_data: Json | null;
  provider: string;
  last_sign_in_at: string | null;
  created_at: string | null;
  updated_at: string | null;
  email: string | null;
}

/** Timestamps as Go's encoding/json writes a UTC time.Time: RFC 3339, microseconds, trailing
 * zeros of the fraction dropped. */
function goTime(v: string | null): string | null {
  if (v === null) return null;
  return v.replace(/(\.\d*?)0+Z$/, "$1Z").replace(/\.Z$/, "Z");
}

const ts = (col: string) => `to_char(${col} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

export const USER_SELECT = `
  select id::text, aud, role, email, encrypted_password, phone,
    ${ts("email_confirmed_at")} as email_confirmed_at,
    ${ts("invited_at")} as invited_at,
    ${ts("phone_confirmed_at")} as phone_confirmed_at,
    ${ts("confirmation_sent_at")} as confirmation_sent_at,
    ${ts("least(email_confirmed_at, phone_confirmed_at)")} as confirmed_at,
    ${ts("last_sign_in_at")} as last_sign_in_at,
    raw_app_meta_data, raw_user_meta_data,
    ${ts("created_at")} as created_at,
    ${ts("updated_at")} as updated_at,
    ${ts("banned_until")} as banned_until,
    (extract(epoch from banned_until) * 1000)::float8 as banned_until_ms,
    ${ts("deleted_at")} as deleted_at,
    is_anonymous, is_sso_user
  from auth.users`;

export async function findUserById(db: Db, id: string): Promise<UserRow | null> {
  const rows = await db.unsafe<UserRow[]>(`${USER_SELECT} where id = $1`, [id]);
  return rows[0] ?? null;
}

export async function findUserByEmail(db: Db, email: string, aud: string): Promise<UserRow | null> {
  const rows = await db.unsafe<UserRow[]>(
    `${USER_SELECT} where coalesce(instance_id, '${NIL_UUID}') = '${NIL_UUID}' and lower(email) = lower($1)
       and aud = $2 and is_sso_user = false`,
    [email, aud],
  );
  return rows[0] ?? null;
}

export const isBanned = (u: UserRow, nowMs: number) => u.banned_until_ms !== null && nowMs < u.banned_until_ms;

async function findIdentities(db: Db, userId: string): Promise<IdentityRow[]> {
  return await db.unsafe<IdentityRow[]>(
    `select id::text, provider_id, user_id::text, identity_data, provider,
       ${ts("last_sign_in_at")} as last_sign_in_at, ${ts("created_at")} as created_at,
       ${ts("updated_at")} as updated_at, email
     from auth.identities where user_id = $1 order by created_at, id`,
    [userId],
  );
}

function identityJson(i: IdentityRow): Json {
  const out: Json = {
    identity_id: i.id,
    id: i.provider_id,
    user_id: i.user_id,
  };
  if (i.identity_data && Object.keys(i.identity_data).length > 0) out.identity_data = i.identity_data;
  out.provider = i.provider;
  if (i.last_sign_in_at) out.last_sign_in_at = goTime(i.last_sign_in_at);
  out.created_at = goTime(i.created_at) ?? "0001-01-01T00:00:00Z";
  out.updated_at = goTime(i.updated_at) ?? "0001-01-01T00:00:00Z";
  if (i.email) out.email = i.email;
  return out;
}

/** The user object GoTrue serialises (models.User), key order and omitempty included. */
function userJson(u: UserRow, identities: IdentityRow[]): Json {
  const out: Json = { id: u.id, aud: u.aud ?? "", role: u.role ?? "", email: u.email ?? "" };
  if (u.email_confirmed_at) out.email_confirmed_at = goTime(u.email_confirmed_at);
  if (u.invited_at) out.invited_at = goTime(u.invited_at);
  out.phone = u.phone ?? "";
  if (u.phone_confirmed_at) out.phone_confirmed_at = goTime(u.phone_confirmed_at);
  if (u.confirmation_sent_at) out.confirmation_sent_at = goTime(u.confirmation_sent_at);
  if (u.confirmed_at) out.confirmed_at = goTime(u.confirmed_at);
  if (u.last_sign_in_at) out.last_sign_in_at = goTime(u.last_sign_in_at);
  out.app_metadata = u.raw_app_meta_data ?? {};
  out.user_metadata = u.raw_user_meta_data ?? {};
  out.identities = identities.map(identityJson);
  out.created_at = goTime(u.created_at) ?? "0001-01-01T00:00:00Z";
  out.updated_at = goTime(u.updated_at) ?? "0001-01-01T00:00:00Z";
  if (u.banned_until) out.banned_until = goTime(u.banned_until);
  if (u.deleted_at) out.deleted_at = goTime(u.deleted_at);
  out.is_anonymous = u.is_anonymous;
  return out;
}

/** The JSON of a row already read, with its identities. */
export async function userWithIdentities(db: Db, user: UserRow): Promise<Json> {
  return userJson(user, await findIdentities(db, user.id));
}

export async function loadUserJson(db: Db, id: string): Promise<Json> {
  const user = await findUserById(db, id);
  if (!user) throw notFound("user_not_found", "User not found");
  return await userWithIdentities(db, user);
}

/** The identity_data GoTrue writes for an e-mail or phone identity. */
export function identityData(userId: string, provider: "email" | "phone", value: string, verified = false): Json {
  return {
    sub: userId,
    [provider]: value,
    email_verified: provider === "email" && verified,
    phone_verified: provider === "phone" && verified,
  };
}

export async function insertIdentity(
  db: Db,
  userId: string,
  provider: "email" | "phone",
  data: Json,
  at: Date,
): Promise<void> {
  await db`
    insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at)
    values (${userId}, ${userId}, ${db.json(data as postgres.JSONValue)}, ${provider}, ${at}, ${at}, ${at})`;
}

export interface NewUser {
  id?: string;
  email?: string | null;
  phone?: string | null;
  passwordHash?: string | null;
  aud?: string;
  role?: string;
  appMetadata: Json;
  userMetadata: Json;
  emailConfirmedAt?: Date | null;
  phoneConfirmedAt?: Date | null;
  bannedUntil?: Date | null;
  at: Date;
}

/** One plain INSERT into auth.users (so triggers on it, like the profile trigger, run) and the
 * identities GoTrue creates with it. */
export async function insertUser(db: Db, u: NewUser): Promise<string> {
  const id = u.id ?? crypto.randomUUID();
  await db`
    insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
      phone, phone_confirmed_at, raw_app_meta_data, raw_user_meta_data, banned_until,
      created_at, updated_at, is_sso_user, is_anonymous)
    values (${NIL_UUID}, ${id}, ${u.aud ?? DEFAULT_AUDIENCE}, ${u.role ?? DEFAULT_ROLE}, ${u.email ?? null},
      ${u.passwordHash ?? ""}, ${u.emailConfirmedAt ?? null}, ${u.phone ?? null}, ${u.phoneConfirmedAt ?? null},
      ${db.json(u.appMetadata as postgres.JSONValue)}, ${db.json(u.userMetadata as postgres.JSONValue)},
      ${u.bannedUntil ?? null}, ${u.at}, ${u.at}, false, false)`;
  if (u.email) await insertIdentity(db, id, "email", identityData(id, "email", u.email), u.at);
  if (u.phone) await insertIdentity(db, id, "phone", identityData(id, "phone", u.phone), u.at);
  return id;
}

/** GoTrue's validatePhone: digits only, E.164 without the plus. */
export function validatePhone(phone: string): string {
  const digits = phone.replace(/[^0-9]/g, "");
  if (!/^[1-9]\d{1,14}$/.test(digits)) {
    throw badRequest("validation_failed", "Invalid phone number format (E.164 required)");
  }
  return digits;
}

export function validateEmail(email: string): string {
  if (email === "") throw badRequest("validation_failed", "An email address is required");
  if (email.length > 255) throw badRequest("validation_failed", "An email address is too long");
  if (!EMAIL_RE.test(email)) throw badRequest("validation_failed", "Unable to validate email address: invalid format");
  return email.toLowerCase();
}

/** Merges metadata the way GoTrue's UpdateAppMetaData/UpdateUserMetaData do: null deletes a key. */
export function mergeMetadata(current: Json | null | undefined, updates: Json): Json {
  const out: Json = { ...(current ?? {}) };
  for (const [k, v] of Object.entries(updates)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

/** Seeds a confirmed e-mail/password user the way GoTrue's admin API would (bcrypt cost 10,
 * app_metadata.provider/providers, an `email` identity), through a plain INSERT into auth.users.
 * Returns the user's id. */
export async function createAuthUser(
  sql: postgres.Sql,
  opts: {
    email: string;
    password: string;
    id?: string;
    app_metadata?: Record<string, unknown>;
    user_metadata?: Record<string, unknown>;
  },
): Promise<string> {
  await ensureAuthSchema(sql);
  const email = opts.email.toLowerCase();
  const passwordHash = await hashPassword(opts.password);
  const at = new Date();
  return await sql.begin(async (tx) =>
    await insertUser(tx, {
      id: opts.id,
      email,
      passwordHash,
      appMetadata: { provider: "email", providers: ["email"], ...(opts.app_metadata ?? {}) },
      userMetadata: { ...(opts.user_metadata ?? {}), email_verified: true },
      emailConfirmedAt: at,
      at,
    })
  ) as string;
}

/** Sets (bcrypt) the password of an existing user, e.g. the seeded ones, and gives a user
 * without an `email` identity one, so it can sign in with supabase-js. */
export async function setAuthUserPassword(
  sql: postgres.Sql,
  user: { id?: string; email?: string },
  password: string,
): Promise<string> {
  await ensureAuthSchema(sql);
  const hash = await hashPassword(password);
  return await sql.begin(async (tx) => {
    const [row] = user.id
      ? await tx`update auth.users set encrypted_password = ${hash}, updated_at = now() where id = ${user.id}
                 returning id::text, email`
      : await tx`update auth.users set encrypted_password = ${hash}, updated_at = now()
                 where lower(email) = lower(${user.email ?? ""}) returning id::text, email`;
    if (!row) throw new Error(`no auth user ${user.id ?? user.email}`);
    const [identity] = await tx`select 1 from auth.identities where user_id = ${row.id} and provider = 'email'`;
    if (!identity && row.email) {
      await insertIdentity(tx, row.id, "email", identityData(row.id, "email", row.email), new Date());
    }
    return row.id as string;
  }) as string;
}

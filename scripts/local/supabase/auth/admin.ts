// The admin user API under /admin/users (GoTrue's admin.go), for a service_role caller: list with pagination and
// GoTrue's Link header, create, get, update (ban, confirm, metadata, password, e-mail, phone) and (soft) delete.

import type postgres from "postgres";
import { requireAdmin } from "./authentication.ts";
import type { AuthConfig } from "./config.ts";
import { badRequest, HttpError, notFound, unexpectedFailure, unprocessable } from "./errors.ts";
import { checkPasswordStrength, hashPassword, passwordTooLong } from "./password.ts";
import { DEFAULT_AUDIENCE, isPlainObject, type Json, obj, optionalStr, readJson, requestAud, str } from "./request.ts";
import { json } from "./response.ts";
import {
  type Db,
  findUserByEmail,
  findUserById,
  identityData,
  insertIdentity,
  insertUser,
  loadUserJson,
  mergeMetadata,
  NIL_UUID,
  USER_SELECT,
  type UserRow,
  userWithIdentities,
  UUID_RE,
  validateEmail,
  validatePhone,
} from "./users.ts";

/** Go's time.ParseDuration, for `ban_duration` ("24h", "1h30m", "none"). Milliseconds. */
function parseGoDuration(s: string): number | null {
  if (s === "0") return 0;
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1e3, m: 6e4, h: 3.6e6 };
  const m = s.match(/^([+-]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+$/);
  if (!m) return null;
  let total = 0;
  for (const part of s.replace(/^[+-]/, "").matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)) {
    total += Number(part[1]) * units[part[2]];
  }
  return m[1] === "-" ? -total : total;
}

/** `ban_duration` in ms: null when not given, 0 for "none" (lifts a ban). */
function banDuration(raw: string): number | null {
  if (raw === "") return null;
  const ms = raw === "none" ? 0 : parseGoDuration(raw);
  if (ms === null) {
    throw badRequest("validation_failed", `invalid format for ban duration: time: invalid duration "${raw}"`);
  }
  return ms;
}

const emailExists = () => unprocessable("email_exists", "A user with this email address has already been registered");

// GET /admin/users
export async function adminUsers(config: AuthConfig, req: Request, url: URL): Promise<Response> {
  const { sql } = config;
  await requireAdmin(config, req);
  const aud = requestAud(req);
  const pageRaw = url.searchParams.get("page") || "1";
  const perPageRaw = url.searchParams.get("per_page") || "50";
  if (!/^\d+$/.test(pageRaw) || !/^\d+$/.test(perPageRaw)) {
    throw badRequest("validation_failed", "Bad Pagination Parameters: strconv.ParseUint: parsing: invalid syntax");
  }
  const page = Math.max(1, Number(pageRaw));
  const perPage = Math.max(1, Number(perPageRaw));
  const filter = url.searchParams.get("filter") ?? "";
  const like = `%${filter}%`;
  const where = `where aud = $1 and ($2 = '' or email like $3 or raw_user_meta_data ->> 'full_name' ilike $3)`;
  const [{ count }] = await sql.unsafe<{ count: number }[]>(
    `select count(*)::int as count from auth.users ${where}`,
    [aud, filter, like],
  );
  const rows = await sql.unsafe<UserRow[]>(
    `${USER_SELECT} ${where} order by created_at desc limit $4 offset $5`,
    [aud, filter, like, perPage, (page - 1) * perPage],
  );
  const users = [];
  for (const row of rows) users.push(await userWithIdentities(sql, row));
  const lastPage = Math.ceil(count / perPage);
  const link = (p: number) => {
    const q = new URLSearchParams(url.searchParams);
    q.set("page", String(p));
    const sorted = new URLSearchParams([...q.entries()].sort(([a], [b]) => a.localeCompare(b)));
    // GoTrue sees the path without the gateway's /auth/v1 prefix.
    return `</admin/users?${sorted}>`;
  };
  let linkHeader = "";
  if (page < lastPage) linkHeader += `${link(page + 1)}; rel="next", `;
  linkHeader += `${link(lastPage)}; rel="last"`;
  return json(req, 200, { users, aud }, { Link: linkHeader, "X-Total-Count": String(count) });
}

// POST /admin/users
export async function adminUserCreate(config: AuthConfig, req: Request): Promise<Response> {
  const { sql } = config;
  await requireAdmin(config, req);
  const body = await readJson(req);
  let email = str(body, "email");
  let phone = str(body, "phone");
  const passwordGiven = body.password !== undefined && body.password !== null;
  let password = passwordGiven ? str(body, "password") : "";
  const passwordHash = str(body, "password_hash");
  const userMetadata = obj(body, "user_metadata");
  const appMetadata = obj(body, "app_metadata");
  const banRaw = str(body, "ban_duration");
  const customId = str(body, "id");
  const role = str(body, "role");
  const aud = str(body, "aud") || requestAud(req);

  if (email === "" && phone === "") {
    throw badRequest("validation_failed", "Cannot create a user without either an email or phone");
  }
  const providers: string[] = [];
  if (email !== "") {
    email = validateEmail(email);
    if (await findUserByEmail(sql, email, aud)) throw emailExists();
    providers.push("email");
  }
  if (phone !== "") {
    phone = validatePhone(phone);
    const [dup] = await sql`select 1 from auth.users where phone = ${phone} and aud = ${aud}`;
    if (dup) throw unprocessable("phone_exists", "Phone number already registered by another user");
    providers.push("phone");
  }
  if (passwordGiven && passwordHash !== "") {
    throw badRequest("validation_failed", "Only a password or a password hash should be provided");
  }
  if (passwordHash !== "" && !/^\$2[aby]?\$\d\d\$[./A-Za-z0-9]{53}$/.test(passwordHash)) {
    throw unexpectedFailure("Error creating user");
  }
  if (password === "" && passwordHash === "") {
    const bytes = crypto.getRandomValues(new Uint8Array(48));
    password = btoa(String.fromCharCode(...bytes)).slice(0, 64);
  }
  if (passwordHash === "" && passwordTooLong(password)) {
    throw badRequest("validation_failed", "bcrypt: password length exceeds 72 bytes");
  }
  if (customId !== "") {
    if (!UUID_RE.test(customId)) throw badRequest("validation_failed", "ID must conform to the uuid v4 format");
    if (customId === NIL_UUID) throw badRequest("validation_failed", "ID cannot be a nil uuid");
  }
  const bannedFor = banDuration(banRaw);

  const at = new Date(config.now());
  const emailConfirm = body.email_confirm === true;
  const phoneConfirm = body.phone_confirm === true;
  const appMeta = mergeMetadata({ provider: providers[0], providers }, appMetadata ?? {});
  const userMeta: Json = { ...(userMetadata ?? {}) };
  if (emailConfirm) userMeta.email_verified = true;
  const hash = passwordHash !== "" ? passwordHash : await hashPassword(password);
  const id = await sql.begin(async (tx) =>
    await insertUser(tx, {
      id: customId || undefined,
      email: email || null,
      phone: phone || null,
      passwordHash: hash,
      aud,
      role: role || undefined,
      appMetadata: appMeta,
      userMetadata: userMeta,
      emailConfirmedAt: emailConfirm ? at : null,
      phoneConfirmedAt: phoneConfirm ? at : null,
      bannedUntil: bannedFor ? new Date(at.getTime() + bannedFor) : null,
      at,
    })
  ).catch((err) => {
    if ((err as { code?: string }).code === "23505") throw emailExists();
    throw err;
  });
  return json(req, 200, await loadUserJson(sql, id as string));
}

/** GoTrue's loadUser for /admin/users/{id}. */
async function loadUser(config: AuthConfig, rawId: string): Promise<UserRow> {
  if (!UUID_RE.test(rawId)) throw notFound("validation_failed", "user_id must be an UUID");
  const user = await findUserById(config.sql, rawId);
  if (!user) throw notFound("user_not_found", "User not found");
  return user;
}

// GET /admin/users/{id}
export async function adminUserGet(config: AuthConfig, req: Request, id: string): Promise<Response> {
  await requireAdmin(config, req);
  const user = await loadUser(config, id);
  return json(req, 200, await userWithIdentities(config.sql, user));
}

/** Merges `changes` into the user's identity of this provider, or creates the identity with `data`. */
async function upsertIdentity(
  tx: Db,
  userId: string,
  provider: "email" | "phone",
  changes: Json,
  data: Json,
  at: Date,
): Promise<void> {
  const [identity] = await tx`select id from auth.identities where user_id = ${userId} and provider = ${provider}`;
  if (!identity) return await insertIdentity(tx, userId, provider, data, at);
  await tx`update auth.identities set identity_data = identity_data || ${tx.json(changes as postgres.JSONValue)},
             updated_at = ${at} where id = ${identity.id}`;
}

// PUT /admin/users/{id}
export async function adminUserUpdate(config: AuthConfig, req: Request, id: string): Promise<Response> {
  const { sql } = config;
  await requireAdmin(config, req);
  const user = await loadUser(config, id);
  const body = await readJson(req);
  let email = str(body, "email");
  let phone = str(body, "phone");
  const password = optionalStr(body, "password");
  const userMetadata = obj(body, "user_metadata");
  const appMetadata = obj(body, "app_metadata");
  const banRaw = str(body, "ban_duration");
  const role = str(body, "role");
  const emailConfirm = body.email_confirm === true;
  const phoneConfirm = body.phone_confirm === true;

  if (email !== "") email = validateEmail(email);
  if (phone !== "") phone = validatePhone(phone);
  const bannedFor = banDuration(banRaw);
  let hash: string | null = null;
  if (password !== null) {
    checkPasswordStrength(password, config.minPasswordLength);
    hash = password === "" ? null : await hashPassword(password);
  }
  if (email !== "" && email !== user.email) {
    const dup = await findUserByEmail(sql, email, user.aud ?? DEFAULT_AUDIENCE);
    if (dup && dup.id !== user.id) throw emailExists();
  }

  const at = new Date(config.now());
  try {
    await sql.begin(async (tx) => {
      if (role !== "") {
        await tx`update auth.users set role = ${role.trim()}, updated_at = ${at} where id = ${user.id}`;
      }
      if (emailConfirm) {
        const meta = mergeMetadata(user.raw_user_meta_data, { email_verified: true });
        await tx`update auth.users set email_confirmed_at = ${at}, raw_user_meta_data = ${
          tx.json(meta as postgres.JSONValue)
        }, updated_at = ${at} where id = ${user.id}`;
        user.raw_user_meta_data = meta;
      }
      if (phoneConfirm) {
        await tx`update auth.users set phone_confirmed_at = ${at}, updated_at = ${at} where id = ${user.id}`;
      }
      if (password !== null) {
        await tx`update auth.users set encrypted_password = ${hash ?? ""}, updated_at = ${at} where id = ${user.id}`;
        await tx`delete from auth.sessions where user_id = ${user.id}`;
      }
      const identifiers = [["email", email, emailConfirm], ["phone", phone, phoneConfirm]] as const;
      for (const [provider, value, confirmed] of identifiers) {
        if (value === "") continue;
        const data = identityData(user.id, provider, value, confirmed);
        await upsertIdentity(
          tx,
          user.id,
          provider,
          { [provider]: value, [`${provider}_verified`]: confirmed },
          data,
          at,
        );
        await tx`update auth.users set ${tx({ [provider]: value, updated_at: at })} where id = ${user.id}`;
      }
      if (appMetadata) {
        const merged = mergeMetadata(user.raw_app_meta_data, appMetadata);
        await tx`update auth.users set raw_app_meta_data = ${tx.json(merged as postgres.JSONValue)},
                   updated_at = ${at} where id = ${user.id}`;
      }
      if (userMetadata) {
        const merged = mergeMetadata(user.raw_user_meta_data, userMetadata);
        await tx`update auth.users set raw_user_meta_data = ${tx.json(merged as postgres.JSONValue)},
                   updated_at = ${at} where id = ${user.id}`;
      }
      if (bannedFor !== null) {
        const until = bannedFor === 0 ? null : new Date(at.getTime() + bannedFor);
        await tx`update auth.users set banned_until = ${until}, updated_at = ${at} where id = ${user.id}`;
      }
    });
  } catch (err) {
    if (err instanceof HttpError) throw err;
    console.error("auth: admin user update failed:", err);
    throw unexpectedFailure("Error updating user");
  }
  return json(req, 200, await loadUserJson(sql, user.id));
}

// DELETE /admin/users/{id}, `{should_soft_delete: true}` for GoTrue's soft delete.
export async function adminUserDelete(config: AuthConfig, req: Request, id: string): Promise<Response> {
  await requireAdmin(config, req);
  const user = await loadUser(config, id);
  const text = await req.text();
  let soft = false;
  if (text.trim() !== "") {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw badRequest("bad_json", `Could not parse request body as JSON: ${(err as Error).message}`);
    }
    soft = isPlainObject(parsed) && parsed.should_soft_delete === true;
  }
  const at = new Date(config.now());
  try {
    await config.sql.begin(async (tx) => {
      if (!soft) {
        await tx`delete from auth.users where id = ${user.id}`;
        return;
      }
      if (user.deleted_at) return;
      // GoTrue's SoftDeleteUser: obfuscate the sign-in identifiers, drop secrets and metadata.
      const obfuscated = (v: string) => `${user.id}-${v}`.replace(/[^a-z0-9-]/gi, "");
      await tx`update auth.users set deleted_at = ${at}, updated_at = ${at}, encrypted_password = '',
                 email = ${user.email ? obfuscated(user.email) : null}, phone = ${
        user.phone ? obfuscated(user.phone) : null
      },
                 raw_app_meta_data = '{}'::jsonb, raw_user_meta_data = '{}'::jsonb
               where id = ${user.id}`;
      await tx`update auth.identities set provider_id = ${user.id} || '-' || provider_id,
                 identity_data = '{}'::jsonb, updated_at = ${at} where user_id = ${user.id}`;
      await tx`delete from auth.sessions where user_id = ${user.id}`;
    });
  } catch (err) {
    console.error("auth: admin user delete failed:", err);
    throw unexpectedFailure("Database error deleting user");
  }
  return json(req, 200, {});
}

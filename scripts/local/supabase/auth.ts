// Local stand-in for Supabase Auth (GoTrue) under /auth/v1: the subset of its HTTP API that
// @supabase/supabase-js v2 uses for password sign-in, user lookup and update, session refresh and
// sign-out, plus the admin user endpoints a backend calls with the service_role key. Backed by
// auth.users (bcrypt passwords, cost 10, like GoTrue) and GoTrue's own session tables
// (auth.sql); tokens carry Supabase's claims. Request and response bodies, error codes and
// messages follow GoTrue's (supabase/auth internal/api), including its two error shapes chosen by
// the X-Supabase-Api-Version header. Requests need an `apikey` like hosted Supabase's gateway
// asks for. Never deployed.

import type postgres from "postgres";
import bcrypt from "bcryptjs";
import { jwtVerify, SignJWT } from "jose";

export interface AuthDeps {
  sql: postgres.Sql;
  jwtSecret: string;
  anonKey: string;
  serviceRoleKey: string;
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

export type AuthHandler = (req: Request) => Promise<Response>;

const enc = new TextEncoder();
const NIL_UUID = "00000000-0000-0000-0000-000000000000";
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const ADMIN_ROLES = new Set(["service_role", "supabase_admin"]);
const API_VERSION_HEADER = "X-Supabase-Api-Version";
const API_VERSION_2024 = "2024-01-01";
const BCRYPT_COST = 10;
const MAX_PASSWORD_BYTES = 72;
const DEFAULT_AUDIENCE = "authenticated";
const DEFAULT_ROLE = "authenticated";
/** What /health reports as GoTrue's version. */
export const GOTRUE_VERSION = "v2.197.0";

// ── errors, shaped like GoTrue's ────────────────────────────────────────────────────────────

/** GoTrue's HTTPError: `{code, error_code, msg}`, or `{code, message}` for API version 2024-01-01. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
    readonly weakPasswordReasons?: string[],
  ) {
    super(message);
  }
}

/** GoTrue's OAuthError: `{error, error_description}`, always 400. */
class OAuthError extends Error {
  constructor(readonly error: string, readonly description: string) {
    super(description);
  }
}

const badRequest = (code: string, msg: string) => new HttpError(400, code, msg);
const forbidden = (code: string, msg: string) => new HttpError(403, code, msg);
const notFound = (code: string, msg: string) => new HttpError(404, code, msg);
const unprocessable = (code: string, msg: string) => new HttpError(422, code, msg);

function weakPassword(minLength: number): HttpError {
  return new HttpError(422, "weak_password", `Password should be at least ${minLength} characters.`, ["length"]);
}

/** A transaction that must commit and still answer with an error (GoTrue's NewCommitWithError). */
class CommitWithError {
  constructor(readonly error: HttpError) {}
}

// ── small helpers ───────────────────────────────────────────────────────────────────────────

type Json = Record<string, unknown>;

function isPlainObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** GoTrue's secure alphanumeric refresh tokens: lowercase base32, 12 characters. */
function newRefreshToken(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return [...bytes].map((b) => alphabet[b & 31]).join("");
}

/** A bcrypt hash as GoTrue writes it ($2a$, cost 10); Postgres crypt() reads it too. */
export async function hashPassword(password: string): Promise<string> {
  const salt = bcrypt.genSaltSync(BCRYPT_COST).replace(/^\$2b\$/, "$2a$");
  return await bcrypt.hash(password, salt);
}

async function verifyPassword(password: string, hash: string | null): Promise<boolean> {
  if (!hash || !/^\$2[aby]?\$\d\d\$/.test(hash)) return false;
  try {
    return await bcrypt.compare(password, hash);
  } catch {
    return false;
  }
}

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

/** GoTrue's validatePhone: digits only, E.164 without the plus. */
function validatePhone(phone: string): string {
  const digits = phone.replace(/[^0-9]/g, "");
  if (!/^[1-9]\d{1,14}$/.test(digits)) {
    throw badRequest("validation_failed", "Invalid phone number format (E.164 required)");
  }
  return digits;
}

function validateEmail(email: string): string {
  if (email === "") throw badRequest("validation_failed", "An email address is required");
  if (email.length > 255) throw badRequest("validation_failed", "An email address is too long");
  if (!EMAIL_RE.test(email)) throw badRequest("validation_failed", "Unable to validate email address: invalid format");
  return email.toLowerCase();
}

/** Merges metadata the way GoTrue's UpdateAppMetaData/UpdateUserMetaData do: null deletes a key. */
function mergeMetadata(current: Json | null | undefined, updates: Json): Json {
  const out: Json = { ...(current ?? {}) };
  for (const [k, v] of Object.entries(updates)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

// ── the schema ──────────────────────────────────────────────────────────────────────────────

const schemaApplied = new WeakMap<postgres.Sql, Promise<void>>();

/** Creates GoTrue's session tables (scripts/local/supabase/auth.sql) when missing. Idempotent; safe to
 * call concurrently (serialised with an advisory lock). */
export function ensureAuthSchema(sql: postgres.Sql): Promise<void> {
  let p = schemaApplied.get(sql);
  if (!p) {
    p = (async () => {
      const ddl = await Deno.readTextFile(new URL("./auth.sql", import.meta.url));
      await sql.begin(async (tx) => {
        await tx`select pg_advisory_xact_lock(hashtext('switchboard.local.auth_schema'))`;
        await tx.unsafe(ddl);
      });
    })();
    p.catch(() => schemaApplied.delete(sql));
    schemaApplied.set(sql, p);
  }
  return p;
}

// ── users ───────────────────────────────────────────────────────────────────────────────────

interface UserRow {
  id: string;
  aud: string | null;
  role: string | null;
  email: string | null;
  encrypted_password: string | null;
  phone: string | null;
  email_confirmed_at: string | null;
  invited_at: string | null;
  phone_confirmed_at: string | null;
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

const USER_SELECT = `
  select id::text, aud, role, email, encrypted_password, phone,
    ${ts("email_confirmed_at")} as email_confirmed_at,
    ${ts("invited_at")} as invited_at,
    ${ts("phone_confirmed_at")} as phone_confirmed_at,
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

type Db = postgres.Sql | postgres.TransactionSql;

async function findUserById(db: Db, id: string): Promise<UserRow | null> {
  const rows = await db.unsafe<UserRow[]>(`${USER_SELECT} where id = $1`, [id]);
  return rows[0] ?? null;
}

async function findUserByEmail(db: Db, email: string, aud: string): Promise<UserRow | null> {
  const rows = await db.unsafe<UserRow[]>(
    `${USER_SELECT} where coalesce(instance_id, '${NIL_UUID}') = '${NIL_UUID}' and lower(email) = lower($1)
       and aud = $2 and is_sso_user = false`,
    [email, aud],
  );
  return rows[0] ?? null;
}

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

async function loadUserJson(db: Db, id: string): Promise<Json> {
  const user = await findUserById(db, id);
  if (!user) throw notFound("user_not_found", "User not found");
  return userJson(user, await findIdentities(db, id));
}

async function insertIdentity(
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

interface NewUser {
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
async function insertUser(db: Db, u: NewUser): Promise<string> {
  const id = u.id ?? crypto.randomUUID();
  await db`
    insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
      phone, phone_confirmed_at, raw_app_meta_data, raw_user_meta_data, banned_until,
      created_at, updated_at, is_sso_user, is_anonymous)
    values (${NIL_UUID}, ${id}, ${u.aud ?? DEFAULT_AUDIENCE}, ${u.role ?? DEFAULT_ROLE}, ${u.email ?? null},
      ${u.passwordHash ?? ""}, ${u.emailConfirmedAt ?? null}, ${u.phone ?? null}, ${u.phoneConfirmedAt ?? null},
      ${db.json(u.appMetadata as postgres.JSONValue)}, ${db.json(u.userMetadata as postgres.JSONValue)},
      ${u.bannedUntil ?? null}, ${u.at}, ${u.at}, false, false)`;
  if (u.email) {
    await insertIdentity(
      db,
      id,
      "email",
      { sub: id, email: u.email, email_verified: false, phone_verified: false },
      u.at,
    );
  }
  if (u.phone) {
    await insertIdentity(
      db,
      id,
      "phone",
      { sub: id, phone: u.phone, email_verified: false, phone_verified: false },
      u.at,
    );
  }
  return id;
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
      await insertIdentity(
        tx,
        row.id,
        "email",
        { sub: row.id, email: row.email, email_verified: false, phone_verified: false },
        new Date(),
      );
    }
    return row.id as string;
  }) as string;
}

// ── the handler ─────────────────────────────────────────────────────────────────────────────

interface Claims {
  sub?: string;
  role?: string;
  aud?: string | string[];
  session_id?: string;
  [k: string]: unknown;
}

interface Authenticated {
  claims: Claims;
  user: UserRow;
  sessionId: string | null;
}

/** golang-jwt's error texts, which GoTrue puts into its "invalid JWT" message. */
function jwtFailure(err: unknown): string {
  const code = (err as { code?: string })?.code;
  switch (code) {
    case "ERR_JWT_EXPIRED":
      return "token has invalid claims: token is expired";
    case "ERR_JWT_CLAIM_VALIDATION_FAILED":
      return "token has invalid claims: token is not valid yet";
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      return "token signature is invalid: signature is invalid";
    case "ERR_JOSE_ALG_NOT_ALLOWED":
      return "token signature is invalid: signing method is invalid";
    default:
      return "token is malformed: could not parse the token";
  }
}

function apiVersionOf(req: Request): string | null {
  const v = req.headers.get(API_VERSION_HEADER);
  if (!v || !/^\d{4}-\d{2}-\d{2}$/.test(v) || Number.isNaN(Date.parse(`${v}T00:00:00Z`))) return null;
  return v >= API_VERSION_2024 ? API_VERSION_2024 : null;
}

function corsHeaders(req: Request, headers: Headers): void {
  const origin = req.headers.get("origin");
  if (!origin) return;
  headers.set("Access-Control-Allow-Origin", origin);
  headers.set("Access-Control-Allow-Credentials", "true");
  headers.set("Access-Control-Expose-Headers", "X-Total-Count, Link, X-Supabase-Api-Version");
  headers.append("Vary", "Origin");
}

function json(req: Request, status: number, body: unknown, extra?: HeadersInit): Response {
  const headers = new Headers(extra);
  headers.set("content-type", "application/json");
  corsHeaders(req, headers);
  return new Response(JSON.stringify(body), { status, headers });
}

function errorResponse(req: Request, err: unknown): Response {
  const headers = new Headers();
  const version = apiVersionOf(req);
  if (version) headers.set(API_VERSION_HEADER, version);
  if (err instanceof OAuthError) {
    const body: Json = { error: err.error };
    if (err.description) body.error_description = err.description;
    return json(req, 400, body, headers);
  }
  let e: HttpError;
  if (err instanceof HttpError) {
    e = err;
  } else {
    console.error("auth: unhandled error:", err);
    e = new HttpError(500, "unexpected_failure", "Unexpected failure, please check server logs for more information");
  }
  if (e.errorCode) headers.set("x-sb-error-code", e.errorCode);
  let body: Json;
  if (version) {
    body = { code: e.errorCode || (e.status === 500 ? "unexpected_failure" : "unknown"), message: e.message };
  } else {
    body = { code: e.status, error_code: e.errorCode || "unknown", msg: e.message };
  }
  if (e.weakPasswordReasons) body.weak_password = { reasons: e.weakPasswordReasons };
  return json(req, e.status, body, headers);
}

async function readJson(req: Request): Promise<Json> {
  const text = await req.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    const detail = text.trim() === "" ? "unexpected end of JSON input" : (err as Error).message;
    throw badRequest("bad_json", `Could not parse request body as JSON: ${detail}`);
  }
  if (!isPlainObject(parsed)) {
    const type = Array.isArray(parsed) ? "array" : parsed === null ? "null" : typeof parsed;
    throw badRequest("bad_json", `Could not parse request body as JSON: json: cannot unmarshal ${type} into Go value`);
  }
  return parsed;
}

function str(body: Json, key: string): string {
  const v = body[key];
  if (v === undefined || v === null) return "";
  if (typeof v !== "string") {
    throw badRequest(
      "bad_json",
      `Could not parse request body as JSON: json: cannot unmarshal ${typeof v} into Go struct field .${key} of type string`,
    );
  }
  return v;
}

function obj(body: Json, key: string): Json | null {
  const v = body[key];
  if (v === undefined || v === null) return null;
  if (!isPlainObject(v)) {
    throw badRequest(
      "bad_json",
      `Could not parse request body as JSON: json: cannot unmarshal ${
        Array.isArray(v) ? "array" : typeof v
      } into Go struct field .${key} of type map[string]interface {}`,
    );
  }
  return v;
}

/** Serves GoTrue's API for supabase-js. Mount at `/auth/v1` (the prefix is stripped here). */
export function createAuthHandler(deps: AuthDeps): AuthHandler {
  const sql = deps.sql;
  const now = deps.now ?? Date.now;
  const ttl = deps.accessTokenTtlSeconds ?? 3600;
  const reuseIntervalMs = (deps.refreshTokenReuseIntervalSeconds ?? 10) * 1000;
  const minPasswordLength = deps.minimumPasswordLength ?? 6;
  const secret = enc.encode(deps.jwtSecret);
  const apiKeys = new Set([deps.anonKey, deps.serviceRoleKey]);

  const requestAud = (req: Request) => req.headers.get("x-jwt-aud") || DEFAULT_AUDIENCE;

  function checkPasswordStrength(password: string): void {
    if (enc.encode(password).length > MAX_PASSWORD_BYTES) {
      throw badRequest("validation_failed", `Password cannot be longer than ${MAX_PASSWORD_BYTES} characters`);
    }
    if ([...password].length < minPasswordLength) throw weakPassword(minPasswordLength);
  }

  async function parseJwt(token: string): Promise<Claims> {
    try {
      const { payload } = await jwtVerify(token, secret, {
        algorithms: ["HS256"],
        currentDate: new Date(now()),
      });
      return payload as Claims;
    } catch (err) {
      throw forbidden("bad_jwt", `invalid JWT: unable to parse or verify signature, ${jwtFailure(err)}`);
    }
  }

  function bearer(req: Request): string {
    const m = (req.headers.get("authorization") ?? "").match(/^(?:B|b)earer (\S+)$/);
    if (!m) throw new HttpError(401, "no_authorization", "This endpoint requires a Bearer token");
    return m[1];
  }

  async function requireAuthentication(req: Request): Promise<Authenticated> {
    const claims = await parseJwt(bearer(req));
    if (!claims.sub) throw forbidden("bad_jwt", "invalid claim: missing sub claim");
    if (!UUID_RE.test(claims.sub)) throw badRequest("bad_jwt", "invalid claim: sub claim must be a UUID");
    const user = await findUserById(sql, claims.sub);
    if (!user) throw forbidden("user_not_found", "User from sub claim in JWT does not exist");
    let sessionId: string | null = null;
    if (claims.session_id && claims.session_id !== NIL_UUID) {
      if (!UUID_RE.test(claims.session_id)) {
        throw forbidden("bad_jwt", "invalid claim: session_id claim must be a UUID");
      }
      const [s] = await sql`select id::text from auth.sessions where id = ${claims.session_id}`;
      if (!s) throw forbidden("session_not_found", "Session from session_id claim in JWT does not exist");
      sessionId = s.id;
    }
    return { claims, user, sessionId };
  }

  async function requireAdmin(req: Request): Promise<Claims> {
    const claims = await parseJwt(bearer(req));
    if (!ADMIN_ROLES.has(String(claims.role ?? ""))) throw forbidden("not_admin", "User not allowed");
    return claims;
  }

  const isBanned = (u: UserRow) => u.banned_until_ms !== null && now() < u.banned_until_ms;

  /** GoTrue's generateAccessToken: claims from the user row and the session's AMR claims. */
  async function accessToken(db: Db, userId: string, sessionId: string) {
    const user = await findUserById(db, userId);
    if (!user) throw notFound("user_not_found", "User not found");
    const amr = await db<{ method: string; timestamp: number }[]>`
      select authentication_method as method, floor(extract(epoch from updated_at))::int8::float8 as timestamp
      from auth.mfa_amr_claims where session_id = ${sessionId} order by updated_at, id`;
    const iat = Math.floor(now() / 1000);
    const exp = iat + ttl;
    const payload: Json = {
      iss: deps.issuer,
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
    const token = await new SignJWT(payload).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(secret);
    return { token, exp, user: userJson(user, await findIdentities(db, userId)) };
  }

  function tokenResponse(t: { token: string; exp: number; user: Json }, refreshToken: string, extra?: Json): Json {
    return {
      access_token: t.token,
      token_type: "bearer",
      expires_in: ttl,
      expires_at: t.exp,
      refresh_token: refreshToken,
      user: t.user,
      ...extra,
    };
  }

  // POST /token?grant_type=password
  async function passwordGrant(req: Request): Promise<Response> {
    const body = await readJson(req);
    const email = str(body, "email");
    const phone = str(body, "phone");
    const password = str(body, "password");
    if (email !== "" && phone !== "") {
      throw badRequest("validation_failed", "Only an email address or phone number should be provided on login.");
    }
    if (phone !== "") throw unprocessable("phone_provider_disabled", "Phone logins are disabled");
    if (email === "") throw badRequest("validation_failed", "missing email or phone");
    const user = await findUserByEmail(sql, email, requestAud(req));
    if (!user || !user.encrypted_password) throw badRequest("invalid_credentials", "Invalid login credentials");
    if (isBanned(user)) throw badRequest("user_banned", "User is banned");
    if (!(await verifyPassword(password, user.encrypted_password))) {
      throw badRequest("invalid_credentials", "Invalid login credentials");
    }
    if (!user.email_confirmed_at) throw badRequest("email_not_confirmed", "Email not confirmed");

    const at = new Date(now());
    const sessionId = crypto.randomUUID();
    const refreshToken = newRefreshToken();
    const issued = await sql.begin(async (tx) => {
      await tx`insert into auth.sessions (id, user_id, created_at, updated_at, aal, user_agent)
               values (${sessionId}, ${user.id}, ${at}, ${at}, 'aal1', ${req.headers.get("user-agent")})`;
      await tx`insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
               values (${NIL_UUID}, ${refreshToken}, ${user.id}, false, ${at}, ${at}, null, ${sessionId})`;
      await tx`update auth.users set last_sign_in_at = ${at}, updated_at = ${at} where id = ${user.id}`;
      await tx`insert into auth.mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method)
               values (${crypto.randomUUID()}, ${sessionId}, ${at}, ${at}, 'password')
               on conflict on constraint mfa_amr_claims_session_id_authentication_method_pkey
               do update set updated_at = excluded.updated_at`;
      return await accessToken(tx, user.id, sessionId);
    });
    const extra: Json = {};
    if ([...password].length < minPasswordLength) {
      extra.weak_password = {
        message: `Password should be at least ${minPasswordLength} characters.`,
        reasons: ["length"],
      };
    }
    return json(req, 200, tokenResponse(issued, refreshToken, extra));
  }

  // POST /token?grant_type=refresh_token: rotation with GoTrue's reuse rules.
  async function refreshTokenGrant(req: Request): Promise<Response> {
    const body = await readJson(req);
    const presented = str(body, "refresh_token");
    if (presented === "") throw new OAuthError("invalid_request", "refresh_token required");
    const at = new Date(now());

    const result = await sql.begin(async (tx) => {
      const [token] = await tx<
        { id: string; token: string; user_id: string; revoked: boolean; session_id: string | null; updated_at: Date }[]
      >`
        select id::text, token, user_id, coalesce(revoked, false) as revoked, session_id::text, updated_at
        from auth.refresh_tokens where token = ${presented} for update`;
      if (!token) throw badRequest("refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found");
      const user = UUID_RE.test(token.user_id) ? await findUserById(tx, token.user_id) : null;
      if (!user) throw badRequest("refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found");
      if (isBanned(user)) throw badRequest("user_banned", "Invalid Refresh Token: User Banned");
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
        } else if (at.getTime() > token.updated_at.getTime() + reuseIntervalMs) {
          await tx`update auth.refresh_tokens set revoked = true, updated_at = ${at}
                   where session_id = ${session.id} and revoked = false`;
          return new CommitWithError(badRequest("refresh_token_already_used", "Invalid Refresh Token: Already Used"));
        }
      }
      if (issuedToken === "") {
        issuedToken = newRefreshToken();
        await tx`update auth.refresh_tokens set revoked = true, updated_at = ${at} where id = ${token.id}`;
        await tx`insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
                 values (${NIL_UUID}, ${issuedToken}, ${user.id}, false, ${at}, ${at}, ${token.token}, ${session.id})`;
        await tx`update auth.users set updated_at = ${at} where id = ${user.id}`;
      }
      await tx`update auth.sessions set refreshed_at = ${at}, updated_at = ${at}, user_agent = ${
        req.headers.get("user-agent")
      } where id = ${session.id}`;
      return { issued: await accessToken(tx, user.id, session.id), refreshToken: issuedToken };
    });
    if (result instanceof CommitWithError) throw result.error;
    return json(req, 200, tokenResponse(result.issued, result.refreshToken));
  }

  async function token(req: Request, url: URL): Promise<Response> {
    let grantType = url.searchParams.get("grant_type") ?? "";
    if (grantType === "" && (req.headers.get("content-type") ?? "").includes("application/x-www-form-urlencoded")) {
      grantType = new URLSearchParams(await req.clone().text()).get("grant_type") ?? "";
    }
    switch (grantType) {
      case "password":
        return await passwordGrant(req);
      case "refresh_token":
        return await refreshTokenGrant(req);
      default:
        throw badRequest("invalid_credentials", "unsupported_grant_type");
    }
  }

  // GET /user
  async function getUser(req: Request): Promise<Response> {
    const { claims, user } = await requireAuthentication(req);
    const aud = Array.isArray(claims.aud) ? claims.aud[0] : claims.aud;
    if (!aud || aud !== requestAud(req)) {
      throw badRequest("validation_failed", "Token audience doesn't match request audience");
    }
    return json(req, 200, userJson(user, await findIdentities(sql, user.id)));
  }

  // PUT /user: user_metadata (`data`) and password. E-mail and phone changes need GoTrue's
  // mailer/SMS confirmation flow, which this stand-in does not have.
  async function updateUser(req: Request): Promise<Response> {
    const { user, sessionId } = await requireAuthentication(req);
    const body = await readJson(req);
    const email = str(body, "email");
    const phone = str(body, "phone");
    const data = obj(body, "data");
    const appData = obj(body, "app_metadata");
    const password = body.password === undefined || body.password === null ? null : str(body, "password");
    if (email !== "") validateEmail(email);
    if (phone !== "") validatePhone(phone);
    if (password !== null) checkPasswordStrength(password);
    if (appData && !ADMIN_ROLES.has(user.role ?? "")) {
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
    const at = new Date(now());
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

  // POST /logout?scope=global|local|others
  async function logout(req: Request, url: URL): Promise<Response> {
    const raw = url.searchParams.get("scope") ?? "";
    if (!["", "global", "local", "others"].includes(raw)) {
      throw badRequest("validation_failed", `Unsupported logout scope "${raw}"`);
    }
    const scope = raw === "" ? "global" : raw;
    const { user, sessionId } = await requireAuthentication(req);
    if (sessionId && scope === "local") {
      await sql`delete from auth.sessions where id = ${sessionId}`;
    } else if (sessionId && scope === "others") {
      await sql`delete from auth.sessions where id <> ${sessionId} and user_id = ${user.id}`;
    } else {
      await sql`delete from auth.sessions where user_id = ${user.id}`;
    }
    const headers = new Headers();
    corsHeaders(req, headers);
    return new Response(null, { status: 204, headers });
  }

  // ── admin ──

  async function adminCreateUser(req: Request): Promise<Response> {
    await requireAdmin(req);
    const body = await readJson(req);
    let email = str(body, "email");
    let phone = str(body, "phone");
    const passwordGiven = body.password !== undefined && body.password !== null;
    let password = passwordGiven ? str(body, "password") : "";
    const passwordHash = str(body, "password_hash");
    const userMetadata = obj(body, "user_metadata");
    const appMetadata = obj(body, "app_metadata");
    const banDuration = str(body, "ban_duration");
    const customId = str(body, "id");
    const role = str(body, "role");
    const aud = str(body, "aud") || requestAud(req);

    if (email === "" && phone === "") {
      throw badRequest("validation_failed", "Cannot create a user without either an email or phone");
    }
    const providers: string[] = [];
    if (email !== "") {
      email = validateEmail(email);
      if (await findUserByEmail(sql, email, aud)) {
        throw unprocessable("email_exists", "A user with this email address has already been registered");
      }
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
      throw new HttpError(500, "unexpected_failure", "Error creating user");
    }
    if (password === "" && passwordHash === "") {
      const bytes = crypto.getRandomValues(new Uint8Array(48));
      password = btoa(String.fromCharCode(...bytes)).slice(0, 64);
    }
    if (passwordHash === "" && enc.encode(password).length > MAX_PASSWORD_BYTES) {
      throw badRequest("validation_failed", "bcrypt: password length exceeds 72 bytes");
    }
    if (customId !== "") {
      if (!UUID_RE.test(customId)) throw badRequest("validation_failed", "ID must conform to the uuid v4 format");
      if (customId === NIL_UUID) throw badRequest("validation_failed", "ID cannot be a nil uuid");
    }
    let bannedFor: number | null = null;
    if (banDuration !== "") {
      bannedFor = banDuration === "none" ? 0 : parseGoDuration(banDuration);
      if (bannedFor === null) {
        throw badRequest(
          "validation_failed",
          `invalid format for ban duration: time: invalid duration "${banDuration}"`,
        );
      }
    }

    const at = new Date(now());
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
        role: role || DEFAULT_ROLE,
        appMetadata: appMeta,
        userMetadata: userMeta,
        emailConfirmedAt: emailConfirm ? at : null,
        phoneConfirmedAt: phoneConfirm ? at : null,
        bannedUntil: bannedFor ? new Date(at.getTime() + bannedFor) : null,
        at,
      })
    ).catch((err) => {
      if ((err as { code?: string }).code === "23505") {
        throw unprocessable("email_exists", "A user with this email address has already been registered");
      }
      throw err;
    });
    return json(req, 200, await loadUserJson(sql, id as string));
  }

  async function loadAdminTarget(rawId: string): Promise<UserRow> {
    if (!UUID_RE.test(rawId)) throw notFound("validation_failed", "user_id must be an UUID");
    const user = await findUserById(sql, rawId);
    if (!user) throw notFound("user_not_found", "User not found");
    return user;
  }

  async function adminGetUser(req: Request, id: string): Promise<Response> {
    await requireAdmin(req);
    const user = await loadAdminTarget(id);
    return json(req, 200, userJson(user, await findIdentities(sql, user.id)));
  }

  async function adminUpdateUser(req: Request, id: string): Promise<Response> {
    await requireAdmin(req);
    const user = await loadAdminTarget(id);
    const body = await readJson(req);
    let email = str(body, "email");
    let phone = str(body, "phone");
    const password = body.password === undefined || body.password === null ? null : str(body, "password");
    const userMetadata = obj(body, "user_metadata");
    const appMetadata = obj(body, "app_metadata");
    const banDuration = str(body, "ban_duration");
    const role = str(body, "role");
    const emailConfirm = body.email_confirm === true;
    const phoneConfirm = body.phone_confirm === true;

    if (email !== "") email = validateEmail(email);
    if (phone !== "") phone = validatePhone(phone);
    let bannedFor: number | null = null;
    if (banDuration !== "") {
      bannedFor = banDuration === "none" ? 0 : parseGoDuration(banDuration);
      if (bannedFor === null) {
        throw badRequest(
          "validation_failed",
          `invalid format for ban duration: time: invalid duration "${banDuration}"`,
        );
      }
    }
    let hash: string | null = null;
    if (password !== null) {
      checkPasswordStrength(password);
      hash = password === "" ? null : await hashPassword(password);
    }
    if (email !== "" && email !== user.email) {
      const dup = await findUserByEmail(sql, email, user.aud ?? DEFAULT_AUDIENCE);
      if (dup && dup.id !== user.id) {
        throw unprocessable("email_exists", "A user with this email address has already been registered");
      }
    }

    const at = new Date(now());
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
        if (email !== "") {
          const [identity] = await tx`select id from auth.identities where user_id = ${user.id} and provider = 'email'`;
          if (identity) {
            await tx`update auth.identities
                     set identity_data = identity_data || ${
              tx.json({ email, email_verified: emailConfirm } as postgres.JSONValue)
            }, updated_at = ${at}
                     where id = ${identity.id}`;
          } else {
            await insertIdentity(tx, user.id, "email", {
              sub: user.id,
              email,
              email_verified: emailConfirm,
              phone_verified: false,
            }, at);
          }
          await tx`update auth.users set email = ${email}, updated_at = ${at} where id = ${user.id}`;
        }
        if (phone !== "") {
          const [identity] = await tx`select id from auth.identities where user_id = ${user.id} and provider = 'phone'`;
          if (identity) {
            await tx`update auth.identities
                     set identity_data = identity_data || ${
              tx.json({ phone, phone_verified: phoneConfirm } as postgres.JSONValue)
            }, updated_at = ${at}
                     where id = ${identity.id}`;
          } else {
            await insertIdentity(tx, user.id, "phone", {
              sub: user.id,
              phone,
              email_verified: false,
              phone_verified: phoneConfirm,
            }, at);
          }
          await tx`update auth.users set phone = ${phone}, updated_at = ${at} where id = ${user.id}`;
        }
        if (appMetadata) {
          const merged = mergeMetadata(user.raw_app_meta_data, appMetadata);
          await tx`update auth.users set raw_app_meta_data = ${
            tx.json(merged as postgres.JSONValue)
          }, updated_at = ${at}
                   where id = ${user.id}`;
        }
        if (userMetadata) {
          const merged = mergeMetadata(user.raw_user_meta_data, userMetadata);
          await tx`update auth.users set raw_user_meta_data = ${
            tx.json(merged as postgres.JSONValue)
          }, updated_at = ${at}
                   where id = ${user.id}`;
        }
        if (bannedFor !== null) {
          const until = bannedFor === 0 ? null : new Date(at.getTime() + bannedFor);
          await tx`update auth.users set banned_until = ${until}, updated_at = ${at} where id = ${user.id}`;
        }
      });
    } catch (err) {
      if (err instanceof HttpError) throw err;
      console.error("auth: admin user update failed:", err);
      throw new HttpError(500, "unexpected_failure", "Error updating user");
    }
    return json(req, 200, await loadUserJson(sql, user.id));
  }

  async function adminDeleteUser(req: Request, id: string): Promise<Response> {
    await requireAdmin(req);
    const user = await loadAdminTarget(id);
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
    const at = new Date(now());
    try {
      await sql.begin(async (tx) => {
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
      throw new HttpError(500, "unexpected_failure", "Database error deleting user");
    }
    return json(req, 200, {});
  }

  async function adminListUsers(req: Request, url: URL): Promise<Response> {
    await requireAdmin(req);
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
    for (const row of rows) users.push(userJson(row, await findIdentities(sql, row.id)));
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

  // ── routing ──

  function preflight(req: Request): Response {
    const headers = new Headers();
    const origin = req.headers.get("origin");
    headers.set("Access-Control-Allow-Origin", origin ?? "*");
    if (origin) headers.set("Access-Control-Allow-Credentials", "true");
    headers.set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS");
    headers.set(
      "Access-Control-Allow-Headers",
      req.headers.get("access-control-request-headers") ??
        "Accept, Authorization, Content-Type, X-Client-Info, apikey, X-Supabase-Api-Version, X-JWT-AUD",
    );
    headers.set("Access-Control-Max-Age", "3600");
    headers.append("Vary", "Origin");
    return new Response(null, { status: 204, headers });
  }

  /** What hosted Supabase's gateway answers before a request reaches GoTrue. */
  function apiKeyRejection(req: Request, url: URL): Response | null {
    const key = req.headers.get("apikey") ?? url.searchParams.get("apikey");
    if (!key) {
      return json(req, 401, {
        message: "No API key found in request",
        hint: "No `apikey` request header or url param was found.",
      });
    }
    if (!apiKeys.has(key)) {
      return json(req, 401, {
        message: "Invalid API key",
        hint: "Double check your Supabase `anon` or `service_role` API key.",
      });
    }
    return null;
  }

  function notFoundText(req: Request, status = 404): Response {
    const headers = new Headers({ "content-type": "text/plain; charset=utf-8" });
    corsHeaders(req, headers);
    return new Response(status === 404 ? "404 page not found\n" : "", { status, headers });
  }

  return async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    if (req.method === "OPTIONS") return preflight(req);
    const rejected = apiKeyRejection(req, url);
    if (rejected) return rejected;
    const path = (url.pathname.replace(/^\/auth\/v1(?=\/|$)/, "").replace(/\/+$/, "")) || "/";
    try {
      await ensureAuthSchema(sql);
      const method = req.method;
      const route = (handlers: Record<string, () => Promise<Response>>) => {
        const h = handlers[method];
        return h ? h() : Promise.resolve(notFoundText(req, 405));
      };
      switch (path) {
        case "/health":
          return await route({
            GET: () =>
              Promise.resolve(json(req, 200, {
                version: GOTRUE_VERSION,
                name: "GoTrue",
                description: "GoTrue is a user registration and authentication API",
              })),
          });
        case "/settings":
          return await route({ GET: () => Promise.resolve(json(req, 200, settings())) });
        case "/token":
          return await route({ POST: () => token(req, url) });
        case "/user":
          return await route({ GET: () => getUser(req), PUT: () => updateUser(req) });
        case "/logout":
          return await route({ POST: () => logout(req, url) });
        case "/signup":
          return await route({
            POST: () => Promise.reject(unprocessable("signup_disabled", "Signups not allowed for this instance")),
          });
        case "/admin/users":
          return await route({ GET: () => adminListUsers(req, url), POST: () => adminCreateUser(req) });
      }
      const m = path.match(/^\/admin\/users\/([^/]+)$/);
      if (m) {
        const id = decodeURIComponent(m[1]);
        return await route({
          GET: () => adminGetUser(req, id),
          PUT: () => adminUpdateUser(req, id),
          DELETE: () => adminDeleteUser(req, id),
        });
      }
      return notFoundText(req);
    } catch (err) {
      return errorResponse(req, err);
    }
  };
}

/** GoTrue's GET /settings for this stand-in: e-mail/password only, no sign-ups. */
function settings(): Json {
  const providers = [
    "anonymous_users",
    "apple",
    "azure",
    "bitbucket",
    "discord",
    "facebook",
    "figma",
    "fly",
    "github",
    "gitlab",
    "google",
    "keycloak",
    "kakao",
    "linkedin",
    "linkedin_oidc",
    "nextcloud",
    "notion",
    "spotify",
    "slack",
    "slack_oidc",
    "workos",
    "twitch",
    "twitter",
    "email",
    "phone",
    "zoom",
  ];
  return {
    external: Object.fromEntries(providers.map((p) => [p, p === "email"])),
    disable_signup: true,
    mailer_autoconfirm: false,
    phone_autoconfirm: false,
    sms_provider: "",
    saml_enabled: false,
  };
}

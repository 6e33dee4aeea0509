// The local auth stand-in answers @supabase/supabase-js exactly as hosted Supabase Auth does:
// password sign-in, user lookup, refresh-token rotation with GoTrue's reuse rules, sign-out,
// expired tokens, the admin user API with the service_role key, the apikey gate and CORS.
// Drives the real supabase-js client against the handler on a real HTTP server, over the
// database `npm test` starts (SUPABASE_DB_URL, SUPABASE_JWT_SECRET).

import assert from "node:assert/strict";
import postgres from "postgres";
import { jwtVerify, SignJWT } from "jose";
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { createAuthHandler, createAuthUser, ensureAuthSchema, setAuthUserPassword } from "./auth.ts";
import { deriveApiKeys } from "./keys.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const enc = new TextEncoder();

function testEnv(): { dbUrl: string; jwtSecret: string } {
  const dbUrl = Deno.env.get("SUPABASE_DB_URL");
  const jwtSecret = Deno.env.get("SUPABASE_JWT_SECRET");
  if (!dbUrl || !jwtSecret) {
    throw new Error(
      "SUPABASE_DB_URL and SUPABASE_JWT_SECRET must be set: run this test through `npm test` (which starts a " +
        "database with the bootstrap and migrations applied), or start one yourself and export both",
    );
  }
  return { dbUrl, jwtSecret };
}

interface Fixture {
  url: string;
  sql: postgres.Sql;
  jwtSecret: string;
  anonKey: string;
  serviceRoleKey: string;
  issuer: string;
  /** Moves the handler's clock. */
  advance(ms: number): void;
  anon(): SupabaseClient;
  service(): SupabaseClient;
  /** A confirmed user with a password, removed afterwards. */
  user(opts?: { app_metadata?: Record<string, unknown>; user_metadata?: Record<string, unknown> }): Promise<{
    id: string;
    email: string;
    password: string;
  }>;
  track(userId: string): void;
}

function serve(handler: (req: Request) => Promise<Response>): { url: string; close(): Promise<void> } {
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/auth/v1" || path.startsWith("/auth/v1/")) return await handler(req);
    return new Response("no route", { status: 404 });
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, close: () => server.shutdown() };
}

async function withAuth(fn: (f: Fixture) => Promise<void>, deps: { clockOffsetMs?: number } = {}) {
  const { dbUrl, jwtSecret } = testEnv();
  const sql = postgres(dbUrl, { max: 4, onnotice: () => {} });
  const { anonKey, serviceRoleKey } = await deriveApiKeys(jwtSecret);
  let skew = deps.clockOffsetMs ?? 0;
  const issuer = "http://127.0.0.1:54321/auth/v1";
  const handler = createAuthHandler({
    sql,
    jwtSecret,
    anonKey,
    serviceRoleKey,
    issuer,
    now: () => Date.now() + skew,
  });
  const server = serve(handler);
  const created: string[] = [];
  const client = (key: string) =>
    createClient(server.url, key, {
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    });
  const f: Fixture = {
    url: server.url,
    sql,
    jwtSecret,
    anonKey,
    serviceRoleKey,
    issuer,
    advance: (ms) => skew += ms,
    anon: () => client(anonKey),
    service: () => client(serviceRoleKey),
    async user(o = {}) {
      const email = `auth-test-${crypto.randomUUID().slice(0, 8)}@Switchboard.test`;
      const password = `pw-${crypto.randomUUID()}`;
      const id = await createAuthUser(sql, { email, password, ...o });
      created.push(id);
      return { id, email: email.toLowerCase(), password };
    },
    track: (id) => created.push(id),
  };
  try {
    await fn(f);
  } finally {
    if (created.length) await sql`delete from auth.users where id = any(${created}::uuid[])`;
    await server.close();
    await sql.end();
  }
}

async function claimsOf(token: string, secret: string) {
  const { payload, protectedHeader } = await jwtVerify(token, enc.encode(secret), { algorithms: ["HS256"] });
  return { payload: payload as Record<string, unknown>, header: protectedHeader };
}

Deno.test("signInWithPassword returns a GoTrue session whose JWT carries Supabase's claims", opts, async () => {
  await withAuth(async (f) => {
    const u = await f.user({ app_metadata: { platform_admin: true }, user_metadata: { full_name: "Ada Admin" } });
    const supabase = f.anon();
    // Supabase Auth matches e-mail addresses case-insensitively.
    const { data, error } = await supabase.auth.signInWithPassword({
      email: u.email.toUpperCase(),
      password: u.password,
    });
    assert.equal(error, null);
    const session = data.session!;
    assert.equal(session.token_type, "bearer");
    assert.equal(session.expires_in, 3600);
    assert.match(session.refresh_token, /^[a-z2-7]{12}$/);
    assert.ok(Math.abs(session.expires_at! - (Math.floor(Date.now() / 1000) + 3600)) <= 2);

    const { payload, header } = await claimsOf(session.access_token, f.jwtSecret);
    assert.deepEqual(header, { alg: "HS256", typ: "JWT" });
    assert.deepEqual(Object.keys(payload), [
      "iss",
      "sub",
      "aud",
      "exp",
      "iat",
      "email",
      "phone",
      "app_metadata",
      "user_metadata",
      "role",
      "aal",
      "amr",
      "session_id",
      "is_anonymous",
    ]);
    assert.equal(payload.iss, f.issuer);
    assert.equal(payload.sub, u.id);
    assert.equal(payload.aud, "authenticated");
    assert.equal(payload.role, "authenticated");
    assert.equal(payload.email, u.email);
    assert.equal(payload.phone, "");
    assert.equal((payload.exp as number) - (payload.iat as number), 3600);
    assert.deepEqual(payload.app_metadata, { provider: "email", providers: ["email"], platform_admin: true });
    assert.deepEqual(payload.user_metadata, { full_name: "Ada Admin", email_verified: true });
    assert.equal(payload.aal, "aal1");
    const amr = payload.amr as { method: string; timestamp: number }[];
    assert.equal(amr.length, 1);
    assert.equal(amr[0].method, "password");
    assert.ok(Math.abs(amr[0].timestamp - (payload.iat as number)) <= 1);
    assert.equal(payload.is_anonymous, false);
    const [row] = await f.sql`select user_id::text, aal::text from auth.sessions where id = ${payload
      .session_id as string}`;
    assert.deepEqual({ ...row }, { user_id: u.id, aal: "aal1" });

    // The user object is GoTrue's, identities and timestamps included.
    const user = data.user!;
    assert.equal(user.id, u.id);
    assert.equal(user.aud, "authenticated");
    assert.equal(user.role, "authenticated");
    assert.equal(user.email, u.email);
    assert.equal(user.phone, "");
    assert.ok(user.email_confirmed_at && user.confirmed_at && user.last_sign_in_at);
    assert.match(user.last_sign_in_at!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$/);
    assert.deepEqual(user.app_metadata, { provider: "email", providers: ["email"], platform_admin: true });
    assert.equal(user.identities!.length, 1);
    assert.equal(user.identities![0].provider, "email");
    assert.equal(user.identities![0].id, u.id);
    assert.equal(user.identities![0].identity_data!.email, u.email);
    assert.equal(user.is_anonymous, false);

    // createAuthUser is a plain insert, so the migrations' trigger gave the user a profile.
    const [profile] = await f.sql`select email, full_name from public.profiles where user_id = ${u.id}`;
    assert.deepEqual({ ...profile }, { email: u.email, full_name: "Ada Admin" });
  });
});

Deno.test("a wrong password and an unknown e-mail both answer 400 invalid_credentials", opts, async () => {
  await withAuth(async (f) => {
    const u = await f.user();
    const supabase = f.anon();
    for (
      const attempt of [{ email: u.email, password: "not-the-password" }, {
        email: `nobody-${crypto.randomUUID()}@switchboard.test`,
        password: u.password,
      }]
    ) {
      const { data, error } = await supabase.auth.signInWithPassword(attempt);
      assert.equal(data.session, null);
      assert.ok(error);
      assert.equal(error.message, "Invalid login credentials");
      assert.equal(error.status, 400);
      assert.equal(error.code, "invalid_credentials");
      assert.equal(error.name, "AuthApiError");
    }

    // GoTrue's two error shapes: the original one, and 2024-01-01's (what supabase-js asks for).
    const post = (headers: Record<string, string>) =>
      fetch(`${f.url}/auth/v1/token?grant_type=password`, {
        method: "POST",
        headers: { apikey: f.anonKey, "content-type": "application/json", ...headers },
        body: JSON.stringify({ email: u.email, password: "wrong-password" }),
      });
    const legacy = await post({});
    assert.equal(legacy.status, 400);
    assert.equal(legacy.headers.get("x-supabase-api-version"), null);
    assert.deepEqual(await legacy.json(), {
      code: 400,
      error_code: "invalid_credentials",
      msg: "Invalid login credentials",
    });
    const versioned = await post({ "X-Supabase-Api-Version": "2024-01-01" });
    assert.equal(versioned.status, 400);
    assert.equal(versioned.headers.get("x-supabase-api-version"), "2024-01-01");
    assert.deepEqual(await versioned.json(), { code: "invalid_credentials", message: "Invalid login credentials" });

    // An unconfirmed e-mail cannot sign in, even with the right password.
    await f.sql`update auth.users set email_confirmed_at = null where id = ${u.id}`;
    const unconfirmed = await supabase.auth.signInWithPassword({ email: u.email, password: u.password });
    assert.equal(unconfirmed.error?.code, "email_not_confirmed");
    assert.equal(unconfirmed.error?.message, "Email not confirmed");
  });
});

Deno.test("getUser and updateUser work with the signed-in session", opts, async () => {
  await withAuth(async (f) => {
    const u = await f.user({ user_metadata: { full_name: "Gus Getter" } });
    const supabase = f.anon();
    const signIn = await supabase.auth.signInWithPassword({ email: u.email, password: u.password });
    assert.equal(signIn.error, null);

    const { data, error } = await supabase.auth.getUser();
    assert.equal(error, null);
    assert.equal(data.user!.id, u.id);
    assert.equal(data.user!.email, u.email);
    assert.deepEqual(data.user!.user_metadata, { full_name: "Gus Getter", email_verified: true });

    // user_metadata merges (null removes a key); app_metadata is not the user's to change.
    const updated = await supabase.auth.updateUser({ data: { locale: "pt-BR", full_name: null } });
    assert.equal(updated.error, null);
    assert.deepEqual(updated.data.user!.user_metadata, { locale: "pt-BR", email_verified: true });
    const same = await supabase.auth.updateUser({ password: u.password });
    assert.equal(same.error?.code, "same_password");
    assert.equal(same.error?.status, 422);
    const weak = await supabase.auth.updateUser({ password: "123" });
    assert.equal(weak.error?.code, "weak_password");
    assert.equal(weak.error?.name, "AuthWeakPasswordError");

    const changed = await supabase.auth.updateUser({ password: "a-brand-new-password" });
    assert.equal(changed.error, null);
    const again = await f.anon().auth.signInWithPassword({ email: u.email, password: "a-brand-new-password" });
    assert.equal(again.error, null);
    const old = await f.anon().auth.signInWithPassword({ email: u.email, password: u.password });
    assert.equal(old.error?.code, "invalid_credentials");

    // The anon key is a JWT without a user: /user refuses it the way GoTrue does.
    const res = await fetch(`${f.url}/auth/v1/user`, {
      headers: { apikey: f.anonKey, authorization: `Bearer ${f.anonKey}`, "X-Supabase-Api-Version": "2024-01-01" },
    });
    assert.equal(res.status, 403);
    assert.deepEqual(await res.json(), { code: "bad_jwt", message: "invalid claim: missing sub claim" });
  });
});

Deno.test(
  "refreshSession rotates the refresh token; a used one is refused after the reuse interval",
  opts,
  async () => {
    await withAuth(async (f) => {
      const u = await f.user();
      const supabase = f.anon();
      const first = (await supabase.auth.signInWithPassword({ email: u.email, password: u.password })).data.session!;

      const second = await supabase.auth.refreshSession({ refresh_token: first.refresh_token });
      assert.equal(second.error, null);
      const s2 = second.data.session!;
      assert.notEqual(s2.refresh_token, first.refresh_token);
      const c1 = (await claimsOf(first.access_token, f.jwtSecret)).payload;
      const c2 = (await claimsOf(s2.access_token, f.jwtSecret)).payload;
      assert.equal(c2.session_id, c1.session_id);
      assert.equal(c2.sub, u.id);
      assert.deepEqual(c2.amr, c1.amr); // the sign-in method, not the refresh
      const [old] = await f.sql`select revoked from auth.refresh_tokens where token = ${first.refresh_token}`;
      assert.equal(old.revoked, true);

      // GoTrue lets a client that lost the answer retry with the parent of the active token: it
      // gets the active token back rather than a new one.
      const retry = await supabase.auth.refreshSession({ refresh_token: first.refresh_token });
      assert.equal(retry.error, null);
      assert.equal(retry.data.session!.refresh_token, s2.refresh_token);

      // Past the reuse interval (10 s), after another rotation, the first token is refused and the
      // whole session's tokens are revoked.
      f.advance(11_000);
      const third = await supabase.auth.refreshSession({ refresh_token: s2.refresh_token });
      assert.equal(third.error, null);
      const reused = await supabase.auth.refreshSession({ refresh_token: first.refresh_token });
      assert.equal(reused.data.session, null);
      assert.equal(reused.error?.status, 400);
      assert.equal(reused.error?.code, "refresh_token_already_used");
      assert.equal(reused.error?.message, "Invalid Refresh Token: Already Used");
      const [{ active }] = await f.sql`select count(*)::int as active from auth.refresh_tokens
                                     where session_id = ${c1.session_id as string} and not revoked`;
      assert.equal(active, 0);

      const empty = await fetch(`${f.url}/auth/v1/token?grant_type=refresh_token`, {
        method: "POST",
        headers: { apikey: f.anonKey, "content-type": "application/json" },
        body: JSON.stringify({ refresh_token: "" }),
      });
      assert.equal(empty.status, 400);
      assert.deepEqual(await empty.json(), { error: "invalid_request", error_description: "refresh_token required" });

      const unknown = await supabase.auth.refreshSession({ refresh_token: "nosuchtoken1" });
      assert.equal(unknown.error?.code, "refresh_token_not_found");
      assert.equal(unknown.error?.message, "Invalid Refresh Token: Refresh Token Not Found");
    });
  },
);

Deno.test("signOut ends the session: its refresh token and access token are refused", opts, async () => {
  await withAuth(async (f) => {
    const u = await f.user();
    const supabase = f.anon();
    const session = (await supabase.auth.signInWithPassword({ email: u.email, password: u.password })).data.session!;
    const other = f.anon();
    const otherSession = (await other.auth.signInWithPassword({ email: u.email, password: u.password })).data.session!;

    // scope "others" keeps the caller's session and ends the rest.
    assert.equal((await supabase.auth.signOut({ scope: "others" })).error, null);
    assert.equal(
      (await other.auth.refreshSession({ refresh_token: otherSession.refresh_token })).error?.code,
      "refresh_token_not_found",
    );
    assert.equal((await supabase.auth.getUser()).error, null);

    assert.equal((await supabase.auth.signOut()).error, null);
    assert.equal((await supabase.auth.getSession()).data.session, null);
    const refreshed = await supabase.auth.refreshSession({ refresh_token: session.refresh_token });
    assert.equal(refreshed.data.session, null);
    assert.equal(refreshed.error?.status, 400);
    assert.equal(refreshed.error?.code, "refresh_token_not_found");

    // The access token is still well signed, but its session is gone.
    const { data, error } = await f.anon().auth.getUser(session.access_token);
    assert.equal(data.user, null);
    assert.equal(error?.name, "AuthSessionMissingError");
    const res = await fetch(`${f.url}/auth/v1/user`, {
      headers: { apikey: f.anonKey, authorization: `Bearer ${session.access_token}` },
    });
    assert.equal(res.status, 403);
    assert.deepEqual(await res.json(), {
      code: 403,
      error_code: "session_not_found",
      msg: "Session from session_id claim in JWT does not exist",
    });
  });
});

Deno.test("an expired or wrongly-signed access token is refused by /user with 403 bad_jwt", opts, async () => {
  await withAuth(async (f) => {
    const u = await f.user();
    // A handler whose clock is two hours behind issues a token that expired an hour ago.
    let expired = "";
    await withAuth(async (past) => {
      const { data, error } = await past.anon().auth.signInWithPassword({ email: u.email, password: u.password });
      assert.equal(error, null);
      expired = data.session!.access_token;
    }, { clockOffsetMs: -2 * 3600_000 });
    const { data, error } = await f.anon().auth.getUser(expired);
    assert.equal(data.user, null);
    assert.equal(error?.status, 403);
    assert.equal(error?.code, "bad_jwt");
    assert.equal(
      error?.message,
      "invalid JWT: unable to parse or verify signature, token has invalid claims: token is expired",
    );

    const forged = await new SignJWT({ sub: u.id, role: "authenticated", aud: "authenticated" })
      .setProtectedHeader({ alg: "HS256" }).setExpirationTime("1h").sign(
        enc.encode("another-secret-long-enough-123456"),
      );
    const bad = await f.anon().auth.getUser(forged);
    assert.equal(bad.error?.status, 403);
    assert.equal(bad.error?.code, "bad_jwt");
    assert.match(bad.error!.message, /signature is invalid/);
  });
});

Deno.test("the admin user API works with the service_role key and is refused with the anon key", opts, async () => {
  await withAuth(async (f) => {
    const admin = f.service().auth.admin;
    const email = `auth-admin-${crypto.randomUUID().slice(0, 8)}@switchboard.test`;
    const created = await admin.createUser({
      email,
      password: "created-by-admin",
      email_confirm: true,
      user_metadata: { full_name: "Carla Created" },
    });
    assert.equal(created.error, null);
    const user = created.data.user!;
    f.track(user.id);
    assert.equal(user.email, email);
    assert.equal(user.role, "authenticated");
    assert.deepEqual(user.app_metadata, { provider: "email", providers: ["email"] });
    assert.deepEqual(user.user_metadata, { full_name: "Carla Created", email_verified: true });
    assert.equal(user.identities!.length, 1);
    // A normal insert into auth.users: the profile trigger ran.
    const [profile] = await f.sql`select email, full_name from public.profiles where user_id = ${user.id}`;
    assert.deepEqual({ ...profile }, { email, full_name: "Carla Created" });

    const duplicate = await admin.createUser({ email, password: "whatever-else" });
    assert.equal(duplicate.error?.status, 422);
    assert.equal(duplicate.error?.code, "email_exists");

    const fetched = await admin.getUserById(user.id);
    assert.equal(fetched.error, null);
    assert.equal(fetched.data.user!.id, user.id);

    const promoted = await admin.updateUserById(user.id, { app_metadata: { platform_admin: true } });
    assert.equal(promoted.error, null);
    assert.deepEqual(promoted.data.user!.app_metadata, {
      provider: "email",
      providers: ["email"],
      platform_admin: true,
    });
    const signIn = await f.anon().auth.signInWithPassword({ email, password: "created-by-admin" });
    assert.equal(signIn.error, null);
    const { payload } = await claimsOf(signIn.data.session!.access_token, f.jwtSecret);
    assert.equal((payload.app_metadata as Record<string, unknown>).platform_admin, true);

    const listed = await admin.listUsers({ page: 1, perPage: 1000 });
    assert.equal(listed.error, null);
    assert.ok(listed.data.users.some((x) => x.id === user.id));
    await f.user(); // at least two users, so one per page makes a next page
    const paged = await admin.listUsers({ page: 1, perPage: 1 });
    assert.equal(paged.data.users.length, 1);
    assert.equal((paged.data as { nextPage: number | null }).nextPage, 2);

    // The anon key is not an admin credential.
    const anonAdmin = f.anon().auth.admin;
    for (
      const r of [
        await anonAdmin.createUser({ email: `x-${email}`, password: "whatever-pass" }),
        await anonAdmin.updateUserById(user.id, { app_metadata: { platform_admin: false } }),
        await anonAdmin.deleteUser(user.id),
      ]
    ) {
      assert.equal(r.error?.status, 403);
      assert.equal(r.error?.code, "not_admin");
      assert.equal(r.error?.message, "User not allowed");
    }

    const deleted = await admin.deleteUser(user.id);
    assert.equal(deleted.error, null);
    const [gone] = await f.sql`select
      (select count(*)::int from auth.users where id = ${user.id}) as users,
      (select count(*)::int from public.profiles where user_id = ${user.id}) as profiles,
      (select count(*)::int from auth.sessions where user_id = ${user.id}) as sessions`;
    assert.deepEqual({ ...gone }, { users: 0, profiles: 0, sessions: 0 });
    const missing = await admin.getUserById(user.id);
    assert.equal(missing.error?.status, 404);
    assert.equal(missing.error?.code, "user_not_found");
  });
});

Deno.test(
  "inviteUserByEmail creates an unconfirmed user without a password; a confirmed one is refused",
  opts,
  async () => {
    // GoTrue: internal/api/invite.go (Invite) and mail.go (sendInvite).
    await withAuth(async (f) => {
      const admin = f.service().auth.admin;
      const email = `auth-invite-${crypto.randomUUID().slice(0, 8)}@Switchboard.test`;
      const invited = await admin.inviteUserByEmail(email, { data: { full_name: "Ivy Invited" } });
      assert.equal(invited.error, null);
      const user = invited.data.user!;
      f.track(user.id);
      assert.equal(user.email, email.toLowerCase(), "GoTrue lower-cases the address");
      assert.ok(user.invited_at, "invited_at is set");
      assert.equal(user.confirmation_sent_at, user.invited_at, "the invite is the confirmation mail");
      assert.equal(user.email_confirmed_at, undefined, "not confirmed until accepted");
      assert.deepEqual(user.app_metadata, { provider: "email", providers: ["email"] });
      assert.deepEqual(user.user_metadata, { full_name: "Ivy Invited" });
      assert.equal(user.identities!.length, 1);
      const [row] = await f.sql`select encrypted_password, length(confirmation_token)::int as token
                              from auth.users where id = ${user.id}`;
      assert.deepEqual({ ...row }, { encrypted_password: "", token: 56 }, "no password; a SHA-224 confirmation token");
      const signIn = await f.anon().auth.signInWithPassword({ email, password: "anything-at-all" });
      assert.equal(signIn.error?.code, "invalid_credentials", "an invitee has nothing to sign in with yet");

      // Invited again before accepting: the same user, a new token.
      f.advance(1000);
      const again = await admin.inviteUserByEmail(email);
      assert.equal(again.error, null);
      assert.equal(again.data.user!.id, user.id);
      assert.ok(again.data.user!.invited_at! > user.invited_at!, "invited_at moves on");

      // A confirmed user cannot be invited.
      const member = await f.user();
      const refused = await admin.inviteUserByEmail(member.email);
      assert.equal(refused.error?.status, 422);
      assert.equal(refused.error?.code, "email_exists");
      assert.equal(refused.error?.message, "A user with this email address has already been registered");
      const bad = await admin.inviteUserByEmail("not-an-address");
      assert.equal(bad.error?.status, 400);
      assert.equal(bad.error?.code, "validation_failed");
      const anonInvite = await f.anon().auth.admin.inviteUserByEmail(`x-${email}`);
      assert.equal(anonInvite.error?.status, 403);
      assert.equal(anonInvite.error?.code, "not_admin");
      const [none] = await f.sql`select count(*)::int as n from auth.users where email = ${`x-${email}`.toLowerCase()}`;
      assert.equal(none.n, 0, "a refused invite creates nobody");
    });
  },
);

Deno.test("requests need an apikey; browsers get CORS; /health and /settings answer", opts, async () => {
  await withAuth(async (f) => {
    const noKey = await fetch(`${f.url}/auth/v1/settings`);
    assert.equal(noKey.status, 401);
    assert.equal((await noKey.json()).message, "No API key found in request");
    const badKey = await fetch(`${f.url}/auth/v1/settings`, { headers: { apikey: "nope" } });
    assert.equal(badKey.status, 401);
    assert.equal((await badKey.json()).message, "Invalid API key");

    const preflight = await fetch(`${f.url}/auth/v1/token?grant_type=password`, {
      method: "OPTIONS",
      headers: {
        origin: "http://127.0.0.1:54323",
        "access-control-request-method": "POST",
        "access-control-request-headers": "apikey, authorization, content-type, x-client-info, x-supabase-api-version",
      },
    });
    await preflight.body?.cancel();
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get("access-control-allow-origin"), "http://127.0.0.1:54323");
    assert.match(preflight.headers.get("access-control-allow-headers")!, /x-supabase-api-version/);
    assert.match(preflight.headers.get("access-control-allow-methods")!, /POST/);

    const health = await fetch(`${f.url}/auth/v1/health`, {
      headers: { apikey: f.anonKey, origin: "http://127.0.0.1:54323" },
    });
    assert.equal(health.headers.get("access-control-allow-origin"), "http://127.0.0.1:54323");
    assert.equal((await health.json()).name, "GoTrue");
    const settings = await (await fetch(`${f.url}/auth/v1/settings`, { headers: { apikey: f.anonKey } })).json();
    assert.equal(settings.external.email, true);
    assert.equal(settings.external.phone, false);
  });
});

Deno.test("the schema is idempotent and seeded users can be given a password", opts, async () => {
  await withAuth(async (f) => {
    // Concurrent first calls from two pools serialise on an advisory lock.
    const second = postgres(testEnv().dbUrl, { max: 1, onnotice: () => {} });
    try {
      await Promise.all([ensureAuthSchema(f.sql), ensureAuthSchema(second)]);
    } finally {
      await second.end();
    }
    // A user inserted the way seed.sql does (no password, no identity) can sign in once given one.
    const id = crypto.randomUUID();
    const email = `seeded-${id.slice(0, 8)}@switchboard.test`;
    await f.sql`insert into auth.users (instance_id, id, aud, role, email, raw_app_meta_data, email_confirmed_at,
                                        created_at, updated_at)
                values ('00000000-0000-0000-0000-000000000000', ${id}, 'authenticated', 'authenticated', ${email},
                        '{"provider":"email","providers":["email"]}', now(), now(), now())`;
    f.track(id);
    assert.equal(
      (await f.anon().auth.signInWithPassword({ email, password: "seeded-password" })).error?.code,
      "invalid_credentials",
    );
    await setAuthUserPassword(f.sql, { email }, "seeded-password");
    const { data, error } = await f.anon().auth.signInWithPassword({ email, password: "seeded-password" });
    assert.equal(error, null);
    assert.equal(data.user!.identities!.length, 1);
    const [{ hash }] = await f.sql`select encrypted_password as hash from auth.users where id = ${id}`;
    assert.match(hash, /^\$2a\$10\$/);
    // The hash is bcrypt as Postgres crypt() (and GoTrue) read it.
    const [{ ok }] = await f.sql`select extensions.crypt('seeded-password', ${hash}) = ${hash} as ok`;
    assert.equal(ok, true);
  });
});

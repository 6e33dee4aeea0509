import assert from "node:assert/strict";
import { call, platform, provision, testSandbox } from "./testing.ts";

Deno.test("a missing or wrong platform token is 401 Invalid access_token", async () => {
  const sandbox = testSandbox();
  for (const token of [undefined, "nope"]) {
    const res = await call(sandbox, "GET", "/platform/api/v1/accounts", { token });
    assert.equal(res.status, 401);
    assert.deepEqual(res.body, { error: "Invalid access_token" });
  }
  await sandbox.close();
});

Deno.test("the app may only touch the accounts, users and bots it created", async () => {
  const sandbox = testSandbox();
  const mine = await platform(sandbox, "POST", "/accounts", { name: "Mine", custom_attributes: { plan: "pro" } });
  assert.equal(mine.status, 200);
  assert.deepEqual(Object.keys(mine.body).sort(), [
    "custom_attributes",
    "domain",
    "features",
    "id",
    "limits",
    "locale",
    "name",
    "status",
    "support_email",
  ]);
  // Created behind the platform app's back (e.g. by Super Admin): exists, but is not permissible.
  const foreign = sandbox.setup.createAccount({ name: "Someone else's" });
  const foreignUser = sandbox.setup.findOrCreateUser({ name: "X", email: "x@else.test", password: "Passw0rd!" }).user;

  assert.equal((await platform(sandbox, "GET", `/accounts/${mine.body.id}`)).status, 200);
  for (const path of [`/accounts/${foreign.id}`, `/users/${foreignUser.id}`, `/accounts/${foreign.id}/account_users`]) {
    const res = await platform(sandbox, "GET", path);
    assert.equal(res.status, 401, path);
    assert.deepEqual(res.body, { error: "Non permissible resource" });
  }
  assert.equal((await platform(sandbox, "DELETE", `/accounts/${foreign.id}`)).status, 401);
  const missing = await platform(sandbox, "GET", "/accounts/9999");
  assert.equal(missing.status, 404);
  assert.deepEqual(missing.body, { error: "Resource could not be found" });
  const listed = await platform(sandbox, "GET", "/accounts");
  assert.deepEqual(listed.body.map((a: { id: number }) => a.id), [mine.body.id]);
  await sandbox.close();
});

Deno.test("POST /users with an existing e-mail returns that user and makes it permissible", async () => {
  const sandbox = testSandbox();
  const existing = sandbox.setup.findOrCreateUser({ name: "Ana", email: "ana@acme.test", password: "Passw0rd!" }).user;
  assert.equal((await platform(sandbox, "GET", `/users/${existing.id}`)).status, 401);
  const res = await platform(sandbox, "POST", "/users", { name: "Other", email: "ANA@acme.test", password: "weak" });
  assert.equal(res.status, 200);
  assert.equal(res.body.id, existing.id);
  assert.equal(res.body.name, "Ana", "the existing user is returned unchanged");
  assert.equal((await platform(sandbox, "GET", `/users/${existing.id}`)).status, 200);
  await sandbox.close();
});

Deno.test("passwords follow Chatwoot's rules (6..128, upper, lower, digit, special)", async () => {
  const sandbox = testSandbox();
  for (const password of ["Ab1!", "alllower1!", "NoDigits!!", "NoSpecial11"]) {
    const res = await platform(sandbox, "POST", "/users", { name: "U", email: `${password}@x.test`, password });
    assert.equal(res.status, 422, password);
    assert.deepEqual(res.body.attributes, ["password"]);
    assert.match(res.body.message, /^Password /);
  }
  const ok = await platform(sandbox, "POST", "/users", { name: "U", email: "u@x.test", password: "Passw0rd!" });
  assert.equal(ok.status, 200);
  assert.equal(ok.body.email, "u@x.test");
  assert.equal(ok.body.confirmed, true);
  assert.equal(typeof ok.body.access_token, "string");
  await sandbox.close();
});

Deno.test("account users: find-or-initialize by user, role change, removal; token endpoint", async () => {
  const sandbox = testSandbox();
  const acct = await provision(sandbox, { role: "agent" });
  let rows = (await platform(sandbox, "GET", `/accounts/${acct.accountId}/account_users`)).body;
  assert.equal(rows.length, 1);
  assert.equal(rows[0].role, "agent");
  const promoted = await platform(sandbox, "POST", `/accounts/${acct.accountId}/account_users`, {
    user_id: acct.userId,
    role: "administrator",
  });
  assert.equal(promoted.body.id, rows[0].id, "the same row, role changed");
  assert.equal(promoted.body.role, "administrator");
  for (const key of ["inviter_id", "created_at", "updated_at", "active_at", "availability", "auto_offline"]) {
    assert.ok(key in promoted.body, key);
  }
  const token = await platform(sandbox, "POST", `/users/${acct.userId}/token`);
  assert.deepEqual(Object.keys(token.body).sort(), ["access_token", "expiry", "user"]);
  assert.equal(token.body.expiry, null);
  assert.equal(token.body.access_token, acct.token);

  const removed = await call(sandbox, "DELETE", `/platform/api/v1/accounts/${acct.accountId}/account_users`, {
    token: sandbox.platformToken,
    body: { user_id: acct.userId },
  });
  assert.equal(removed.status, 200);
  rows = (await platform(sandbox, "GET", `/accounts/${acct.accountId}/account_users`)).body;
  assert.equal(rows.length, 0);
  const nonMember = await acct.api("GET", "/inboxes");
  assert.equal(nonMember.status, 401);
  assert.deepEqual(nonMember.body, { error: "You are not authorized to access this account" });
  await sandbox.close();
});

Deno.test("a suspended account answers the Application API with 401 Account is suspended", async () => {
  const sandbox = testSandbox();
  const acct = await provision(sandbox);
  assert.equal((await acct.api("GET", "/inboxes")).status, 200);
  const suspended = await platform(sandbox, "PATCH", `/accounts/${acct.accountId}`, { status: "suspended" });
  assert.equal(suspended.body.status, "suspended");
  const res = await acct.api("GET", "/inboxes");
  assert.equal(res.status, 401);
  assert.deepEqual(res.body, { error: "Account is suspended" });
  await platform(sandbox, "PATCH", `/accounts/${acct.accountId}`, { status: "active" });
  assert.equal((await acct.api("GET", "/inboxes")).status, 200);
  await sandbox.close();
});

Deno.test("agent bots: CRUD through the platform, token but no secret in its view", async () => {
  const sandbox = testSandbox();
  const acct = await provision(sandbox);
  const bot = await platform(sandbox, "POST", "/agent_bots", {
    name: "Helper",
    description: "answers",
    outgoing_url: "https://bots.example/hook",
    account_id: acct.accountId,
  });
  assert.deepEqual(Object.keys(bot.body).sort(), [
    "access_token",
    "account_id",
    "description",
    "id",
    "name",
    "outgoing_url",
  ]);
  const patched = await platform(sandbox, "PATCH", `/agent_bots/${bot.body.id}`, { name: "Helper 2" });
  assert.equal(patched.body.name, "Helper 2");
  assert.equal((await platform(sandbox, "GET", "/agent_bots")).body.length, 1);
  assert.equal((await platform(sandbox, "DELETE", `/agent_bots/${bot.body.id}`)).status, 200);
  assert.equal((await platform(sandbox, "GET", `/agent_bots/${bot.body.id}`)).status, 404);
  await sandbox.close();
});

Deno.test("with platformApi: false (Chatwoot Cloud) every /platform path is a 404", async () => {
  const sandbox = testSandbox({ platformApi: false });
  const res = await platform(sandbox, "POST", "/accounts", { name: "x" });
  assert.equal(res.status, 404);
  await sandbox.close();
});

import assert from "node:assert/strict";
import { unsafeIpAddress } from "./egress.ts";
import {
  call,
  control,
  createWebhook,
  createWhatsAppInbox,
  events,
  provision,
  startReceiver,
  testSandbox,
} from "./testing.ts";

Deno.test("ssrf_filter's list: loopback, RFC 1918, CGNAT, link-local, ULA and mapped forms are unsafe", () => {
  for (const ip of ["127.0.0.1", "10.1.2.3", "172.20.0.5", "192.168.1.9", "100.64.0.1", "169.254.169.254", "0.0.0.0"]) {
    assert.equal(unsafeIpAddress(ip), true, ip);
  }
  for (const ip of ["::1", "fd00::1", "fe80::1", "::ffff:10.0.0.1", "::ffff:127.0.0.1", "2001:db8::1"]) {
    assert.equal(unsafeIpAddress(ip), true, ip);
  }
  for (const ip of ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]) {
    assert.equal(unsafeIpAddress(ip), false, ip);
  }
});

Deno.test("SafeFetch enforced: a webhook on a private address is never sent, unless SAFE_FETCH_ALLOW_PRIVATE_NETWORK", async () => {
  const receiver = startReceiver(); // listens on 127.0.0.1
  const sandbox = testSandbox({ safeFetch: { enforce: true } });
  try {
    const acct = await provision(sandbox);
    const inboxId = await createWhatsAppInbox(acct);
    await createWebhook(acct, receiver.url, ["message_created"]);
    sandbox.traffic.whatsappInbound({ inbox_id: inboxId, from: "5215512345678", name: "María", text: "Hola" });
    await sandbox.settle();
    assert.equal(events(receiver, "message_created").length, 0, "nothing reached the private target");
    const [refused] = sandbox.deliveries().filter((d) => d.event === "message_created");
    assert.equal(refused.state, "failed");
    assert.match(refused.error ?? "", /Hostname '127\.0\.0\.1' has no public ip addresses/);

    const allowed = await control(sandbox, "PATCH", "/options", { safe_fetch: { allow_private_network: true } });
    assert.equal(allowed.body.safe_fetch.allow_private_network, true);
    sandbox.traffic.whatsappInbound({ inbox_id: inboxId, from: "5215512345678", text: "¿Siguen ahí?" });
    await sandbox.settle();
    assert.equal(events(receiver, "message_created").length, 1);
  } finally {
    await sandbox.close();
    await receiver.close();
  }
});

Deno.test("SafeFetch resolves names: a host whose every address is private is refused, a public one goes through", async () => {
  const sent: string[] = [];
  const sandbox = testSandbox({
    safeFetch: { enforce: true },
    resolve: (host) => Promise.resolve(host === "hooks.internal" ? ["10.0.0.7", "fd00::7"] : ["93.184.216.34"]),
    fetch: (input) => {
      sent.push(String(input));
      return Promise.resolve(new Response("ok"));
    },
  });
  try {
    const acct = await provision(sandbox);
    const inboxId = await createWhatsAppInbox(acct);
    await createWebhook(acct, "http://hooks.internal/cw", ["message_created"]);
    await createWebhook(acct, "https://hooks.example.com/cw", ["message_created"]);
    sandbox.traffic.whatsappInbound({ inbox_id: inboxId, from: "5215512345678", text: "Hola" });
    await sandbox.settle();
    assert.deepEqual(sent, ["https://hooks.example.com/cw"]);
    const failed = sandbox.deliveries().find((d) => d.url === "http://hooks.internal/cw");
    assert.match(failed?.error ?? "", /Hostname 'hooks\.internal' has no public ip addresses/);
  } finally {
    await sandbox.close();
  }
});

Deno.test("Cloud free plan: token calls get 403 'API access is not enabled', account webhooks stop, bad tokens stay 401", async () => {
  const receiver = startReceiver();
  const sandbox = testSandbox();
  try {
    const acct = await provision(sandbox);
    const inboxId = await createWhatsAppInbox(acct);
    await createWebhook(acct, receiver.url, ["message_created"]);
    const flags = await control(sandbox, "PATCH", `/accounts/${acct.accountId}`, { cloud_free_plan: true });
    assert.equal(flags.body.cloud_free_plan, true);
    assert.equal(sandbox.state.accounts.get(acct.accountId)?.features.api_and_webhooks, false);

    const refused = await acct.api("GET", "/inboxes");
    assert.equal(refused.status, 403);
    assert.deepEqual(refused.body, { error: "API access is not enabled for this account" });
    const write = await acct.api("POST", "/contacts", { name: "x", email: "x@x.test" });
    assert.equal(write.status, 403);
    assert.equal(sandbox.state.contacts.size, 0, "a refused call does no work");
    const bad = await call(sandbox, "GET", `/api/v1/accounts/${acct.accountId}/inboxes`, { token: "nope" });
    assert.equal(bad.status, 401, "an invalid token is still 401");

    sandbox.traffic.whatsappInbound({ inbox_id: inboxId, from: "5215512345678", text: "Hola" });
    await sandbox.settle();
    assert.equal(receiver.requests.length, 0);
    assert.equal(sandbox.deliveries().filter((d) => d.kind === "account_webhook").length, 0, "no job is even queued");

    await control(sandbox, "PATCH", `/accounts/${acct.accountId}`, { cloud_free_plan: false });
    assert.equal((await acct.api("GET", "/inboxes")).status, 200, "a paid plan opens it again");
  } finally {
    await sandbox.close();
    await receiver.close();
  }
});

Deno.test("behind nginx: the underscore header is dropped (401 as Chatwoot sends it), Api-Access-Token gets through", async () => {
  const sandbox = testSandbox();
  const acct = await provision(sandbox);
  const path = `/api/v1/accounts/${acct.accountId}/inboxes`;
  assert.equal((await call(sandbox, "GET", path, { token: acct.token, tokenHeader: "api_access_token" })).status, 200);
  await control(sandbox, "PATCH", "/options", { behind_nginx: true });
  const dropped = await call(sandbox, "GET", path, { token: acct.token, tokenHeader: "api_access_token" });
  assert.equal(dropped.status, 401);
  assert.deepEqual(dropped.body, { error: "Invalid Access Token" });
  const platformDropped = await call(sandbox, "GET", "/platform/api/v1/accounts", {
    token: sandbox.platformToken,
    tokenHeader: "api_access_token",
  });
  assert.equal(platformDropped.status, 401);
  assert.deepEqual(platformDropped.body, { error: "Invalid access_token" });
  assert.equal((await call(sandbox, "GET", path, { token: acct.token })).status, 200, "the dashed form passes");
  await sandbox.close();
});

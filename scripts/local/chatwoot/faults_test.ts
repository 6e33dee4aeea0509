import assert from "node:assert/strict";
import { startSandbox } from "./server.ts";
import {
  control,
  createWebhook,
  createWhatsAppInbox,
  events,
  provision,
  startReceiver,
  testSandbox,
} from "./testing.ts";

Deno.test("a 429 rule answers with Retry-After for its count, then requests go through", async () => {
  const sandbox = testSandbox();
  const acct = await provision(sandbox);
  const added = await control(sandbox, "POST", "/faults", {
    mode: "429",
    path: "/api/v1/accounts/*/contacts*",
    count: 2,
    retry_after: 7,
  });
  assert.equal(added.status, 201);
  for (let i = 0; i < 2; i++) {
    const res = await acct.api("POST", "/contacts", { name: "x", email: `x${i}@x.test` });
    assert.equal(res.status, 429);
    assert.equal(res.headers.get("retry-after"), "7");
  }
  assert.equal(sandbox.state.contacts.size, 0, "a 429 does no work");
  assert.equal((await acct.api("GET", "/inboxes")).status, 200, "other paths are untouched");
  assert.equal((await acct.api("POST", "/contacts", { name: "x", email: "x@x.test" })).status, 200);
  const [rule] = (await control(sandbox, "GET", "/faults")).body.faults;
  assert.equal(rule.applied, 2);
  await sandbox.close();
});

Deno.test("a 500 rule fails the request without doing the work; latency delays the answer", async () => {
  const sandbox = testSandbox();
  const acct = await provision(sandbox);
  sandbox.faults.add({ mode: "500", method: "POST", path: "/api/v1/accounts/*/contacts", count: 1 });
  const failed = await acct.api("POST", "/contacts", { name: "x", email: "x@x.test" });
  assert.equal(failed.status, 500);
  assert.equal(sandbox.state.contacts.size, 0);

  sandbox.faults.add({ mode: "latency", ms: 120, count: 1 });
  const started = performance.now();
  assert.equal((await acct.api("GET", "/inboxes")).status, 200);
  assert.ok(performance.now() - started >= 110, "latency was applied");
  await sandbox.close();
});

Deno.test("work_then_drop performs the request, then the client sees a network error", async () => {
  const running = await startSandbox({ port: 0, platformToken: "ptok" });
  try {
    const headers = { "api_access_token": "ptok", "content-type": "application/json" };
    const account = await (await fetch(`${running.url}/platform/api/v1/accounts`, {
      method: "POST",
      headers,
      body: JSON.stringify({ name: "Acme" }),
    })).json();
    // The keep-alive connection above is idle in fetch's pool: a drop on it must still surface, not be resent.
    running.sandbox.faults.add({ mode: "work_then_drop", path: "/platform/api/v1/accounts", method: "POST", count: 1 });
    await assert.rejects(
      fetch(`${running.url}/platform/api/v1/accounts`, {
        method: "POST",
        headers,
        body: JSON.stringify({ name: "Beta" }),
      }),
      TypeError,
    );
    const names = running.sandbox.state.accounts.all().map((a) => a.name);
    assert.deepEqual(names, ["Acme", "Beta"], "the work was done exactly once");
    const again = await fetch(`${running.url}/platform/api/v1/accounts/${account.id}`, { headers });
    assert.equal((await again.json()).name, "Acme", "the server is still healthy");
  } finally {
    await running.close();
  }
});

Deno.test("duplicate delivers a webhook twice with different delivery ids and the same body", async () => {
  const sandbox = testSandbox();
  const receiver = startReceiver();
  try {
    const acct = await provision(sandbox);
    const inboxId = await createWhatsAppInbox(acct);
    await createWebhook(acct, receiver.url, ["message_created"]);
    sandbox.faults.add({ mode: "duplicate", event: "message_created", count: 1 });
    sandbox.traffic.whatsappInbound({ inbox_id: inboxId, from: "5215512345678", text: "Hola" });
    await sandbox.settle();
    const got = events(receiver, "message_created");
    assert.equal(got.length, 2);
    assert.notEqual(got[0].headers.get("x-chatwoot-delivery"), got[1].headers.get("x-chatwoot-delivery"));
    assert.equal(got[0].body, got[1].body);
  } finally {
    await sandbox.close();
    await receiver.close();
  }
});

Deno.test("reorder holds deliveries and releases them newest first", async () => {
  const sandbox = testSandbox();
  const receiver = startReceiver();
  try {
    const acct = await provision(sandbox);
    const inboxId = await createWhatsAppInbox(acct);
    await createWebhook(acct, receiver.url, ["message_created"]);
    sandbox.faults.add({ mode: "reorder", event: "message_created", count: 3, hold: 3 });
    for (const text of ["uno", "dos", "tres"]) {
      sandbox.traffic.whatsappInbound({ inbox_id: inboxId, from: "5215512345678", text });
    }
    await sandbox.settle();
    assert.deepEqual(events(receiver, "message_created").map((r) => r.json.content), ["tres", "dos", "uno"]);
  } finally {
    await sandbox.close();
    await receiver.close();
  }
});

Deno.test("drop loses a webhook (logged as dropped); delay postpones it", async () => {
  const sandbox = testSandbox();
  const receiver = startReceiver();
  try {
    const acct = await provision(sandbox);
    const inboxId = await createWhatsAppInbox(acct);
    await createWebhook(acct, `${receiver.url}/hook`, ["message_created"]);
    await control(sandbox, "POST", "/faults", { mode: "drop", path: "/hook", count: 1 });
    sandbox.traffic.whatsappInbound({ inbox_id: inboxId, from: "5215512345678", text: "lost" });
    await sandbox.settle();
    assert.equal(events(receiver, "message_created").length, 0);
    const dropped = (await control(sandbox, "GET", "/deliveries?event=message_created")).body.deliveries;
    assert.equal(dropped[0].state, "dropped");
    assert.deepEqual(dropped[0].faults, ["drop"]);

    sandbox.faults.add({ mode: "delay", ms: 80, count: 1 });
    const started = performance.now();
    sandbox.traffic.whatsappInbound({ inbox_id: inboxId, from: "5215512345678", text: "late" });
    await sandbox.settle();
    assert.ok(performance.now() - started >= 75);
    assert.equal(events(receiver, "message_created")[0].json.content, "late");
  } finally {
    await sandbox.close();
    await receiver.close();
  }
});

Deno.test("a probability rule injects faults at its rate (5 % of 400 requests)", async () => {
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const sandbox = testSandbox({ random });
  const acct = await provision(sandbox);
  sandbox.faults.add({ mode: "500", probability: 0.05 });
  let failures = 0;
  for (let i = 0; i < 400; i++) if ((await acct.api("GET", "/inboxes")).status === 500) failures++;
  assert.ok(failures >= 8 && failures <= 35, `about 20 failures expected, got ${failures}`);
  await sandbox.close();
});

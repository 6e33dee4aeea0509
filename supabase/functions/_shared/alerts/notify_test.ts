// Alert notifications against a Slack stand-in: the body Slack shows, the signature a receiver can
// check, and a failing endpoint retried by the job queue (the stand-in refuses the first post).
// The queue runs the notify handler under a test kind so the stack's own worker never takes it.

import assert from "node:assert/strict";
import { connect } from "../platform/db.ts";
import { testStack } from "../../../../scripts/testing/env.ts";
import { freePort } from "../../../../scripts/local/kit/ports.ts";
import { createMemoryLogger } from "../platform/log.ts";
import { runJobBatch } from "../jobs/queue.ts";
import { alertJobHandlers, alertSignature, verifyAlertSignature } from "./notify.ts";

const stack = testStack();
const opts = { sanitizeOps: false, sanitizeResources: false };
const SECRET = "alert-signing-secret-for-tests";

interface Received {
  headers: Headers;
  body: string;
}

/** A Slack incoming webhook that answers 500 to its first `failFirst` posts, then "ok". */
function slackStandIn(failFirst: number) {
  const received: Received[] = [];
  let calls = 0;
  const port = freePort();
  const server = Deno.serve({ port, hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
    const body = await req.text();
    calls++;
    if (calls <= failFirst) return new Response("internal_error", { status: 500 });
    received.push({ headers: req.headers, body });
    return new Response("ok");
  });
  return { url: `http://127.0.0.1:${port}/services/T000/B000/XXXX`, received, calls: () => calls, server };
}

Deno.test("the signature is HMAC-SHA256 over timestamp.body, checked in constant time", () => {
  const sig = alertSignature("k".repeat(20), "1700000000", '{"text":"x"}');
  assert.match(sig, /^sha256=[0-9a-f]{64}$/);
  assert.ok(verifyAlertSignature("k".repeat(20), "1700000000", '{"text":"x"}', sig));
  assert.ok(!verifyAlertSignature("k".repeat(20), "1700000001", '{"text":"x"}', sig), "another timestamp fails");
  assert.ok(!verifyAlertSignature("other-secret-value", "1700000000", '{"text":"x"}', sig), "another secret fails");
});

Deno.test("a firing alert is posted signed, retried by the queue after the endpoint fails once", opts, async () => {
  const sql = connect(stack.dbUrl, { max: 2 });
  const slack = slackStandIn(1);
  try {
    const subject = `notify-${crypto.randomUUID().slice(0, 8)}`;
    const [alert] = await sql`
      insert into public.alerts (rule, subject, value, threshold, message)
      values ('dead_jobs', ${subject}, 3, 0, '3 dead jobs') returning id::int`;
    const kind = `test.alerts_notify_${crypto.randomUUID().slice(0, 8)}`;
    const handlers = alertJobHandlers({ sql, webhookUrl: slack.url, secret: SECRET });
    const registry = { [kind]: handlers["alerts.notify"] };
    await sql`select private.enqueue_job(${kind}, ${sql.json({ alert_id: alert.id, transition: "fired" })},
                                         ${`${kind}:${alert.id}`})`;
    const run = () =>
      runJobBatch({ sql, registry, log: createMemoryLogger(), worker: "notify-test", limit: 5, visibilitySeconds: 30 });

    const first = await run();
    assert.equal(first.retried, 1, "the 500 is a failure the queue retries");
    const [queued] = await sql`select status, attempts, last_error from private.jobs where kind = ${kind}`;
    assert.equal(queued.status, "queued");
    assert.match(queued.last_error, /answered 500/);
    assert.equal(slack.received.length, 0);

    await sql`update private.jobs set run_at = now() where kind = ${kind}`; // skip the backoff's wait
    const second = await run();
    assert.equal(second.completed, 1);
    assert.equal(slack.calls(), 2);
    const [got] = slack.received;
    const timestamp = got.headers.get("x-switchboard-timestamp")!;
    assert.ok(Math.abs(Number(timestamp) - Date.now() / 1000) < 60, "a fresh timestamp");
    assert.ok(
      verifyAlertSignature(SECRET, timestamp, got.body, got.headers.get("x-switchboard-signature")!),
      "the signature verifies over the exact bytes received",
    );
    const message = JSON.parse(got.body);
    assert.match(message.text, /FIRING: dead_jobs \(notify-[0-9a-f]+\): 3 dead jobs \(threshold 0 jobs\)/);
    assert.equal(message.switchboard.transition, "fired");
    assert.equal(message.switchboard.alert_id, alert.id);
    const [row] = await sql`select notified_fired_at from public.alerts where id = ${alert.id}`;
    assert.ok(row.notified_fired_at, "the alert records that it was notified");
    await sql`delete from public.alerts where id = ${alert.id}`;
  } finally {
    await slack.server.shutdown();
    await sql.end();
  }
});

Deno.test("without a webhook URL an alert is not sent and the job completes", opts, async () => {
  const sql = connect(stack.dbUrl, { max: 1 });
  try {
    const [alert] = await sql`
      insert into public.alerts (rule, subject, value, threshold, message, state, resolved_at)
      values ('dead_jobs', ${`quiet-${crypto.randomUUID().slice(0, 8)}`}, 0, 0, 'none', 'resolved', now())
      returning id::int`;
    const log = createMemoryLogger();
    const handlers = alertJobHandlers({ sql, webhookUrl: null, secret: null, fetch: () => Promise.reject("unused") });
    await handlers["alerts.notify"].run(
      {
        id: "1",
        lease: "x",
        kind: "alerts.notify",
        idempotency_key: "k",
        store_id: null,
        attempts: 1,
        max_attempts: 8,
        last_error: null,
        created_at: new Date(),
        payload: { alert_id: alert.id, transition: "resolved" },
      },
      { sql, log, signal: new AbortController().signal, cpu: undefined as never },
    );
    await sql`delete from public.alerts where id = ${alert.id}`;
  } finally {
    await sql.end();
  }
});

// The worker function with injected dependencies against the real database, and the deployed
// one behind the local gateway woken by LISTEN/NOTIFY.

import assert from "node:assert/strict";
import { deriveApiKeys } from "../../../scripts/local/supabase/keys.ts";
import { connect } from "../_shared/platform/db.ts";
import { z } from "zod";
import { enqueueJob, type JobHandler, jobKind } from "../_shared/jobs/queue.ts";
import { createMemoryLogger } from "../_shared/platform/log.ts";
import { testStack, uniqueKind, waitFor } from "../../../scripts/testing/env.ts";
import { handler, type WorkerDeps } from "./handler.ts";

const stack = testStack();
const opts = { sanitizeOps: false, sanitizeResources: false };

function request(token: string | null, body = "{}", method = "POST") {
  return new Request("http://local/jobs-worker", {
    method,
    headers: token ? { authorization: `Bearer ${token}` } : {},
    body: method === "GET" ? undefined : body,
  });
}

function deps(sql: ReturnType<typeof connect>, registry: WorkerDeps["registry"]): WorkerDeps {
  return {
    sql,
    verifyCaller: stack.verifier(),
    registry,
    log: createMemoryLogger(),
    workerName: "test-worker",
    batchSize: 5,
    visibilitySeconds: 30,
    timeBudgetMs: 5_000,
    cpuBudgetMs: 1200,
  };
}

/** A test's own kind, taking any payload. */
const anyKind = (run: JobHandler) => jobKind(z.looseObject({}), run);

Deno.test("the worker drains every ready job of its kinds in batches and reports what it did", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const kind = uniqueKind();
    for (let i = 0; i < 12; i++) await enqueueJob(sql, { kind, idempotencyKey: `${kind}:${i}`, payload: { i } });
    const seen: number[] = [];
    const res = await handler(
      request(stack.serviceRoleKey),
      deps(sql, { [kind]: anyKind((job) => Promise.resolve(void seen.push(job.payload.i as number))) }),
    );
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.claimed, 12);
    assert.equal(body.completed, 12);
    assert.ok(body.batches >= 3, "batch size 5 means at least three batches");
    assert.deepEqual(seen.sort((a, b) => a - b), [...Array(12).keys()]);
  } finally {
    await sql.end();
  }
});

Deno.test("a run stops claiming at its CPU budget and leaves the rest queued for the next run", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const kind = uniqueKind();
    for (let i = 0; i < 10; i++) await enqueueJob(sql, { kind, idempotencyKey: `${kind}:${i}` });
    // Each job charges 400 ms, as hashing a large medium would; the budget is 1200 ms.
    const heavy = anyKind((_job, ctx) => Promise.resolve(ctx.cpu.add(400)));
    const res = await handler(request(stack.serviceRoleKey), { ...deps(sql, { [kind]: heavy }), batchSize: 20 });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.ok(body.claimed >= 3 && body.claimed <= 4, `claimed ${body.claimed} of 10, not a whole batch of 20`);
    assert.equal(body.completed, body.claimed);
    assert.ok(body.cpu_ms >= 1200, `cpu_ms reports what was spent, got ${body.cpu_ms}`);
    const [left] = await sql`select count(*)::int as n from private.jobs where kind = ${kind} and status = 'queued'`;
    assert.equal(left.n, 10 - body.claimed, "the rest wait, queued, for the next run");
  } finally {
    await sql.end();
  }
});

Deno.test(
  "a cheap job first does not let a batch of heavy ones into the same run; unstarted ones keep their attempt",
  opts,
  async () => {
    const sql = connect(stack.dbUrl);
    try {
      const cheapKind = uniqueKind();
      const heavyKind = uniqueKind();
      await enqueueJob(sql, { kind: cheapKind, idempotencyKey: `${cheapKind}:0` });
      for (let i = 0; i < 10; i++) await enqueueJob(sql, { kind: heavyKind, idempotencyKey: `${heavyKind}:${i}` });
      const registry = {
        [cheapKind]: anyKind((_job, ctx) => Promise.resolve(ctx.cpu.add(1))),
        [heavyKind]: anyKind((_job, ctx) => Promise.resolve(ctx.cpu.add(400))),
      };
      const d = { ...deps(sql, registry), batchSize: 20 };
      const runs = [];
      for (let i = 0; i < 6; i++) runs.push(await (await handler(request(stack.serviceRoleKey), d)).json());
      for (const r of runs) assert.ok(r.cpu_ms <= 1200 + 400, `a run spent ${r.cpu_ms} ms (budget 1200 + one job)`);
      const [left] = await sql`select count(*) filter (where status = 'queued')::int as queued,
                                    count(*) filter (where status = 'completed')::int as done,
                                    max(attempts)::int as attempts
                             from private.jobs where kind = ${heavyKind}`;
      assert.equal(left.done + left.queued, 10, "every heavy job is either done or waiting, none lost");
      assert.ok(left.done >= 5, `the runs make progress (${left.done} done)`);
      assert.equal(left.attempts, 1, "a released job was not charged an attempt");
      assert.ok(runs.some((r) => r.released > 0), "claimed jobs the budget could not pay for were released");
    } finally {
      await sql.end();
    }
  },
);

Deno.test("cheap jobs under a CPU budget are still claimed in batches of the batch size", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const kind = uniqueKind();
    for (let i = 0; i < 12; i++) await enqueueJob(sql, { kind, idempotencyKey: `${kind}:${i}` });
    // A batch's handlers all start before any finishes: the most running at once is the largest claim.
    let running = 0;
    let largest = 0;
    const cheap = anyKind(async () => {
      largest = Math.max(largest, ++running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
    });
    const res = await handler(request(stack.serviceRoleKey), deps(sql, { [kind]: cheap }));
    const body = await res.json();
    assert.equal(body.claimed, 12, "a budget of 1200 ms is nowhere near spent by 12 cheap jobs");
    assert.equal(largest, 5, "claims grow to the batch size (5) and never past it");
  } finally {
    await sql.end();
  }
});

Deno.test("the worker refuses anything but a POST from the service role, and bad options", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const d = deps(sql, {});
    assert.equal((await handler(request(stack.serviceRoleKey, "", "GET"), d)).status, 405);
    const anon = await handler(request(stack.anonKey), d);
    assert.equal(anon.status, 403);
    assert.match((await anon.json()).error.message, /service_role/);
    assert.equal((await handler(request(null), d)).status, 401, "no credentials at all");
    const malformed = await handler(request(stack.serviceRoleKey, "{nope"), d);
    assert.equal(malformed.status, 400);
    assert.equal((await malformed.json()).error.code, "malformed_json");
    const unknown = await handler(request(stack.serviceRoleKey, '{"limit": 0}'), d);
    assert.equal(unknown.status, 400);
  } finally {
    await sql.end();
  }
});

Deno.test("end to end: an enqueued job is run by the deployed worker, woken by NOTIFY", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    // jobs.purge_completed is a real registered kind; a fresh key makes a fresh job.
    const id = await enqueueJob(sql, {
      kind: "jobs.purge_completed",
      idempotencyKey: `purge-e2e:${crypto.randomUUID()}`,
    });
    const done = await waitFor(
      async () => {
        const [row] = await sql`select status::text from private.jobs where id = ${id}`;
        return row.status === "completed" ? row : null;
      },
      "the worker to complete the job",
      20_000,
    );
    assert.equal(done.status, "completed");
  } finally {
    await sql.end();
  }
});

Deno.test("through the gateway: health is public and reports the database and the worker", opts, async () => {
  const res = await fetch(`${stack.apiUrl}/functions/v1/health`);
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.database.ok, true);
  assert.ok(["ok", "idle"].includes(body.worker.status), `worker status ${body.worker.status}`);
  assert.equal(typeof body.worker.jobs.dead, "number");
});

Deno.test("through the gateway: the worker needs a valid JWT, and the service role", opts, async () => {
  const url = `${stack.apiUrl}/functions/v1/jobs-worker`;
  const none = await fetch(url, { method: "POST", body: "{}" });
  assert.equal(none.status, 401);
  await none.body?.cancel();
  const forged = (await deriveApiKeys("some-other-secret-of-at-least-32-chars")).serviceRoleKey;
  const bad = await fetch(url, { method: "POST", body: "{}", headers: { authorization: `Bearer ${forged}` } });
  assert.equal(bad.status, 401);
  await bad.body?.cancel();
  const anon = await fetch(url, { method: "POST", body: "{}", headers: { authorization: `Bearer ${stack.anonKey}` } });
  assert.equal(anon.status, 403, "anon passes the gateway but not the worker's own check");
  await anon.body?.cancel();
  const ok = await fetch(url, {
    method: "POST",
    body: '{"time_budget_ms": 0}',
    headers: { authorization: `Bearer ${stack.serviceRoleKey}` },
  });
  assert.equal(ok.status, 200, "the legacy service_role key still works while it lives");
  await ok.body?.cancel();
  // What pg_cron sends on hosted: the secret key from Vault, in apikey.
  const secret = await fetch(url, {
    method: "POST",
    body: '{"time_budget_ms": 0}',
    headers: { apikey: stack.secretKey },
  });
  assert.equal(secret.status, 200);
  await secret.body?.cancel();
  const publishable = await fetch(url, {
    method: "POST",
    body: "{}",
    headers: { apikey: stack.publishableKey, authorization: `Bearer ${stack.publishableKey}` },
  });
  assert.equal(publishable.status, 403, "the publishable key cannot run the worker");
  await publishable.body?.cancel();
});

// The local pg_cron stand-in when the worker is in trouble: it backs off while the worker cannot
// answer instead of calling it every tick, runs it at once when it is back, and makes the jobs a
// dead worker process held reclaimable at once instead of after their visibility timeout.

import assert from "node:assert/strict";
import postgres from "postgres";
import { failureBackoffMs, startJobDriver } from "./job-driver.ts";
import { claimJobs, enqueueJob } from "../../../supabase/functions/_shared/jobs/queue.ts";
import { freePort } from "../kit/ports.ts";
import { testStack, uniqueKind } from "../../testing/env.ts";

const { dbUrl } = testStack();
const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test("the backoff doubles from 250 ms to a 10 s ceiling", () => {
  assert.deepEqual([0, 1, 2, 3, 4, 6, 7, 20].map(failureBackoffMs), [0, 250, 500, 1000, 2000, 8000, 10_000, 10_000]);
});

Deno.test("a worker that keeps failing is called with backoff, and at once when it is back", opts, async () => {
  let healthy = false;
  const calls: number[] = [];
  const port = freePort();
  const worker = Deno.serve({ port, hostname: "127.0.0.1", onListen: () => {} }, () => {
    calls.push(performance.now());
    return healthy
      ? Response.json({ claimed: 0 })
      : Response.json({ code: "WORKER_ERROR", message: "Function failed to respond" }, { status: 503 });
  });
  const logs: string[] = [];
  const driver = await startJobDriver({
    dbUrl,
    workerUrl: `http://127.0.0.1:${port}/functions/v1/jobs-worker`,
    secretKey: "sb_secret_test",
    tickMs: 25,
    log: (m) => logs.push(m),
  });
  try {
    await new Promise((r) => setTimeout(r, 2000));
    // Without backoff a 25 ms tick would have called it ~80 times in 2 s (jobs of other tests are due).
    const failing = calls.length;
    assert.ok(failing >= 3 && failing <= 6, `called ${failing} times in 2 s while failing`);
    assert.ok(driver.stats().backoffMs > 0);
    assert.ok(logs.length <= failing && logs.some((l) => /next try in \d+ ms/.test(l)), logs.join("\n"));
    healthy = true;
    const t0 = performance.now();
    driver.resume();
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(calls.some((t) => t >= t0), "resume() runs the worker at once");
    assert.equal(driver.stats().backoffMs, 0);
  } finally {
    await driver.close();
    await worker.shutdown();
  }
});

Deno.test("the jobs a dead worker process held are reclaimable at once, no one else's", opts, async () => {
  const sql = postgres(dbUrl, { max: 2, onnotice: () => {} });
  const driver = await startJobDriver({
    dbUrl,
    workerUrl: `http://127.0.0.1:${freePort()}/none`,
    secretKey: "sb_secret_test",
    log: () => {},
  });
  try {
    const kind = uniqueKind();
    for (let i = 0; i < 3; i++) await enqueueJob(sql, { kind, idempotencyKey: `${kind}:${i}` });
    const dead = await claimJobs(sql, { worker: "jobs-worker:dead-execution", limit: 2, kinds: [kind] });
    const alive = await claimJobs(sql, { worker: "jobs-worker:live-execution", limit: 1, kinds: [kind] });
    assert.equal(await driver.workerDied("dead-execution"), 2);
    const rows =
      await sql`select id::text, locked_until <= now() as reclaimable from private.jobs where kind = ${kind}`;
    const reclaimable = new Set(rows.filter((r) => r.reclaimable).map((r) => r.id));
    assert.deepEqual([...reclaimable].sort(), dead.map((j) => j.id).sort());
    assert.ok(!reclaimable.has(alive[0].id));
    // The next claim takes them back without waiting out the 60 s visibility timeout.
    const again = await claimJobs(sql, { worker: "jobs-worker:next", limit: 5, kinds: [kind] });
    assert.deepEqual(again.map((j) => j.id).sort(), dead.map((j) => j.id).sort());
  } finally {
    await driver.close();
    await sql.end();
  }
});

// The queue as workers experience it, against the real database: concurrent claims, dying
// workers, backoff, dead letters, replay, rollback and idempotency across connections.

import assert from "node:assert/strict";
import { z } from "zod";
import { connect } from "../platform/db.ts";
import {
  claimJobs,
  completeJobs,
  cpuMeter,
  deferJob,
  Deferred,
  earlierJobInConversation,
  enqueueJob,
  type Job,
  type JobHandler,
  jobKind,
  nextClaimSize,
  PermanentFailure,
  replayJob,
  RetryLater,
  runJobBatch,
} from "./queue.ts";
import { createMemoryLogger } from "../platform/log.ts";
import { testStack, uniqueKind } from "../../../../scripts/testing/env.ts";

const { dbUrl } = testStack();
const opts = { sanitizeOps: false, sanitizeResources: false };
/** A test's own kind, taking any payload. */
const anyKind = (run: JobHandler) => jobKind(z.looseObject({}), run);

async function jobRow(sql: ReturnType<typeof connect>, id: string) {
  const [row] =
    await sql`select status::text, attempts, last_error, run_at, max_attempts from private.jobs where id = ${id}`;
  return row;
}

Deno.test("two workers claiming concurrently never get the same job", opts, async () => {
  const a = connect(dbUrl, { max: 4 });
  const b = connect(dbUrl, { max: 4 });
  try {
    const kind = uniqueKind();
    const n = 300;
    await a.begin(async (tx) => {
      for (let i = 0; i < n; i++) await enqueueJob(tx, { kind, idempotencyKey: `${kind}:${i}` });
    });
    const claimedBy = async (sql: typeof a, worker: string) => {
      const ids: string[] = [];
      for (;;) {
        const batch = await claimJobs(sql, { worker, limit: 7, kinds: [kind] });
        if (batch.length === 0) return ids;
        ids.push(...batch.map((j) => j.id));
      }
    };
    const results = await Promise.all([
      claimedBy(a, "w-a1"),
      claimedBy(a, "w-a2"),
      claimedBy(b, "w-b1"),
      claimedBy(b, "w-b2"),
    ]);
    const all = results.flat();
    assert.equal(all.length, n, "every job claimed exactly once in total");
    assert.equal(new Set(all).size, n, "no job claimed twice");
    assert.ok(results.filter((r) => r.length > 0).length >= 2, "work was actually shared between workers");
  } finally {
    await a.end();
    await b.end();
  }
});

Deno.test("an enqueue inside a rolled-back transaction leaves no job", opts, async () => {
  const sql = connect(dbUrl);
  try {
    const kind = uniqueKind();
    await assert.rejects(sql.begin(async (tx) => {
      await enqueueJob(tx, { kind, idempotencyKey: `${kind}:1` });
      throw new Error("caller's change failed");
    }));
    const [row] = await sql`select count(*)::int as n from private.jobs where kind = ${kind}`;
    assert.equal(row.n, 0);
  } finally {
    await sql.end();
  }
});

Deno.test("the same idempotency key enqueued twice, even concurrently, yields one job", opts, async () => {
  const a = connect(dbUrl);
  const b = connect(dbUrl);
  try {
    const kind = uniqueKind();
    const key = `${kind}:same`;
    const ids = await Promise.all([
      enqueueJob(a, { kind, idempotencyKey: key, payload: { from: "a" } }),
      enqueueJob(b, { kind, idempotencyKey: key, payload: { from: "b" } }),
      enqueueJob(a, { kind, idempotencyKey: key, payload: { from: "a2" } }),
    ]);
    assert.equal(new Set(ids).size, 1);
    const [row] = await a`select count(*)::int as n from private.jobs where idempotency_key = ${key}`;
    assert.equal(row.n, 1);
  } finally {
    await a.end();
    await b.end();
  }
});

Deno.test("a job claimed by a worker that dies is reclaimed after the visibility timeout", opts, async () => {
  const sql = connect(dbUrl);
  try {
    const kind = uniqueKind();
    const id = await enqueueJob(sql, { kind, idempotencyKey: `${kind}:1` });
    const [dying] = await claimJobs(sql, { worker: "dies", visibilitySeconds: 1, kinds: [kind] });
    assert.equal(dying.id, id);
    // The worker vanishes without completing. Within the timeout nobody else gets the job…
    assert.equal((await claimJobs(sql, { worker: "other", kinds: [kind] })).length, 0);
    await new Promise((r) => setTimeout(r, 1200));
    // …after it, the next run picks it up and finishes it.
    const ran: string[] = [];
    const log = createMemoryLogger();
    const summary = await runJobBatch({
      sql,
      log,
      worker: "survivor",
      registry: { [kind]: anyKind((job) => Promise.resolve(void ran.push(job.id))) },
    });
    assert.deepEqual(ran, [id]);
    assert.equal(summary.completed, 1);
    const row = await jobRow(sql, id);
    assert.equal(row.status, "completed");
    assert.equal(row.attempts, 2);
    assert.equal(await completeJobs(sql, [dying]), 0, "the dead worker's late completion is refused");
  } finally {
    await sql.end();
  }
});

Deno.test("failures back off, growing, then dead-letter on the Nth attempt; replay re-queues", opts, async () => {
  const sql = connect(dbUrl);
  try {
    const kind = uniqueKind();
    const id = await enqueueJob(sql, { kind, idempotencyKey: `${kind}:1`, maxAttempts: 3 });
    const log = createMemoryLogger();
    let fail = true;
    const registry = {
      [kind]: anyKind(() => fail ? Promise.reject(new Error("chatwoot said no")) : Promise.resolve()),
    };
    const waits: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      const s = await runJobBatch({ sql, log, worker: "w", registry });
      assert.equal(s.claimed, 1, `attempt ${attempt} claimed the job`);
      const row = await jobRow(sql, id);
      if (attempt < 3) {
        assert.equal(row.status, "queued");
        waits.push((row.run_at as Date).getTime() - Date.now());
        await sql`update private.jobs set run_at = now() where id = ${id}`; // skip the wait
      } else {
        assert.equal(row.status, "dead", "the third failure dead-letters");
        assert.equal(row.last_error, "chatwoot said no");
      }
    }
    assert.ok(waits[0] > 2000 && waits[0] <= 5000, `first backoff 2.5–5 s, got ${waits[0]} ms`);
    assert.ok(waits[1] > 4500 && waits[1] <= 10000, `second backoff 5–10 s, got ${waits[1]} ms`);
    assert.equal((await runJobBatch({ sql, log, worker: "w", registry })).claimed, 0, "dead jobs are not claimed");

    fail = false;
    assert.equal(await replayJob(sql, id), true);
    const s = await runJobBatch({ sql, log, worker: "w", registry });
    assert.equal(s.completed, 1, "the replayed job runs and completes");
    assert.equal((await jobRow(sql, id)).status, "completed");
  } finally {
    await sql.end();
  }
});

Deno.test("RetryLater honours the handler's delay; PermanentFailure dead-letters at once", opts, async () => {
  const sql = connect(dbUrl);
  try {
    const kind = uniqueKind();
    const later = await enqueueJob(sql, { kind, idempotencyKey: `${kind}:later`, payload: { mode: "later" } });
    const never = await enqueueJob(sql, { kind, idempotencyKey: `${kind}:never`, payload: { mode: "never" } });
    const registry = {
      [kind]: anyKind((job: Job) =>
        Promise.reject(
          job.payload.mode === "later"
            ? new RetryLater("429 Too Many Requests", 42_000)
            : new PermanentFailure("bad payload"),
        )
      ),
    };
    const s = await runJobBatch({ sql, log: createMemoryLogger(), worker: "w", registry });
    assert.deepEqual([s.retried, s.dead], [1, 1]);
    const l = await jobRow(sql, later);
    const wait = (l.run_at as Date).getTime() - Date.now();
    assert.ok(wait > 40_000 && wait <= 42_000, `Retry-After of 42 s honoured, got ${wait} ms`);
    const n = await jobRow(sql, never);
    assert.equal(n.status, "dead");
    assert.equal(n.attempts, 1);
  } finally {
    await sql.end();
  }
});

Deno.test(
  "Deferred waits as often as it must without using up attempts; a lost lease defers nothing",
  opts,
  async () => {
    const sql = connect(dbUrl);
    try {
      const kind = uniqueKind();
      const id = await enqueueJob(sql, { kind, idempotencyKey: `${kind}:1`, maxAttempts: 2 });
      let runs = 0;
      const registry = {
        [kind]: anyKind(() => {
          runs++;
          // Five waits on a job that may fail only twice: a retry-based wait would be dead by the second.
          return runs <= 5 ? Promise.reject(new Deferred("window still open", 0)) : Promise.resolve();
        }),
      };
      for (let i = 0; i < 5; i++) {
        const s = await runJobBatch({ sql, log: createMemoryLogger(), worker: "w", registry });
        assert.deepEqual([s.deferred, s.retried, s.dead], [1, 0, 0], `wait ${i + 1}`);
        const row = await jobRow(sql, id);
        assert.deepEqual([row.status, row.attempts, row.last_error], ["queued", 0, "window still open"]);
      }
      const s = await runJobBatch({ sql, log: createMemoryLogger(), worker: "w", registry });
      assert.equal(s.completed, 1);
      const [row] = await sql`select attempts, deferrals from private.jobs where id = ${id}`;
      assert.deepEqual([row.attempts, row.deferrals], [1, 5], "one real attempt, five waits");

      const later = await enqueueJob(sql, { kind, idempotencyKey: `${kind}:2` });
      const [claimed] = await claimJobs(sql, { worker: "w", limit: 1, kinds: [kind] });
      assert.equal(claimed.id, later);
      assert.equal(await deferJob(sql, claimed, "wait", 30_000), true);
      const wait = ((await jobRow(sql, later)).run_at as Date).getTime() - Date.now();
      assert.ok(wait > 28_000 && wait <= 30_000, `delay honoured, got ${wait} ms`);
      assert.equal(await deferJob(sql, claimed, "again", 0), false, "the lease is gone once deferred");
    } finally {
      await sql.end();
    }
  },
);

Deno.test("a handler that hangs past its deadline is abandoned and its job retried", opts, async () => {
  const sql = connect(dbUrl);
  try {
    const kind = uniqueKind();
    const id = await enqueueJob(sql, { kind, idempotencyKey: `${kind}:1` });
    let aborted = false;
    const registry = {
      [kind]: anyKind((_job: Job, ctx: { signal: AbortSignal }) =>
        new Promise<void>((resolve) => {
          ctx.signal.addEventListener("abort", () => {
            aborted = true;
            resolve();
          });
        })
      ),
    };
    const s = await runJobBatch({ sql, log: createMemoryLogger(), worker: "w", registry, jobTimeoutMs: 200 });
    assert.equal(s.retried, 1);
    assert.ok(aborted, "the handler was told to stop");
    const row = await jobRow(sql, id);
    assert.equal(row.status, "queued");
    assert.match(row.last_error, /timed out after 200 ms/);
  } finally {
    await sql.end();
  }
});

Deno.test("NOTIFY wakes listeners on commit and not on rollback", opts, async () => {
  const sql = connect(dbUrl, { max: 3 });
  try {
    const seen: string[] = [];
    const listener = await sql.listen("switchboard_jobs", (p) => seen.push(p));
    const kind = uniqueKind();
    await sql.begin((tx) => enqueueJob(tx, { kind, idempotencyKey: `${kind}:rolled` }).then(() => tx`select 1/0`))
      .catch(
        () => {},
      );
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(seen.length, 0, "a rolled-back enqueue notifies nobody");
    await new Promise((r) => setTimeout(r, 150)); // past the 100 ms notification window
    const before = seen.length;
    await enqueueJob(sql, { kind, idempotencyKey: `${kind}:dup` });
    for (let i = 0; i < 150 && seen.length === before; i++) await new Promise((r) => setTimeout(r, 20));
    const afterFirst = seen.length;
    await new Promise((r) => setTimeout(r, 150));
    await enqueueJob(sql, { kind, idempotencyKey: `${kind}:dup` });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(seen.length, afterFirst, "an enqueue that hits an existing key notifies nobody");
    const burst = seen.length;
    await Promise.all([...Array(20).keys()].map((i) => enqueueJob(sql, { kind, idempotencyKey: `${kind}:burst${i}` })));
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(
      seen.length - burst <= 2,
      `a burst of 20 enqueues sends at most a couple of wake-ups, got ${seen.length - burst}`,
    );
    assert.ok(afterFirst > before, "a committed enqueue notifies");
    await listener.unlisten();
  } finally {
    await sql.end();
  }
});

Deno.test(
  "a handler sees its payload as the schema parsed it; an invalid one dead-letters naming the problems",
  opts,
  async () => {
    const sql = connect(dbUrl);
    try {
      const kind = uniqueKind();
      const good = await enqueueJob(sql, { kind, idempotencyKey: `${kind}:good`, payload: { n: 7 } });
      const bad = await enqueueJob(sql, { kind, idempotencyKey: `${kind}:bad`, payload: { n: "seven", extra: true } });
      const seen: unknown[] = [];
      const registry = {
        [kind]: jobKind(z.object({ n: z.number().int(), tag: z.string().default("none") }), (job) => {
          seen.push(job.payload);
          return Promise.resolve();
        }),
      };
      const log = createMemoryLogger();
      const s = await runJobBatch({ sql, log, worker: "w", registry });
      assert.deepEqual([s.claimed, s.completed, s.dead], [2, 1, 1]);
      assert.deepEqual(
        seen,
        [{ n: 7, tag: "none" }],
        "the handler ran once, with the parsed payload (default applied)",
      );
      assert.equal((await jobRow(sql, good)).status, "completed");
      const dead = await jobRow(sql, bad);
      assert.equal(dead.status, "dead", "a payload that cannot parse can never succeed: no retries");
      assert.equal(dead.attempts, 1);
      assert.match(dead.last_error, new RegExp(`^invalid ${kind.replace(".", "\\.")} payload: n: .*expected number`));
      assert.ok(log.lines.some((l) => l.msg === "job failed" && l.outcome === "dead"), "and the worker said so");
    } finally {
      await sql.end();
    }
  },
);

Deno.test("the CPU meter charges timed sections once, however nested, and added costs", () => {
  const busy = (ms: number) => {
    const until = performance.now() + ms;
    while (performance.now() < until) { /* spin: CPU-bound work */ }
  };
  const cpu = cpuMeter();
  assert.equal(cpu.time(() => (busy(30), 42)), 42, "time returns what the section returns");
  const afterOne = cpu.spentMs();
  assert.ok(afterOne >= 30, `one 30 ms section, got ${afterOne}`);
  cpu.time(() => cpu.time(() => busy(40)));
  const nested = cpu.spentMs() - afterOne;
  assert.ok(nested >= 40 && nested < 75, `a nested section is charged once (40 ms, not 80), got ${nested}`);
  assert.throws(() =>
    cpu.time(() => {
      busy(5);
      throw new Error("boom");
    })
  );
  cpu.add(400);
  assert.ok(cpu.spentMs() >= afterOne + 40 + 5 + 400, "a section that throws is charged too, and add adds");
});

Deno.test("claims are sized by the CPU left at the average cost so far, bounded by the batch size", () => {
  assert.equal(nextClaimSize(20, undefined, 5_000, 3), 20, "no budget: the batch size");
  assert.equal(nextClaimSize(20, 1200, 0, 0), 1, "nothing known yet: one job");
  assert.equal(nextClaimSize(20, 1200, 400, 1), 2, "400 ms a job with 800 ms left: two");
  assert.equal(nextClaimSize(20, 1200, 1100, 2), 1, "less left than a job costs: still one");
  assert.equal(nextClaimSize(20, 1200, 1200, 3), 0, "budget spent: none");
  assert.equal(nextClaimSize(20, 1200, 10, 10), 20, "cheap jobs: the batch size still applies");
});

Deno.test("an earlier job of the same conversation is found while pending, by its index", opts, async () => {
  const sql = connect(dbUrl, { max: 1 }); // one backend: its index statistics are the ones read below
  try {
    const kind = uniqueKind();
    const account = crypto.randomUUID();
    const at = (conversation: number, message: number) => ({
      account_ref: account,
      conversation_display_id: conversation,
      message_id: message,
    });
    // A long queue of other work around the conversations' own jobs.
    await sql`insert into private.jobs (kind, payload, idempotency_key)
              select ${`${kind}_other`}, jsonb_build_object('i', g), ${kind} || ':other:' || g
              from generate_series(1, 3000) g`;
    for (const [conversation, message] of [[7, 10], [7, 11], [8, 3]]) {
      await enqueueJob(sql, { kind, idempotencyKey: `${kind}:${message}`, payload: at(conversation, message) });
    }
    await sql`analyze private.jobs`;
    const scans = async () => {
      await sql`select pg_stat_force_next_flush()`;
      await new Promise((r) => setTimeout(r, 50)); // flushed when the backend goes idle
      const [row] = await sql`select pg_stat_clear_snapshot(), idx_scan::int as n from pg_stat_all_indexes
                              where indexrelname = 'jobs_pending_by_conversation_idx'`;
      return row.n as number;
    };
    const before = await scans();

    assert.equal(await earlierJobInConversation(sql, kind, at(7, 11)), true, "message 10 is still queued");
    assert.equal(await earlierJobInConversation(sql, kind, at(7, 10)), false, "nothing before the first");
    assert.equal(await earlierJobInConversation(sql, kind, at(8, 4)), true, "conversation 8 has message 3");
    assert.equal(await earlierJobInConversation(sql, kind, at(9, 99)), false, "another conversation has none");
    assert.equal(await earlierJobInConversation(sql, uniqueKind(), at(7, 11)), false, "another kind's do not count");
    const [first] = await claimJobs(sql, { worker: "w", limit: 1, kinds: [kind] });
    assert.equal(await earlierJobInConversation(sql, kind, at(7, 11)), true, "a running job still counts");
    await completeJobs(sql, [first]);
    assert.equal(await earlierJobInConversation(sql, kind, at(7, 11)), false, "a completed one no longer does");

    assert.ok((await scans()) - before >= 7, "each question was an index lookup, not a scan of the queue");
    await sql`delete from private.jobs where kind in (${kind}, ${`${kind}_other`})`;
  } finally {
    await sql.end();
  }
});

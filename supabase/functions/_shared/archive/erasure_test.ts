// Erasure at scale against the GCS emulator, through the real SDK and the real queue: an archive larger
// than one batch is erased in several job runs (recorded objects, objects recorded elsewhere, objects no
// record names, the bucket, then the records and one audit entry); a worker killed mid-batch is resumed
// from its checkpoint instead of starting over; a throttled bucket delete waits without spending
// attempts; buckets are created with soft delete off (and older ones lowered first) so erased objects
// are really gone; two runs never erase at once; a dead-lettered erasure resumes when asked again.

import assert from "node:assert/strict";
import "./google_sdk_compat.ts";
import { Storage } from "@google-cloud/storage";
import { connect, type Sql } from "../platform/db.ts";
import { testStack, uniqueKind, waitFor } from "../../../../scripts/testing/env.ts";
import { type SeededArchive, seedUserArchive, testBucketPolicy } from "../../../../scripts/testing/archive.ts";
import { cpuMeter, Deferred, enqueueJob, type JobRegistry, runJobBatch } from "../jobs/queue.ts";
import { createMemoryLogger } from "../platform/log.ts";
import type { BucketPolicy } from "./buckets.ts";
import { createStorage } from "./storage.ts";
import { DEFAULT_BUCKET_OPS_INTERVAL_MS } from "./bucket_quota.ts";
import { type EraseOptions, type ErasureDeps, erasureJobHandlers, runErasureSlice } from "./erasure.ts";

const stack = testStack();
const gcsEndpoint = Deno.env.get("GCS_ENDPOINT");
if (!gcsEndpoint) throw new Error("GCS_ENDPOINT is not set: run through `npm test`");
const opts = { sanitizeOps: false, sanitizeResources: false };
// A GCS project of this file's own: the emulator holds it to GCS's bucket rate (one create or delete per
// 2 s), and the product's bucket quota (bucket_quota.ts) spaces this file's bucket deletes within it.
const project = `erasure-test-${crypto.randomUUID().slice(0, 8)}`;
const storage = createStorage({ apiEndpoint: gcsEndpoint, projectId: project });
const bucketStorage = createStorage({ apiEndpoint: gcsEndpoint, projectId: project, retries: false });
const quota = { project, intervalMs: DEFAULT_BUCKET_OPS_INTERVAL_MS };
const SEVEN_DAYS = 7 * 86_400;

function policyWith(softDeleteSeconds = 0): BucketPolicy {
  return testBucketPolicy("sberase", { softDeleteSeconds });
}

function deps(
  sql: Sql,
  o: { erase?: Partial<EraseOptions>; policy?: BucketPolicy; storage?: Storage } = {},
): ErasureDeps {
  return {
    sql,
    storage: o.storage ?? storage,
    policy: o.policy ?? policyWith(),
    mediaMaxBytes: 1024,
    mediaTimeoutMs: 1000,
    erase: { batchSize: 1000, concurrency: 4, sliceMs: 30_000, ...o.erase },
    bucketStorage,
    bucketQuota: quota,
  };
}

/** An erasure as start_archive_erasure makes one, with its first job under a kind of the test's own
 * (the stack's worker claims only registered kinds, so these runs are the test's alone). */
async function newErasure(sql: Sql, seeded: SeededArchive, kind: string): Promise<string> {
  const [e] = await sql`
    insert into public.archive_erasures (user_id, requested_by, bucket, objects_expected)
    values (${seeded.userId}, 'test', ${seeded.bucket},
            (select count(*) from public.archived_messages where user_id = ${seeded.userId})
              + (select count(*) from public.archived_media where user_id = ${seeded.userId}))
    returning id::text`;
  await enqueueJob(sql, {
    kind,
    payload: { erasure_id: e.id, user_id: seeded.userId, actor: "test" },
    idempotencyKey: `${kind}:${e.id}:0`,
  });
  return e.id;
}

interface ErasureRow {
  status: string;
  step: string;
  cursor: string | null;
  objects_found: number;
  objects_deleted: number;
  objects_expected: number;
  messages: number | null;
  media: number | null;
  soft_delete_seconds: number | null;
  runs: number;
  last_error: string | null;
}

async function erasure(sql: Sql, id: string): Promise<ErasureRow> {
  const [row] = await sql<ErasureRow[]>`
    select status, step, cursor, objects_found, objects_deleted, objects_expected, messages, media,
           soft_delete_seconds, runs, last_error
    from public.archive_erasures where id = ${id}`;
  return row;
}

/** Runs the kind's jobs one at a time (as the worker would, without waiting for backoff) until the
 * erasure completes; returns the progress seen after each run, with the records still there. */
async function drive(sql: Sql, registry: JobRegistry, id: string, maxRuns = 60, pauseMs = 0) {
  const kind = Object.keys(registry)[0];
  const seen: (ErasureRow & { records: number })[] = [];
  for (let i = 0; i < maxRuns; i++) {
    await sql`update private.jobs set run_at = now() where kind = ${kind} and status = 'queued'`;
    await runJobBatch({ sql, registry, log: createMemoryLogger(), worker: "erasure-test", limit: 1 });
    const [{ records }] = await sql`
      select (select count(*) from public.archived_messages m where m.user_id = e.user_id)::int
             + (select count(*) from public.archived_media x where x.user_id = e.user_id)::int as records
      from public.archive_erasures e where e.id = ${id}`;
    const row = { ...await erasure(sql, id), records };
    seen.push(row);
    if (row.status === "completed") return seen;
    if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
  }
  throw new Error(`the erasure did not complete in ${maxRuns} runs: ${JSON.stringify(seen.at(-1))}`);
}

async function fault(rule: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${gcsEndpoint}/_control/faults`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(rule),
  });
  const body = await res.json();
  assert.equal(res.status, 201, JSON.stringify(body));
  return body.faults[0].id;
}

async function faultApplied(id: string): Promise<number> {
  const { faults } = await (await fetch(`${gcsEndpoint}/_control/faults`)).json();
  return faults.find((f: { id: string }) => f.id === id)?.applied ?? 0;
}

async function clearFault(id: string) {
  await fetch(`${gcsEndpoint}/_control/faults/${id}`, { method: "DELETE" }).then((r) => r.body?.cancel());
}

async function objectCount(bucket: string): Promise<number | null> {
  const [exists] = await storage.bucket(bucket).exists();
  if (!exists) return null;
  const [files] = await storage.bucket(bucket).getFiles();
  return files.length;
}

/** Soft-deleted buckets of that name GCS still keeps (they could be restored, objects and all). */
async function softDeletedBuckets(name: string): Promise<{ name: string; hardDeleteTime: string }[]> {
  const res = await fetch(`${gcsEndpoint}/storage/v1/b?project=test&softDeleted=true&prefix=${name}`);
  return (await res.json()).items ?? [];
}

async function recordsOf(sql: Sql, userId: string) {
  const [r] = await sql`select
    (select count(*) from public.archived_messages where user_id = ${userId})::int as messages,
    (select count(*) from public.archived_media where user_id = ${userId})::int as media,
    (select count(*) from public.archive_contacts where user_id = ${userId})::int as contacts,
    (select count(*) from public.archive_buckets where owner_user_id = ${userId})::int as buckets`;
  return { ...r };
}

Deno.test(
  "an archive larger than one batch is erased over several job runs: recorded, unrecorded, elsewhere, bucket, records",
  opts,
  async () => {
    const sql = connect(stack.dbUrl);
    try {
      const d = deps(sql, { erase: { batchSize: 10 } });
      const seeded = await seedUserArchive(sql, storage, d.policy, {
        quota: { sql, ...quota },
        messages: 30,
        media: 12,
        leftovers: 7,
        elsewhere: 5,
      });
      assert.equal(seeded.objects, 54);
      const kind = uniqueKind("test.erase");
      const registry = { [kind]: erasureJobHandlers(d)["archive.erase_user"] };
      const id = await newErasure(sql, seeded, kind);
      const seen = await drive(sql, registry, id);

      const done = seen.at(-1)!;
      assert.ok(seen.length >= 6, `54 objects at 10 a run take several runs (took ${seen.length})`);
      for (const [i, run] of seen.entries()) {
        if (i < seen.length - 1) {
          assert.equal(run.records, 47, `run ${i + 1}: the records stay until the objects are gone`);
        }
      }
      assert.equal(done.records, 0);
      for (let i = 1; i < seen.length; i++) {
        assert.ok(seen[i].objects_deleted >= seen[i - 1].objects_deleted, "progress never goes back");
        assert.ok(seen[i].objects_deleted - seen[i - 1].objects_deleted <= 10, "no run deletes more than a batch");
      }
      assert.equal(done.objects_deleted, 54, "every object, recorded or not, in either bucket");
      assert.equal(done.objects_found, 54);
      assert.equal(done.objects_expected, 47, "what Postgres recorded (the 7 leftovers were unknown to it)");
      assert.deepEqual([done.messages, done.media], [35, 12]);
      assert.equal(done.soft_delete_seconds, 0);
      assert.equal(done.runs, seen.length, "each job run is counted");

      assert.equal(await objectCount(seeded.bucket), null, "the user's bucket is gone");
      assert.equal(await objectCount(seeded.elsewhereBucket!), 0, "what was recorded in another bucket is gone");
      assert.deepEqual(await softDeletedBuckets(seeded.bucket), [], "and nothing is kept as soft-deleted");
      assert.deepEqual(await recordsOf(sql, seeded.userId), { messages: 0, media: 0, contacts: 0, buckets: 0 });

      const jobs = await sql`select status::text, count(*)::int as n from private.jobs where kind = ${kind} group by 1`;
      assert.deepEqual(jobs.map((j) => [j.status, j.n]), [["completed", seen.length]], "one job per run, none dead");
      const audit = await sql`select actor, detail from private.audit_log
                              where action = 'archive.erase_user' and target = ${`user:${seeded.userId}`}`;
      assert.equal(audit.length, 1, "one audit entry");
      assert.deepEqual(
        { ...audit[0].detail, erasure_id: undefined },
        {
          erasure_id: undefined,
          bucket: seeded.bucket,
          messages: 35,
          media: 12,
          objects_deleted: 54,
          soft_delete_seconds: 0,
          runs: seen.length,
        },
      );
      assert.ok(!JSON.stringify(audit[0].detail).includes(seeded.phone.slice(1)), "counts, never data");
    } finally {
      await sql.end();
    }
  },
);

Deno.test("with two workers polling, a continuation never waits on the run that queued it", opts, async () => {
  const sql = connect(stack.dbUrl, { max: 6 });
  try {
    const d = deps(sql, { erase: { batchSize: 10 } });
    const seeded = await seedUserArchive(sql, storage, d.policy, { quota: { sql, ...quota }, messages: 50, media: 10 });
    const kind = uniqueKind("test.erase");
    const registry = { [kind]: erasureJobHandlers(d)["archive.erase_user"] };
    const id = await newErasure(sql, seeded, kind);
    let done = false;
    // Two workers claiming as fast as they can, as concurrent worker invocations do.
    const worker = async (name: string) => {
      while (!done) {
        const r = await runJobBatch({ sql, registry, log: createMemoryLogger(), worker: name, limit: 1 });
        if (r.claimed === 0) await new Promise((r) => setTimeout(r, 1));
      }
    };
    const workers = Promise.all([worker("erasure-test-a"), worker("erasure-test-b")]);
    const row = await waitFor(
      async () => {
        const e = await erasure(sql, id);
        return e.status === "completed" ? e : null;
      },
      "the erasure to complete",
      60_000,
    );
    done = true;
    await workers;
    assert.equal(row.objects_deleted, 60);
    const [jobs] = await sql`select count(*)::int as n, coalesce(sum(deferrals), 0)::int as deferrals
                             from private.jobs where kind = ${kind}`;
    assert.equal(jobs.deferrals, 0, "the lease ends in the transaction that queues the continuation");
    assert.equal(jobs.n, row.runs, "one chain: a job per run");
  } finally {
    await sql.end();
  }
});

Deno.test("a worker killed mid-batch is resumed from the checkpoint: nothing starts over", opts, async () => {
  const sql = connect(stack.dbUrl);
  let slow: string | null = null;
  try {
    const d = deps(sql, { erase: { batchSize: 1000, concurrency: 4, sliceMs: 30_000 } });
    // 300 objects recorded in another bucket (a Postgres-driven keyset, checkpointed every 100), then the
    // user's own bucket (a GCS listing).
    const seeded = await seedUserArchive(sql, storage, d.policy, {
      quota: { sql, ...quota },
      messages: 40,
      media: 0,
      leftovers: 10,
      elsewhere: 300,
    });
    const kind = uniqueKind("test.erase");
    const id = await newErasure(sql, seeded, kind);
    // Deletes there take 15 ms each, so the kill lands inside a chunk; the rule counts every delete sent.
    slow = await fault({ mode: "slow", ms: 15, method: "DELETE", path: `/storage/v1/b/${seeded.elsewhereBucket}/o/*` });

    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../../../../scripts/testing/erasure_worker.ts", import.meta.url).pathname,
        JSON.stringify({ kind, policy: d.policy, erase: d.erase, project: d.bucketQuota.project }),
      ],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const atKill = await waitFor(
      async () => {
        const row = await erasure(sql, id);
        return row.objects_deleted >= 200 ? row : null;
      },
      "two checkpointed chunks",
      60_000,
    );
    child.kill("SIGKILL");
    const status = await child.status;
    await child.stderr.cancel();
    assert.equal(status.signal, "SIGKILL");
    assert.equal(atKill.step, "recorded_elsewhere");
    assert.ok(atKill.cursor, "the checkpoint names where the keyset stopped");
    assert.ok(atKill.objects_deleted < 300, "killed before that step was done");
    const [job] = await sql`select status::text, attempts from private.jobs where kind = ${kind}`;
    assert.deepEqual({ ...job }, { status: "running", attempts: 1 }, "the dead worker still holds the job");

    // Time passes: the job's visibility timeout and the erasure's lease run out (the job driver
    // shortens the first when the runtime reports the process dead).
    await sql`update private.jobs set locked_until = now() - interval '1 second' where kind = ${kind}`;
    await sql`update public.archive_erasures set leased_until = now() - interval '1 second' where id = ${id}`;
    const registry = { [kind]: erasureJobHandlers(d)["archive.erase_user"] };
    const seen = await drive(sql, registry, id);

    const sent = await faultApplied(slow);
    assert.ok(sent >= 300, `every object there was deleted (${sent} deletes sent)`);
    assert.ok(
      sent <= 300 + 100,
      `at most the chunk in flight when the worker died is sent again (${sent} deletes for 300 objects; starting over would send ≥ 500)`,
    );
    const done = seen.at(-1)!;
    assert.ok(done.objects_deleted >= 350 - 100 && done.objects_deleted <= 350, `${done.objects_deleted} counted`);
    assert.equal(await objectCount(seeded.bucket), null, "the bucket is gone");
    assert.equal(await objectCount(seeded.elsewhereBucket!), 0);
    assert.deepEqual(await recordsOf(sql, seeded.userId), { messages: 0, media: 0, contacts: 0, buckets: 0 });
    const [audits] = await sql`select count(*)::int as n from private.audit_log
                               where action = 'archive.erase_user' and target = ${`user:${seeded.userId}`}`;
    assert.equal(audits.n, 1, "one audit entry");
    const [after] = await sql`select attempts, status::text from private.jobs where kind = ${kind} order by id limit 1`;
    assert.deepEqual(
      { ...after },
      { attempts: 2, status: "completed" },
      "the killed job itself was reclaimed and finished",
    );
  } finally {
    if (slow) await clearFault(slow);
    await sql.end();
  }
});

Deno.test(
  "a 429 on the bucket delete waits without spending an attempt; bucket deletes keep to the project's slot",
  opts,
  async () => {
    const sql = connect(stack.dbUrl);
    let throttle: string | null = null;
    try {
      const d = deps(sql);
      const first = await seedUserArchive(sql, storage, d.policy, { quota: { sql, ...quota }, messages: 2, media: 1 });
      const second = await seedUserArchive(sql, storage, d.policy, { quota: { sql, ...quota }, messages: 1, media: 0 });
      const kind = uniqueKind("test.erase");
      const registry = { [kind]: erasureJobHandlers(d)["archive.erase_user"] };
      throttle = await fault({ mode: "429", method: "DELETE", path: `/storage/v1/b/${first.bucket}`, count: 1 });
      const id = await newErasure(sql, first, kind);
      await runJobBatch({ sql, registry, log: createMemoryLogger(), worker: "erasure-test", limit: 1 });
      const [job] = await sql`select status::text, attempts, deferrals from private.jobs where kind = ${kind}`;
      assert.deepEqual({ ...job }, { status: "queued", attempts: 0, deferrals: 1 }, "deferred, attempt given back");
      const waiting = await erasure(sql, id);
      assert.equal(waiting.status, "waiting");
      assert.equal(waiting.step, "bucket", "the objects are gone; only the bucket is left");
      assert.match(waiting.last_error ?? "", /429/);
      assert.equal(await objectCount(first.bucket), 0);

      // The 429 moved the first bucket to a later slot of the project's quota (one create or delete per
      // interval, shared with bucket creation): the second erasure, started at once, waits for a slot
      // of its own (in the job, a few seconds) and is never refused by GCS's own rate.
      const id2 = await newErasure(sql, second, kind);
      // Only the second erasure's job runs now.
      await sql`update private.jobs set run_at = now() + interval '1 hour'
                where kind = ${kind} and payload ->> 'erasure_id' = ${id}`;
      await runJobBatch({ sql, registry, log: createMemoryLogger(), worker: "erasure-test", limit: 1 });
      await drive(sql, registry, id2, 40, 250);
      assert.equal(await objectCount(second.bucket), null);
      const ops = await (await fetch(`${gcsEndpoint}/_control/bucket-ops`)).json();
      assert.equal(ops.refused[project] ?? 0, 0, "GCS's bucket rate never refused a call of this project");

      await sql`update private.jobs set run_at = now() where kind = ${kind}`;
      await drive(sql, registry, id, 40, 250);
      await drive(sql, registry, id2, 40, 250);
      assert.equal(await objectCount(first.bucket), null);
      assert.equal(await objectCount(second.bucket), null);
      const dead = await sql`select 1 from private.jobs where kind = ${kind} and status = 'dead'`;
      assert.equal(dead.length, 0);
    } finally {
      if (throttle) await clearFault(throttle);
      await sql.end();
    }
  },
);

Deno.test(
  "buckets are created with soft delete off and older ones are lowered first: erased objects are really gone",
  opts,
  async () => {
    const sql = connect(stack.dbUrl);
    try {
      // The archive's own bucket creation (ensureBucket) turns GCS's 7-day default off.
      const d = deps(sql);
      const fresh = await seedUserArchive(sql, storage, d.policy, { quota: { sql, ...quota }, messages: 3, media: 1 });
      const [meta] = await storage.bucket(fresh.bucket).getMetadata();
      assert.equal(meta.softDeletePolicy?.retentionDurationSeconds, "0", "new buckets keep nothing after a delete");

      // A bucket created with GCS's default (as before this setting existed) keeps deleted objects for 7 days:
      // the erasure lowers its retention before deleting anything from it.
      const old = await seedUserArchive(sql, storage, policyWith(SEVEN_DAYS), {
        quota: { sql, ...quota },
        messages: 3,
        media: 1,
        leftovers: 1,
      });
      const [oldMeta] = await storage.bucket(old.bucket).getMetadata();
      assert.equal(oldMeta.softDeletePolicy?.retentionDurationSeconds, String(SEVEN_DAYS));

      // A deployment that chose a 7-day safety net keeps one: its erased bucket is retained, restorable.
      const kept = await seedUserArchive(sql, storage, policyWith(SEVEN_DAYS), {
        quota: { sql, ...quota },
        messages: 2,
        media: 0,
      });

      const kind = uniqueKind("test.erase");
      const registry = { [kind]: erasureJobHandlers(d)["archive.erase_user"] };
      const keptKind = uniqueKind("test.erase");
      const keptRegistry = {
        [keptKind]: erasureJobHandlers(deps(sql, { policy: policyWith(SEVEN_DAYS) }))["archive.erase_user"],
      };
      const ids = [await newErasure(sql, fresh, kind), await newErasure(sql, old, kind)];
      for (const id of ids) assert.equal((await drive(sql, registry, id, 20, 250)).at(-1)!.soft_delete_seconds, 0);
      const keptId = await newErasure(sql, kept, keptKind);
      assert.equal((await drive(sql, keptRegistry, keptId, 20, 250)).at(-1)!.soft_delete_seconds, SEVEN_DAYS);

      for (const s of [fresh, old]) {
        assert.equal(await objectCount(s.bucket), null);
        assert.deepEqual(await softDeletedBuckets(s.bucket), [], `${s.bucket}: nothing is kept to restore`);
      }
      const retained = await softDeletedBuckets(kept.bucket);
      assert.equal(retained.length, 1, "with a 7-day policy GCS keeps the erased bucket (the test can tell)");
      const days = (Date.parse(retained[0].hardDeleteTime) - Date.now()) / 86_400_000;
      assert.ok(days > 6.9 && days <= 7, `kept ~7 days (${days.toFixed(2)})`);
    } finally {
      await sql.end();
    }
  },
);

Deno.test("two runs never erase the same archive at once: the second waits for the lease", opts, async () => {
  const sql = connect(stack.dbUrl);
  let slow: string | null = null;
  try {
    const d = deps(sql, { erase: { concurrency: 1 } });
    const seeded = await seedUserArchive(sql, storage, d.policy, { quota: { sql, ...quota }, messages: 20, media: 0 });
    const id = await newErasure(sql, seeded, uniqueKind("test.erase"));
    slow = await fault({ mode: "slow", ms: 20, method: "DELETE", path: `/storage/v1/b/${seeded.bucket}/o/*` });
    const ctx = () => ({ cpu: cpuMeter(), signal: new AbortController().signal, kind: uniqueKind("test.none") });
    const first = runErasureSlice(d, id, ctx());
    await waitFor(async () => (await erasure(sql, id)).runs === 1, "the first run to take the erasure");
    await assert.rejects(runErasureSlice(d, id, ctx()), (err) => err instanceof Deferred && err.delayMs > 0);
    assert.equal((await first).status, "completed");
    assert.equal((await erasure(sql, id)).runs, 1, "the second run never started erasing");
  } finally {
    if (slow) await clearFault(slow);
    await sql.end();
  }
});

Deno.test(
  "a dead-lettered erasure is marked failed, and asking again resumes it (the stack's worker finishes it)",
  opts,
  async () => {
    const sql = connect(stack.dbUrl);
    let broken: string | null = null;
    try {
      // No SDK retries: the job's own attempts are what fail here.
      const noRetries = new Storage({
        apiEndpoint: gcsEndpoint,
        projectId: "test",
        retryOptions: { autoRetry: false },
      });
      const d = deps(sql, { storage: noRetries });
      const seeded = await seedUserArchive(sql, storage, d.policy, { quota: { sql, ...quota }, messages: 5, media: 0 });
      const kind = uniqueKind("test.erase");
      const id = await newErasure(sql, seeded, kind);
      await sql`update private.jobs set max_attempts = 1 where kind = ${kind}`;
      broken = await fault({ mode: "503", method: "GET", path: `/storage/v1/b/${seeded.bucket}/o` });
      await runJobBatch({
        sql,
        registry: { [kind]: erasureJobHandlers(d)["archive.erase_user"] },
        log: createMemoryLogger(),
        worker: "erasure-test",
        limit: 1,
      });
      const [job] = await sql`select status::text from private.jobs where kind = ${kind}`;
      assert.equal(job.status, "dead");
      const failed = await erasure(sql, id);
      assert.equal(failed.status, "failed");
      assert.match(failed.last_error ?? "", /503/);
      await clearFault(broken);
      broken = null;

      // Asked again (as request_archive_erasure does): the same erasure, queued under the real kind.
      const [again] = await sql`select private.start_archive_erasure(${seeded.userId}, 'test-again')::text as id`;
      assert.equal(again.id, id, "the same erasure, not a new one");
      const done = await waitFor(
        async () => {
          const row = await erasure(sql, id);
          return row.status === "completed" ? row : null;
        },
        "the stack's worker to finish the erasure",
        30_000,
      );
      assert.equal(done.objects_deleted, 5);
      assert.ok(done.runs >= 2, "it resumed: the failed run and the one that finished");
      assert.equal(await objectCount(seeded.bucket), null);
    } finally {
      if (broken) await clearFault(broken);
      await sql.end();
    }
  },
);

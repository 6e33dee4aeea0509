// Erasing a user's WhatsApp archive at any size: every object recorded for them, everything left in
// their bucket (recorded or not), the bucket, then their records and mappings, in resumable slices.
// Each run of `archive.erase_user` leases the erasure's row (public.archive_erasures), deletes a
// bounded batch, checkpoints every chunk, and hands the rest to a continuation job, so a run that
// dies or is abandoned costs at most the chunk it was on, never a restart.

import { z } from "zod";
import type { Sql, TransactionSql } from "../platform/db.ts";
import type { Fetched, Row } from "../platform/rows.ts";
import { withBucketSlot } from "./bucket_quota.ts";
import {
  Deferred,
  enqueueJob,
  type JobContext,
  jobKind,
  type JobRegistry,
  PermanentFailure,
  RetryLater,
} from "../jobs/queue.ts";
import { type ArchiveDeps, unconfiguredWaitMs } from "./archiver.ts";
import { ArchiveNotConfigured } from "./storage.ts";

export interface EraseOptions {
  /** Objects one job run deletes at most before it hands over to a continuation job. */
  batchSize: number;
  /** Deletes in flight at once (a bucket starts at ~1,000 writes/s: https://cloud.google.com/storage/quotas). */
  concurrency: number;
  /** Wall time one run spends at most: well inside the job timeout and the worker's time budget. */
  sliceMs: number;
}

export const DEFAULT_ERASE_OPTIONS: EraseOptions = { batchSize: 1000, concurrency: 16, sliceMs: 15_000 };

export interface ErasureDeps extends ArchiveDeps {
  erase: EraseOptions;
  now?: () => number;
}

/** CPU the SDK spends per request (building it, parsing the answer) that no handler can time: charged to
 * the run's meter so the worker's CPU budget sees an erasure slice for what it costs. bench:erase
 * measures the jobs-worker process's CPU per object erased on the edge runtime's Deno. */
export const GCS_REQUEST_CPU_MS = 0.6;

/** Objects deleted between two checkpoints: a run that dies loses at most this many objects' progress. */
const CHUNK = 100;

type Erasure = Fetched<
  Row<"archive_erasures">,
  "requested_at" | "started_at" | "updated_at" | "finished_at" | "leased_until"
>;
type Step = "recorded_elsewhere" | "bucket_objects" | "bucket" | "done";

export interface SliceResult {
  status: "completed" | "continuing";
  /** Objects this run deleted. */
  deleted: number;
}

function code(err: unknown): number | undefined {
  const c = (err as { code?: unknown })?.code;
  return typeof c === "number" ? c : undefined;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Starts the erasure of a user's archive (or finds the one under way) in the caller's transaction. */
export async function startArchiveErasure(sql: Sql | TransactionSql, userId: string, actor: string): Promise<string> {
  const [row] = await sql<{ id: string }[]>`select private.start_archive_erasure(${userId}, ${actor})::text as id`;
  return row.id;
}

/** The run's hold on the erasure: every checkpoint is written only while it is held. */
class Lease {
  constructor(readonly id: string, private readonly sql: Sql, private readonly erasureId: string) {}

  async checkpoint(set: {
    step: Step;
    cursor: string | null;
    found?: number;
    deleted?: number;
    status?: "erasing" | "waiting";
    lastError?: string | null;
    softDeleteSeconds?: number;
  }): Promise<void> {
    const rows = await this.sql`
      update public.archive_erasures
         set step = ${set.step}, cursor = ${set.cursor},
             objects_found = objects_found + ${set.found ?? 0}, objects_deleted = objects_deleted + ${set.deleted ?? 0},
             status = coalesce(${set.status ?? null}, status),
             last_error = case when ${set.lastError === undefined} then last_error else ${set.lastError ?? null} end,
             soft_delete_seconds = coalesce(${set.softDeleteSeconds ?? null}, soft_delete_seconds),
             leased_until = greatest(leased_until, now() + interval '30 seconds'), updated_at = now()
       where id = ${this.erasureId} and lease = ${this.id}::uuid
       returning 1`;
    if (rows.length !== 1) throw new RetryLater("another run took over this erasure", 1000);
  }

  async release(tx: Sql | TransactionSql = this.sql): Promise<void> {
    await tx`update public.archive_erasures set lease = null, leased_until = null
             where id = ${this.erasureId} and lease = ${this.id}::uuid`;
  }
}

/** Takes the erasure for this run; null when it is already complete. Another run holding it (a reclaimed
 * job beside its continuation) means waiting, not failing: the job is deferred until that lease ends. */
async function acquire(deps: ErasureDeps, erasureId: string): Promise<{ lease: Lease; erasure: Erasure } | null> {
  const leaseId = crypto.randomUUID();
  // The lease outlives the slice by a margin (each checkpoint extends it): a dead run loses it soon.
  const holdSeconds = Math.ceil(deps.erase.sliceMs / 1000) + 30;
  const [erasure] = await deps.sql<Erasure[]>`
    update public.archive_erasures
       set lease = ${leaseId}::uuid, leased_until = now() + make_interval(secs => ${holdSeconds}),
           status = 'erasing', runs = runs + 1, started_at = coalesce(started_at, now()), updated_at = now()
     where id = ${erasureId} and status <> 'completed' and (lease is null or leased_until < now())
     returning *`;
  if (erasure) return { lease: new Lease(leaseId, deps.sql, erasureId), erasure };
  const [current] = await deps.sql<Pick<Erasure, "status" | "leased_until">[]>`
    select status, leased_until from public.archive_erasures where id = ${erasureId}`;
  if (!current) throw new PermanentFailure(`archive erasure ${erasureId} does not exist`);
  if (current.status === "completed") return null;
  // A live run hands over within seconds; a dead one's lease runs out: look again soon either way.
  const waitMs = Math.min(5000, Math.max(500, (current.leased_until?.getTime() ?? 0) - Date.now()));
  throw new Deferred(`another run is erasing this archive; trying again in ${Math.ceil(waitMs / 1000)} s`, waitMs);
}

/** Lowers the bucket's soft delete retention to the configured one before anything is deleted from it:
 * a policy applies to objects deleted after it changes, and GCS gives buckets 7 days unless told
 * otherwise. Returns the retention that applies to what this erasure deletes (null: no bucket). */
async function settleSoftDelete(deps: ErasureDeps, bucket: string): Promise<number | null> {
  try {
    const [meta] = await deps.storage.bucket(bucket).getMetadata();
    const current = Number(meta.softDeletePolicy?.retentionDurationSeconds ?? 0);
    if (current <= deps.policy.softDeleteSeconds) return current;
    await deps.storage.bucket(bucket).setMetadata({
      softDeletePolicy: { retentionDurationSeconds: deps.policy.softDeleteSeconds },
    });
    return deps.policy.softDeleteSeconds;
  } catch (err) {
    if (code(err) === 404) return null;
    throw err;
  }
}

/**
 * Deletes `objects` in chunks, `concurrency` at a time, calling `onChunk` (a checkpoint) after each.
 * Stops starting chunks once `stop()` says so; returns how many objects it got through. An object
 * already gone (404) counts as found, not deleted.
 */
async function eraseInChunks(
  deps: ErasureDeps,
  objects: { bucket: string; name: string }[],
  ctx: Pick<JobContext, "cpu">,
  stop: () => boolean,
  onChunk: (chunk: { bucket: string; name: string }[], deleted: number) => Promise<void>,
): Promise<number> {
  let done = 0;
  while (done < objects.length && !stop()) {
    const chunk = objects.slice(done, done + CHUNK);
    let next = 0;
    let deleted = 0;
    const worker = async () => {
      while (next < chunk.length) {
        const o = chunk[next++];
        try {
          await deps.storage.bucket(o.bucket).file(o.name).delete();
          deleted++;
        } catch (err) {
          if (code(err) !== 404) throw err;
        } finally {
          ctx.cpu.add(GCS_REQUEST_CPU_MS);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(deps.erase.concurrency, chunk.length) }, worker));
    done += chunk.length;
    await onChunk(chunk, deleted);
  }
  return done;
}

/** One run of an erasure: a bounded batch from its checkpoint on. Completes it (records forgotten and
 * audited in one transaction, once the objects and the bucket are gone) or queues its continuation. */
export async function runErasureSlice(
  deps: ErasureDeps,
  erasureId: string,
  /** The running job (its id and kind: the continuation is queued under the same kind). */
  ctx: Pick<JobContext, "cpu" | "signal"> & { jobId?: string; kind?: string },
): Promise<SliceResult> {
  const kind = ctx.kind ?? "archive.erase_user";
  const acquired = await acquire(deps, erasureId);
  if (!acquired) return { status: "completed", deleted: 0 };
  const { lease, erasure } = acquired;
  const now = deps.now ?? Date.now;
  const deadline = now() + deps.erase.sliceMs;
  let budget = deps.erase.batchSize;
  let deleted = 0;
  let step = erasure.step as Step;
  let cursor = erasure.cursor;
  const bucket = erasure.bucket;
  const stop = () => budget <= 0 || now() >= deadline || ctx.signal.aborted;
  try {
    while (step !== "done" && !stop()) {
      if (step === "recorded_elsewhere") {
        // Objects recorded for the user in any bucket but theirs (their own bucket is swept whole next).
        const slash = cursor?.indexOf("/") ?? -1;
        const [afterBucket, afterName] = cursor ? [cursor.slice(0, slash), cursor.slice(slash + 1)] : ["", ""];
        const page = await deps.sql<{ bucket: string; name: string }[]>`
          select bucket, object_name as name from (
            select bucket, object_name from public.archived_media where user_id = ${erasure.user_id}
            union select bucket, object_name from public.archived_messages where user_id = ${erasure.user_id}
          ) o
          where bucket is distinct from ${bucket} and (bucket, object_name) > (${afterBucket}, ${afterName})
          order by bucket, object_name limit ${Math.min(budget, 1000)}`;
        if (page.length === 0) {
          step = "bucket_objects";
          cursor = null;
          await lease.checkpoint({ step, cursor });
          continue;
        }
        await eraseInChunks(deps, page, ctx, stop, async (chunk, n) => {
          const last = chunk[chunk.length - 1];
          cursor = `${last.bucket}/${last.name}`;
          budget -= chunk.length;
          deleted += n;
          await lease.checkpoint({ step, cursor, found: chunk.length, deleted: n });
        });
      } else if (step === "bucket_objects") {
        if (!bucket) {
          step = "done";
          break;
        }
        if (cursor === null && erasure.soft_delete_seconds === null) {
          const softDeleteSeconds = await settleSoftDelete(deps, bucket);
          ctx.cpu.add(GCS_REQUEST_CPU_MS * 2);
          if (softDeleteSeconds !== null) {
            erasure.soft_delete_seconds = softDeleteSeconds;
            await lease.checkpoint({ step, cursor, softDeleteSeconds });
          }
        }
        let names: string[] = [];
        let nextToken: string | null = null;
        try {
          const [files, nextQuery] = await deps.storage.bucket(bucket).getFiles({
            autoPaginate: false,
            maxResults: Math.min(budget, 1000),
            ...(cursor ? { pageToken: cursor } : {}),
          });
          names = files.map((f) => f.name);
          nextToken = (nextQuery as { pageToken?: string } | null)?.pageToken ?? null;
        } catch (err) {
          if (code(err) !== 404) throw err; // 404: the bucket is gone already
        }
        ctx.cpu.add(GCS_REQUEST_CPU_MS * 4);
        // The cursor is the page's token until the whole page is done: a run that stops or dies mid-page
        // lists it again and finds only what it had not deleted yet.
        const through = await eraseInChunks(
          deps,
          names.map((name) => ({ bucket, name })),
          ctx,
          stop,
          async (chunk, n) => {
            budget -= chunk.length;
            deleted += n;
            await lease.checkpoint({ step, cursor, found: chunk.length, deleted: n });
          },
        );
        if (through < names.length) break;
        if (nextToken) cursor = nextToken;
        else {
          step = "bucket";
          cursor = null;
        }
        await lease.checkpoint({ step, cursor });
      } else if (step === "bucket") {
        if (bucket) {
          const outcome = await deleteBucket(deps, lease, bucket, ctx);
          if (outcome === "not_empty") {
            // Something was archived while the bucket was swept: sweep it again.
            step = "bucket_objects";
            cursor = null;
            await lease.checkpoint({ step, cursor });
            continue;
          }
        }
        step = "done";
        await lease.checkpoint({ step, cursor: null, status: "erasing", lastError: null });
      }
    }

    if (step === "done") {
      await forgetRecords(deps, lease, erasure);
      return { status: "completed", deleted };
    }
    // Abandoned (the job timed out): the queue retries this job, which resumes from the checkpoint.
    if (ctx.signal.aborted) return { status: "continuing", deleted };
    // Out of budget or time: a continuation job, unless another job of this erasure is already waiting
    // (a reclaimed run beside its continuation: one chain is enough). The lease ends in the same
    // transaction, so the continuation never finds it still held.
    await deps.sql.begin(async (tx) => {
      await lease.release(tx);
      const [other] = await tx<{ n: number }[]>`
        select count(*)::int as n from private.jobs
        where kind = ${kind} and status in ('queued', 'running') and payload ->> 'erasure_id' = ${erasureId}
          and id <> ${ctx.jobId ?? "0"}::bigint`;
      if (other.n > 0) return;
      await enqueueJob(tx, {
        kind,
        payload: { erasure_id: erasureId, user_id: erasure.user_id, actor: erasure.requested_by },
        idempotencyKey: `${kind}:${erasureId}:${erasure.runs}`,
      });
    });
    return { status: "continuing", deleted };
  } catch (err) {
    if (!(err instanceof Deferred)) {
      await lease.checkpoint({ step, cursor, lastError: describe(err) }).catch(() => {});
    }
    throw err;
  } finally {
    await lease.release().catch(() => {});
  }
}

/** Deletes the (empty) bucket on a slot of the project's bucket quota, the one bucket creation
 * uses too (bucket_quota.ts: GCS allows about one create or delete every 2 s per project); a slot
 * still ahead or a 429 defers the job (attempt kept). "not_empty" when an object appeared since the
 * sweep. */
async function deleteBucket(
  deps: ErasureDeps,
  lease: Lease,
  bucket: string,
  ctx: Pick<JobContext, "cpu">,
): Promise<"deleted" | "not_empty"> {
  try {
    return await withBucketSlot(
      { sql: deps.sql, ...deps.bucketQuota },
      bucket,
      "delete",
      async () => {
        try {
          // One request per slot: the SDK's own retries would spend the next slots on a 429.
          await (deps.bucketStorage ?? deps.storage).bucket(bucket).delete();
          return "deleted" as const;
        } catch (err) {
          // GCS saw these calls too: the slot is spent either way.
          if (code(err) === 404) return "deleted" as const;
          if (code(err) === 409) return "not_empty" as const;
          throw err;
        } finally {
          ctx.cpu.add(GCS_REQUEST_CPU_MS);
        }
      },
    );
  } catch (err) {
    if (err instanceof Deferred) {
      await lease.checkpoint({ step: "bucket", cursor: null, status: "waiting", lastError: err.message });
    }
    throw err;
  }
}

/** The records go only now, with the objects and the bucket gone: one transaction forgets them,
 * completes the erasure and writes the audit entry (counts, never data). */
async function forgetRecords(deps: ErasureDeps, lease: Lease, erasure: Erasure): Promise<void> {
  await deps.sql.begin(async (tx) => {
    const [counts] = await tx<{ media: number; messages: number }[]>`
      with x as (delete from public.archived_media where user_id = ${erasure.user_id} returning 1),
           m as (delete from public.archived_messages where user_id = ${erasure.user_id} returning 1)
      select (select count(*) from x)::int as media, (select count(*) from m)::int as messages`;
    await tx`delete from public.archive_contacts where user_id = ${erasure.user_id}`;
    await tx`delete from public.archive_buckets where owner_user_id = ${erasure.user_id}`;
    const [done] = await tx<Pick<Erasure, "objects_deleted" | "soft_delete_seconds" | "runs">[]>`
      update public.archive_erasures
         set status = 'completed', step = 'done', cursor = null, messages = ${counts.messages}, media = ${counts.media},
             last_error = null, finished_at = now(), updated_at = now()
       where id = ${erasure.id} and lease = ${lease.id}::uuid
       returning objects_deleted, soft_delete_seconds, runs`;
    if (!done) throw new RetryLater("another run took over this erasure", 1000);
    await tx`insert into private.audit_log (actor, action, target, detail)
             values (${erasure.requested_by}, 'archive.erase_user', ${`user:${erasure.user_id}`}, ${
      tx.json({
        erasure_id: erasure.id,
        bucket: erasure.bucket,
        messages: counts.messages,
        media: counts.media,
        objects_deleted: done.objects_deleted,
        soft_delete_seconds: done.soft_delete_seconds,
        runs: done.runs,
      })
    })`;
  });
}

const erasurePayload = z.object({
  // Absent only from jobs queued before erasures were recorded: they start one.
  erasure_id: z.guid().optional(),
  user_id: z.guid(),
  actor: z.string().nullish(),
});

/** The archive erasure's job kind, for the job registry (_shared/jobs/registry.ts). */
export function erasureJobHandlers(deps: ErasureDeps): JobRegistry {
  return {
    "archive.erase_user": jobKind(erasurePayload, async (job, ctx) => {
      const { payload } = job;
      const erasureId = payload.erasure_id ??
        await startArchiveErasure(deps.sql, payload.user_id, payload.actor ?? "system");
      try {
        const r = await runErasureSlice(deps, erasureId, { ...ctx, jobId: job.id, kind: job.kind });
        ctx.log.info("archive erasure run", { erasure_id: erasureId, user_id: payload.user_id, ...r });
      } catch (err) {
        if (err instanceof Deferred) throw err;
        // GCS not configured yet: the erasure waits for it like every archive job (its attempts kept).
        if (err instanceof ArchiveNotConfigured) throw new Deferred(err.message, unconfiguredWaitMs(job));
        const status = code(err);
        const failure = status === 429 || status === 503
          ? new RetryLater(`GCS answered ${status}: ${describe(err)}`, 2000 + Math.floor(Math.random() * 2000))
          : err;
        // The failure that dead-letters the job marks the erasure failed (a new request resumes it).
        if (failure instanceof PermanentFailure || job.attempts >= job.max_attempts) {
          await deps.sql`update public.archive_erasures set status = 'failed', last_error = ${describe(failure)},
                         updated_at = now() where id = ${erasureId} and status <> 'completed'`.catch(() => {});
        }
        throw failure;
      }
    }),
  };
}

// ── progress, for the CLI and admin-api (under the caller's RLS: platform administrators) ─────────

/** What an erasure shows: where it is and how far, never what was erased. */
export interface ErasureView {
  id: string;
  user_id: string;
  full_name: string | null;
  email: string | null;
  requested_by: string;
  status: string;
  step: string;
  bucket: string | null;
  objects_expected: number;
  objects_found: number;
  objects_deleted: number;
  messages: number | null;
  media: number | null;
  soft_delete_seconds: number | null;
  runs: number;
  last_error: string | null;
  requested_at: Date;
  started_at: Date | null;
  updated_at: Date;
  finished_at: Date | null;
}

const erasureColumns = (tx: TransactionSql) =>
  tx`e.id, e.user_id, p.full_name, p.email, e.requested_by, e.status, e.step, e.bucket, e.objects_expected,
     e.objects_found, e.objects_deleted, e.messages, e.media, e.soft_delete_seconds, e.runs, e.last_error,
     e.requested_at, e.started_at, e.updated_at, e.finished_at`;

/** The most recent erasures first (optionally one user's). */
export async function listErasures(
  tx: TransactionSql,
  opts: { limit: number; userId?: string | null },
): Promise<ErasureView[]> {
  return await tx<ErasureView[]>`
    select ${erasureColumns(tx)}
    from public.archive_erasures e left join public.profiles p on p.user_id = e.user_id
    where (${opts.userId ?? null}::uuid is null or e.user_id = ${opts.userId ?? null}::uuid)
    order by e.requested_at desc, e.id limit ${opts.limit}`;
}

/** One erasure, or null when it does not exist or the caller may not see it. */
export async function getErasure(tx: TransactionSql, id: string): Promise<ErasureView | null> {
  const [row] = await tx<ErasureView[]>`
    select ${erasureColumns(tx)}
    from public.archive_erasures e left join public.profiles p on p.user_id = e.user_id
    where e.id = ${id}`;
  return row ?? null;
}

/** "12,000 of ~20,000 objects" while it runs; the share done when the total is known. */
export function erasureProgress(
  e: Pick<ErasureView, "status" | "objects_deleted" | "objects_found" | "objects_expected">,
) {
  const total = Math.max(e.objects_expected, e.objects_found);
  const percent = e.status === "completed"
    ? 100
    : total > 0
    ? Math.min(99, Math.floor((e.objects_found / total) * 100))
    : 0;
  return { total, percent };
}

// The GCS project's bucket create/delete budget, shared by every worker through Postgres
// (private.claim_bucket_operation): each bucket waits for its own slot, one per interval, and a job
// whose slot is still ahead is deferred — its attempt given back — instead of calling GCS early.

import type { Sql } from "../platform/db.ts";
import type { Fetched, PrivateFunctionRow } from "../platform/rows.ts";
import { Deferred } from "../jobs/queue.ts";

/** GCS: "Maximum bucket creation and deletion rate per project: approximately one request every two
 * seconds" (https://cloud.google.com/storage/quotas#buckets). The default leaves 100 ms for the
 * distance between the slot Postgres hands out and the moment GCS sees the request, so calls made on
 * their slots stay under the line rather than on it. */
export const DEFAULT_BUCKET_OPS_INTERVAL_MS = 2100;

/** A call started longer ago than this belongs to a worker that died: its bucket gets a new slot. */
const STALE_CALL_MS = 60_000;

/** A slot this close is waited for in the job itself rather than on the queue. A deferred job runs
 * again only when a worker next looks (pg_cron starts one every 5 s on hosted; locally the driver
 * ticks every 250 ms): lateness on every slot would stretch every interval by it, and on hosted a
 * slot every 2.1 s would be met once per 5 s. */
const INLINE_WAIT_MS = 5_000;
/** The most one job waits in itself, in all (its handler may run 45 s). */
const INLINE_BUDGET_MS = 12_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface BucketQuota {
  sql: Sql;
  /** The GCS project whose quota this is (buckets are created in it). */
  project: string;
  intervalMs: number;
}

type Claim = Fetched<PrivateFunctionRow<"claim_bucket_operation">, "slot_at">;

/** What `fn` threw when GCS answered 429: the bucket waits for a later slot (deferred, not failed). */
export function isThrottled(err: unknown): boolean {
  return (err as { code?: unknown })?.code === 429;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Runs `fn` (one create or delete of `bucket`) when the project's quota has a slot for it: waiting in
 * place when the slot is a few seconds off, else throwing `Deferred` with the wait — until the
 * bucket's slot, until one interval after the project's last call, or until another worker's call
 * for the same bucket has had its outcome. A 429 from GCS anyway moves the bucket to a later slot and
 * defers too; any other failure frees the bucket for the job's retry. `alreadyDone` is asked before
 * the call and after each wait, so a worker that waited while another finished does nothing.
 */
export async function withBucketSlot<T>(
  quota: BucketQuota,
  bucket: string,
  operation: "create" | "delete",
  fn: () => Promise<T>,
  alreadyDone: () => Promise<T | null> = () => Promise.resolve(null),
): Promise<T> {
  const interval = `${quota.intervalMs} milliseconds`;
  for (let waited = 0;;) {
    const [claim] = await quota.sql<Claim[]>`
      select go, wait_ms, slot_at from private.claim_bucket_operation(
        ${quota.project}, ${bucket}, ${operation}, ${interval}::interval, ${`${STALE_CALL_MS} milliseconds`}::interval)`;
    if (claim.go) break;
    if (claim.wait_ms <= INLINE_WAIT_MS && waited + claim.wait_ms <= INLINE_BUDGET_MS) {
      await sleep(claim.wait_ms + 10);
      waited += claim.wait_ms + 10;
      // Another worker may have finished it meanwhile: then there is nothing to claim a slot for.
      const done = await alreadyDone();
      if (done !== null) {
        await finishBucketOperation(quota.sql, bucket, operation);
        return done;
      }
      continue;
    }
    throw new Deferred(
      `bucket ${bucket}: waiting for its ${operation} slot in project ${quota.project}'s bucket quota ` +
        `(one create or delete per ${quota.intervalMs} ms), due ${claim.slot_at?.toISOString()}`,
      claim.wait_ms + 50,
    );
  }
  const done = await alreadyDone();
  if (done !== null) {
    await finishBucketOperation(quota.sql, bucket, operation);
    return done;
  }
  let result: T;
  try {
    result = await fn();
  } catch (err) {
    const throttled = isThrottled(err);
    const [released] = await quota.sql<{ wait_ms: number }[]>`
      select private.release_bucket_operation(${quota.project}, ${bucket}, ${operation}, ${interval}::interval,
        ${throttled}, ${describe(err)}) as wait_ms`;
    if (throttled) {
      throw new Deferred(
        `bucket ${bucket}: GCS throttled the ${operation} (429: ${describe(err)}); moved to a later slot`,
        released.wait_ms + 50,
      );
    }
    throw err;
  }
  // Done: the slot is spent and nobody waits for it. (Should this worker die right here, the bucket
  // looks like a call in progress for a minute, then gets a new slot: GCS answers 409, it is adopted.)
  await finishBucketOperation(quota.sql, bucket, operation);
  return result;
}

async function finishBucketOperation(sql: Sql, bucket: string, operation: "create" | "delete"): Promise<void> {
  await sql`select private.finish_bucket_operation(${bucket}, ${operation})`;
}

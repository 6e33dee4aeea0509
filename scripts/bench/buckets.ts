// bench:buckets — a burst of 500 new users, each with a first WhatsApp message (so 500 buckets to
// create), archived by 4 workers running the jobs-worker's own loop (drainQueue) and archive
// handlers, through the real @google-cloud/storage SDK, against the GCS emulator holding GCS's
// bucket create/delete rate (one per 2 s per project, the emulator's default). Reports the wall
// time from the burst to the last message archived against the least the quota allows
// (users × GCS's interval) as a ratio, measured in the same run, with dead jobs (must be 0),
// attempts and deferrals per job and the 429s GCS had to answer.
//
// BENCH_USERS (500), BENCH_WORKERS (4), BENCH_GCS_INTERVAL_MS (the emulator's, 2000 as GCS) and
// BENCH_BUCKET_INTERVAL_MS (the product's ARCHIVE_BUCKET_OPS_INTERVAL_MS, 2100) change the run; at
// the real 2 s it takes about 18 minutes.

import { connect } from "../../supabase/functions/_shared/platform/db.ts";
import { drainQueue } from "../../supabase/functions/_shared/jobs/queue.ts";
import { createMemoryLogger } from "../../supabase/functions/_shared/platform/log.ts";
import { archiveJobHandlers } from "../../supabase/functions/_shared/archive/archiver.ts";
import type { BucketPolicy } from "../../supabase/functions/_shared/archive/buckets.ts";
import { createStorage } from "../../supabase/functions/_shared/archive/storage.ts";
import { DEFAULT_BUCKET_OPS_INTERVAL_MS } from "../../supabase/functions/_shared/archive/bucket_quota.ts";
import { parseChatwootEvent } from "../../supabase/functions/_shared/chatwoot/events.ts";
import { normalizeChatwootEvent } from "../../supabase/functions/_shared/chatwoot/normalize.ts";
import { ingestDelivery, mirrorRows } from "../../supabase/functions/_shared/chatwoot/ingest.ts";
import { fixture, insertLinkedAccount } from "../testing/chatwoot.ts";
import { root, startStack } from "../stack/stack.ts";
import { printTable, saveResult } from "./harness.ts";
import { freePort } from "../stack/proc.ts";
import { testBucketPolicy } from "../testing/archive.ts";

const USERS = Number(Deno.env.get("BENCH_USERS") ?? 500);
const WORKERS = Number(Deno.env.get("BENCH_WORKERS") ?? 4);
const GCS_INTERVAL_MS = Number(Deno.env.get("BENCH_GCS_INTERVAL_MS") ?? 2000);
const BUCKET_INTERVAL_MS = Number(Deno.env.get("BENCH_BUCKET_INTERVAL_MS") ?? DEFAULT_BUCKET_OPS_INTERVAL_MS);
// The jobs-worker's defaults (JOBS_BATCH_SIZE, JOBS_VISIBILITY_SECONDS); an idle worker looks again
// every quarter second, as the local job driver's tick does.
const BATCH = 20;
const VISIBILITY_SECONDS = 60;
const IDLE_MS = 250;
const PROJECT = "switchboard-local";

export async function benchBuckets() {
  Deno.env.set("METADATA_SERVER_DETECTION", "none");
  const stateDir = `${root}/.local/bench-buckets-${Date.now()}`;
  const stack = await startStack({
    stateDir,
    dbPort: freePort(),
    apiPort: freePort(),
    seed: false,
    jobDriver: false,
    gcs: { port: freePort() },
  });
  const emulator = stack.gcs!.emulator;
  emulator.bucketOps.configure({ interval_ms: GCS_INTERVAL_MS });
  const sql = connect(stack.dbUrl, { max: 4 + WORKERS * 3 });
  const policy: BucketPolicy = testBucketPolicy("sbbench");
  try {
    const registry = archiveJobHandlers({
      sql,
      storage: createStorage({ apiEndpoint: stack.gcsUrl!, projectId: PROJECT }),
      bucketStorage: createStorage({ apiEndpoint: stack.gcsUrl!, projectId: PROJECT, retries: false }),
      bucketQuota: { project: PROJECT, intervalMs: BUCKET_INTERVAL_MS },
      policy,
      mediaMaxBytes: 1024 * 1024,
      mediaTimeoutMs: 10_000,
    });
    const account = await insertLinkedAccount(sql);
    const base = fixture("whatsapp-text.message_created.json") as Record<string, unknown> & {
      conversation: Record<string, unknown> & { meta: Record<string, unknown> };
      sender: Record<string, unknown>;
    };
    const phone = (u: number) => `+5511987${String(u).padStart(6, "0")}`;
    await sql`insert into auth.users (id, email, raw_user_meta_data)
              select gen_random_uuid(), 'burst' || u || '@bench.test',
                     jsonb_build_object('phone_e164', '+5511987' || lpad(u::text, 6, '0'))
              from generate_series(0, ${USERS - 1}) as u`;

    // The burst: each new user's first message mirrored, its archive job queued by the trigger.
    for (let u = 0; u < USERS; u++) {
      const sender = { ...base.sender, id: 10_000 + u, phone_number: phone(u) };
      const parsed = parseChatwootEvent({
        ...base,
        id: 700_000 + u,
        sender,
        conversation: { ...base.conversation, id: 10_000 + u, meta: { ...base.conversation.meta, sender } },
      });
      if (!parsed.ok) throw new Error("bench payload does not parse");
      await ingestDelivery(sql, {
        accountRef: account.accountRef,
        deliveryId: crypto.randomUUID(),
        event: "message_created",
        rows: mirrorRows(normalizeChatwootEvent(parsed.event, account.accountId)),
      });
    }
    const [{ queued }] = await sql`select count(*)::int as queued from private.jobs where kind = 'archive.message'`;
    console.log(`${USERS} new users, ${queued} archive jobs queued; ${WORKERS} workers start`);

    const archived = async () =>
      (await sql`select count(*)::int as n from public.archived_messages where account_ref = ${account.accountRef}`)[0]
        .n as number;
    let done = 0;
    const t0 = performance.now();
    const poll = setInterval(async () => done = await archived(), 500);
    const progress = setInterval(() => {
      const s = (performance.now() - t0) / 1000;
      console.log(
        `  ${s.toFixed(0)} s: ${done}/${USERS} archived (${(done * GCS_INTERVAL_MS / 1000).toFixed(0)} s of quota)`,
      );
    }, 60_000);
    let summaries;
    try {
      summaries = await Promise.all(Array.from({ length: WORKERS }, (_, w) =>
        drainQueue({
          sql,
          registry,
          log: createMemoryLogger(),
          worker: `bench-${w}`,
          limit: BATCH,
          visibilitySeconds: VISIBILITY_SECONDS,
          timeBudgetMs: 2 * 3600_000,
          lingerMs: IDLE_MS,
          exitWhenIdle: false,
          shouldStop: () => done >= USERS,
        })));
    } finally {
      clearInterval(poll);
      clearInterval(progress);
    }
    const wallS = (performance.now() - t0) / 1000;
    const minimumS = (USERS * GCS_INTERVAL_MS) / 1000;

    const [jobs] = await sql`select count(*)::int as jobs,
        count(*) filter (where status = 'completed')::int as completed,
        count(*) filter (where status = 'dead')::int as dead,
        coalesce(sum(attempts), 0)::int as attempts, coalesce(max(attempts), 0)::int as max_attempts,
        coalesce(sum(deferrals), 0)::int as deferrals, coalesce(max(deferrals), 0)::int as max_deferrals
      from private.jobs where kind = 'archive.message'`;
    const [rows] = await sql`select
        (select count(*) from public.archived_messages where account_ref = ${account.accountRef})::int as archived,
        (select count(*) from public.archive_buckets)::int as buckets`;
    const gcs = emulator.state().bucketOps;
    const runs = summaries.reduce((n, s) => n + s.claimed, 0);
    const result = {
      users: USERS,
      workers: WORKERS,
      "GCS interval ms": GCS_INTERVAL_MS,
      "product interval ms": BUCKET_INTERVAL_MS,
      archived: rows.archived,
      buckets: rows.buckets,
      "wall s": Math.round(wallS * 10) / 10,
      "quota minimum s": minimumS,
      "wall / minimum": Math.round((wallS / minimumS) * 1000) / 1000,
      dead: jobs.dead,
      "attempts/job": Math.round((jobs.attempts / jobs.jobs) * 100) / 100,
      "deferrals/job": Math.round((jobs.deferrals / jobs.jobs) * 100) / 100,
      "job runs": runs,
      "GCS 429s": gcs.refused[PROJECT] ?? 0,
      "GCS creates": gcs.granted[PROJECT] ?? 0,
    };
    printTable([result]);
    console.log(
      `\n${USERS} buckets at one per ${GCS_INTERVAL_MS} ms cannot take less than ${minimumS} s; the product spaces its ` +
        `creates ${BUCKET_INTERVAL_MS} ms apart (ARCHIVE_BUCKET_OPS_INTERVAL_MS). Most attempts per job: ` +
        `${jobs.max_attempts}; most deferrals: ${jobs.max_deferrals}.`,
    );
    console.log(`saved ${await saveResult("buckets", { at: new Date().toISOString(), ...result })}`);
  } finally {
    await sql.end();
    await stack.close();
    await Deno.remove(stateDir, { recursive: true }).catch(() => {});
  }
}

// bench:erase — erasing a user with 20,000 archived objects (60% message documents, 30% media, 10%
// objects no record names) through the real path: request → archive.erase_user jobs → the jobs-worker
// function (edge runtime Deno, its time and CPU budgets) woken by the local job driver → the SDK → the
// GCS emulator. Reports wall time, objects/s, job runs, the worker process's CPU per run (hosted ends a
// request at 2 s), and the ratio against raw SDK deletes of as many objects at the same concurrency,
// measured in the same run against the same emulator, in a process of their own on the same Deno as the
// worker, with the client the worker has (the stack's service account: the SDK signs a JWT for each
// object URL it calls) and, for context, without one.

import { Buffer } from "node:buffer";
import { connect } from "../../supabase/functions/_shared/platform/db.ts";
import type { BucketPolicy } from "../../supabase/functions/_shared/archive/buckets.ts";
import { createStorage } from "../../supabase/functions/_shared/archive/storage.ts";
import { seedUserArchive, testBucketPolicy } from "../testing/archive.ts";
import { root, startStack } from "../stack/stack.ts";
import { printTable, saveResult } from "./harness.ts";
import { freePort } from "../stack/proc.ts";
import { edgeDenoBin } from "../local/supabase/edge_runtime.ts";

const OBJECTS = Number(Deno.env.get("BENCH_ERASE_OBJECTS") ?? 20_000);
const CONCURRENCY = Number(Deno.env.get("BENCH_ERASE_CONCURRENCY") ?? 16);
const BATCH = Number(Deno.env.get("BENCH_ERASE_BATCH") ?? 1000);

/** CPU time of a process and all its threads so far, in ms (schedstat: ns on CPU). */
async function processCpuMs(pid: number): Promise<number> {
  let ns = 0;
  for await (const t of Deno.readDir(`/proc/${pid}/task`)) {
    const stat = await Deno.readTextFile(`/proc/${pid}/task/${t.name}/schedstat`).catch(() => "0");
    ns += Number(stat.split(" ")[0]);
  }
  return ns / 1e6;
}

async function inParallel<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

export async function benchErase() {
  Deno.env.set("METADATA_SERVER_DETECTION", "none");
  const stateDir = `${root}/.local/bench-erase-${Date.now()}`;
  const stack = await startStack({
    stateDir,
    dbPort: freePort(),
    apiPort: freePort(),
    seed: false,
    // The emulator's own durability is not what is measured (both runs share it): no fsync per object.
    gcs: { port: freePort(), noSync: true },
    functionEnv: {
      ARCHIVE_ERASE_CONCURRENCY: String(CONCURRENCY),
      ARCHIVE_ERASE_BATCH: String(BATCH),
    },
  });
  const sql = connect(stack.dbUrl, { max: 4 });
  const storage = createStorage({ apiEndpoint: stack.gcsUrl! });
  // The client the jobs-worker has: the stack gives functions its local service account (GCS_CREDENTIALS_JSON).
  const secrets = JSON.parse(await Deno.readTextFile(`${stateDir}/secrets.json`));
  const policy: BucketPolicy = testBucketPolicy("sbbench");
  try {
    // Everything is uploaded first, so the three measurements run back to back (this machine is shared).
    const body = Buffer.from(JSON.stringify({ schema: "switchboard.whatsapp-message/1", note: "seeded" }));
    const names = Array.from({ length: OBJECTS }, (_, i) => `raw/${String(i).padStart(6, "0")}.json`);
    const rawBucket = async (label: string) => {
      const bucket = `${policy.prefix}-raw-${crypto.randomUUID().slice(0, 8)}`;
      await storage.createBucket(bucket, { softDeletePolicy: { retentionDurationSeconds: 0 } } as never);
      console.log(`uploading ${OBJECTS} objects for the baseline ${label}…`);
      await inParallel(names, 32, async (n) => {
        await storage.bucket(bucket).file(n).save(body, { resumable: false, validation: false });
      });
      return bucket;
    };
    const withWorkersClient = await rawBucket("(the worker's client)");
    const withoutServiceAccount = await rawBucket("(no service account)");
    const messages = Math.round(OBJECTS * 0.6);
    const media = Math.round(OBJECTS * 0.3);
    const leftovers = OBJECTS - messages - media;
    console.log(`archiving ${messages} messages, ${media} media and ${leftovers} unrecorded objects for one user…`);
    const seeded = await seedUserArchive(sql, storage, policy, { messages, media, leftovers, concurrency: 32 });

    // ── baselines: raw SDK deletes of as many objects, same concurrency, same emulator ─────────
    // In a child process on the edge runtime's Deno, as the worker: the emulator runs in this process,
    // and deletes sent from here would share its event loop.
    const rawDeletes = async (bucket: string, credentialsJson?: string) => {
      const out = await new Deno.Command(edgeDenoBin(), {
        args: [
          "run",
          "-A",
          `--config=${root}/deno.json`,
          `${root}/scripts/bench/erase_baseline.ts`,
          JSON.stringify({ endpoint: stack.gcsUrl, bucket, count: OBJECTS, concurrency: CONCURRENCY, credentialsJson }),
        ],
        env: { METADATA_SERVER_DETECTION: "none" },
        stderr: "inherit",
      }).output();
      if (!out.success) throw new Error(`the baseline's process failed (${out.code})`);
      const { seconds } = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
      const [left] = await storage.bucket(bucket).getFiles({ maxResults: 1 });
      if (left.length) throw new Error(`the baseline left objects in ${bucket}`);
      await storage.bucket(bucket).delete();
      return seconds as number;
    };
    const rawSeconds = await rawDeletes(withWorkersClient, JSON.stringify(secrets.gcsServiceAccount));
    const plainSeconds = await rawDeletes(withoutServiceAccount);

    // ── the erasure, through the jobs-worker function ──────────────────────────────────────────
    const pid = stack.gateway.functionPid("jobs-worker");
    if (!pid) throw new Error("the jobs-worker function has no process");
    const cpu0 = await processCpuMs(pid);
    const t0 = performance.now();
    const [{ id }] = await sql`select private.start_archive_erasure(${seeded.userId}, 'bench')::text as id`;
    let row: Record<string, unknown> = {};
    for (;;) {
      [row] = await sql`select status, step, objects_deleted, runs, last_error from public.archive_erasures
                        where id = ${id}`;
      if (row.status === "completed" || row.status === "failed") break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpuMs = (await processCpuMs(pid)) - cpu0;
    if (row.status !== "completed") throw new Error(`the erasure failed: ${row.last_error}`);

    const [left] = await sql`select
      (select count(*) from public.archived_messages where user_id = ${seeded.userId})::int as messages,
      (select count(*) from public.archived_media where user_id = ${seeded.userId})::int as media,
      (select count(*) from public.archive_buckets where owner_user_id = ${seeded.userId})::int as buckets,
      (select count(*) from private.audit_log where action = 'archive.erase_user'
         and target = ${`user:${seeded.userId}`})::int as audits,
      (select count(*) from private.jobs where kind = 'archive.erase_user' and status = 'dead')::int as dead,
      (select max(attempts) from private.jobs where kind = 'archive.erase_user')::int as max_attempts,
      (select coalesce(sum(deferrals), 0) from private.jobs where kind = 'archive.erase_user')::int as deferrals`;
    const [bucketExists] = await storage.bucket(seeded.bucket).exists();
    const runs = Number(row.runs);
    const rawRate = OBJECTS / rawSeconds;
    const rate = Number(row.objects_deleted) / seconds;
    const rows = [
      {
        path: `baseline: raw SDK deletes, ${CONCURRENCY} in flight, the worker's client`,
        objects: OBJECTS,
        "wall s": Math.round(rawSeconds * 10) / 10,
        "objects/s": Math.round(rawRate),
        "job runs": "—",
        "worker CPU ms/run": "—",
        ratio: "1",
      },
      {
        path: `(context) raw SDK deletes, no service account`,
        objects: OBJECTS,
        "wall s": Math.round(plainSeconds * 10) / 10,
        "objects/s": Math.round(OBJECTS / plainSeconds),
        "job runs": "—",
        "worker CPU ms/run": "—",
        ratio: (OBJECTS / plainSeconds / rawRate).toFixed(2),
      },
      {
        path: `erasure: jobs-worker, batch ${BATCH}, ${CONCURRENCY} in flight`,
        objects: Number(row.objects_deleted),
        "wall s": Math.round(seconds * 10) / 10,
        "objects/s": Math.round(rate),
        "job runs": String(runs),
        "worker CPU ms/run": String(Math.round(cpuMs / runs)),
        ratio: (rate / rawRate).toFixed(2),
      },
    ];
    printTable(rows);
    console.log(
      `\nafter the erasure: bucket ${bucketExists ? "STILL THERE" : "gone"}, records left ${
        left.messages + left.media + left.buckets
      }, audit entries ${left.audits}, dead jobs ${left.dead}, most attempts of a job ${left.max_attempts}, ` +
        `deferrals ${left.deferrals}; worker CPU ${Math.round(cpuMs)} ms in all, ` +
        `${(cpuMs / Number(row.objects_deleted)).toFixed(2)} ms per object (the meter charges 0.6).`,
    );
    console.log(
      `saved ${await saveResult("erase", {
        at: new Date().toISOString(),
        objects: OBJECTS,
        batch: BATCH,
        concurrency: CONCURRENCY,
        raw_seconds: rawSeconds,
        raw_seconds_without_service_account: plainSeconds,
        erase_seconds: seconds,
        runs,
        worker_cpu_ms: cpuMs,
        ratio: rate / rawRate,
        left,
      })}`,
    );
  } finally {
    await sql.end();
    await stack.close();
    await Deno.remove(stateDir, { recursive: true }).catch(() => {});
  }
}

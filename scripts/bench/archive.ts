// bench:archive — 2,000 WhatsApp messages (30% with a 200 KB medium) ingested at a steady rate
// and archived by 4 workers through the real @google-cloud/storage SDK into the GCS emulator.
// Reports messages/s archived, ingest-to-archived latency p50/p95, and the ratio against raw
// uploads of the same bytes with the same SDK to the same emulator, measured in the same run.

import { connect } from "../../supabase/functions/_shared/platform/db.ts";
import { drainQueue } from "../../supabase/functions/_shared/jobs/queue.ts";
import { createMemoryLogger } from "../../supabase/functions/_shared/platform/log.ts";
import { archiveJobHandlers } from "../../supabase/functions/_shared/archive/archiver.ts";
import type { BucketPolicy } from "../../supabase/functions/_shared/archive/buckets.ts";
import { createStorage } from "../../supabase/functions/_shared/archive/storage.ts";
import { parseChatwootEvent } from "../../supabase/functions/_shared/chatwoot/events.ts";
import { normalizeChatwootEvent } from "../../supabase/functions/_shared/chatwoot/normalize.ts";
import { ingestDelivery, mirrorRows } from "../../supabase/functions/_shared/chatwoot/ingest.ts";
import { fixture, insertLinkedAccount } from "../testing/chatwoot.ts";
import { root, startStack } from "../stack/stack.ts";
import { percentile, printTable, saveResult } from "./harness.ts";
import { freePort } from "../stack/proc.ts";
import { testBucketPolicy } from "../testing/archive.ts";

const MESSAGES = Number(Deno.env.get("BENCH_MESSAGES") ?? 2000);
const MEDIA_SHARE = 0.3;
const MEDIA_BYTES = 200 * 1024;
const WORKERS = Number(Deno.env.get("BENCH_WORKERS") ?? 4);
const INGEST_PER_SECOND = Number(Deno.env.get("BENCH_INGEST_RATE") ?? 20);
const LATENCY_MESSAGES = Number(Deno.env.get("BENCH_LATENCY_MESSAGES") ?? 300);
const USERS = 40;

export async function benchArchive() {
  Deno.env.set("METADATA_SERVER_DETECTION", "none");
  const stateDir = `${root}/.local/bench-archive-${Date.now()}`;
  const stack = await startStack({
    stateDir,
    dbPort: freePort(),
    apiPort: freePort(),
    seed: false,
    jobDriver: false,
    gcs: { port: freePort() },
  });
  const sql = connect(stack.dbUrl, { max: 4 + WORKERS * 3 });
  const mediaBody = new Uint8Array(MEDIA_BYTES);
  for (let i = 0; i < MEDIA_BYTES; i += 65536) crypto.getRandomValues(mediaBody.subarray(i, i + 65536));
  const media = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    () => new Response(mediaBody, { headers: { "content-type": "image/jpeg" } }),
  );
  const mediaUrl = `http://127.0.0.1:${media.addr.port}/blob`;
  const storage = createStorage({ apiEndpoint: stack.gcsUrl! });
  const policy: BucketPolicy = testBucketPolicy("sbbench");
  try {
    // ── baseline: raw uploads of the same bytes, same SDK, same emulator, same concurrency ─────
    const rawBucket = `${policy.prefix}-raw-${crypto.randomUUID().slice(0, 8)}`;
    await storage.createBucket(rawBucket);
    const doc = new TextEncoder().encode(
      JSON.stringify({ ...fixture("whatsapp-text.message_created.json"), pad: "x".repeat(800) }),
    );
    let next = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: WORKERS * 5 }, async () => {
      while (next < MESSAGES) {
        const i = next++;
        await storage.bucket(rawBucket).file(`raw/${i}.json`).save(Buffer.from(doc), { resumable: false });
        if (i % 10 < MEDIA_SHARE * 10) {
          await storage.bucket(rawBucket).file(`raw/${i}.jpg`).save(Buffer.from(mediaBody), { resumable: false });
        }
      }
    }));
    const rawRate = MESSAGES / ((performance.now() - t0) / 1000);

    // ── the archive: steady ingestion, 4 workers draining archive.message jobs ──────────────────
    const account = await insertLinkedAccount(sql);
    for (let u = 0; u < USERS; u++) {
      await sql`insert into auth.users (id, email, raw_user_meta_data) values (${crypto.randomUUID()}, ${`bench${u}@a.test`},
                ${sql.json({ phone_e164: `+5511987${String(u).padStart(6, "0")}` })})`;
    }
    const base = fixture("whatsapp-voice-note.message_created.json") as Record<string, unknown> & {
      conversation: Record<string, unknown> & { meta: Record<string, unknown> };
      sender: Record<string, unknown>;
      attachments: Record<string, unknown>[];
    };
    // This bench measures archiving throughput, not GCS's bucket quota (bench:buckets does): its 41
    // buckets are created without the quota's pacing, on an emulator whose bucket rate is off.
    stack.gcs!.emulator.bucketOps.configure({ interval_ms: 0 });
    const registry = archiveJobHandlers({
      sql,
      storage,
      bucketQuota: { project: "switchboard-local", intervalMs: 0 },
      policy,
      mediaMaxBytes: 1024 * 1024,
      mediaTimeoutMs: 10_000,
    });
    const log = createMemoryLogger();
    const message = (i: number) => {
      const u = i % (USERS + 5); // a few numbers match no user: the holding bucket
      const phone = `+5511987${String(u).padStart(6, "0")}`;
      const sender = { ...base.sender, id: 1000 + u, phone_number: phone };
      const body = {
        ...base,
        id: 900_000 + i,
        sender,
        conversation: {
          ...base.conversation,
          id: 100 + u,
          meta: { ...base.conversation.meta, sender: { ...sender, type: "contact" } },
        },
        attachments: i % 10 < MEDIA_SHARE * 10
          ? base.attachments.map((a) => ({ ...a, id: 5_000_000 + i, message_id: 900_000 + i, data_url: mediaUrl }))
          : [],
      };
      const parsed = parseChatwootEvent(body);
      if (!parsed.ok) throw new Error("bench payload does not parse");
      return ingestDelivery(sql, {
        accountRef: account.accountRef,
        deliveryId: crypto.randomUUID(),
        event: "message_created",
        rows: mirrorRows(normalizeChatwootEvent(parsed.event, account.accountId)),
      });
    };
    const archivedCount = async () =>
      (await sql`select count(*)::int as n from public.archived_messages where account_ref = ${account.accountRef}`)[0]
        .n;
    const runWorkers = (target: number) => {
      let archived = 0;
      const poll = setInterval(async () => archived = await archivedCount(), 50);
      return Promise.all(Array.from({ length: WORKERS }, (_, w) =>
        drainQueue({
          sql,
          registry,
          log,
          worker: `bench-${w}`,
          limit: 10,
          timeBudgetMs: 600_000,
          exitWhenIdle: false,
          shouldStop: () => archived >= target,
        }))).finally(() => clearInterval(poll));
    };

    // Phase 1, throughput: the backlog of MESSAGES is ingested first, then the workers drain it.
    for (let i = 0; i < MESSAGES; i++) await message(i);
    const a0 = performance.now();
    await runWorkers(MESSAGES);
    const archiveRate = MESSAGES / ((performance.now() - a0) / 1000);

    // Phase 2, latency at steady state: LATENCY_MESSAGES more, ingested at INGEST_PER_SECOND while
    // the workers run; ingest-to-archived is the archive row's time minus the mirror row's.
    const workers = runWorkers(MESSAGES + LATENCY_MESSAGES);
    const b0 = performance.now();
    for (let i = 0; i < LATENCY_MESSAGES; i++) {
      await message(MESSAGES + i);
      const wait = b0 + ((i + 1) * 1000) / INGEST_PER_SECOND - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    await workers;
    const latencies = (await sql`
      select extract(epoch from (a.archived_at - m.mirrored_at)) * 1000 as ms
      from public.archived_messages a join public.chatwoot_messages m using (account_ref, message_id)
      where a.account_ref = ${account.accountRef} and a.message_id >= ${900_000 + MESSAGES}`).map((r) => Number(r.ms));
    const steady = latencies.sort((a, b) => a - b);
    const [counts] = await sql`select
      (select count(*) from public.archived_messages where account_ref = ${account.accountRef})::int as messages,
      (select count(*) from public.archived_media where account_ref = ${account.accountRef})::int as media,
      (select count(*) from public.archive_buckets)::int as buckets,
      (select count(*) from private.jobs where kind = 'archive.message' and status = 'dead')::int as dead`;
    const result = {
      messages: counts.messages,
      media: counts.media,
      buckets: counts.buckets,
      "archived msg/s": Math.round(archiveRate * 10) / 10,
      "raw upload msg/s": Math.round(rawRate * 10) / 10,
      ratio: Math.round((archiveRate / rawRate) * 100) / 100,
      "steady ingest msg/s": INGEST_PER_SECOND,
      "latency p50 ms": Math.round(percentile(steady, 50)),
      "latency p95 ms": Math.round(percentile(steady, 95)),
      dead: counts.dead,
    };
    printTable([result]);
    console.log(
      `\nphase 1: ${MESSAGES} queued messages drained by ${WORKERS} workers (throughput, ratio vs raw uploads);`,
    );
    console.log(
      `phase 2: ${LATENCY_MESSAGES} more at ${INGEST_PER_SECOND}/s while the workers run (ingest-to-archived latency).`,
    );
    console.log(`saved ${await saveResult("archive", { at: new Date().toISOString(), workers: WORKERS, ...result })}`);
  } finally {
    await media.shutdown();
    await sql.end();
    await stack.close();
    await Deno.remove(stateDir, { recursive: true }).catch(() => {});
  }
}

// The cost of measuring webhook deliveries (item 1 of the operations issue): the receiver's own
// handler, in process, with its metrics recorder and without, in the same run on the same database.
// Deliveries alternate between the two one by one on every connection, so the machine's drift and
// noise (2 shared cores) fall on both alike; at a fixed concurrency a side's ingest rate is the
// concurrency over its mean time per delivery (Little's law), so the rate ratio is the inverse
// ratio of the mean times. In process (no HTTP, no gateway) the measurement is the largest share of
// a delivery it can be. The recorder alone is also timed without the database, a noise-free bound.
// Run by `npm run bench:webhooks -- --metrics`.

import { connect, type Sql } from "../../supabase/functions/_shared/platform/db.ts";
import { signChatwootPayload } from "../../supabase/functions/_shared/chatwoot/signature.ts";
import { cachedRouteResolver } from "../../supabase/functions/_shared/chatwoot/webhook_receiver.ts";
import { createMemoryLogger } from "../../supabase/functions/_shared/platform/log.ts";
import { minuteRecorder } from "../../supabase/functions/_shared/metrics/recorder.ts";
import { handler } from "../../supabase/functions/chatwoot-webhook/handler.ts";
import { fixture, insertLinkedAccount, type TestAccount } from "../testing/chatwoot.ts";
import { percentile } from "./harness.ts";

const TOTAL = Number(Deno.env.get("BENCH_METRICS_DELIVERIES") ?? 20_000);
const CONCURRENCY = Number(Deno.env.get("BENCH_CONCURRENCY") ?? 32);

export interface OverheadResult {
  deliveries: number;
  "deliveries/s (both)": number;
  "deliveries/s measured": number;
  "deliveries/s unmeasured": number;
  ratio: number;
  "p50 ms measured": number;
  "p50 ms unmeasured": number;
  "p99 ms measured": number;
  "p99 ms unmeasured": number;
  "rollup rows written": number;
  /** The recorder's own cost per delivery (observe, a million times, no database): noise-free. */
  "recorder µs/delivery": number;
  /** That cost against the process's time per delivery (1 / throughput), in percent. */
  "recorder share %": number;
}

function deliveries(accounts: TestAccount[]) {
  const template = fixture("whatsapp-text.message_created.json") as Record<string, unknown> & {
    conversation: Record<string, unknown>;
  };
  return Array.from({ length: TOTAL }, (_, i) => {
    const id = 9_000_000 + i;
    const account = accounts[i % accounts.length];
    return {
      account,
      deliveryId: crypto.randomUUID(),
      body: JSON.stringify({
        ...template,
        id,
        content: `Mensaje ${id}`,
        source_id: `wamid.overhead${id}`,
        created_at: new Date().toISOString(),
        conversation: {
          ...template.conversation,
          id: 2000 + (i % 50),
          updated_at: Date.now() / 1000 + i / 1000,
          last_activity_at: Math.floor(Date.now() / 1000),
          messages: [],
        },
      }),
    };
  });
}

function request(d: ReturnType<typeof deliveries>[number]): Request {
  const ts = Math.floor(Date.now() / 1000);
  return new Request(`http://local/chatwoot-webhook/${d.account.routeToken}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-chatwoot-delivery": d.deliveryId,
      "x-chatwoot-timestamp": String(ts),
      "x-chatwoot-signature": signChatwootPayload(d.account.secret, ts, d.body),
    },
    body: d.body,
  });
}

/** Measured against unmeasured ingestion on `target` (the functions' own connection: pooler or direct). */
export async function measureMetricsOverhead(
  target: { url: string; pooled: boolean },
  setupSql: Sql,
): Promise<OverheadResult> {
  const sql = connect(target, { max: 10, applicationName: "bench-metrics" });
  const resolveRoute = cachedRouteResolver(sql);
  const recorder = minuteRecorder({ sql, flushEveryMs: 5000 });
  const [before] = await setupSql`select count(*)::int as n from private.metric_minutes`;
  const base = { sql, resolveRoute, maxBodyBytes: 16 * 1024 * 1024, toleranceSeconds: 300, log: createMemoryLogger() };
  const sides = [
    { name: "unmeasured", handle: (req: Request) => handler(req, base), latencies: [] as number[] },
    {
      name: "measured",
      handle: (req: Request) => handler(req, { ...base, metrics: recorder }),
      latencies: [] as number[],
    },
  ];
  let seconds = 0;
  try {
    const accounts: TestAccount[] = [];
    for (let i = 0; i < 16; i++) accounts.push(await insertLinkedAccount(setupSql));
    const all = deliveries(accounts);
    // Warm-up (not counted): pools, route cache, JIT.
    for (const d of all.splice(0, 500)) await (await sides[0].handle(request(d))).body?.cancel();
    let next = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, async (_, worker) => {
      let turn = worker % 2;
      while (next < all.length) {
        const d = all[next++];
        const side = sides[turn];
        turn ^= 1;
        const started = performance.now();
        const res = await side.handle(request(d));
        if (res.status !== 200) throw new Error(`delivery answered ${res.status}: ${await res.text()}`);
        await res.body?.cancel();
        side.latencies.push(performance.now() - started);
      }
    }));
    seconds = (performance.now() - t0) / 1000;
    await recorder.flush();
  } finally {
    await sql.end();
  }
  const [after] = await setupSql`select count(*)::int as n from private.metric_minutes`;

  // The recorder alone: what observe() costs per delivery, with flushing out of the way.
  const alone = minuteRecorder({ sql: setupSql, flushEveryMs: 3_600_000 });
  const outcomes = ["applied", "duplicate", "stale", "noise"];
  const n = 1_000_000;
  const t1 = performance.now();
  for (let i = 0; i < n; i++) {
    alone.observe(
      "webhook_processing_seconds",
      { receiver: "chatwoot-webhook", outcome: outcomes[i & 3] },
      i % 100 / 1e3,
    );
  }
  const recorderUs = (performance.now() - t1) * 1000 / n;

  const [off, on] = sides.map((s) => {
    s.latencies.sort((a, b) => a - b);
    const mean = s.latencies.reduce((a, b) => a + b, 0) / s.latencies.length;
    return { mean, rate: CONCURRENCY / (mean / 1000), latencies: s.latencies };
  });
  const round1 = (v: number) => Math.round(v * 10) / 10;
  return {
    deliveries: off.latencies.length + on.latencies.length,
    "deliveries/s (both)": Math.round((off.latencies.length + on.latencies.length) / seconds),
    "deliveries/s measured": Math.round(on.rate),
    "deliveries/s unmeasured": Math.round(off.rate),
    ratio: Math.round((off.mean / on.mean) * 1000) / 1000,
    "p50 ms measured": round1(percentile(on.latencies, 50)),
    "p50 ms unmeasured": round1(percentile(off.latencies, 50)),
    "p99 ms measured": round1(percentile(on.latencies, 99)),
    "p99 ms unmeasured": round1(percentile(off.latencies, 99)),
    "rollup rows written": after.n - before.n,
    "recorder µs/delivery": Math.round(recorderUs * 100) / 100,
    // Against the process's time per delivery (1 / its throughput): the CPU a delivery can cost at most.
    "recorder share %": Math.round(recorderUs * 1e-6 * ((off.latencies.length + on.latencies.length) / seconds) * 1e5) /
      1e3,
  };
}

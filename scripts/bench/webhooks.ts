// bench:webhooks — signed, realistic Chatwoot deliveries at concurrency 32 through the gateway
// into the chatwoot-webhook function and the database, 10% duplicates (half re-sent with the
// same X-Chatwoot-Delivery, half Chatwoot-style with a new one). Reports deliveries/s, ack
// latency percentiles, rows, losses and duplicates, and the ratio against plain single-row
// insert transactions at the same concurrency on the same database, measured in the same run.
// The functions connect through pgbouncer in transaction mode, as a hosted deploy should through
// Supavisor (BENCH_POOLER=0: directly), and the peak of server connections is reported.
// `-- --metrics` runs instead the measurement overhead: the receiver with its metrics recorder
// against without, in the same run (metrics_overhead.ts).

import { connect } from "../../supabase/functions/_shared/platform/db.ts";
import { signChatwootPayload } from "../../supabase/functions/_shared/chatwoot/signature.ts";
import { fixture, insertLinkedAccount, type TestAccount } from "../testing/chatwoot.ts";
import { root, startStack } from "../stack/stack.ts";
import { percentile, printTable, saveResult, withPeakConnections } from "./harness.ts";
import { freePort } from "../stack/proc.ts";
import { measureMetricsOverhead } from "./metrics_overhead.ts";

const TOTAL = Number(Deno.env.get("BENCH_DELIVERIES") ?? 10_000);
const CONCURRENCY = Number(Deno.env.get("BENCH_CONCURRENCY") ?? 32);
const DUPLICATE_SHARE = 0.1;
const ACCOUNTS = 8;
const CONVERSATIONS_PER_ACCOUNT = 50;

interface Delivery {
  account: TestAccount;
  body: string;
  deliveryId: string;
  messageKey: string;
}

/** Realistic traffic: WhatsApp and widget message_created payloads from the fixtures, spread
 * over accounts and conversations, each with a unique message id. */
function buildDeliveries(accounts: TestAccount[]): { deliveries: Delivery[]; unique: Set<string> } {
  const templates = [
    fixture("whatsapp-text.message_created.json"),
    fixture("webwidget-identified.message_created.json"),
  ];
  const originals: Delivery[] = [];
  const uniqueCount = Math.round(TOTAL * (1 - DUPLICATE_SHARE));
  for (let i = 0; i < uniqueCount; i++) {
    const account = accounts[i % accounts.length];
    const t = templates[i % templates.length] as Record<string, unknown> & { conversation: Record<string, unknown> };
    const conversationId = 1000 + (i % CONVERSATIONS_PER_ACCOUNT);
    const messageId = 5_000_000 + i;
    const body = JSON.stringify({
      ...t,
      id: messageId,
      content: `Mensaje ${i}: ¿tienen disponibilidad esta semana?`,
      source_id: `wamid.bench${i}`,
      created_at: new Date().toISOString(),
      conversation: {
        ...t.conversation,
        id: conversationId,
        updated_at: Date.now() / 1000 + i / 1000,
        last_activity_at: Math.floor(Date.now() / 1000),
        messages: [],
      },
    });
    originals.push({
      account,
      body,
      deliveryId: crypto.randomUUID(),
      messageKey: `${account.accountRef}:${messageId}`,
    });
  }
  const deliveries = [...originals];
  for (let i = 0; deliveries.length < TOTAL; i++) {
    const o = originals[Math.floor(Math.random() * originals.length)];
    deliveries.push(i % 2 === 0 ? { ...o } : { ...o, deliveryId: crypto.randomUUID() });
  }
  // Shuffle so duplicates interleave with originals (Chatwoot's bursts).
  for (let i = deliveries.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [deliveries[i], deliveries[j]] = [deliveries[j], deliveries[i]];
  }
  return { deliveries, unique: new Set(originals.map((d) => d.messageKey)) };
}

interface RunResult {
  rate: number;
  latencies: number[];
  statuses: Map<string, number>;
}

/** Sends every delivery at CONCURRENCY to `base` + route token and times each acknowledgement. */
async function run(base: string, deliveries: Delivery[]): Promise<RunResult> {
  const latencies: number[] = [];
  const statuses = new Map<string, number>();
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < deliveries.length) {
      const d = deliveries[next++];
      const ts = Math.floor(Date.now() / 1000);
      const started = performance.now();
      const res = await fetch(`${base}/${d.account.routeToken}`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-chatwoot-delivery": d.deliveryId,
          "x-chatwoot-timestamp": String(ts),
          "x-chatwoot-signature": signChatwootPayload(d.account.secret, ts, d.body),
        },
        body: d.body,
      });
      const body = await res.json().catch(() => ({}));
      latencies.push(performance.now() - started);
      const key = res.status === 200 ? String(body.status) : `HTTP ${res.status}`;
      statuses.set(key, (statuses.get(key) ?? 0) + 1);
    }
  }));
  latencies.sort((a, b) => a - b);
  return { rate: deliveries.length / ((performance.now() - t0) / 1000), latencies, statuses };
}

async function baselineInserts(dbUrl: string): Promise<number> {
  const sql = connect(dbUrl, { max: CONCURRENCY });
  await sql`create table if not exists public.bench_plain (id bigserial primary key, payload jsonb not null)`;
  let next = 0;
  const n = Math.min(TOTAL, 10_000);
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < n) {
      const i = next++;
      await sql`insert into public.bench_plain (payload) values (${sql.json({ i })})`;
    }
  }));
  const rate = n / ((performance.now() - t0) / 1000);
  await sql`drop table public.bench_plain`;
  await sql.end();
  return rate;
}

export async function benchWebhooks() {
  const stateDir = `${root}/.local/bench-webhooks-${Date.now()}`;
  const stack = await startStack({
    stateDir,
    dbPort: freePort(),
    apiPort: freePort(),
    seed: false,
    // The overhead mode runs no worker: the archive jobs its WhatsApp messages queue would compete
    // for the same 2 cores unevenly between rounds.
    jobDriver: !Deno.args.includes("--metrics"),
    pooler: Deno.env.get("BENCH_POOLER") !== "0",
    // Passed on to the functions when set: the pool size, and SWITCHBOARD_METRICS=off (measurement off).
    functionEnv: Object.fromEntries(
      ["WEBHOOK_DB_POOL_SIZE", "SWITCHBOARD_METRICS"].flatMap((k) => Deno.env.get(k) ? [[k, Deno.env.get(k)!]] : []),
    ),
  });
  const sql = connect(stack.dbUrl, { max: 4 });
  try {
    if (Deno.args.includes("--metrics")) {
      const target = stack.poolerUrl ? { url: stack.poolerUrl, pooled: true } : { url: stack.dbUrl, pooled: false };
      console.log(`bench:webhooks --metrics — the receiver in process, measured against unmeasured, same run\n`);
      const result = { ...(await measureMetricsOverhead(target, sql)), via: target.pooled ? "pgbouncer" : "direct" };
      printTable([result]);
      console.log(`saved ${await saveResult("webhooks-metrics", { at: new Date().toISOString(), ...result })}`);
      return;
    }
    const accounts: TestAccount[] = [];
    for (let i = 0; i < ACCOUNTS; i++) accounts.push(await insertLinkedAccount(sql));
    const { deliveries, unique } = buildDeliveries(accounts);
    console.log(
      `bench:webhooks — ${deliveries.length} signed deliveries (${unique.size} unique messages, ` +
        `${deliveries.length - unique.size} duplicates) at concurrency ${CONCURRENCY}, ${ACCOUNTS} accounts\n`,
    );

    // Warm-up: route caches, connection pools, JIT.
    for (const a of accounts) {
      await fetch(`${stack.functionsUrl}/chatwoot-webhook/${a.routeToken}`, { method: "POST", body: "{}" }).then((r) =>
        r.body?.cancel()
      );
    }

    // Through the gateway (the product's path), then straight to the function's own process on
    // fresh accounts (what the local gateway stand-in costs, which hosted Supabase replaces).
    const { result: viaGateway, peak } = await withPeakConnections(
      sql,
      () => run(`${stack.functionsUrl}/chatwoot-webhook`, deliveries),
    );
    const directAccounts: TestAccount[] = [];
    for (let i = 0; i < ACCOUNTS; i++) directAccounts.push(await insertLinkedAccount(sql));
    const direct = await run(
      stack.gateway.functionOrigin("chatwoot-webhook")!,
      buildDeliveries(directAccounts).deliveries,
    );
    const { rate, latencies, statuses } = viaGateway;

    const refs = accounts.map((a) => a.accountRef);
    const [rows] = await sql`
      select (select count(*) from public.chatwoot_messages where account_ref = any(${refs}::uuid[]))::int as messages,
             (select count(distinct (account_ref, message_id)) from public.chatwoot_messages
               where account_ref = any(${refs}::uuid[]))::int as distinct_messages,
             (select count(*) from public.chatwoot_conversations where account_ref = any(${refs}::uuid[]))::int as conversations,
             (select count(*) from private.chatwoot_deliveries where account_ref = any(${refs}::uuid[]))::int as ledger`;
    const lost = unique.size - rows.distinct_messages;
    const duplicated = rows.messages - rows.distinct_messages;

    const base = await baselineInserts(stack.dbUrl);
    const result = {
      deliveries: deliveries.length,
      concurrency: CONCURRENCY,
      "deliveries/s": Math.round(rate),
      "ack p50 ms": Math.round(percentile(latencies, 50) * 10) / 10,
      "ack p95 ms": Math.round(percentile(latencies, 95) * 10) / 10,
      "ack p99 ms": Math.round(percentile(latencies, 99) * 10) / 10,
      "plain inserts/s": Math.round(base),
      ratio: Math.round((rate / base) * 100) / 100,
      "direct deliveries/s": Math.round(direct.rate),
      "direct p99 ms": Math.round(percentile(direct.latencies, 99) * 10) / 10,
      "direct ratio": Math.round((direct.rate / base) * 100) / 100,
      "peak server connections": peak,
      via: stack.poolerUrl ? "pgbouncer (transaction)" : "direct",
      messages: rows.messages,
      conversations: rows.conversations,
      lost,
      duplicated,
    };
    printTable([result]);
    console.log(`\noutcomes: ${[...statuses.entries()].map(([k, v]) => `${k} ${v}`).join(", ")}`);
    console.log(`ledger rows: ${rows.ledger} (one per distinct X-Chatwoot-Delivery)`);
    const path = await saveResult("webhooks", {
      at: new Date().toISOString(),
      ...result,
      outcomes: Object.fromEntries(statuses),
    });
    console.log(`saved ${path}`);
  } finally {
    await sql.end();
    await stack.close();
    await Deno.remove(stateDir, { recursive: true }).catch(() => {});
  }
}

// bench:queue — end-to-end job throughput (enqueue in its own transaction, claim, run a no-op
// handler, complete) with 1 and 4 workers, as a ratio against plain single-row insert
// transactions at the same concurrency, measured in the same run on the same database.

import { z } from "zod";
import { connect } from "../../supabase/functions/_shared/platform/db.ts";
import { drainQueue, enqueueJob, jobKind } from "../../supabase/functions/_shared/jobs/queue.ts";
import { createMemoryLogger } from "../../supabase/functions/_shared/platform/log.ts";
import { benchDatabase, printTable, saveResult } from "./harness.ts";

const N = Number(Deno.env.get("BENCH_JOBS") ?? 10_000);
const BATCH = Number(Deno.env.get("BENCH_BATCH") ?? 50);
const LINGER = Number(Deno.env.get("BENCH_LINGER_MS") ?? 20);

async function baseline(url: string, concurrency: number): Promise<number> {
  // The same client settings the functions use (connect()), so the ratio compares like with like.
  const sql = connect(url, { max: concurrency });
  await sql`create table if not exists public.bench_plain (id bigserial primary key, payload jsonb not null)`;
  await sql`truncate public.bench_plain`;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < N) {
      const i = next++;
      await sql`insert into public.bench_plain (payload) values (${sql.json({ i })})`;
    }
  }));
  const rate = N / ((performance.now() - t0) / 1000);
  await sql`drop table public.bench_plain`;
  await sql.end();
  return rate;
}

async function queue(url: string, workers: number): Promise<{ rate: number; lost: number; duplicates: number }> {
  // Producers and workers get their own pools, as separate processes would.
  const producers = connect(url, { max: workers });
  const workerSql = connect(url, { max: workers });
  const kind = `bench.q${crypto.randomUUID().slice(0, 8)}`;
  const seen = new Map<number, number>();
  let next = 0;
  let completed = 0;
  // A no-op handler behind a payload schema, as every real kind has.
  const registry = {
    [kind]: jobKind(z.object({ i: z.number().int() }), ({ payload: { i } }) => {
      seen.set(i, (seen.get(i) ?? 0) + 1);
      completed++;
      return Promise.resolve();
    }),
  };
  const log = createMemoryLogger();
  const t0 = performance.now();
  const producing = Promise.all(Array.from({ length: workers }, async () => {
    while (next < N) {
      const i = next++;
      await enqueueJob(producers, { kind, idempotencyKey: `${kind}:${i}`, payload: { i } });
    }
  }));
  // Each worker runs the jobs-worker's own loop (drainQueue), polling instead of exiting when idle.
  const working = Promise.all(Array.from({ length: workers }, (_, w) =>
    drainQueue({
      sql: workerSql,
      registry,
      log,
      worker: `bench-${w}`,
      limit: BATCH,
      timeBudgetMs: 600_000,
      lingerMs: LINGER,
      exitWhenIdle: false,
      shouldStop: () => completed >= N,
    })));
  await producing;
  await working;
  const rate = N / ((performance.now() - t0) / 1000);
  const [notDone] = await workerSql`
    select count(*)::int as n from private.jobs where kind = ${kind} and status <> 'completed'`;
  const lost = [...Array(N).keys()].filter((i) => !seen.has(i)).length + notDone.n;
  const duplicates = [...seen.values()].filter((c) => c > 1).length;
  await workerSql`delete from private.jobs where kind = ${kind}`;
  await producers.end();
  await workerSql.end();
  return { rate, lost, duplicates };
}

export async function benchQueue() {
  const db = await benchDatabase();
  try {
    console.log(`bench:queue — ${N} jobs per run, claim batch ${BATCH}, PostgreSQL with default durability\n`);
    const rows = [];
    for (const workers of [1, 4]) {
      const base = await baseline(db.url, workers);
      const q = await queue(db.url, workers);
      rows.push({
        workers,
        "plain inserts/s": Math.round(base),
        "jobs/s end to end": Math.round(q.rate),
        ratio: Math.round((q.rate / base) * 100) / 100,
        lost: q.lost,
        duplicated: q.duplicates,
      });
    }
    printTable(rows);
    const path = await saveResult("queue", { jobs: N, batch: BATCH, at: new Date().toISOString(), rows });
    console.log(`\nsaved ${path}`);
  } finally {
    await db.close();
  }
}

// Shared pieces of the benchmarks: a throwaway database at the project's schema (or the one in
// SUPABASE_DB_URL), percentiles, and a printed table. Benchmarks never gate CI.

import { LocalCluster } from "../stack/cluster.ts";
import { applyBootstrap, applyMigrations } from "../stack/database.ts";
import { ensureSystemDependencies } from "../stack/setup.ts";
import { root } from "../stack/stack.ts";
import { freePort } from "../stack/proc.ts";
import type { Sql } from "../../supabase/functions/_shared/platform/db.ts";

export interface BenchDatabase {
  url: string;
  close(): Promise<void>;
}

/** A fresh cluster with default durability (fsync on), migrated; removed on close. */
export async function benchDatabase(): Promise<BenchDatabase> {
  const external = Deno.env.get("SUPABASE_DB_URL");
  if (external) return { url: external, close: async () => {} };
  const dir = `${root}/.local/bench-${Date.now()}`;
  await ensureSystemDependencies(`${root}/.local`);
  const cluster = new LocalCluster({ dataDir: `${dir}/db`, port: freePort() });
  await cluster.init();
  await cluster.start();
  await applyBootstrap(cluster.url);
  await applyMigrations(cluster.url);
  return {
    url: cluster.url,
    async close() {
      await cluster.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export function printTable(rows: Record<string, string | number>[]): void {
  const cols = Object.keys(rows[0]);
  const fmt = (v: string | number) => typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : v;
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => fmt(r[c]).length)));
  console.log(cols.map((c, i) => c.padEnd(widths[i])).join("  "));
  for (const r of rows) console.log(cols.map((c, i) => fmt(r[c]).padEnd(widths[i])).join("  "));
}

export async function saveResult(name: string, result: unknown): Promise<string> {
  await Deno.mkdir(`${root}/.local/bench`, { recursive: true });
  const path = `${root}/.local/bench/${name}.json`;
  await Deno.writeTextFile(path, JSON.stringify(result, null, 2));
  return path;
}

/** Samples the server's client connections (what counts against max_connections and hosted's
 * ~60 direct slots) while `fn` runs; returns fn's result and the peak seen. */
export async function withPeakConnections<T>(
  sql: Sql,
  fn: () => Promise<T>,
  everyMs = 50,
): Promise<{ result: T; peak: number }> {
  let peak = 0;
  let running = true;
  const sampler = (async () => {
    while (running) {
      const [r] = await sql`select count(*)::int as n from pg_stat_activity where backend_type = 'client backend'`;
      peak = Math.max(peak, r.n);
      await new Promise((res) => setTimeout(res, everyMs));
    }
  })();
  try {
    return { result: await fn(), peak };
  } finally {
    running = false;
    await sampler;
  }
}

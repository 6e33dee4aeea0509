// Measurements counted where they happen and nothing else writes: a webhook delivery's outcome and
// processing time. Counted in memory per minute and flushed in one statement (private.record_metrics)
// at most every few seconds, so a delivery pays a map update, not a write.

import type { Sql } from "../platform/db.ts";
import type { Logger } from "../platform/log.ts";

/** Histogram bounds in seconds; private.metric_bounds holds the same list (a test compares them). */
export const WEBHOOK_PROCESSING_BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Where a value falls: the number of bounds at or below it (width_bucket's answer). */
export function bucketIndex(bounds: number[], value: number): number {
  let i = 0;
  while (i < bounds.length && bounds[i] <= value) i++;
  return i;
}

interface Cell {
  metric: string;
  minute: string;
  labels: Record<string, string>;
  count: number;
  sum: number;
  buckets: number[] | null;
}

export interface MetricsRecorder {
  /** Adds one observation of a histogram metric (seconds). */
  observe(metric: string, labels: Record<string, string>, seconds: number): void;
  /** Writes what is counted so far; resolves when it is stored (or dropped after logging). */
  flush(): Promise<void>;
}

export interface RecorderOptions {
  sql: Sql;
  log?: Logger;
  /** Flush at most this often (ms); a flush starts on the first observation after it. */
  flushEveryMs?: number;
  bounds?: Record<string, number[]>;
  now?: () => number;
  /** Hosted keeps an isolate alive for a promise handed here (EdgeRuntime.waitUntil). */
  waitUntil?: (p: Promise<unknown>) => void;
}

/** A recorder that counts nothing: measurement off (SWITCHBOARD_METRICS=off, the bench's baseline). */
export const noRecorder: MetricsRecorder = { observe() {}, flush: () => Promise.resolve() };

export function minuteRecorder(opts: RecorderOptions): MetricsRecorder {
  const now = opts.now ?? Date.now;
  const flushEveryMs = opts.flushEveryMs ?? 5000;
  const bounds = opts.bounds ?? { webhook_processing_seconds: WEBHOOK_PROCESSING_BOUNDS };
  let cells = new Map<string, Cell>();
  let lastFlush = now();
  let flushing: Promise<void> | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let cachedMinuteMs = -1;
  let cachedMinute = "";

  async function write(batch: Map<string, Cell>): Promise<void> {
    if (batch.size === 0) return;
    try {
      await opts.sql`select private.record_metrics(${opts.sql.json([...batch.values()] as never)})`;
    } catch (err) {
      // Lost counts are better than a delivery that waits on them; the next flush starts afresh.
      opts.log?.warn("metrics flush failed", { error: err instanceof Error ? err.message : String(err) });
    }
  }

  function flush(): Promise<void> {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    const batch = cells;
    cells = new Map();
    lastFlush = now();
    const previous = flushing ?? Promise.resolve();
    const p = previous.then(() => write(batch));
    flushing = p.finally(() => {
      if (flushing === p) flushing = null;
    });
    return p;
  }

  return {
    observe(metric, labels, seconds) {
      const t = now();
      const minuteMs = t - (t % 60_000);
      if (minuteMs !== cachedMinuteMs) {
        cachedMinuteMs = minuteMs;
        cachedMinute = new Date(minuteMs).toISOString();
      }
      const minute = cachedMinute;
      const labelKey = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(",");
      const key = `${metric}|${minute}|${labelKey}`;
      let cell = cells.get(key);
      const b = bounds[metric];
      if (!cell) {
        cell = { metric, minute, labels, count: 0, sum: 0, buckets: b ? new Array(b.length + 1).fill(0) : null };
        cells.set(key, cell);
      }
      cell.count++;
      cell.sum += seconds;
      if (b && cell.buckets) cell.buckets[bucketIndex(b, seconds)]++;
      if (t - lastFlush >= flushEveryMs) {
        const p = flush();
        opts.waitUntil?.(p);
      } else if (timer === null) {
        // A quiet receiver still writes what it counted, once the interval is up.
        const pending = setTimeout(() => void flush(), flushEveryMs - (t - lastFlush));
        Deno.unrefTimer(pending as unknown as number);
        timer = pending;
      }
    },
    flush,
  };
}

/** EdgeRuntime.waitUntil where the runtime has it (hosted), so a flush outlives its response. */
export function runtimeWaitUntil(): ((p: Promise<unknown>) => void) | undefined {
  const runtime = (globalThis as { EdgeRuntime?: { waitUntil?: (p: Promise<unknown>) => void } }).EdgeRuntime;
  return runtime?.waitUntil ? (p) => runtime.waitUntil!(p) : undefined;
}

/** The receivers' recorder: SWITCHBOARD_METRICS=off turns measurement off (the bench's baseline),
 * METRICS_FLUSH_MS sets how often counts are written (5000). */
export function metricsRecorderFromEnv(sql: Sql, env: Record<string, string | undefined>): MetricsRecorder | undefined {
  if ((env.SWITCHBOARD_METRICS ?? "on").toLowerCase() === "off") return undefined;
  const flushEveryMs = Number(env.METRICS_FLUSH_MS ?? 5000);
  return minuteRecorder({
    sql,
    flushEveryMs: Number.isFinite(flushEveryMs) && flushEveryMs >= 0 ? flushEveryMs : 5000,
    waitUntil: runtimeWaitUntil(),
  });
}

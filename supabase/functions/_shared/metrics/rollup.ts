// The `metrics.rollup` job: once a minute (enqueued by private.enqueue_minute_jobs), the closed
// minutes of what the product already wrote become per-minute rollups and totals, and minutes past
// the retention are purged (private.roll_up_metrics).

import { z } from "zod";
import { jobKind, type JobRegistry } from "../jobs/queue.ts";

export function metricsJobHandlers(opts: { retentionDays: number }): JobRegistry {
  return {
    "metrics.rollup": jobKind(z.object({ minute: z.string().min(1) }), async (_job, { sql, log }) => {
      const [row] = await sql<{ minutes: number }[]>`
        select private.roll_up_metrics(interval '1 minute', make_interval(days => ${opts.retentionDays})) as minutes`;
      log.debug("metrics rolled up", { minutes: row.minutes });
    }),
  };
}

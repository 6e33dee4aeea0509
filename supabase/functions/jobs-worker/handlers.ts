// The registry: which code runs each job kind. A kind without an entry is never claimed by
// this worker, so a deployment that lacks a handler leaves those jobs queued (visible in the
// admin app) instead of dead-lettering work it cannot do.

import type { JobHandler } from "../_shared/jobs.ts";

export function purgeCompletedJobs(retentionDays: number): JobHandler {
  return async (_job, { sql, log }) => {
    const [row] = await sql`select private.purge_completed_jobs(make_interval(days => ${retentionDays})) as n`;
    log.info("purged completed jobs", { deleted: row.n, retention_days: retentionDays });
  };
}

export function jobHandlers(opts: { retentionDays: number }): Record<string, JobHandler> {
  return {
    "jobs.purge_completed": purgeCompletedJobs(opts.retentionDays),
  };
}

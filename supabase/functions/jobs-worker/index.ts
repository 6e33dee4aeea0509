// Wiring only: configuration, the database pool and the handler registry for jobs-worker.
import { z } from "zod";
import { baseConfigSchema, loadConfig } from "../_shared/config.ts";
import { connect } from "../_shared/db.ts";
import { createLogger } from "../_shared/log.ts";
import { handler } from "./handler.ts";
import { jobHandlers } from "./handlers.ts";

const config = loadConfig(baseConfigSchema.extend({
  JOBS_BATCH_SIZE: z.coerce.number().int().min(1).max(500).default(20),
  JOBS_VISIBILITY_SECONDS: z.coerce.number().int().min(5).max(3600).default(60),
  JOBS_TIME_BUDGET_MS: z.coerce.number().int().min(0).max(300_000).default(20_000),
  JOBS_LINGER_MS: z.coerce.number().int().min(0).max(1000).default(20),
  JOBS_RETENTION_DAYS: z.coerce.number().int().min(1).max(365).default(7),
  CHATWOOT_URL: z.url().optional(),
  CHATWOOT_PLATFORM_TOKEN: z.string().min(8).optional(),
  SWITCHBOARD_PUBLIC_FUNCTIONS_URL: z.url().optional(),
  CHATWOOT_REQUESTS_PER_MINUTE: z.coerce.number().int().min(1).max(100_000).default(3000),
}));
const sql = connect(config.SUPABASE_DB_URL, { max: config.DB_POOL_SIZE, applicationName: "jobs-worker" });
const log = createLogger({ fn: "jobs-worker" });
const handlers = jobHandlers({
  sql,
  retentionDays: config.JOBS_RETENTION_DAYS,
  chatwootRequestsPerMinute: config.CHATWOOT_REQUESTS_PER_MINUTE,
  chatwootUrl: config.CHATWOOT_URL ?? null,
  chatwootPlatformToken: config.CHATWOOT_PLATFORM_TOKEN ?? null,
  functionsUrl: config.SWITCHBOARD_PUBLIC_FUNCTIONS_URL ?? `${config.SUPABASE_URL.replace(/\/+$/, "")}/functions/v1`,
});

Deno.serve((req) =>
  handler(req, {
    sql,
    handlers,
    log: log.child({ request_id: req.headers.get("x-request-id") ?? crypto.randomUUID() }),
    workerName: `jobs-worker:${crypto.randomUUID().slice(0, 8)}`,
    batchSize: config.JOBS_BATCH_SIZE,
    visibilitySeconds: config.JOBS_VISIBILITY_SECONDS,
    timeBudgetMs: config.JOBS_TIME_BUDGET_MS,
    lingerMs: config.JOBS_LINGER_MS,
  })
);

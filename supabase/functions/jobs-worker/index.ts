// Wiring only: configuration, the database pool and the handler registry for jobs-worker.
import { z } from "zod";
import { baseConfigSchema, loadConfig } from "../_shared/platform/config.ts";
import { connect, databaseUrl } from "../_shared/platform/db.ts";
import { serve } from "../_shared/platform/serve.ts";
import { createCredentialVerifier, credentialOptionsFromEnv } from "../_shared/platform/credentials.ts";
import { handler } from "./handler.ts";
import { jobRegistry } from "../_shared/jobs/registry.ts";
import { archiveEnvSchema, bucketPolicy, gcsConnection } from "../_shared/archive/config.ts";
import { embeddingConfigFromEnv } from "../_shared/ai/embeddings.ts";
import { chatConfigFromEnv } from "../_shared/ai/decide.ts";

const config = loadConfig(baseConfigSchema.extend({
  JOBS_BATCH_SIZE: z.coerce.number().int().min(1).max(500).default(20),
  JOBS_VISIBILITY_SECONDS: z.coerce.number().int().min(5).max(3600).default(60),
  JOBS_TIME_BUDGET_MS: z.coerce.number().int().min(0).max(300_000).default(20_000),
  // Hosted ends a request at 2 s of CPU (546); the last job claimed may pass the budget by its cost.
  // Of the metered CPU (hashing, parsing, a fixed charge per job): the SDKs' stream and HTTP plumbing
  // around it is not metered, and bench:cpu measured the whole process at up to 2.2× the meter on
  // archive jobs with 25 MiB media. 600 keeps the worst run under hosted's 2 s.
  JOBS_CPU_BUDGET_MS: z.coerce.number().int().min(1).max(60_000).default(600),
  JOBS_LINGER_MS: z.coerce.number().int().min(0).max(1000).default(20),
  JOBS_RETENTION_DAYS: z.coerce.number().int().min(1).max(365).default(7),
  METRICS_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  // A Slack-compatible incoming webhook for alerts, and the key of their X-Switchboard-Signature.
  ALERTS_WEBHOOK_URL: z.url().optional(),
  ALERTS_WEBHOOK_SECRET: z.string().min(16).optional(),
  CHATWOOT_URL: z.url().optional(),
  CHATWOOT_PLATFORM_TOKEN: z.string().min(8).optional(),
  SWITCHBOARD_PUBLIC_FUNCTIONS_URL: z.url().optional(),
  // GCS and the archive's bucket policy, labels checked against GCS's rules (archive/config.ts).
  ...archiveEnvSchema,
  // An erasure deletes this many objects per job run (a GCS listing page is at most 1,000), this many
  // at once, for at most this long per run (the job is abandoned after 45 s; the run's budget is 20 s).
  ARCHIVE_ERASE_BATCH: z.coerce.number().int().min(1).max(10_000).default(1000),
  ARCHIVE_ERASE_CONCURRENCY: z.coerce.number().int().min(1).max(100).default(16),
  ARCHIVE_ERASE_SLICE_MS: z.coerce.number().int().min(100).max(40_000).default(15_000),
  CHATWOOT_REQUESTS_PER_MINUTE: z.coerce.number().int().min(1).max(100_000).default(3000),
  CONTACT_ERASE_RETRY_MS: z.coerce.number().int().min(100).max(3_600_000).default(15_000),
  // "off" disables transcribing voice notes even with an API key.
  OPENAI_TRANSCRIPTION_MODEL: z.string().min(1).default("gpt-4o-mini-transcribe"),
  // Once the OpenAI account is out of quota (AI paused), how often one tiny embedding call checks it again.
  OPENAI_QUOTA_PROBE_SECONDS: z.coerce.number().int().min(5).max(86_400).default(600),
}));
const sql = connect(databaseUrl(config), { max: config.DB_POOL_SIZE, applicationName: "jobs-worker" });
const verifyCaller = createCredentialVerifier(credentialOptionsFromEnv(Deno.env.toObject()));
const registry = jobRegistry({
  sql,
  retentionDays: config.JOBS_RETENTION_DAYS,
  metricsRetentionDays: config.METRICS_RETENTION_DAYS,
  alerts: { webhookUrl: config.ALERTS_WEBHOOK_URL ?? null, secret: config.ALERTS_WEBHOOK_SECRET ?? null },
  chatwootRequestsPerMinute: config.CHATWOOT_REQUESTS_PER_MINUTE,
  contactEraseRetryMs: config.CONTACT_ERASE_RETRY_MS,
  ai: {
    embedding: embeddingConfigFromEnv(Deno.env.toObject()),
    chat: chatConfigFromEnv(Deno.env.toObject()),
    transcriptionModel: config.OPENAI_TRANSCRIPTION_MODEL === "off" ? null : config.OPENAI_TRANSCRIPTION_MODEL,
    quotaProbeMs: config.OPENAI_QUOTA_PROBE_SECONDS * 1000,
  },
  chatwootUrl: config.CHATWOOT_URL ?? null,
  chatwootPlatformToken: config.CHATWOOT_PLATFORM_TOKEN ?? null,
  functionsUrl: config.SWITCHBOARD_PUBLIC_FUNCTIONS_URL ?? `${config.SUPABASE_URL.replace(/\/+$/, "")}/functions/v1`,
  archive: {
    // Without GCS_CREDENTIALS_JSON or GCS_ENDPOINT: not configured, archive jobs wait (never anonymous calls).
    connection: gcsConnection(config),
    policy: bucketPolicy(config, config.SUPABASE_URL),
    mediaMaxBytes: config.ARCHIVE_MEDIA_MAX_BYTES,
    mediaTimeoutMs: config.ARCHIVE_MEDIA_TIMEOUT_MS,
    bucketOpsIntervalMs: config.ARCHIVE_BUCKET_OPS_INTERVAL_MS,
    erase: {
      batchSize: config.ARCHIVE_ERASE_BATCH,
      concurrency: config.ARCHIVE_ERASE_CONCURRENCY,
      sliceMs: config.ARCHIVE_ERASE_SLICE_MS,
    },
  },
});

const WORKER_EXECUTION = Deno.env.get("SB_EXECUTION_ID") ?? crypto.randomUUID();

serve({ name: "jobs-worker" }, (req, log) =>
  handler(req, {
    sql,
    verifyCaller,
    registry,
    log,
    // The runtime's name for this isolate's execution (the local runtime sets it too, and hands a
    // dead process's leases back by it).
    workerName: `jobs-worker:${WORKER_EXECUTION}`,
    batchSize: config.JOBS_BATCH_SIZE,
    visibilitySeconds: config.JOBS_VISIBILITY_SECONDS,
    timeBudgetMs: config.JOBS_TIME_BUDGET_MS,
    cpuBudgetMs: config.JOBS_CPU_BUDGET_MS,
    lingerMs: config.JOBS_LINGER_MS,
  }));

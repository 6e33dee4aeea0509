// The registry: every job kind, the schema of its payload and the code that runs it, gathered
// from each domain's …JobHandlers(). A kind without an entry is never claimed by this worker, so
// a deployment that lacks a handler leaves those jobs queued (visible in the admin app) instead of
// dead-lettering work it cannot do; registry_test.ts checks every kind enqueued anywhere is here.

import { z } from "zod";
import type { Sql } from "../platform/db.ts";
import { jobKind, type JobRegistry } from "./queue.ts";
import { postgresRateLimiter } from "../chatwoot/rate_limit.ts";
import { reconcileJobHandlers } from "../chatwoot/reconcile.ts";
import { provisioningJobHandlers } from "../chatwoot/provisioner.ts";
import { type ArchiveDeps, archiveJobHandlers } from "../archive/archiver.ts";
import {
  DEFAULT_ERASE_OPTIONS,
  type EraseOptions,
  erasureJobHandlers,
  startArchiveErasure,
} from "../archive/erasure.ts";
import { contactSyncJobHandlers } from "../contact_sync/sync.ts";
import { botJobHandlers } from "../ai/reply.ts";
import { pauseJobHandlers } from "../ai/pause.ts";
import { knowledgeJobHandlers } from "../knowledge/embed_job.ts";
import type { EmbeddingConfig } from "../ai/embeddings.ts";
import { chatClient, type ChatConfig } from "../ai/decide.ts";
import type { BucketPolicy } from "../archive/buckets.ts";
import { metricsJobHandlers } from "../metrics/rollup.ts";
import { alertJobHandlers } from "../alerts/notify.ts";
import { archiveStorage } from "../archive/storage.ts";
import type { GcsConnection } from "../archive/config.ts";

/** jobs.purge_completed: the worker enqueues one a day (jobs-worker/handler.ts). */
export function purgeCompletedJobs(retentionDays: number): JobRegistry {
  return {
    "jobs.purge_completed": jobKind(z.object({}), async (_job, { sql, log }) => {
      const [row] = await sql`select private.purge_completed_jobs(make_interval(days => ${retentionDays})) as n`;
      const [ledger] = await sql`
        with gone as (delete from private.chatwoot_deliveries
                      where received_at < now() - make_interval(days => ${retentionDays})
                        and outcome not in ('unknown_event', 'rejected') returning 1)
        select count(*)::int as n from gone`;
      log.info("purged completed jobs and old delivery records", {
        jobs: row.n,
        deliveries: ledger.n,
        retention_days: retentionDays,
      });
    }),
  };
}

export interface HandlerOptions {
  sql: Sql;
  retentionDays: number;
  chatwootRequestsPerMinute: number;
  /** Self-hosted Chatwoot with a Platform API, for provisioning; null disables it (jobs fail clearly). */
  chatwootUrl: string | null;
  chatwootPlatformToken: string | null;
  /** Public base of this deployment's functions (the webhook URL Chatwoot posts to). */
  functionsUrl: string;
  /** OpenAI (or compatible): embeddings, the chat model, transcription; null = offline. */
  ai: {
    embedding: EmbeddingConfig | null;
    chat: ChatConfig | null;
    transcriptionModel: string | null;
    /** Wait between quota probes while the AI is paused for quota (default 10 min). */
    quotaProbeMs?: number;
  };
  /** Per-minute rollups are kept this long (METRICS_RETENTION_DAYS). */
  metricsRetentionDays?: number;
  /** Where alerts are notified (a Slack-compatible incoming webhook) and the key they are signed with. */
  alerts?: { webhookUrl: string | null; secret: string | null; fetch?: typeof fetch };
  /** How long an erasure waits when Chatwoot refuses to delete an online contact. */
  contactEraseRetryMs?: number;
  /** The WhatsApp archive: where GCS is (or that it is not configured), the bucket policy, the
   * project's bucket create/delete interval. */
  archive: {
    connection: GcsConnection;
    policy: BucketPolicy;
    mediaMaxBytes: number;
    mediaTimeoutMs: number;
    bucketOpsIntervalMs: number;
    /** Erasure slices (batch, concurrency, wall time per run); defaults when absent. */
    erase?: EraseOptions;
  };
}

export function jobRegistry(opts: HandlerOptions): JobRegistry {
  const limiter = postgresRateLimiter(opts.sql, { perMinute: opts.chatwootRequestsPerMinute });
  const gcs = opts.archive.connection;
  const archive: ArchiveDeps = {
    sql: opts.sql,
    ...archiveStorage(gcs),
    bucketQuota: {
      project: gcs.mode === "unconfigured" ? "unconfigured" : gcs.projectId,
      intervalMs: opts.archive.bucketOpsIntervalMs,
    },
    unavailable: gcs.mode === "unconfigured" ? gcs.reason : null,
    policy: opts.archive.policy,
    mediaMaxBytes: opts.archive.mediaMaxBytes,
    mediaTimeoutMs: opts.archive.mediaTimeoutMs,
  };
  // One OpenAI-compatible client for the chat model and transcription (same key and endpoint).
  const openai = opts.ai.chat ? chatClient(opts.ai.chat) : null;
  return {
    ...purgeCompletedJobs(opts.retentionDays),
    ...metricsJobHandlers({ retentionDays: opts.metricsRetentionDays ?? 30 }),
    ...alertJobHandlers({
      sql: opts.sql,
      webhookUrl: opts.alerts?.webhookUrl ?? null,
      secret: opts.alerts?.secret ?? null,
      fetch: opts.alerts?.fetch,
    }),
    ...reconcileJobHandlers({ sql: opts.sql, limiter }),
    ...archiveJobHandlers(archive),
    ...erasureJobHandlers({
      ...archive,
      erase: opts.archive.erase ?? DEFAULT_ERASE_OPTIONS,
    }),
    ...contactSyncJobHandlers({
      sql: opts.sql,
      limiter,
      onlineRetryMs: opts.contactEraseRetryMs,
      // The archive is erased by its own resumable job; the customer's erasure records which one.
      eraseArchive: (userId, actor) => startArchiveErasure(opts.sql, userId, actor),
    }),
    ...knowledgeJobHandlers({ sql: opts.sql, embedding: opts.ai.embedding, quotaProbeMs: opts.ai.quotaProbeMs }),
    ...pauseJobHandlers({ sql: opts.sql, embedding: opts.ai.embedding, probeEveryMs: opts.ai.quotaProbeMs }),
    ...botJobHandlers({
      sql: opts.sql,
      limiter,
      embedding: opts.ai.embedding,
      quotaProbeMs: opts.ai.quotaProbeMs,
      chat: openai && opts.ai.chat
        ? { client: openai, model: opts.ai.chat.model, temperature: opts.ai.chat.temperature }
        : null,
      transcription: openai && opts.ai.transcriptionModel
        ? { client: openai, model: opts.ai.transcriptionModel }
        : null,
    }),
    ...provisioningJobHandlers({
      sql: opts.sql,
      limiter,
      chatwootUrl: opts.chatwootUrl,
      platformToken: opts.chatwootPlatformToken,
      functionsUrl: opts.functionsUrl,
      // Also recorded on the account (chatwoot_accounts.webhook_target_warning), where the CLI shows it.
      warn: (message) =>
        console.warn(JSON.stringify({ level: "warn", msg: "chatwoot webhook target", detail: message })),
    }),
  };
}

// The deployment's secrets, read from an env file and checked before anything reaches a hosted
// project: every required name present, no placeholder left from the example, no name Supabase
// reserves (SUPABASE_*), no unknown name (a typo would silently leave a default in force).

import { z } from "zod";
import { parseArchiveLabels } from "../../supabase/functions/_shared/archive/config.ts";

/** Values copied from an example or template and never filled in. */
const PLACEHOLDER =
  /^<.*>$|^\.\.\.$|changeme|change[-_ ]me|replace[-_ ]?me|^your[-_]|[-_]here$|^todo$|^xxx+$|placeholder/i;

const url = z.url();
const postgresUrl = z.string().regex(
  /^postgres(ql)?:\/\/[^@]+@[^/]+\/\S+$/,
  "must be a postgresql://user:password@host:port/db URL",
);

/** Every secret the functions read in production (see each function's index.ts), by name. */
export const deploySecretsSchema = z.object({
  // The transaction pooler (Supavisor, port 6543): the direct SUPABASE_DB_URL has ~60 slots.
  SWITCHBOARD_DB_POOLER_URL: postgresUrl.refine((u) => new URL(u).port === "6543", {
    message: "must be the project's transaction pooler (port 6543), from Dashboard → Connect",
  }),
  GCS_PROJECT_ID: z.string().regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, "must be a Google Cloud project id"),
  GCS_CREDENTIALS_JSON: z.string().refine((s) => {
    try {
      const j = JSON.parse(s);
      return j.type === "service_account" && typeof j.client_email === "string" && typeof j.private_key === "string";
    } catch {
      return false;
    }
  }, { message: "must be a service account key (JSON with type, client_email and private_key)" }),
  // Bucket names are global: the salt keeps two deployments from computing the same ones.
  ARCHIVE_BUCKET_SALT: z.string().min(16, "must be at least 16 random characters"),
  CHATWOOT_URL: url.optional(),
  CHATWOOT_PLATFORM_TOKEN: z.string().min(8).optional(),
  SWITCHBOARD_PUBLIC_FUNCTIONS_URL: url.optional(),
  ARCHIVE_BUCKET_PREFIX: z.string().optional(),
  ARCHIVE_LOCATION: z.string().optional(),
  ARCHIVE_STORAGE_CLASS: z.enum(["STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE"]).optional(),
  // The functions check the same rules at start; here they stop a deploy before anything changes.
  ARCHIVE_LABELS: z.string().superRefine((raw, ctx) => {
    for (const problem of parseArchiveLabels(raw).problems) ctx.addIssue({ code: "custom", message: problem });
  }).optional(),
  ARCHIVE_BUCKET_OPS_INTERVAL_MS: z.string().regex(/^\d+$/).optional(),
  ARCHIVE_NEARLINE_DAYS: z.string().regex(/^\d+$/).optional(),
  ARCHIVE_COLDLINE_DAYS: z.string().regex(/^\d+$/).optional(),
  ARCHIVE_ARCHIVE_DAYS: z.string().regex(/^\d+$/).optional(),
  ARCHIVE_MEDIA_MAX_BYTES: z.string().regex(/^\d+$/).optional(),
  ARCHIVE_MEDIA_TIMEOUT_MS: z.string().regex(/^\d+$/).optional(),
  ARCHIVE_SIGNED_URL_TTL_SECONDS: z.string().regex(/^\d+$/).optional(),
  ARCHIVE_SOFT_DELETE_SECONDS: z.string().regex(/^\d+$/).optional(),
  ARCHIVE_ERASE_BATCH: z.string().regex(/^\d+$/).optional(),
  ARCHIVE_ERASE_CONCURRENCY: z.string().regex(/^\d+$/).optional(),
  ARCHIVE_ERASE_SLICE_MS: z.string().regex(/^\d+$/).optional(),
  OPENAI_API_KEY: z.string().min(20).optional(),
  OPENAI_BASE_URL: url.optional(),
  OPENAI_CHAT_MODEL: z.string().optional(),
  OPENAI_EMBEDDING_MODEL: z.string().optional(),
  OPENAI_EMBEDDING_DIMENSIONS: z.string().regex(/^\d+$/).optional(),
  OPENAI_TRANSCRIPTION_MODEL: z.string().optional(),
  OPENAI_CHAT_TIMEOUT_MS: z.string().regex(/^\d+$/).optional(),
  OPENAI_CHAT_TEMPERATURE: z.string().regex(/^(auto|omit|\d+(\.\d+)?)$/i, 'must be "auto", "omit" or a number')
    .optional(),
  OPENAI_QUOTA_PROBE_SECONDS: z.string().regex(/^\d+$/).optional(),
  OPENAI_TIMEOUT_MS: z.string().regex(/^\d+$/).optional(),
  CHATWOOT_REQUESTS_PER_MINUTE: z.string().regex(/^\d+$/).optional(),
  CONTACT_ERASE_RETRY_MS: z.string().regex(/^\d+$/).optional(),
  DB_POOL_SIZE: z.string().regex(/^\d+$/).optional(),
  WEBHOOK_DB_POOL_SIZE: z.string().regex(/^\d+$/).optional(),
  WEBHOOK_MAX_BODY_BYTES: z.string().regex(/^\d+$/).optional(),
  WEBHOOK_VERIFY_LIMIT_BYTES: z.string().regex(/^\d+$/).optional(),
  WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS: z.string().regex(/^\d+$/).optional(),
  JOBS_BATCH_SIZE: z.string().regex(/^\d+$/).optional(),
  JOBS_VISIBILITY_SECONDS: z.string().regex(/^\d+$/).optional(),
  JOBS_TIME_BUDGET_MS: z.string().regex(/^\d+$/).optional(),
  JOBS_CPU_BUDGET_MS: z.string().regex(/^\d+$/).optional(),
  JOBS_LINGER_MS: z.string().regex(/^\d+$/).optional(),
  JOBS_RETENTION_DAYS: z.string().regex(/^\d+$/).optional(),
  HEALTH_WORKER_STALE_SECONDS: z.string().regex(/^\d+$/).optional(),
  METRICS_RETENTION_DAYS: z.string().regex(/^\d+$/).optional(),
  METRICS_FLUSH_MS: z.string().regex(/^\d+$/).optional(),
  METRICS_STORE_LABEL_LIMIT: z.string().regex(/^\d+$/).optional(),
  SWITCHBOARD_METRICS: z.enum(["on", "off"]).optional(),
  ALERTS_WEBHOOK_URL: url.optional(),
  ALERTS_WEBHOOK_SECRET: z.string().min(16, "must be at least 16 random characters").optional(),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).optional(),
}).strict().refine((s) => (s.CHATWOOT_URL === undefined) === (s.CHATWOOT_PLATFORM_TOKEN === undefined), {
  message: "CHATWOOT_URL and CHATWOOT_PLATFORM_TOKEN go together (provisioning needs both; leave both out to link " +
    "accounts by hand)",
});

export type DeploySecrets = z.infer<typeof deploySecretsSchema>;

/** KEY=VALUE lines, # comments, optional quotes (the format `supabase secrets set --env-file` reads). */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const m = line.match(/^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/);
    if (!m) throw new Error(`line ${i + 1} is not NAME=value`);
    let value = m[2];
    if (/^'.*'$/.test(value)) value = value.slice(1, -1);
    else if (/^".*"$/.test(value)) value = value.slice(1, -1).replace(/\\n/g, "\n").replace(/\\"/g, '"');
    out[m[1]] = value;
  }
  return out;
}

/** Checks an env file's contents; every problem is named, none stops at the first. */
export function checkDeploySecrets(env: Record<string, string>): { ok: true; secrets: DeploySecrets } | {
  ok: false;
  problems: string[];
} {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith("SUPABASE_")) {
      problems.push(`${name}: names starting with SUPABASE_ are reserved on hosted projects (set by Supabase itself)`);
    } else if (value.trim() === "") problems.push(`${name} is empty`);
    else if (PLACEHOLDER.test(value.trim())) {
      problems.push(`${name} still holds a placeholder ("${value.slice(0, 40)}")`);
    }
  }
  const clean = Object.fromEntries(
    Object.entries(env).filter(([n, v]) =>
      !n.startsWith("SUPABASE_") && v.trim() !== "" && !PLACEHOLDER.test(v.trim())
    ),
  );
  const parsed = deploySecretsSchema.safeParse(clean);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = issue.path.join(".");
      if (issue.code === "unrecognized_keys") {
        problems.push(`unknown names: ${issue.keys.join(", ")} (no function reads them; a typo?)`);
      } else if (name && env[name] === undefined) problems.push(`${name} is missing`);
      else if (name && clean[name] !== undefined) problems.push(`${name} ${issue.message}`);
      else if (!name) problems.push(issue.message);
    }
  }
  return problems.length ? { ok: false, problems } : { ok: true, secrets: parsed.data! };
}

// The archive's configuration from the environment, one schema for every function that reads it:
// where GCS is (real, with a service-account key, or an emulator at GCS_ENDPOINT, or nowhere — then
// the archive is "not configured" and nothing ever calls Google), the bucket policy, and the labels,
// checked against GCS's label rules at start so a bad one is named there, not at the first bucket.

import { z } from "zod";
import { type BucketPolicy, validateBucketPrefix, validateSoftDeleteSeconds } from "./buckets.ts";
import { DEFAULT_BUCKET_OPS_INTERVAL_MS } from "./bucket_quota.ts";

/** The fields of a service-account key file the archive uses (Google's JSON key format). */
export const ServiceAccountKey = z.object({
  type: z.literal("service_account", { message: 'must be a service-account key ("type": "service_account")' }),
  client_email: z.string().min(3),
  private_key: z.string().includes("PRIVATE KEY", { message: "must hold the key's PEM private_key" }),
  private_key_id: z.string().optional(),
  project_id: z.string().optional(),
});
export type ServiceAccountKey = z.infer<typeof ServiceAccountKey>;

/** The label every archive bucket gets from the product itself (`user-archive` or `holding`). */
export const PRODUCT_LABEL_KEY = "switchboard";

// GCS bucket labels follow Google Cloud's label requirements
// (https://cloud.google.com/resource-manager/docs/creating-managing-labels#requirements, linked from
// https://cloud.google.com/storage/docs/tags-and-labels): at most 64 per resource; a key is 1–63
// characters, lowercase letters, international characters, digits, `_` and `-`, and starts with a
// lowercase letter or an international character; a value is 0–63 of the same characters.
const MAX_LABELS = 64;
const LABEL_KEY = /^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]*$/u;
const LABEL_VALUE = /^[\p{Ll}\p{Lo}\p{N}_-]*$/u;
const length = (s: string) => [...s].length;

/** ARCHIVE_LABELS (`key=value,key=value`) as labels, or every problem with it in words. */
export function parseArchiveLabels(raw: string): { labels: Record<string, string>; problems: string[] } {
  const labels: Record<string, string> = {};
  const problems: string[] = [];
  const items = raw.split(",").map((s) => s.trim()).filter(Boolean);
  for (const item of items) {
    const at = item.indexOf("=");
    if (at < 0) {
      problems.push(`"${item}" is not key=value`);
      continue;
    }
    const key = item.slice(0, at);
    const value = item.slice(at + 1);
    const before = problems.length;
    if (length(key) < 1 || length(key) > 63) problems.push(`key "${key}" must be 1–63 characters`);
    else if (!/^[\p{Ll}\p{Lo}]/u.test(key)) problems.push(`key "${key}" must start with a lowercase letter`);
    else if (!LABEL_KEY.test(key)) {
      problems.push(`key "${key}" may hold only lowercase letters, digits, "_" and "-"`);
    }
    if (length(value) > 63) problems.push(`the value of "${key}" must be at most 63 characters`);
    else if (!LABEL_VALUE.test(value)) {
      problems.push(`the value of "${key}" may hold only lowercase letters, digits, "_" and "-"`);
    }
    if (key === PRODUCT_LABEL_KEY) problems.push(`key "${key}" is the archive's own label`);
    else if (key in labels) problems.push(`key "${key}" appears twice`);
    if (problems.length === before) labels[key] = value;
  }
  if (items.length > MAX_LABELS - 1) {
    problems.push(`${items.length} labels: a bucket has at most ${MAX_LABELS}, one of them the archive's own`);
  }
  return { labels, problems };
}

const labelsSchema = z.string().default("app=switchboard").transform((raw, ctx) => {
  const { labels, problems } = parseArchiveLabels(raw);
  for (const problem of problems) {
    ctx.addIssue({
      code: "custom",
      message: `${problem} (GCS label rules; e.g. ARCHIVE_LABELS=app=switchboard,env=prod)`,
    });
  }
  return labels;
});

const credentialsSchema = z.string().optional().transform((raw, ctx) => {
  if (raw === undefined || raw.trim() === "") return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    ctx.addIssue({ code: "custom", message: "must be a service-account key as JSON (the key file's contents)" });
    return z.NEVER;
  }
  const key = ServiceAccountKey.safeParse(parsed);
  if (!key.success) {
    for (const issue of key.error.issues) {
      ctx.addIssue({ code: "custom", message: `${issue.path.join(".") || "key"} ${issue.message}` });
    }
    return z.NEVER;
  }
  return key.data;
});

/** Where GCS is: GCS_ENDPOINT (an emulator, or any JSON-API endpoint) and/or a service-account key. */
export const gcsEnvSchema = {
  GCS_ENDPOINT: z.url().optional(),
  GCS_PROJECT_ID: z.string().regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, "must be a Google Cloud project id").optional(),
  GCS_CREDENTIALS_JSON: credentialsSchema,
};

/** The archive's bucket policy and limits (jobs-worker). */
export const archiveEnvSchema = {
  ...gcsEnvSchema,
  ARCHIVE_BUCKET_PREFIX: z.string().default("sb-archive").refine((p) => validateBucketPrefix(p) === null, {
    message: "must be 2–25 lowercase letters, digits or dashes, without goog/google",
  }),
  ARCHIVE_BUCKET_SALT: z.string().min(8).optional(),
  ARCHIVE_LOCATION: z.string().default("US"),
  ARCHIVE_STORAGE_CLASS: z.enum(["STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE"]).default("STANDARD"),
  ARCHIVE_LABELS: labelsSchema,
  ARCHIVE_NEARLINE_DAYS: z.coerce.number().int().min(1).default(30),
  ARCHIVE_COLDLINE_DAYS: z.coerce.number().int().min(1).default(90),
  ARCHIVE_ARCHIVE_DAYS: z.coerce.number().int().min(1).default(365),
  // GCS keeps deleted objects 7 days unless a bucket says otherwise; an erased archive must be gone, so
  // new buckets turn soft delete off (0) unless a deployment chooses a 7–90 day safety net.
  ARCHIVE_SOFT_DELETE_SECONDS: z.coerce.number().int().default(0).refine((s) => validateSoftDeleteSeconds(s) === null, {
    message: "must be 0 (soft delete off) or between 604800 (7 days) and 7776000 (90 days)",
  }),
  ARCHIVE_MEDIA_MAX_BYTES: z.coerce.number().int().min(1024).default(25 * 1024 * 1024),
  ARCHIVE_MEDIA_TIMEOUT_MS: z.coerce.number().int().min(100).default(30_000),
  ARCHIVE_BUCKET_OPS_INTERVAL_MS: z.coerce.number().int().min(0).max(60_000).default(DEFAULT_BUCKET_OPS_INTERVAL_MS),
};

type GcsEnv = z.infer<z.ZodObject<typeof gcsEnvSchema>>;
type ArchiveEnv = z.infer<z.ZodObject<typeof archiveEnvSchema>>;

/** How the archive reaches GCS, decided once at start. */
export type GcsConnection =
  | { mode: "gcs"; projectId: string; key: ServiceAccountKey }
  | { mode: "emulator"; endpoint: string; projectId: string; key: ServiceAccountKey | null }
  | { mode: "unconfigured"; reason: string };

export const ARCHIVE_NOT_CONFIGURED =
  "the WhatsApp archive is not configured: set GCS_CREDENTIALS_JSON (a service-account key) and GCS_PROJECT_ID, " +
  "or GCS_ENDPOINT for an emulator";

/** Real GCS only with a key, an emulator only at GCS_ENDPOINT; with neither, no GCS at all (never
 * anonymous calls to storage.googleapis.com). */
export function gcsConnection(env: GcsEnv): GcsConnection {
  const key = env.GCS_CREDENTIALS_JSON ?? null;
  if (env.GCS_ENDPOINT) {
    return { mode: "emulator", endpoint: env.GCS_ENDPOINT, projectId: env.GCS_PROJECT_ID ?? "switchboard-local", key };
  }
  if (key) {
    const projectId = env.GCS_PROJECT_ID ?? key.project_id;
    if (!projectId) return { mode: "unconfigured", reason: `${ARCHIVE_NOT_CONFIGURED} (no project id)` };
    return { mode: "gcs", projectId, key };
  }
  return { mode: "unconfigured", reason: ARCHIVE_NOT_CONFIGURED };
}

/** The bucket policy the archive creates buckets with. */
export function bucketPolicy(env: ArchiveEnv, supabaseUrl: string): BucketPolicy {
  return {
    prefix: env.ARCHIVE_BUCKET_PREFIX,
    // Bucket names are global in GCS: the salt keeps two deployments from computing the same ones.
    salt: env.ARCHIVE_BUCKET_SALT ?? `${env.GCS_PROJECT_ID ?? "switchboard-local"}:${supabaseUrl}`,
    location: env.ARCHIVE_LOCATION,
    storageClass: env.ARCHIVE_STORAGE_CLASS,
    labels: env.ARCHIVE_LABELS,
    nearlineDays: env.ARCHIVE_NEARLINE_DAYS,
    coldlineDays: env.ARCHIVE_COLDLINE_DAYS,
    archiveDays: env.ARCHIVE_ARCHIVE_DAYS,
    softDeleteSeconds: env.ARCHIVE_SOFT_DELETE_SECONDS,
  };
}

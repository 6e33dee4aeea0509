// Bucket names and policy for the archive. One bucket per user, named from a hash of the user id
// and a deployment salt: deterministic (every job computes the same name), collision-safe
// (128 bits), and valid under GCS's rules (3–63 chars, lowercase, no "goog"; hex never spells it).

import { createHash } from "node:crypto";

export interface BucketPolicy {
  /** Lowercase prefix shared by this deployment's buckets, e.g. "sb-archive". */
  prefix: string;
  /** Mixed into the hash so two deployments never compute the same global bucket name. */
  salt: string;
  location: string;
  storageClass: string;
  labels: Record<string, string>;
  /** Days after which objects move to Nearline, Coldline and Archive. */
  nearlineDays: number;
  coldlineDays: number;
  archiveDays: number;
  /** How long GCS keeps deleted and replaced objects (soft delete): 0 disables it, else 7–90 days.
   * GCS turns it on for 7 days unless a bucket says otherwise; an archive that is erased on request
   * sets it, so "erased" means gone (see ARCHIVE_SOFT_DELETE_SECONDS). */
  softDeleteSeconds: number;
}

/** GCS accepts a soft delete retention of 0 (off) or 7 to 90 days (https://cloud.google.com/storage/docs/soft-delete). */
export function validateSoftDeleteSeconds(seconds: number): string | null {
  if (seconds === 0 || (seconds >= 7 * 86_400 && seconds <= 90 * 86_400)) return null;
  return "must be 0 (soft delete off) or between 604800 (7 days) and 7776000 (90 days)";
}

const PREFIX = /^[a-z0-9][a-z0-9-]{0,23}[a-z0-9]$/;

export function validateBucketPrefix(prefix: string): string | null {
  if (!PREFIX.test(prefix)) {
    return "must be 2–25 lowercase letters, digits or dashes, starting and ending with a letter or digit";
  }
  if (prefix.startsWith("goog") || prefix.includes("google") || prefix.includes("g00gle")) {
    return "must not contain goog/google";
  }
  return null;
}

function hex(input: string, chars: number): string {
  return createHash("sha256").update(input).digest("hex").slice(0, chars);
}

export function userBucketName(policy: BucketPolicy, userId: string): string {
  return `${policy.prefix}-u-${hex(`${policy.salt}:user:${userId}`, 32)}`;
}

export function holdingBucketName(policy: BucketPolicy): string {
  return `${policy.prefix}-holding-${hex(`${policy.salt}:holding`, 16)}`;
}

/** GCS lifecycle rules: colder storage classes as objects age. */
export function lifecycleRules(policy: BucketPolicy) {
  return [
    { action: { type: "SetStorageClass", storageClass: "NEARLINE" }, condition: { age: policy.nearlineDays } },
    { action: { type: "SetStorageClass", storageClass: "COLDLINE" }, condition: { age: policy.coldlineDays } },
    { action: { type: "SetStorageClass", storageClass: "ARCHIVE" }, condition: { age: policy.archiveDays } },
  ];
}

/** Object names: everything of one conversation together, one JSON document per message. */
export function messageObjectName(m: { storeId: string; phone: string; displayId: number; messageId: number }): string {
  return `stores/${m.storeId}/whatsapp/${
    m.phone.replace(/^\+/, "")
  }/conversations/${m.displayId}/messages/${m.messageId}.json`;
}

export function mediaObjectName(
  m: { storeId: string; phone: string; displayId: number; messageId: number },
  attachmentId: number,
  extension: string | null,
): string {
  const ext = extension && /^[a-z0-9]{1,10}$/i.test(extension) ? `.${extension.toLowerCase()}` : "";
  return `stores/${m.storeId}/whatsapp/${
    m.phone.replace(/^\+/, "")
  }/conversations/${m.displayId}/media/${m.messageId}-${attachmentId}${ext}`;
}

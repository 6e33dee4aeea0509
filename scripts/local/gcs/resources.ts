// The bucket and object records the emulator keeps, how request bodies become records (insert and PATCH
// semantics, validation of storage classes, labels, lifecycle rules) and how records become JSON API resources.

import { Buffer } from "node:buffer";
import { invalid } from "./errors.ts";

export const STORAGE_CLASSES = [
  "STANDARD",
  "NEARLINE",
  "COLDLINE",
  "ARCHIVE",
  "MULTI_REGIONAL",
  "REGIONAL",
  "DURABLE_REDUCED_AVAILABILITY",
] as const;

const LIFECYCLE_ACTIONS = ["Delete", "SetStorageClass", "AbortIncompleteMultipartUpload"];
const LIFECYCLE_CONDITIONS = [
  "age",
  "createdBefore",
  "customTimeBefore",
  "daysSinceCustomTime",
  "daysSinceNoncurrentTime",
  "isLive",
  "matchesStorageClass",
  "matchesPrefix",
  "matchesSuffix",
  "noncurrentTimeBefore",
  "numNewerVersions",
];
const MULTI_REGIONS = ["US", "EU", "ASIA"];
const DUAL_REGIONS = ["ASIA1", "EUR4", "EUR5", "EUR7", "EUR8", "NAM4"];
/** UBLA can be turned off again for 90 days after it is turned on; GCS reports that deadline as lockedTime. */
const UBLA_LOCK_MS = 90 * 24 * 3600 * 1000;

/**
 * Soft delete (https://cloud.google.com/storage/docs/soft-delete): a bucket created without a policy keeps deleted
 * and overwritten objects for seven days; 0 disables it, otherwise the retention is 7 to 90 days. Buckets that
 * predate the policy got the same default when GCS turned it on for existing buckets in 2024.
 */
export const DEFAULT_SOFT_DELETE_SECONDS = 7 * 24 * 3600;
const MAX_SOFT_DELETE_SECONDS = 90 * 24 * 3600;

export interface SoftDeletePolicy {
  retentionDurationSeconds: number;
  /** When this retention (or a longer one) took effect; absent while soft delete is off. */
  effectiveTime?: string;
}

/** Bucket fields GCS accepts and returns as sent; the emulator stores them and gives them no behaviour. */
const PASSTHROUGH_BUCKET_FIELDS = [
  "versioning",
  "cors",
  "website",
  "logging",
  "billing",
  "retentionPolicy",
  "defaultEventBasedHold",
  "encryption",
  "autoclass",
  "customPlacementConfig",
  "hierarchicalNamespace",
  "objectRetention",
];

export interface IamConfiguration {
  uniformBucketLevelAccess: { enabled: boolean; lockedTime?: string };
  publicAccessPrevention: string;
}

export interface BucketRecord {
  name: string;
  /** The project id it was inserted under (kept, not shown: GCS shows only projectNumber); absent on older data. */
  project?: string;
  projectNumber: string;
  location: string;
  locationType: string;
  storageClass: string;
  metageneration: number;
  timeCreated: string;
  updated: string;
  iamConfiguration: IamConfiguration;
  labels?: Record<string, string>;
  lifecycle?: { rule: unknown[] };
  rpo?: string;
  /** Absent in buckets persisted before the emulator modelled it: the default applies (see softDeletePolicyOf). */
  softDeletePolicy?: SoftDeletePolicy;
  /** Buckets have generations too (a soft-deleted bucket is restored by its generation); absent in old records. */
  generation?: number;
  /** Set once the bucket is soft-deleted. */
  softDeleteTime?: string;
  hardDeleteTime?: string;
  /** PASSTHROUGH_BUCKET_FIELDS, as sent. */
  extra: Record<string, unknown>;
}

/** Object fields a client may set on insert (and, storageClass aside, on PATCH). */
export interface ObjectFields {
  contentType?: string;
  contentEncoding?: string;
  contentDisposition?: string;
  contentLanguage?: string;
  cacheControl?: string;
  customTime?: string;
  metadata?: Record<string, string>;
  temporaryHold?: boolean;
  eventBasedHold?: boolean;
  storageClass?: string;
}

const STRING_OBJECT_FIELDS = [
  "contentType",
  "contentEncoding",
  "contentDisposition",
  "contentLanguage",
  "cacheControl",
  "customTime",
] as const;
const BOOLEAN_OBJECT_FIELDS = ["temporaryHold", "eventBasedHold"] as const;

export interface ObjectRecord extends ObjectFields {
  bucket: string;
  name: string;
  generation: number;
  metageneration: number;
  size: number;
  md5Hash: string;
  crc32c: string;
  contentType: string;
  storageClass: string;
  timeCreated: string;
  updated: string;
  timeStorageClassUpdated: string;
  /** Set when the generation was soft-deleted (deleted or replaced while the bucket's policy retained it). */
  softDeleteTime?: string;
  /** When a soft-deleted generation is gone for good. */
  hardDeleteTime?: string;
  /** The blob's file name under the bucket's blobs/ folder. */
  blob: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v);

export function normalizeStorageClass(value: unknown): string {
  if (typeof value !== "string") throw invalid("Invalid storage class: expected a string.");
  const upper = value.toUpperCase();
  if (!(STORAGE_CLASSES as readonly string[]).includes(upper)) throw invalid(`Invalid storage class: ${value}`);
  return upper;
}

function locationTypeOf(location: string): string {
  if (MULTI_REGIONS.includes(location)) return "multi-region";
  if (DUAL_REGIONS.includes(location)) return "dual-region";
  return "region";
}

const LABEL_KEY = /^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$/u;
const LABEL_VALUE = /^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$/u;

/** Merges label changes into `current` (PATCH semantics: a null value removes the key). */
function mergeLabels(
  current: Record<string, string> | undefined,
  changes: unknown,
): Record<string, string> | undefined {
  if (changes === null) return undefined;
  if (!isObject(changes)) throw invalid("Invalid value for labels: expected an object.");
  const out = { ...current };
  for (const [key, value] of Object.entries(changes)) {
    if (value === null) {
      delete out[key];
      continue;
    }
    if (!LABEL_KEY.test(key)) throw invalid(`Invalid label key: '${key}'`);
    if (typeof value !== "string" || !LABEL_VALUE.test(value)) throw invalid(`Invalid label value for '${key}'`);
    out[key] = value;
  }
  if (Object.keys(out).length > 64) throw invalid("A bucket can have at most 64 labels.");
  return Object.keys(out).length ? out : undefined;
}

/** Checks lifecycle rules the way GCS does and returns them exactly as sent. */
function validateLifecycle(value: unknown): { rule: unknown[] } | undefined {
  if (value === null) return undefined;
  if (!isObject(value)) throw invalid("Invalid value for lifecycle: expected an object.");
  const rules = value.rule ?? [];
  if (!Array.isArray(rules)) throw invalid("Invalid value for lifecycle.rule: expected a list.");
  if (rules.length > 100) throw invalid("A bucket can have at most 100 lifecycle rules.");
  rules.forEach((rule, i) => {
    if (!isObject(rule) || !isObject(rule.action) || !isObject(rule.condition)) {
      throw invalid(`Invalid lifecycle rule ${i}: an action and a condition are required.`);
    }
    const type = rule.action.type;
    if (typeof type !== "string" || !LIFECYCLE_ACTIONS.includes(type)) {
      throw invalid(`Invalid lifecycle action type at rule ${i}: ${String(type)}`);
    }
    if (type === "SetStorageClass") {
      const target = rule.action.storageClass;
      if (typeof target !== "string" || !(STORAGE_CLASSES as readonly string[]).includes(target)) {
        throw invalid(`Invalid lifecycle action storage class at rule ${i}: ${String(target)}`);
      }
    }
    const keys = Object.keys(rule.condition);
    if (!keys.length) throw invalid(`Invalid lifecycle rule ${i}: the condition is empty.`);
    const unknown = keys.find((k) => !LIFECYCLE_CONDITIONS.includes(k));
    if (unknown) throw invalid(`Invalid lifecycle condition at rule ${i}: ${unknown}`);
  });
  return { rule: rules };
}

function iamConfigurationFrom(
  value: unknown,
  current: IamConfiguration | undefined,
  nowMs: number,
): IamConfiguration {
  const out: IamConfiguration = current
    ? structuredClone(current)
    : { uniformBucketLevelAccess: { enabled: false }, publicAccessPrevention: "inherited" };
  if (value === undefined || value === null) return out;
  if (!isObject(value)) throw invalid("Invalid value for iamConfiguration: expected an object.");
  // bucketPolicyOnly is the old name of uniformBucketLevelAccess; GCS accepts either.
  const ubla = value.uniformBucketLevelAccess ?? value.bucketPolicyOnly;
  if (isObject(ubla) && typeof ubla.enabled === "boolean" && ubla.enabled !== out.uniformBucketLevelAccess.enabled) {
    out.uniformBucketLevelAccess = ubla.enabled
      ? { enabled: true, lockedTime: new Date(nowMs + UBLA_LOCK_MS).toISOString() }
      : { enabled: false };
  }
  if (value.publicAccessPrevention !== undefined) {
    const pap = value.publicAccessPrevention;
    if (pap !== "inherited" && pap !== "enforced" && pap !== "unspecified") {
      throw invalid(`Invalid value for iamConfiguration.publicAccessPrevention: ${String(pap)}`);
    }
    out.publicAccessPrevention = pap === "unspecified" ? "inherited" : pap;
  }
  return out;
}

/** The policy in force on a bucket (the default for a record that has none). */
export function softDeletePolicyOf(b: BucketRecord): SoftDeletePolicy {
  return b.softDeletePolicy ?? { retentionDurationSeconds: DEFAULT_SOFT_DELETE_SECONDS };
}

/** A softDeletePolicy from a request body; GCS takes the duration as an int64 string or a number. */
function softDeletePolicyFrom(value: unknown, current: SoftDeletePolicy | undefined, nowMs: number): SoftDeletePolicy {
  if (value === null) return { retentionDurationSeconds: 0 };
  if (!isObject(value)) throw invalid("Invalid value for softDeletePolicy: expected an object.");
  const raw = value.retentionDurationSeconds ?? DEFAULT_SOFT_DELETE_SECONDS;
  const seconds = typeof raw === "string" && /^\d+$/.test(raw) ? Number(raw) : raw;
  if (
    typeof seconds !== "number" || !Number.isInteger(seconds) ||
    (seconds !== 0 && (seconds < DEFAULT_SOFT_DELETE_SECONDS || seconds > MAX_SOFT_DELETE_SECONDS))
  ) {
    throw invalid(
      `Invalid argument: softDeletePolicy.retentionDurationSeconds must be 0 or between ${DEFAULT_SOFT_DELETE_SECONDS} and ${MAX_SOFT_DELETE_SECONDS} seconds.`,
    );
  }
  if (seconds === 0) return { retentionDurationSeconds: 0 };
  // The effective time moves only when the retention changes (a longer one applies from now on).
  if (current?.retentionDurationSeconds === seconds && current.effectiveTime) return current;
  return { retentionDurationSeconds: seconds, effectiveTime: new Date(nowMs).toISOString() };
}

/** A new bucket from a buckets.insert body (name already validated). */
export function bucketFromInsert(name: string, body: Record<string, unknown>, nowMs: number): BucketRecord {
  const location = typeof body.location === "string" && body.location ? body.location.toUpperCase() : "US";
  const locationType = locationTypeOf(location);
  const time = new Date(nowMs).toISOString();
  const record: BucketRecord = {
    name,
    projectNumber: "0",
    location,
    locationType,
    storageClass: body.storageClass === undefined ? "STANDARD" : normalizeStorageClass(body.storageClass),
    metageneration: 1,
    timeCreated: time,
    updated: time,
    iamConfiguration: iamConfigurationFrom(body.iamConfiguration, undefined, nowMs),
    softDeletePolicy: softDeletePolicyFrom(body.softDeletePolicy ?? {}, undefined, nowMs),
    extra: {},
  };
  if (locationType !== "region") record.rpo = typeof body.rpo === "string" ? body.rpo : "DEFAULT";
  if (body.labels !== undefined) record.labels = mergeLabels(undefined, body.labels);
  if (body.lifecycle !== undefined) record.lifecycle = validateLifecycle(body.lifecycle);
  for (const field of PASSTHROUGH_BUCKET_FIELDS) {
    if (body[field] !== undefined && body[field] !== null) record.extra[field] = body[field];
  }
  return record;
}

/** buckets.patch: top-level fields replace, labels merge, null clears; metageneration goes up by one. */
export function patchBucket(current: BucketRecord, body: Record<string, unknown>, nowMs: number): BucketRecord {
  const next: BucketRecord = structuredClone(current);
  if (body.storageClass !== undefined) next.storageClass = normalizeStorageClass(body.storageClass);
  if (body.labels !== undefined) next.labels = mergeLabels(current.labels, body.labels);
  if (body.lifecycle !== undefined) next.lifecycle = validateLifecycle(body.lifecycle);
  if (body.iamConfiguration !== undefined) {
    next.iamConfiguration = iamConfigurationFrom(body.iamConfiguration, current.iamConfiguration, nowMs);
  }
  if (typeof body.rpo === "string" && current.locationType !== "region") next.rpo = body.rpo;
  if (body.softDeletePolicy !== undefined) {
    next.softDeletePolicy = softDeletePolicyFrom(body.softDeletePolicy, softDeletePolicyOf(current), nowMs);
  }
  for (const field of PASSTHROUGH_BUCKET_FIELDS) {
    if (body[field] === null) delete next.extra[field];
    else if (body[field] !== undefined) next.extra[field] = body[field];
  }
  if (!next.labels) delete next.labels;
  if (!next.lifecycle) delete next.lifecycle;
  next.metageneration = current.metageneration + 1;
  next.updated = new Date(nowMs).toISOString();
  return next;
}

function varint(n: number): number[] {
  const out: number[] = [];
  let v = BigInt(n);
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return out;
}

/** GCS's etags are base64 protobufs of (generation, metageneration); these look and change the same way. */
function etag(...fields: number[]): string {
  const bytes: number[] = [];
  fields.forEach((value, i) => bytes.push(((i + 1) << 3) | 0, ...varint(value)));
  return Buffer.from(bytes).toString("base64");
}

export function bucketResource(b: BucketRecord, origin: string): Record<string, unknown> {
  const ubla = b.iamConfiguration.uniformBucketLevelAccess;
  return {
    kind: "storage#bucket",
    selfLink: `${origin}/storage/v1/b/${b.name}`,
    id: b.name,
    name: b.name,
    projectNumber: b.projectNumber,
    metageneration: String(b.metageneration),
    location: b.location,
    storageClass: b.storageClass,
    etag: etag(b.metageneration),
    timeCreated: b.timeCreated,
    updated: b.updated,
    iamConfiguration: {
      bucketPolicyOnly: { ...ubla },
      uniformBucketLevelAccess: { ...ubla },
      publicAccessPrevention: b.iamConfiguration.publicAccessPrevention,
    },
    locationType: b.locationType,
    ...(b.generation !== undefined ? { generation: String(b.generation) } : {}),
    softDeletePolicy: softDeletePolicyResource(softDeletePolicyOf(b)),
    ...(b.softDeleteTime ? { softDeleteTime: b.softDeleteTime, hardDeleteTime: b.hardDeleteTime } : {}),
    ...(b.rpo ? { rpo: b.rpo } : {}),
    ...(b.labels ? { labels: b.labels } : {}),
    ...(b.lifecycle ? { lifecycle: b.lifecycle } : {}),
    ...b.extra,
  };
}

function softDeletePolicyResource(p: SoftDeletePolicy): Record<string, string> {
  return {
    retentionDurationSeconds: String(p.retentionDurationSeconds),
    ...(p.effectiveTime ? { effectiveTime: p.effectiveTime } : {}),
  };
}

/** Encodes an object name for a URL path segment the way GCS's own links do. */
export function encodeObjectName(name: string): string {
  return encodeURIComponent(name);
}

export function objectResource(o: ObjectRecord, origin: string): Record<string, unknown> {
  const path = `b/${o.bucket}/o/${encodeObjectName(o.name)}`;
  const out: Record<string, unknown> = {
    kind: "storage#object",
    id: `${o.bucket}/${o.name}/${o.generation}`,
    selfLink: `${origin}/storage/v1/${path}`,
    mediaLink: `${origin}/download/storage/v1/${path}?generation=${o.generation}&alt=media`,
    name: o.name,
    bucket: o.bucket,
    generation: String(o.generation),
    metageneration: String(o.metageneration),
    contentType: o.contentType,
    storageClass: o.storageClass,
    size: String(o.size),
    md5Hash: o.md5Hash,
    crc32c: o.crc32c,
    etag: etag(o.generation, o.metageneration),
    timeCreated: o.timeCreated,
    updated: o.updated,
    timeStorageClassUpdated: o.timeStorageClassUpdated,
    timeFinalized: o.timeCreated,
    ...(o.softDeleteTime ? { softDeleteTime: o.softDeleteTime, hardDeleteTime: o.hardDeleteTime } : {}),
  };
  for (const field of STRING_OBJECT_FIELDS) {
    if (field !== "contentType" && o[field] !== undefined) out[field] = o[field];
  }
  for (const field of BOOLEAN_OBJECT_FIELDS) if (o[field] !== undefined) out[field] = o[field];
  if (o.metadata && Object.keys(o.metadata).length) out.metadata = o.metadata;
  return out;
}

function metadataMap(value: unknown, current: Record<string, string> | undefined): Record<string, string> | undefined {
  if (value === null) return undefined;
  if (!isObject(value)) throw invalid("Invalid value for metadata: expected an object.");
  const out = { ...current };
  for (const [key, v] of Object.entries(value)) {
    if (v === null) delete out[key];
    else out[key] = typeof v === "string" ? v : JSON.stringify(v);
  }
  return Object.keys(out).length ? out : undefined;
}

/**
 * The client-settable fields of an insert body or PATCH body, applied onto `base`. With `patch`, null removes a
 * field and custom metadata merges key by key; on insert, custom metadata is taken whole.
 */
export function applyObjectFields(base: ObjectFields, body: Record<string, unknown>, patch: boolean): ObjectFields {
  const out: ObjectFields = { ...base, metadata: base.metadata ? { ...base.metadata } : undefined };
  for (const field of STRING_OBJECT_FIELDS) {
    const value = body[field];
    if (value === undefined) continue;
    if (value === null) delete out[field];
    else if (typeof value !== "string") throw invalid(`Invalid value for ${field}: expected a string.`);
    else if (field === "customTime" && Number.isNaN(Date.parse(value))) {
      throw invalid(`Invalid value for customTime: ${value}`);
    } else out[field] = value;
  }
  for (const field of BOOLEAN_OBJECT_FIELDS) {
    const value = body[field];
    if (value === undefined) continue;
    if (value === null) delete out[field];
    else if (typeof value !== "boolean") throw invalid(`Invalid value for ${field}: expected a boolean.`);
    else out[field] = value;
  }
  if (body.metadata !== undefined) out.metadata = metadataMap(body.metadata, patch ? out.metadata : undefined);
  if (!out.metadata) delete out.metadata;
  return out;
}

/** The settable fields of a record (what a copy carries over from its source). */
export function objectFieldsOf(o: ObjectRecord): ObjectFields {
  const out: ObjectFields = {};
  for (const field of STRING_OBJECT_FIELDS) if (o[field] !== undefined) out[field] = o[field];
  for (const field of BOOLEAN_OBJECT_FIELDS) if (o[field] !== undefined) out[field] = o[field];
  if (o.metadata) out.metadata = { ...o.metadata };
  return out;
}

/** `record` with its settable fields replaced by `fields` (metadata-only updates: PATCH/PUT). */
export function withObjectFields(record: ObjectRecord, fields: ObjectFields): ObjectRecord {
  const next: ObjectRecord = { ...record };
  for (const field of [...STRING_OBJECT_FIELDS, ...BOOLEAN_OBJECT_FIELDS, "metadata"] as const) delete next[field];
  Object.assign(next, fields);
  next.contentType = fields.contentType ?? "application/octet-stream";
  next.storageClass = record.storageClass;
  return next;
}

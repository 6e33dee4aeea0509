// The archive's view of Google Cloud Storage, always through @google-cloud/storage: buckets
// created once (a race's loser adopts the winner's), objects written only under generation
// preconditions (a retried job never duplicates or overwrites blindly), media streamed with a
// size cap while SHA-256 and CRC32C are computed, and short-lived signed URLs for downloads.

// First: the SDK cannot load on the edge runtime's Deno without it (see google_sdk_compat.ts).
import "./google_sdk_compat.ts";
import { Storage } from "@google-cloud/storage";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { Crc32c } from "@aws-crypto/crc32c";
import { type CpuTimer, untimed } from "../platform/cpu_timer.ts";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type BucketPolicy, lifecycleRules } from "./buckets.ts";
import { serviceAccountAuth } from "./service_account.ts";
import { ARCHIVE_NOT_CONFIGURED, type GcsConnection, ServiceAccountKey } from "./config.ts";

export interface StoredObject {
  bucket: string;
  name: string;
  generation: string;
  size: number;
  sha256: string;
  /** Base64 big-endian CRC32C, as GCS reports it. */
  crc32c: string;
  contentType: string | null;
}

/** CRC32C as GCS reports it: the big-endian digest in base64. */
function crc32cBase64(crc: Crc32c): string {
  const n = crc.digest();
  return btoa(String.fromCharCode((n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255));
}

export class MediaError extends Error {
  constructor(message: string, readonly permanent: boolean) {
    super(message);
    this.name = "MediaError";
  }
}

/** Thrown by every use of the archive's storage when GCS is not configured (config.ts): the archive
 * fails closed instead of calling storage.googleapis.com anonymously. */
export class ArchiveNotConfigured extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ArchiveNotConfigured";
  }
}

/** Real GCS with a service account (its key, e.g. from a secret), or any endpoint speaking the JSON
 * API (the local emulator) when apiEndpoint is given; one or the other is required. `retries: false`
 * makes every call a single request: bucket creates and deletes, whose attempts the project's
 * quota limiter (bucket_quota.ts) hands out one by one — the SDK would otherwise retry a 429 on its
 * own, inside the same two seconds. */
export function createStorage(
  opts: {
    apiEndpoint?: string;
    projectId?: string;
    credentialsJson?: string;
    key?: ServiceAccountKey | null;
    maxRetries?: number;
    retries?: boolean;
  },
): Storage {
  const key = opts.key ?? (opts.credentialsJson ? ServiceAccountKey.parse(JSON.parse(opts.credentialsJson)) : null);
  if (!opts.apiEndpoint && !key) throw new ArchiveNotConfigured(ARCHIVE_NOT_CONFIGURED);
  const projectId = opts.projectId ?? key?.project_id ?? "switchboard-local";
  return new Storage({
    projectId,
    ...(opts.apiEndpoint ? { apiEndpoint: opts.apiEndpoint } : {}),
    ...(key ? { authClient: serviceAccountAuth(key, projectId) } : {}),
    retryOptions: {
      autoRetry: opts.retries !== false,
      maxRetries: opts.maxRetries ?? 4,
      retryDelayMultiplier: 2,
      totalTimeout: 120,
    },
  });
}

/** A stand-in for the archive's Storage when GCS is not configured: any use of it throws
 * ArchiveNotConfigured with `reason`, so code paths that never need GCS (erasing a user who has no
 * archive) still work and none can reach Google. */
export function unconfiguredStorage(reason: string): Storage {
  return new Proxy({} as Storage, {
    get(_target, property) {
      // Not thenable: awaiting or returning it from an async function must not touch it.
      if (property === "then") return undefined;
      throw new ArchiveNotConfigured(reason);
    },
  });
}

/** The archive's clients for a connection: `storage` for objects (the SDK retries what is safe to),
 * `bucketStorage` for bucket creates and deletes (single requests: see createStorage). */
export function archiveStorage(connection: GcsConnection): { storage: Storage; bucketStorage: Storage } {
  if (connection.mode === "unconfigured") {
    const failClosed = unconfiguredStorage(connection.reason);
    return { storage: failClosed, bucketStorage: failClosed };
  }
  const common = {
    apiEndpoint: connection.mode === "emulator" ? connection.endpoint : undefined,
    projectId: connection.projectId,
    key: connection.key,
  };
  return { storage: createStorage(common), bucketStorage: createStorage({ ...common, retries: false }) };
}

function code(err: unknown): number | undefined {
  return (err as { code?: number })?.code;
}

/** The bucket name is taken by another GCS project: it can never be this archive's. */
export class ForeignBucketError extends Error {
  constructor(readonly bucket: string, detail: string) {
    super(
      `bucket ${bucket} exists but belongs to another project (${detail}): change ARCHIVE_BUCKET_SALT ` +
        `(or ARCHIVE_BUCKET_PREFIX), then replay the job`,
    );
    this.name = "ForeignBucketError";
  }
}

/** Creates the bucket with the policy's class, location, labels, uniform access and lifecycle;
 * a 409 means the name exists, which is fine only if we can read it (it is ours). A bucket of
 * another project answers exists() with 403 (we lack storage.buckets.get on it), not false:
 * both mean the same. One create request: the caller paces them (bucket_quota.ts) and a 429
 * reaches it. */
export async function ensureBucket(
  storage: Storage,
  name: string,
  policy: BucketPolicy,
  labels: Record<string, string>,
) {
  try {
    await storage.createBucket(name, {
      location: policy.location,
      storageClass: policy.storageClass,
      labels: { ...policy.labels, ...labels },
      iamConfiguration: { uniformBucketLevelAccess: { enabled: true }, publicAccessPrevention: "enforced" },
      lifecycle: { rule: lifecycleRules(policy) },
      // Without it GCS keeps every deleted object for 7 days: an erased archive would still be there.
      softDeletePolicy: { retentionDurationSeconds: policy.softDeleteSeconds },
    } as never);
  } catch (err) {
    if (code(err) !== 409) throw err;
    let exists: boolean;
    try {
      [exists] = await storage.bucket(name).exists();
    } catch (e) {
      if (code(e) === 403) throw new ForeignBucketError(name, (e as Error).message);
      throw e;
    }
    if (!exists) throw new ForeignBucketError(name, (err as Error).message);
  }
}

/** Writes `body` as `name` if absent (ifGenerationMatch 0) or replaces exactly `generation`.
 * Returns the new generation, or null when the precondition failed (someone wrote first). */
export async function writeObject(
  storage: Storage,
  bucket: string,
  name: string,
  body: Uint8Array,
  opts: { contentType: string; ifGenerationMatch: string | 0; metadata?: Record<string, string> },
): Promise<StoredObject | null> {
  const file = storage.bucket(bucket).file(name);
  try {
    await file.save(Buffer.from(body), {
      resumable: false,
      contentType: opts.contentType,
      metadata: { metadata: opts.metadata ?? {} },
      preconditionOpts: { ifGenerationMatch: opts.ifGenerationMatch as number },
      validation: "crc32c",
    });
  } catch (err) {
    if (code(err) === 412) return null;
    throw err;
  }
  const [meta] = await file.getMetadata();
  return {
    bucket,
    name,
    generation: String(meta.generation),
    size: Number(meta.size),
    sha256: createHash("sha256").update(body).digest("hex"),
    crc32c: String(meta.crc32c),
    contentType: meta.contentType ?? null,
  };
}

export async function objectGeneration(storage: Storage, bucket: string, name: string): Promise<string | null> {
  try {
    const [meta] = await storage.bucket(bucket).file(name).getMetadata();
    return String(meta.generation);
  } catch (err) {
    if (code(err) === 404) return null;
    throw err;
  }
}

/** Streams a URL into `bucket/name` (only if absent), hashing as it goes, stopping at maxBytes
 * or after timeoutMs. GCS makes an object visible only when its upload completes, so a job that
 * dies mid-stream leaves nothing behind. If the object already exists (an earlier attempt got
 * that far), its bytes are read back to compute the SHA-256 it is recorded with. */
export async function streamUrlToObject(
  storage: Storage,
  fetchFn: typeof fetch,
  url: string,
  bucket: string,
  name: string,
  // Hashing a 25 MiB medium costs ~230 ms of the 2 s a hosted request may spend: charged to the job's budget.
  opts: { maxBytes: number; timeoutMs: number; contentType: string | null; cpu?: CpuTimer },
): Promise<StoredObject> {
  const cpu = opts.cpu ?? untimed;
  const file = storage.bucket(bucket).file(name);
  const [exists] = await file.exists();
  if (!exists) {
    const res = await fetchFn(url, { redirect: "follow", signal: AbortSignal.timeout(opts.timeoutMs) }).catch((err) => {
      throw new MediaError(`media download failed: ${err instanceof Error ? err.message : err}`, false);
    });
    if (res.status === 404 || res.status === 410) throw new MediaError(`media is gone (${res.status})`, true);
    if (!res.ok || !res.body) throw new MediaError(`media download answered ${res.status}`, false);
    const declared = Number(res.headers.get("content-length") ?? "0");
    if (declared > opts.maxBytes) {
      await res.body.cancel();
      throw new MediaError(`media is ${declared} bytes, over the ${opts.maxBytes}-byte cap`, true);
    }
    const contentType = opts.contentType ?? res.headers.get("content-type") ?? "application/octet-stream";
    let size = 0;
    const sha = createHash("sha256");
    const crc = new Crc32c();
    // Both hashes are computed here, timed against the job's CPU budget; the SDK's own CRC32C pass
    // (validation) would cost as much again, untimed, so it is off and the result checked below.
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        cpu.time(() => {
          sha.update(chunk);
          crc.update(chunk);
        });
        if (size > opts.maxBytes) done(new MediaError(`media exceeds the ${opts.maxBytes}-byte cap`, true));
        else done(null, chunk);
      },
    });
    try {
      await pipeline(
        Readable.fromWeb(res.body as never),
        meter,
        file.createWriteStream({
          resumable: false,
          contentType,
          validation: false,
          preconditionOpts: { ifGenerationMatch: 0 },
        }),
      );
      // Uploaded now: the hashes were computed on the way through, no need to read it back.
      const [meta] = await file.getMetadata();
      if (String(meta.crc32c) !== crc32cBase64(crc)) {
        // Corrupted on the way: drop exactly this generation so the retry uploads it again.
        await file.delete({ ifGenerationMatch: Number(meta.generation) }).catch(() => {});
        throw new MediaError(
          `stored media's CRC32C ${meta.crc32c} is not the downloaded bytes' ${crc32cBase64(crc)}`,
          false,
        );
      }
      return {
        bucket,
        name,
        generation: String(meta.generation),
        size: Number(meta.size),
        sha256: sha.digest("hex"),
        crc32c: String(meta.crc32c),
        contentType: meta.contentType ?? null,
      };
    } catch (err) {
      if (code(err) !== 412) {
        if (err instanceof MediaError) throw err;
        if ((err as Error)?.name === "TimeoutError") {
          throw new MediaError(`media download timed out after ${opts.timeoutMs} ms`, false);
        }
        throw err;
      }
    }
  }
  return await describeObject(storage, bucket, name, cpu);
}

/** `recorded` (a medium as an earlier run stored it) as it now stands in `bucket` — the same object,
 * or the copy a move made — if GCS holds it there with the same size and CRC32C; else null. One
 * metadata read: the SHA-256 recorded before still describes those bytes, so nothing is downloaded
 * (a download would also go through the SDK's stream plumbing, where @google-cloud/storage 8 piles 11
 * listeners on one PassThrough and Node prints MaxListenersExceededWarning every time:
 * googleapis/google-cloud-node#9185). */
export async function confirmStoredCopy(
  storage: Storage,
  bucket: string,
  recorded: StoredObject,
): Promise<StoredObject | null> {
  let meta;
  try {
    [meta] = await storage.bucket(bucket).file(recorded.name).getMetadata();
  } catch (err) {
    if (code(err) === 404) return null;
    throw err;
  }
  if (String(meta.crc32c) !== recorded.crc32c || Number(meta.size) !== recorded.size) return null;
  return { ...recorded, bucket, generation: String(meta.generation), contentType: meta.contentType ?? null };
}

/** Metadata plus a SHA-256 computed from the stored bytes (GCS keeps only MD5 and CRC32C). Used only
 * when an earlier attempt stored the object but died before recording it. */
export async function describeObject(
  storage: Storage,
  bucket: string,
  name: string,
  cpu: CpuTimer = untimed,
): Promise<StoredObject> {
  const file = storage.bucket(bucket).file(name);
  const [meta] = await file.getMetadata();
  const sha = createHash("sha256");
  const crc = new Crc32c();
  for await (const chunk of file.createReadStream({ validation: false })) {
    cpu.time(() => {
      sha.update(chunk as Buffer);
      crc.update(chunk as Buffer);
    });
  }
  if (String(meta.crc32c) !== crc32cBase64(crc)) {
    throw new MediaError(`the bytes read back from ${bucket}/${name} do not match its CRC32C`, false);
  }
  return {
    bucket,
    name,
    generation: String(meta.generation),
    size: Number(meta.size),
    sha256: sha.digest("hex"),
    crc32c: String(meta.crc32c),
    contentType: meta.contentType ?? null,
  };
}

/** Copies to the destination only if absent there; returns the destination's description. */
export async function copyObject(
  storage: Storage,
  from: { bucket: string; name: string },
  toBucket: string,
): Promise<string> {
  const dest = storage.bucket(toBucket).file(from.name);
  try {
    await storage.bucket(from.bucket).file(from.name).copy(
      dest,
      { preconditionOpts: { ifGenerationMatch: 0 } } as never,
    );
  } catch (err) {
    if (code(err) !== 412) throw err; // already copied by an earlier attempt
  }
  const [meta] = await dest.getMetadata();
  return String(meta.generation);
}

export async function deleteObject(storage: Storage, bucket: string, name: string): Promise<void> {
  try {
    await storage.bucket(bucket).file(name).delete();
  } catch (err) {
    if (code(err) !== 404) throw err;
  }
}

export async function signedDownloadUrl(
  storage: Storage,
  bucket: string,
  name: string,
  ttlSeconds: number,
): Promise<string> {
  const [url] = await storage.bucket(bucket).file(name).getSignedUrl({
    version: "v4",
    action: "read",
    expires: Date.now() + ttlSeconds * 1000,
  });
  return url;
}

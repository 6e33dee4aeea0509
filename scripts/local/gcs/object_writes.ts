// How a new object generation comes to be — from uploaded bytes (any upload type, signed PUT) or from another
// object (rewrite/copy/move): checksum verification, preconditions, and the record that gets committed.

import { Buffer } from "node:buffer";
import { invalid, objectNotFound } from "./errors.ts";
import { type Checksums, ObjectHasher } from "./hashes.ts";
import { checkObjectPreconditions, type Preconditions } from "./preconditions.ts";
import { type ObjectFields, objectFieldsOf, type ObjectRecord } from "./resources.ts";
import type { GcsStore } from "./store.ts";

export interface WriteDeps {
  store: GcsStore;
  now: () => number;
}

/** Hashes a client declared for the bytes it sent (object metadata crc32c/md5Hash, or an X-Goog-Hash header). */
export interface DeclaredHashes {
  crc32c?: string;
  md5?: string;
}

const canonicalBase64 = (value: string) => Buffer.from(value, "base64").toString("base64");

/** 400 when a declared checksum does not match the bytes received (GCS then stores nothing). */
export function verifyDeclaredHashes(declared: DeclaredHashes, actual: Checksums): void {
  if (declared.crc32c !== undefined && canonicalBase64(declared.crc32c) !== actual.crc32c) {
    throw invalid(`Provided CRC32C "${declared.crc32c}" doesn't match calculated CRC32C "${actual.crc32c}".`);
  }
  if (declared.md5 !== undefined && canonicalBase64(declared.md5) !== actual.md5Hash) {
    throw invalid(`Provided MD5 hash "${declared.md5}" doesn't match calculated MD5 hash "${actual.md5Hash}".`);
  }
}

/** The hashes declared in the object metadata and in an X-Goog-Hash header: each one given must match. */
export function declaredFrom(metadata: Record<string, unknown>, header: DeclaredHashes = {}): DeclaredHashes[] {
  const fromMetadata: DeclaredHashes = {
    crc32c: typeof metadata.crc32c === "string" ? metadata.crc32c : undefined,
    md5: typeof metadata.md5Hash === "string" ? metadata.md5Hash : undefined,
  };
  return [fromMetadata, header];
}

export interface InsertInput {
  bucket: string;
  name: string;
  /** A finished file under the store's tmp/ or uploads/ folder; consumed. */
  tmpPath: string;
  size: number;
  sums: Checksums;
  fields: ObjectFields;
  declared: DeclaredHashes[];
  preconditions: Preconditions;
}

function newRecord(
  deps: WriteDeps,
  bucket: string,
  name: string,
  generation: number,
  fields: ObjectFields,
  size: number,
  sums: Checksums,
): Omit<ObjectRecord, "blob"> {
  const time = new Date(deps.now()).toISOString();
  const bucketRecord = deps.store.getBucket(bucket);
  return {
    ...fields,
    bucket,
    name,
    generation,
    metageneration: 1,
    size,
    md5Hash: sums.md5Hash,
    crc32c: sums.crc32c,
    contentType: fields.contentType ?? "application/octet-stream",
    storageClass: fields.storageClass ?? bucketRecord.storageClass,
    timeCreated: time,
    updated: time,
    timeStorageClassUpdated: time,
  };
}

async function discard(path: string): Promise<void> {
  await Deno.remove(path).catch(() => {});
}

/** Verifies and commits uploaded bytes as the new live generation of bucket/name. */
export async function insertObject(deps: WriteDeps, input: InsertInput): Promise<ObjectRecord> {
  try {
    for (const declared of input.declared) verifyDeclaredHashes(declared, input.sums);
  } catch (e) {
    await discard(input.tmpPath);
    throw e;
  }
  return await deps.store.commitObject(input.bucket, input.name, input.tmpPath, (existing, generation) => {
    checkObjectPreconditions(existing, input.preconditions);
    return newRecord(deps, input.bucket, input.name, generation, input.fields, input.size, input.sums);
  });
}

export interface CopyInput {
  source: { bucket: string; name: string; generation?: number; preconditions: Preconditions };
  destination: { bucket: string; name: string; preconditions: Preconditions };
  /** Destination fields from the request body: each one given replaces the source's. */
  overrides: ObjectFields;
}

/** rewrite/copy: the destination gets the source's bytes and checksums, in one call (GCS may take several). */
export async function copyObject(
  deps: WriteDeps,
  input: CopyInput,
): Promise<{ record: ObjectRecord; source: ObjectRecord }> {
  const { source, destination } = input;
  deps.store.getBucket(destination.bucket);
  const { record: src, tmpPath } = await deps.store.copyToTemp(source.bucket, source.name);
  try {
    if (source.generation !== undefined && source.generation !== src.generation) {
      throw objectNotFound(source.bucket, source.name);
    }
    checkObjectPreconditions(src, source.preconditions);
  } catch (e) {
    await discard(tmpPath);
    throw e;
  }
  const fields: ObjectFields = { ...objectFieldsOf(src), ...input.overrides };
  if (input.overrides.storageClass === undefined) delete fields.storageClass;
  const record = await deps.store.commitObject(
    destination.bucket,
    destination.name,
    tmpPath,
    (existing, generation) => {
      checkObjectPreconditions(existing, destination.preconditions);
      const sums = { crc32c: src.crc32c, md5Hash: src.md5Hash };
      // Without a storageClass in the body, the copy takes the destination bucket's default class.
      return newRecord(deps, destination.bucket, destination.name, generation, fields, src.size, sums);
    },
  );
  return { record, source: src };
}

/** Streams a request body into a temp file, hashing it on the way. */
export async function receiveToTemp(
  store: GcsStore,
  body: AsyncIterable<Uint8Array>,
): Promise<{ tmpPath: string; size: number; sums: Checksums }> {
  const tmpPath = store.tempPath();
  const hasher = new ObjectHasher();
  try {
    using file = await Deno.open(tmpPath, { write: true, createNew: true });
    for await (const chunk of body) {
      hasher.update(chunk);
      let written = 0;
      while (written < chunk.byteLength) written += await file.write(chunk.subarray(written));
    }
    await store.syncFile(tmpPath);
  } catch (e) {
    await discard(tmpPath);
    throw e;
  }
  return { tmpPath, size: hasher.size, sums: hasher.digest() };
}

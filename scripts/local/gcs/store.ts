// State of the emulator and its persistence: buckets and objects in memory, mirrored under a data directory
// (bucket.json, one JSON per object, one blob file per generation) with write-temp-then-rename commits, so a
// crash at any point leaves either the old object or the new one visible, never a partial one.
//
// Soft delete as GCS does it (https://cloud.google.com/storage/docs/soft-delete): under a bucket's policy a
// deleted or replaced generation is kept, unreadable and listed only with softDeleted=true, until its hard delete
// time; a deleted bucket is kept the same way (its live objects must be gone first; soft-deleted ones don't count).
//
// Layout:  <dir>/buckets/<bucket>/bucket.json
//          <dir>/buckets/<bucket>/objects/<sha256(name)>.json   (the ObjectRecord; its `blob` names the bytes)
//          <dir>/buckets/<bucket>/soft/<sha256(name)>.<generation>.json   (soft-deleted generations)
//          <dir>/buckets/<bucket>/blobs/<sha256(name)>.<generation>
//          <dir>/soft-buckets/<bucket>.<generation>/…   (soft-deleted buckets, laid out as above)
//          <dir>/tmp/…      (half-written files; emptied on open)   <dir>/uploads/…  (resumable sessions)

import { createHash } from "node:crypto";
import { type FileHandle, open } from "node:fs/promises";
import { join } from "node:path";
import { bucketAlreadyOwned, bucketNotEmpty, bucketNotFound, objectNotFound } from "./errors.ts";
import { compareNames } from "./names.ts";
import { type BucketRecord, type ObjectRecord, softDeletePolicyOf } from "./resources.ts";

interface BucketState {
  record: BucketRecord;
  objects: Map<string, ObjectRecord>;
  /** Object names in listing order; undefined when a name was added or removed since the last sort. */
  sorted?: string[];
  /** Soft-deleted generations by `softKey`, until their hard delete time. */
  softDeleted: Map<string, ObjectRecord>;
}

export interface StoreStats {
  buckets: number;
  objects: number;
  bytes: number;
  perBucket: Record<string, { objects: number; bytes: number }>;
  /** Generations kept by soft delete (live buckets), and soft-deleted buckets. */
  softDeletedObjects: number;
  softDeletedBuckets: number;
}

export interface StoreOptions {
  now?: () => number;
  /** Skip fsync before renames (faster tests; a power cut may then lose the last writes). */
  noSync?: boolean;
  log?: (entry: Record<string, unknown>) => void;
}

/** Runs async sections one at a time per key (all writes to one bucket are serialised). */
class KeyedLock {
  #tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const result = previous.then(fn);
    const tail = result.catch(() => {});
    this.#tails.set(key, tail);
    tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }

  async idle(): Promise<void> {
    while (this.#tails.size) await Promise.all([...this.#tails.values()]);
  }
}

const nameKey = (name: string) => createHash("sha256").update(name).digest("hex");
const softKey = (o: { name: string; generation: number }) => `${nameKey(o.name)}.${o.generation}`;
const softBucketKey = (b: BucketRecord) => `${b.name}.${b.generation ?? 0}`;

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

async function removeQuietly(path: string, recursive = false): Promise<void> {
  try {
    await Deno.remove(path, { recursive });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

export class GcsStore {
  readonly dir: string;
  readonly #now: () => number;
  readonly #sync: boolean;
  readonly #log?: (entry: Record<string, unknown>) => void;
  #buckets = new Map<string, BucketState>();
  /** Soft-deleted buckets by `softBucketKey`: only their record is needed (they can be listed, not used). */
  #softBuckets = new Map<string, BucketRecord>();
  #locks = new KeyedLock();
  #lastGeneration = 0;

  private constructor(dir: string, opts: StoreOptions) {
    this.dir = dir;
    this.#now = opts.now ?? Date.now;
    this.#sync = !opts.noSync;
    this.#log = opts.log;
  }

  /** Opens (creating if needed) a data directory and loads what a previous run left there. */
  static async open(dir: string, opts: StoreOptions = {}): Promise<GcsStore> {
    const store = new GcsStore(dir, opts);
    await Deno.mkdir(join(dir, "buckets"), { recursive: true });
    await removeQuietly(join(dir, "tmp"), true);
    await Deno.mkdir(join(dir, "tmp"), { recursive: true });
    await Deno.mkdir(join(dir, "uploads"), { recursive: true });
    await Deno.mkdir(join(dir, "soft-buckets"), { recursive: true });
    await store.#load();
    return store;
  }

  async #load(): Promise<void> {
    for await (const entry of Deno.readDir(join(this.dir, "buckets"))) {
      if (!entry.isDirectory) continue;
      const bucketDir = join(this.dir, "buckets", entry.name);
      let record: BucketRecord;
      try {
        record = JSON.parse(await Deno.readTextFile(join(bucketDir, "bucket.json")));
      } catch (e) {
        // A bucket whose creation never committed its bucket.json does not exist.
        if (e instanceof Deno.errors.NotFound) {
          await removeQuietly(bucketDir, true);
          continue;
        }
        throw e;
      }
      const state: BucketState = { record, objects: new Map(), softDeleted: new Map() };
      const referenced = new Set<string>();
      await Deno.mkdir(join(bucketDir, "objects"), { recursive: true });
      await Deno.mkdir(join(bucketDir, "blobs"), { recursive: true });
      await Deno.mkdir(join(bucketDir, "soft"), { recursive: true });
      for await (const file of Deno.readDir(join(bucketDir, "soft"))) {
        if (!file.name.endsWith(".json")) continue;
        const object: ObjectRecord = JSON.parse(await Deno.readTextFile(join(bucketDir, "soft", file.name)));
        state.softDeleted.set(softKey(object), object);
        referenced.add(object.blob);
        this.#lastGeneration = Math.max(this.#lastGeneration, object.generation);
      }
      for await (const file of Deno.readDir(join(bucketDir, "objects"))) {
        if (!file.name.endsWith(".json")) continue;
        const object: ObjectRecord = JSON.parse(await Deno.readTextFile(join(bucketDir, "objects", file.name)));
        if (!(await exists(join(bucketDir, "blobs", object.blob)))) {
          this.#log?.({ msg: "object without its blob dropped", bucket: record.name, object: object.name });
          await removeQuietly(join(bucketDir, "objects", file.name));
          continue;
        }
        state.objects.set(object.name, object);
        referenced.add(object.blob);
        this.#lastGeneration = Math.max(this.#lastGeneration, object.generation);
      }
      // Blobs of commits that never reached their metadata, or of generations replaced just before a crash.
      for await (const blob of Deno.readDir(join(bucketDir, "blobs"))) {
        if (!referenced.has(blob.name)) await removeQuietly(join(bucketDir, "blobs", blob.name));
      }
      this.#buckets.set(record.name, state);
    }
    for await (const entry of Deno.readDir(join(this.dir, "soft-buckets"))) {
      const record: BucketRecord | null = await Deno.readTextFile(
        join(this.dir, "soft-buckets", entry.name, "bucket.json"),
      )
        .then(JSON.parse, () => null);
      if (record) this.#softBuckets.set(softBucketKey(record), record);
      else await removeQuietly(join(this.dir, "soft-buckets", entry.name), true);
    }
  }

  #bucketDir(bucket: string): string {
    return join(this.dir, "buckets", bucket);
  }

  /** A fresh path under tmp/ (same filesystem as the data, so a rename from it is atomic). */
  tempPath(): string {
    return join(this.dir, "tmp", crypto.randomUUID());
  }

  /** Writes a file so that readers see the old content or the new one, never a part. */
  async writeFileAtomic(path: string, text: string): Promise<void> {
    const tmp = this.tempPath();
    const file = await Deno.open(tmp, { write: true, createNew: true });
    try {
      const bytes = new TextEncoder().encode(text);
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
      if (this.#sync) await file.syncData();
    } finally {
      file.close();
    }
    await Deno.rename(tmp, path);
  }

  /** Makes a finished temp file durable before it is renamed into place. */
  async syncFile(path: string): Promise<void> {
    if (!this.#sync) return;
    using file = await Deno.open(path, { read: true, write: true });
    await file.syncData();
  }

  /** Generations are microsecond timestamps, strictly increasing across the whole emulator. */
  nextGeneration(): number {
    this.#lastGeneration = Math.max(this.#lastGeneration + 1, Math.floor(this.#now() * 1000));
    return this.#lastGeneration;
  }

  // ---------------------------------------------------------------- buckets

  listBuckets(): BucketRecord[] {
    return [...this.#buckets.values()].map((s) => s.record).sort((a, b) => compareNames(a.name, b.name));
  }

  getBucket(name: string): BucketRecord {
    const state = this.#buckets.get(name);
    if (!state) throw bucketNotFound();
    return state.record;
  }

  hasBucket(name: string): boolean {
    return this.#buckets.has(name);
  }

  createBucket(record: BucketRecord): Promise<BucketRecord> {
    return this.#locks.run(record.name, async () => {
      if (this.#buckets.has(record.name)) throw bucketAlreadyOwned();
      // A soft-deleted bucket does not hold its name: anyone may create it again (it then cannot be restored).
      record = { ...record, generation: record.generation ?? this.nextGeneration() };
      const dir = this.#bucketDir(record.name);
      await removeQuietly(dir, true);
      await Deno.mkdir(join(dir, "objects"), { recursive: true });
      await Deno.mkdir(join(dir, "blobs"), { recursive: true });
      await Deno.mkdir(join(dir, "soft"), { recursive: true });
      await this.writeFileAtomic(join(dir, "bucket.json"), JSON.stringify(record));
      this.#buckets.set(record.name, { record, objects: new Map(), softDeleted: new Map() });
      return record;
    });
  }

  /** Replaces a bucket's record with `update(current)` (which may throw, e.g. a failed precondition). */
  updateBucket(name: string, update: (current: BucketRecord) => BucketRecord): Promise<BucketRecord> {
    return this.#locks.run(name, async () => {
      const state = this.#buckets.get(name);
      if (!state) throw bucketNotFound();
      const next = update(state.record);
      await this.writeFileAtomic(join(this.#bucketDir(name), "bucket.json"), JSON.stringify(next));
      state.record = next;
      return next;
    });
  }

  deleteBucket(name: string, check: (current: BucketRecord) => void = () => {}): Promise<void> {
    return this.#locks.run(name, async () => {
      const state = this.#buckets.get(name);
      if (!state) throw bucketNotFound();
      check(state.record);
      // Live objects block the delete; soft-deleted ones do not (they go with the bucket).
      if (state.objects.size) throw bucketNotEmpty();
      this.#purgeExpired(state);
      const nowMs = this.#now();
      const retentionMs = softDeletePolicyOf(state.record).retentionDurationSeconds * 1000;
      // A soft-deleted bucket is kept at least as long as the latest hard delete time of its objects.
      const objectsUntil = Math.max(0, ...[...state.softDeleted.values()].map((o) => Date.parse(o.hardDeleteTime!)));
      const until = Math.max(retentionMs ? nowMs + retentionMs : 0, objectsUntil);
      if (until > nowMs) {
        const record: BucketRecord = {
          ...state.record,
          generation: state.record.generation ?? Date.parse(state.record.timeCreated) * 1000,
          softDeleteTime: new Date(nowMs).toISOString(),
          hardDeleteTime: new Date(until).toISOString(),
        };
        await this.writeFileAtomic(join(this.#bucketDir(name), "bucket.json"), JSON.stringify(record));
        await Deno.rename(this.#bucketDir(name), join(this.dir, "soft-buckets", softBucketKey(record)));
        this.#buckets.delete(name);
        this.#softBuckets.set(softBucketKey(record), record);
        return;
      }
      // One rename takes the whole bucket out of sight; the removal after it may be interrupted harmlessly.
      const trash = this.tempPath();
      await Deno.rename(this.#bucketDir(name), trash);
      this.#buckets.delete(name);
      await removeQuietly(trash, true);
    });
  }

  /** Soft-deleted buckets still within their retention, in name then generation order. */
  listSoftDeletedBuckets(): BucketRecord[] {
    this.#purgeExpiredBuckets();
    return [...this.#softBuckets.values()].sort((a, b) =>
      compareNames(a.name, b.name) || (a.generation ?? 0) - (b.generation ?? 0)
    );
  }

  #purgeExpiredBuckets(): void {
    const nowMs = this.#now();
    for (const [key, record] of this.#softBuckets) {
      if (Date.parse(record.hardDeleteTime!) > nowMs) continue;
      this.#softBuckets.delete(key);
      // Out of the map first: a removal interrupted here is finished on the next open.
      removeQuietly(join(this.dir, "soft-buckets", key), true).catch(() => {});
    }
  }

  // ---------------------------------------------------------------- objects

  #state(bucket: string): BucketState {
    const state = this.#buckets.get(bucket);
    if (!state) throw bucketNotFound();
    return state;
  }

  /** The live object, or undefined (throws 404 when the bucket does not exist). */
  findObject(bucket: string, name: string): ObjectRecord | undefined {
    return this.#state(bucket).objects.get(name);
  }

  getObject(bucket: string, name: string): ObjectRecord {
    const found = this.findObject(bucket, name);
    if (!found) throw objectNotFound(bucket, name);
    return found;
  }

  /** Object names of a bucket in listing order. */
  objectNames(bucket: string): string[] {
    const state = this.#state(bucket);
    state.sorted ??= [...state.objects.keys()].sort(compareNames);
    return state.sorted;
  }

  /**
   * Makes the bytes in `tmpPath` the new live generation of bucket/name. `build` gets the current live object
   * (for preconditions, which it checks by throwing) and the new generation, and returns the record to store.
   * The temp file is consumed either way.
   */
  commitObject(
    bucket: string,
    name: string,
    tmpPath: string,
    build: (existing: ObjectRecord | undefined, generation: number) => Omit<ObjectRecord, "blob">,
  ): Promise<ObjectRecord> {
    return this.#locks.run(bucket, async () => {
      const state = this.#state(bucket);
      const existing = state.objects.get(name);
      const generation = this.nextGeneration();
      const record: ObjectRecord = { ...build(existing, generation), blob: `${nameKey(name)}.${generation}` };
      const dir = this.#bucketDir(bucket);
      const blobPath = join(dir, "blobs", record.blob);
      await Deno.rename(tmpPath, blobPath);
      try {
        await this.writeFileAtomic(join(dir, "objects", `${nameKey(name)}.json`), JSON.stringify(record));
      } catch (e) {
        await removeQuietly(blobPath);
        throw e;
      }
      state.objects.set(name, record);
      if (!existing) state.sorted = undefined;
      // A replaced generation is soft-deleted too, like a deleted one.
      else await this.#retire(state, existing);
      return record;
    }).catch(async (e) => {
      await removeQuietly(tmpPath);
      throw e;
    });
  }

  /** Replaces an object's record (metadata only; the blob stays) with `update(current)`. */
  updateObject(bucket: string, name: string, update: (current: ObjectRecord) => ObjectRecord): Promise<ObjectRecord> {
    return this.#locks.run(bucket, async () => {
      const state = this.#state(bucket);
      const current = state.objects.get(name);
      if (!current) throw objectNotFound(bucket, name);
      const next = { ...update(current), blob: current.blob };
      await this.writeFileAtomic(
        join(this.#bucketDir(bucket), "objects", `${nameKey(name)}.json`),
        JSON.stringify(next),
      );
      state.objects.set(name, next);
      return next;
    });
  }

  /** Deletes the live object; `check` sees it first (preconditions). */
  deleteObject(bucket: string, name: string, check: (current: ObjectRecord) => void = () => {}): Promise<void> {
    return this.#locks.run(bucket, async () => {
      const state = this.#state(bucket);
      const current = state.objects.get(name);
      if (!current) throw objectNotFound(bucket, name);
      check(current);
      const dir = this.#bucketDir(bucket);
      await Deno.remove(join(dir, "objects", `${nameKey(name)}.json`));
      state.objects.delete(name);
      state.sorted = undefined;
      await this.#retire(state, current);
    });
  }

  /**
   * What happens to a generation that stops being live: kept as soft-deleted (metadata and bytes) under the bucket's
   * policy, else its bytes are removed at once. Runs inside the bucket's lock, after the live record is replaced.
   */
  async #retire(state: BucketState, old: ObjectRecord): Promise<void> {
    const dir = this.#bucketDir(state.record.name);
    const retention = softDeletePolicyOf(state.record).retentionDurationSeconds;
    if (retention === 0) {
      await removeQuietly(join(dir, "blobs", old.blob));
      return;
    }
    const nowMs = this.#now();
    const record: ObjectRecord = {
      ...old,
      softDeleteTime: new Date(nowMs).toISOString(),
      hardDeleteTime: new Date(nowMs + retention * 1000).toISOString(),
    };
    await this.writeFileAtomic(join(dir, "soft", `${softKey(record)}.json`), JSON.stringify(record));
    state.softDeleted.set(softKey(record), record);
  }

  /** Drops soft-deleted generations past their hard delete time (bytes and metadata). */
  #purgeExpired(state: BucketState): void {
    const nowMs = this.#now();
    const dir = this.#bucketDir(state.record.name);
    for (const [key, record] of state.softDeleted) {
      if (Date.parse(record.hardDeleteTime!) > nowMs) continue;
      state.softDeleted.delete(key);
      removeQuietly(join(dir, "soft", `${key}.json`)).then(() => removeQuietly(join(dir, "blobs", record.blob)))
        .catch(() => {});
    }
  }

  /** A bucket's soft-deleted generations still retained, in name then generation order (objects.list softDeleted). */
  softDeletedObjects(bucket: string): ObjectRecord[] {
    const state = this.#state(bucket);
    this.#purgeExpired(state);
    return [...state.softDeleted.values()].sort((a, b) => compareNames(a.name, b.name) || a.generation - b.generation);
  }

  /** One soft-deleted generation (objects.get softDeleted=true&generation=…), or 404. */
  getSoftDeletedObject(bucket: string, name: string, generation: number): ObjectRecord {
    const state = this.#state(bucket);
    this.#purgeExpired(state);
    const found = state.softDeleted.get(softKey({ name, generation }));
    if (!found) throw objectNotFound(bucket, name);
    return found;
  }

  /** Where a record's bytes are on disk. */
  blobPath(record: ObjectRecord): string {
    return join(this.#bucketDir(record.bucket), "blobs", record.blob);
  }

  /**
   * Opens the live object's bytes. The handle stays readable even if a newer generation replaces (and unlinks)
   * this blob while it is being served.
   */
  async openObject(bucket: string, name: string): Promise<{ record: ObjectRecord; handle: FileHandle }> {
    for (let attempt = 0;; attempt++) {
      const record = this.getObject(bucket, name);
      try {
        return { record, handle: await open(this.blobPath(record), "r") };
      } catch (e) {
        // Replaced between the lookup and the open: look again.
        if ((e as { code?: string }).code !== "ENOENT" || attempt > 3) throw e;
      }
    }
  }

  /** Copies the live bytes of an object to a temp file (the first half of a copy/rewrite). */
  async copyToTemp(bucket: string, name: string): Promise<{ record: ObjectRecord; tmpPath: string }> {
    const { record, handle } = await this.openObject(bucket, name);
    const tmpPath = this.tempPath();
    try {
      using out = await Deno.open(tmpPath, { write: true, createNew: true });
      const buffer = new Uint8Array(1 << 20);
      for (;;) {
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
        if (!bytesRead) break;
        let written = 0;
        while (written < bytesRead) written += await out.write(buffer.subarray(written, bytesRead));
      }
      if (this.#sync) await out.syncData();
    } catch (e) {
      await removeQuietly(tmpPath);
      throw e;
    } finally {
      await handle.close();
    }
    return { record, tmpPath };
  }

  // ---------------------------------------------------------------- whole store

  stats(): StoreStats {
    const perBucket: StoreStats["perBucket"] = {};
    let objects = 0;
    let bytes = 0;
    let softDeletedObjects = 0;
    this.#purgeExpiredBuckets();
    for (const [name, state] of this.#buckets) {
      this.#purgeExpired(state);
      softDeletedObjects += state.softDeleted.size;
      let b = 0;
      for (const o of state.objects.values()) b += o.size;
      perBucket[name] = { objects: state.objects.size, bytes: b };
      objects += state.objects.size;
      bytes += b;
    }
    return {
      buckets: this.#buckets.size,
      objects,
      bytes,
      perBucket,
      softDeletedObjects,
      softDeletedBuckets: this.#softBuckets.size,
    };
  }

  /** Removes every bucket and object, in memory and on disk. */
  async reset(): Promise<void> {
    await this.#locks.idle();
    this.#buckets.clear();
    this.#softBuckets.clear();
    for (const folder of ["buckets", "soft-buckets"]) {
      const trash = this.tempPath();
      await Deno.rename(join(this.dir, folder), trash);
      await Deno.mkdir(join(this.dir, folder), { recursive: true });
      await removeQuietly(trash, true);
    }
  }
}

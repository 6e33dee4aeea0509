// State of the emulator and its persistence: buckets and objects in memory, mirrored under a data directory
// (bucket.json, one JSON per object, one blob file per generation) with write-temp-then-rename commits, so a
// crash at any point leaves either the old object or the new one visible, never a partial one.
//
// Layout:  <dir>/buckets/<bucket>/bucket.json
//          <dir>/buckets/<bucket>/objects/<sha256(name)>.json   (the ObjectRecord; its `blob` names the bytes)
//          <dir>/buckets/<bucket>/blobs/<sha256(name)>.<generation>
//          <dir>/tmp/…      (half-written files; emptied on open)   <dir>/uploads/…  (resumable sessions)

import { createHash } from "node:crypto";
import { type FileHandle, open } from "node:fs/promises";
import { join } from "node:path";
import { bucketAlreadyOwned, bucketNotEmpty, bucketNotFound, objectNotFound } from "./errors.ts";
import { compareNames } from "./names.ts";
import type { BucketRecord, ObjectRecord } from "./resources.ts";

interface BucketState {
  record: BucketRecord;
  objects: Map<string, ObjectRecord>;
  /** Object names in listing order; undefined when a name was added or removed since the last sort. */
  sorted?: string[];
}

export interface StoreStats {
  buckets: number;
  objects: number;
  bytes: number;
  perBucket: Record<string, { objects: number; bytes: number }>;
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
      const state: BucketState = { record, objects: new Map() };
      const referenced = new Set<string>();
      await Deno.mkdir(join(bucketDir, "objects"), { recursive: true });
      await Deno.mkdir(join(bucketDir, "blobs"), { recursive: true });
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
      const dir = this.#bucketDir(record.name);
      await removeQuietly(dir, true);
      await Deno.mkdir(join(dir, "objects"), { recursive: true });
      await Deno.mkdir(join(dir, "blobs"), { recursive: true });
      await this.writeFileAtomic(join(dir, "bucket.json"), JSON.stringify(record));
      this.#buckets.set(record.name, { record, objects: new Map() });
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
      if (state.objects.size) throw bucketNotEmpty();
      // One rename takes the whole bucket out of sight; the removal after it may be interrupted harmlessly.
      const trash = this.tempPath();
      await Deno.rename(this.#bucketDir(name), trash);
      this.#buckets.delete(name);
      await removeQuietly(trash, true);
    });
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
      else await removeQuietly(join(dir, "blobs", existing.blob));
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
      await removeQuietly(join(dir, "blobs", current.blob));
    });
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
    for (const [name, state] of this.#buckets) {
      let b = 0;
      for (const o of state.objects.values()) b += o.size;
      perBucket[name] = { objects: state.objects.size, bytes: b };
      objects += state.objects.size;
      bytes += b;
    }
    return { buckets: this.#buckets.size, objects, bytes, perBucket };
  }

  /** Removes every bucket and object, in memory and on disk. */
  async reset(): Promise<void> {
    await this.#locks.idle();
    this.#buckets.clear();
    const trash = this.tempPath();
    await Deno.rename(join(this.dir, "buckets"), trash);
    await Deno.mkdir(join(this.dir, "buckets"), { recursive: true });
    await removeQuietly(trash, true);
  }
}

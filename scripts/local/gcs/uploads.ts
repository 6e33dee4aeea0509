// Object uploads of the JSON API (/upload/storage/v1/b/{bucket}/o): uploadType=media, multipart (a
// multipart/related body of JSON metadata then the bytes) and resumable sessions — POST opens a session whose
// URI comes back in Location, PUTs with Content-Range append (308 + Range until the last one), DELETE cancels.
// Session state and received bytes live under <data>/uploads/, so a session survives a restart; nothing becomes
// an object until the final chunk verifies, and an abandoned session expires after 7 days like GCS's.

import { Buffer } from "node:buffer";
import { join } from "node:path";
import { GcsError, invalid, required, uniformAccessForbidsAcl } from "./errors.ts";
import { checksumsOf, checksumsOfFile, parseGoogHash } from "./hashes.ts";
import { empty, type GcsRequest, json, originOf, parseJsonObject, type Reply } from "./http.ts";
import { assertObjectName } from "./names.ts";
import { declaredFrom, insertObject, type WriteDeps } from "./object_writes.ts";
import { checkObjectPreconditions, type Preconditions, readPreconditions } from "./preconditions.ts";
import {
  applyObjectFields,
  normalizeStorageClass,
  type ObjectFields,
  type ObjectRecord,
  objectResource,
} from "./resources.ts";

const SESSION_TTL_MS = 7 * 24 * 3600 * 1000;

interface UploadSession {
  id: string;
  bucket: string;
  name: string;
  fields: ObjectFields;
  /** crc32c/md5Hash from the session's metadata, checked against the bytes at the end. */
  metadataHashes: { crc32c?: string; md5?: string };
  preconditions: Preconditions;
  /** X-Upload-Content-Length, when the client announced one. */
  contentLength?: number;
  received: number;
  createdMs: number;
  /** Set once the object is committed: later PUTs to the session answer with it. */
  finalized?: ObjectRecord;
}

/** Fields of an insert body (metadata part or resumable POST body) as a record's settable fields. */
function insertFields(metadata: Record<string, unknown>, fallbackContentType: string | undefined): ObjectFields {
  const fields = applyObjectFields({}, metadata, false);
  if (metadata.storageClass !== undefined && metadata.storageClass !== null) {
    fields.storageClass = normalizeStorageClass(metadata.storageClass);
  }
  if (fields.contentType === undefined && fallbackContentType) fields.contentType = fallbackContentType;
  return fields;
}

function objectNameFrom(req: GcsRequest, metadata: Record<string, unknown>): string {
  const name = req.url.searchParams.get("name") ?? (typeof metadata.name === "string" ? metadata.name : undefined);
  if (name === undefined) throw required("name");
  assertObjectName(name);
  return name;
}

function boundaryOf(contentType: string): string {
  const match = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  if (!match) throw invalid("Missing boundary in multipart/related Content-Type.");
  return match[1] ?? match[2];
}

interface Part {
  headers: Headers;
  body: Uint8Array;
}

/** Splits a multipart/related body into its parts (headers + bytes). */
export function parseMultipart(body: Uint8Array, boundary: string): Part[] {
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const opening = Buffer.from(`--${boundary}`);
  const separator = Buffer.from(`\r\n--${boundary}`);
  let pos = buf.indexOf(opening);
  if (pos < 0) throw invalid("Multipart body does not contain its boundary.");
  pos += opening.length;
  const parts: Part[] = [];
  for (;;) {
    if (buf[pos] === 0x2d && buf[pos + 1] === 0x2d) break; // "--": the closing delimiter
    const lineEnd = buf.indexOf("\r\n", pos);
    if (lineEnd < 0) throw invalid("Malformed multipart body.");
    const start = lineEnd + 2;
    const end = buf.indexOf(separator, start);
    if (end < 0) throw invalid("Multipart body is not terminated by its boundary.");
    const raw = buf.subarray(start, end);
    // A part with no headers starts with the blank line itself.
    const headerEnd = raw[0] === 0x0d && raw[1] === 0x0a ? -2 : raw.indexOf("\r\n\r\n");
    if (headerEnd === -1) throw invalid("Malformed multipart part: no blank line after its headers.");
    const headerText = headerEnd < 0 ? "" : raw.subarray(0, headerEnd).toString("utf8");
    const bodyStart = headerEnd + 4;
    const headers = new Headers();
    for (const line of headerText.split("\r\n")) {
      const colon = line.indexOf(":");
      if (colon > 0) headers.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    }
    parts.push({ headers, body: new Uint8Array(raw.subarray(bodyStart)) });
    pos = end + separator.length;
  }
  return parts;
}

async function writeTemp(path: string, bytes: Uint8Array): Promise<void> {
  using file = await Deno.open(path, { write: true, createNew: true });
  let written = 0;
  while (written < bytes.length) written += await file.write(bytes.subarray(written));
  await file.syncData();
}

/** Content-Range of a resumable PUT: `bytes S-E/T`, `bytes S-*\/T`, `bytes *\/T`; T may be `*`. */
interface ContentRange {
  start?: number;
  end?: number | "*";
  total?: number;
}

function parseContentRange(header: string | null): ContentRange | undefined {
  if (header === null) return undefined;
  const m = /^bytes\s+(?:(\d+)-(\d+|\*)|\*)\/(\d+|\*)$/i.exec(header.trim());
  if (!m) throw invalid(`Failed to parse Content-Range header: ${header}`);
  return {
    start: m[1] === undefined ? undefined : Number(m[1]),
    end: m[2] === undefined ? undefined : m[2] === "*" ? "*" : Number(m[2]),
    // The SDK sends `/undefined` when it does not know the size; that reads as unknown.
    total: m[3] === "*" ? undefined : Number(m[3]),
  };
}

export class UploadSessions {
  readonly #deps: WriteDeps;
  readonly #dir: string;
  #sessions = new Map<string, UploadSession>();
  #busy = new Map<string, Promise<unknown>>();

  private constructor(deps: WriteDeps) {
    this.#deps = deps;
    this.#dir = join(deps.store.dir, "uploads");
  }

  /** Loads the sessions a previous run left (expired ones and stray parts are removed). */
  static async open(deps: WriteDeps): Promise<UploadSessions> {
    const sessions = new UploadSessions(deps);
    const keep = new Set<string>();
    for await (const entry of Deno.readDir(sessions.#dir)) {
      if (!entry.name.endsWith(".json")) continue;
      try {
        const session: UploadSession = JSON.parse(await Deno.readTextFile(join(sessions.#dir, entry.name)));
        if (sessions.#expired(session)) continue;
        const partSize = session.finalized ? 0 : await Deno.stat(sessions.#partPath(session.id))
          .then((s) => s.size)
          .catch(() => 0);
        // Bytes past the recorded size belong to a chunk that never completed: they are dropped.
        if (!session.finalized && partSize !== session.received) {
          session.received = Math.min(partSize, session.received);
          await Deno.truncate(sessions.#partPath(session.id), session.received).catch(() => {});
        }
        sessions.#sessions.set(session.id, session);
        keep.add(`${session.id}.json`).add(`${session.id}.part`);
      } catch {
        // An unreadable session file is as good as no session.
      }
    }
    for await (const entry of Deno.readDir(sessions.#dir)) {
      if (!keep.has(entry.name)) await Deno.remove(join(sessions.#dir, entry.name)).catch(() => {});
    }
    return sessions;
  }

  get count(): number {
    return [...this.#sessions.values()].filter((s) => !s.finalized).length;
  }

  #partPath(id: string): string {
    return join(this.#dir, `${id}.part`);
  }

  #expired(s: UploadSession): boolean {
    return this.#deps.now() - s.createdMs > SESSION_TTL_MS;
  }

  async #save(s: UploadSession): Promise<void> {
    await this.#deps.store.writeFileAtomic(join(this.#dir, `${s.id}.json`), JSON.stringify(s));
  }

  async #forget(s: UploadSession): Promise<void> {
    this.#sessions.delete(s.id);
    await Deno.remove(join(this.#dir, `${s.id}.json`)).catch(() => {});
    await Deno.remove(this.#partPath(s.id)).catch(() => {});
  }

  /** One request at a time per session. */
  #serial<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#busy.get(id) ?? Promise.resolve();
    const result = previous.then(fn);
    const tail = result.catch(() => {});
    this.#busy.set(id, tail);
    tail.then(() => this.#busy.get(id) === tail && this.#busy.delete(id));
    return result;
  }

  async reset(): Promise<void> {
    await Promise.all([...this.#busy.values()]);
    for (const s of [...this.#sessions.values()]) await this.#forget(s);
  }

  // ------------------------------------------------------------ routes

  /** POST/PUT/DELETE on /upload/storage/v1/b/{bucket}/o. */
  async handle(req: GcsRequest, bucket: string): Promise<Reply> {
    const params = req.url.searchParams;
    const uploadId = params.get("upload_id");
    if (uploadId !== null) return await this.#handleSessionRequest(req, uploadId);
    if (req.method !== "POST") throw new GcsError(405, "methodNotAllowed", `Method ${req.method} not allowed here.`);
    const bucketRecord = this.#deps.store.getBucket(bucket);
    if (params.get("predefinedAcl") && bucketRecord.iamConfiguration.uniformBucketLevelAccess.enabled) {
      throw uniformAccessForbidsAcl("upload");
    }
    const contentType = req.headers.get("content-type") ?? "";
    const uploadType = params.get("uploadType") ??
      (contentType.toLowerCase().startsWith("multipart/related") ? "multipart" : "media");
    if (uploadType === "multipart") return await this.#multipart(req, bucket);
    if (uploadType === "media") return await this.#media(req, bucket);
    if (uploadType === "resumable") return await this.#start(req, bucket);
    throw invalid(`Invalid upload type: ${uploadType}`, { locationType: "parameter", location: "uploadType" });
  }

  async #commitBytes(
    req: GcsRequest,
    bucket: string,
    name: string,
    bytes: Uint8Array,
    fields: ObjectFields,
    metadata: Record<string, unknown>,
  ): Promise<Reply> {
    const tmpPath = this.#deps.store.tempPath();
    await writeTemp(tmpPath, bytes);
    const record = await insertObject(this.#deps, {
      bucket,
      name,
      tmpPath,
      size: bytes.byteLength,
      sums: checksumsOf(bytes),
      fields,
      declared: declaredFrom(metadata, parseGoogHash(req.headers.get("x-goog-hash"))),
      preconditions: readPreconditions(req.url.searchParams),
    });
    return json(objectResource(record, originOf(req)));
  }

  async #media(req: GcsRequest, bucket: string): Promise<Reply> {
    const name = objectNameFrom(req, {});
    const bytes = await req.body();
    const fields = insertFields({}, req.headers.get("content-type") ?? undefined);
    return await this.#commitBytes(req, bucket, name, bytes, fields, {});
  }

  async #multipart(req: GcsRequest, bucket: string): Promise<Reply> {
    const contentType = req.headers.get("content-type") ?? "";
    if (!contentType.toLowerCase().startsWith("multipart/related")) {
      throw invalid("uploadType=multipart needs a multipart/related body.");
    }
    const parts = parseMultipart(await req.body(), boundaryOf(contentType));
    if (parts.length !== 2) throw invalid(`A multipart upload has 2 parts (metadata, media); got ${parts.length}.`);
    const metadata = parseJsonObject(parts[0].body);
    const name = objectNameFrom(req, metadata);
    const fields = insertFields(metadata, parts[1].headers.get("content-type") ?? undefined);
    return await this.#commitBytes(req, bucket, name, parts[1].body, fields, metadata);
  }

  async #start(req: GcsRequest, bucket: string): Promise<Reply> {
    const metadata = parseJsonObject(await req.body());
    const name = objectNameFrom(req, metadata);
    const fields = insertFields(metadata, req.headers.get("x-upload-content-type") ?? undefined);
    const preconditions = readPreconditions(req.url.searchParams);
    // GCS checks preconditions when the session opens, and again when the object is committed.
    checkObjectPreconditions(this.#deps.store.findObject(bucket, name), preconditions);
    const lengthHeader = req.headers.get("x-upload-content-length");
    const contentLength = lengthHeader !== null && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
    const session: UploadSession = {
      id: Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString("base64url"),
      bucket,
      name,
      fields,
      metadataHashes: declaredFrom(metadata)[0],
      preconditions,
      contentLength,
      received: 0,
      createdMs: this.#deps.now(),
    };
    await Deno.writeFile(this.#partPath(session.id), new Uint8Array());
    await this.#save(session);
    this.#sessions.set(session.id, session);
    const location = `${originOf(req)}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable` +
      `&name=${encodeURIComponent(name)}&upload_id=${session.id}`;
    return empty(200, { location, "x-guploader-uploadid": session.id, "content-length": "0" });
  }

  #sessionFor(id: string): UploadSession {
    const session = this.#sessions.get(id);
    if (!session || this.#expired(session)) {
      if (session) void this.#forget(session);
      throw new GcsError(404, "notFound", `No such upload session: ${id}`);
    }
    return session;
  }

  #handleSessionRequest(req: GcsRequest, id: string): Promise<Reply> {
    return this.#serial(id, async () => {
      const session = this.#sessionFor(id);
      if (req.method === "DELETE") {
        await this.#forget(session);
        // GCS's answer to a cancelled upload: 499 Client Closed Request.
        return empty(499, { "content-length": "0" });
      }
      if (req.method !== "PUT" && req.method !== "POST") {
        throw new GcsError(405, "methodNotAllowed", `Method ${req.method} not allowed on an upload session.`);
      }
      if (session.finalized) {
        await drain(req);
        const live = this.#deps.store.findObject(session.bucket, session.name);
        const record = live?.generation === session.finalized.generation ? live : session.finalized;
        return json(objectResource(record, originOf(req)));
      }
      return await this.#putChunk(req, session);
    });
  }

  async #putChunk(req: GcsRequest, session: UploadSession): Promise<Reply> {
    // No Content-Range: this request carries the whole object.
    const range = parseContentRange(req.headers.get("content-range")) ?? { start: 0, end: "*" };
    if (range.start === undefined) {
      // `bytes */T` or `bytes */*`: a status query, or (with T = all received) the request to finish.
      await drain(req);
      if (range.total !== undefined && range.total === session.received) return await this.#finish(req, session);
      if (range.total !== undefined && range.total < session.received) {
        throw invalid(`Content-Range total ${range.total} is below the ${session.received} bytes already received.`);
      }
      return this.#incomplete(session);
    }
    if (range.start > session.received) {
      await drain(req);
      throw invalid(
        `Invalid request. The Content-Range starts at ${range.start} but only ${session.received} bytes were received.`,
      );
    }
    const before = session.received;
    const expected = typeof range.end === "number" ? range.end - range.start + 1 : undefined;
    let written = 0;
    let carried = 0;
    const part = await Deno.open(this.#partPath(session.id), { write: true });
    try {
      // Bytes the server already has (a client resending an overlap) are skipped, not rewritten.
      let skip = before - range.start;
      await part.seek(before, Deno.SeekMode.Start);
      for await (let chunk of req.bodyStream()) {
        carried += chunk.byteLength;
        if (skip > 0) {
          const dropped = Math.min(skip, chunk.byteLength);
          chunk = chunk.subarray(dropped);
          skip -= dropped;
        }
        let offset = 0;
        while (offset < chunk.byteLength) offset += await part.write(chunk.subarray(offset));
        written += chunk.byteLength;
      }
      if (expected !== undefined && carried !== expected) {
        throw invalid(`Content-Range announced ${expected} bytes but the request carried ${carried}.`);
      }
      await part.syncData();
    } catch (e) {
      // A chunk that did not arrive whole is not kept: the client resumes from the last complete one.
      await part.truncate(before).catch(() => {});
      throw e;
    } finally {
      part.close();
    }
    session.received = before + written;
    const total = range.total ?? (range.end === "*" ? session.received : undefined);
    if (total !== undefined && session.received > total) {
      await this.#forget(session);
      throw invalid(`Received ${session.received} bytes, more than the ${total} announced in Content-Range.`);
    }
    if (total !== undefined && session.received === total) return await this.#finish(req, session);
    await this.#save(session);
    return this.#incomplete(session);
  }

  #incomplete(session: UploadSession): Reply {
    const headers: Record<string, string> = { "content-length": "0" };
    if (session.received > 0) headers.range = `bytes=0-${session.received - 1}`;
    return empty(308, headers);
  }

  async #finish(req: GcsRequest, session: UploadSession): Promise<Reply> {
    if (session.contentLength !== undefined && session.contentLength !== session.received) {
      await this.#forget(session);
      throw invalid(
        `Upload size ${session.received} does not match X-Upload-Content-Length ${session.contentLength}.`,
      );
    }
    const partPath = this.#partPath(session.id);
    const sums = await checksumsOfFile(partPath);
    let record: ObjectRecord;
    try {
      record = await insertObject(this.#deps, {
        bucket: session.bucket,
        name: session.name,
        tmpPath: partPath,
        size: session.received,
        sums,
        fields: session.fields,
        declared: [session.metadataHashes, parseGoogHash(req.headers.get("x-goog-hash"))],
        preconditions: session.preconditions,
      });
    } catch (e) {
      // A failed finish (bad checksum, failed precondition, deleted bucket) ends the session with nothing stored.
      await this.#forget(session);
      throw e;
    }
    session.finalized = record;
    await this.#save(session);
    return json(objectResource(record, originOf(req)));
  }
}

async function drain(req: GcsRequest): Promise<void> {
  for await (const _ of req.bodyStream()) { /* discard */ }
}

// Serving an object's bytes (JSON API ?alt=media, /download/…, and signed-URL GETs): generation selection,
// read preconditions, Range requests, gzip transcoding, and the x-goog-* headers clients validate against —
// x-goog-hash (crc32c, md5) is what the SDK checks the received bytes with.

import { Buffer } from "node:buffer";
import { gunzipSync } from "node:zlib";
import { GcsError, objectNotFound } from "./errors.ts";
import { formatGoogHash, md5Hex } from "./hashes.ts";
import type { GcsRequest, Reply } from "./http.ts";
import { checkObjectPreconditions, readPreconditions } from "./preconditions.ts";
import type { ObjectRecord } from "./resources.ts";
import type { GcsStore } from "./store.ts";

/** `bytes=a-b`, `bytes=a-`, `bytes=-n` → an inclusive [start, end]; undefined = serve it all. */
export function parseRange(
  header: string | null,
  size: number,
): { start: number; end: number } | "unsatisfiable" | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/i.exec(header.trim());
  // Multiple ranges and other units are not supported by GCS either: the whole object is served.
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  let start: number;
  let end: number;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) return "unsatisfiable";
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== "" && Number(m[2]) < start) return undefined;
  }
  if (start >= size) return "unsatisfiable";
  return { start, end };
}

/** Headers describing a stored object (shared by media downloads of both APIs). */
export function objectHeaders(o: ObjectRecord): Record<string, string> {
  const headers: Record<string, string> = {
    "content-type": o.contentType,
    "x-goog-hash": formatGoogHash(o),
    "x-goog-generation": String(o.generation),
    "x-goog-metageneration": String(o.metageneration),
    "x-goog-stored-content-encoding": o.contentEncoding ?? "identity",
    "x-goog-stored-content-length": String(o.size),
    "x-goog-storage-class": o.storageClass,
    etag: `"${md5Hex(o.md5Hash)}"`,
    "last-modified": new Date(o.updated).toUTCString(),
  };
  if (o.contentDisposition) headers["content-disposition"] = o.contentDisposition;
  if (o.contentLanguage) headers["content-language"] = o.contentLanguage;
  if (o.cacheControl) headers["cache-control"] = o.cacheControl;
  for (const [key, value] of Object.entries(o.metadata ?? {})) {
    // Header values must be ByteStrings; a value that is not one is left out of the headers (it stays in metadata).
    if (/^[\x20-\x7e]*$/.test(value) && /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(key)) {
      headers[`x-goog-meta-${key}`] = value;
    }
  }
  return headers;
}

/** The object's bytes (or a Range of them) as a reply; a HEAD request gets the same headers. */
export async function serveMedia(store: GcsStore, req: GcsRequest, bucket: string, name: string): Promise<Reply> {
  const params = req.url.searchParams;
  const live = store.getObject(bucket, name);
  const generation = params.get("generation");
  if (generation !== null && generation !== String(live.generation)) throw objectNotFound(bucket, name);
  checkObjectPreconditions(live, readPreconditions(params), true);
  const { record, handle } = await store.openObject(bucket, name);
  const headers = objectHeaders(record);
  if (!record.cacheControl) headers["cache-control"] = "no-cache, no-store, max-age=0, must-revalidate";
  headers["accept-ranges"] = "bytes";

  if (record.contentEncoding === "gzip") {
    const accepts = (req.headers.get("accept-encoding") ?? "").split(",").some((e) => e.trim().startsWith("gzip"));
    if (accepts) {
      headers["content-encoding"] = "gzip";
    } else {
      // Decompressive transcoding: a client that cannot take gzip gets the plain bytes, and no Range.
      try {
        const stored = Buffer.alloc(record.size);
        await handle.read(stored, 0, record.size, 0);
        const plain = gunzipSync(stored);
        headers["content-length"] = String(plain.byteLength);
        return { status: 200, headers, body: new Uint8Array(plain) };
      } catch {
        throw new GcsError(500, "backendError", "Stored gzip content could not be decompressed.");
      } finally {
        await handle.close();
      }
    }
  }

  const range = parseRange(req.headers.get("range"), record.size);
  if (range === "unsatisfiable") {
    await handle.close();
    throw new GcsError(416, "requestedRangeNotSatisfiable", "Request range not satisfiable", {}, {
      "content-range": `bytes */${record.size}`,
    });
  }
  if (range) {
    headers["content-range"] = `bytes ${range.start}-${range.end}/${record.size}`;
    const length = range.end - range.start + 1;
    headers["content-length"] = String(length);
    return { status: 206, headers, body: { handle, start: range.start, length } };
  }
  headers["content-length"] = String(record.size);
  return { status: 200, headers, body: { handle, start: 0, length: record.size } };
}

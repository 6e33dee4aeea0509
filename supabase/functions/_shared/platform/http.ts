// HTTP conventions shared by every function: JSON responses, errors as values with a reason a
// person can act on (ApiError, zod-checked input), and a request id carried through logs.

import type { z } from "zod";

export function json(body: unknown, status = 200, headers: HeadersInit = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/** `{ error: { code, message, details? } }`: code for programs, message for people. */
export function errorResponse(status: number, code: string, message: string, details?: unknown): Response {
  return json({ error: { code, message, ...(details === undefined ? {} : { details }) } }, status);
}

export function requestId(req: Request): string {
  return req.headers.get("x-request-id") ?? crypto.randomUUID();
}

/** The path after the function's own name: `/jobs-worker/run` → `/run`. Works whether or not
 * the platform keeps the `/functions/v1` prefix. */
export function subPath(req: Request, functionName: string): string {
  const path = new URL(req.url).pathname;
  const marker = `/${functionName}`;
  const at = path.indexOf(marker);
  if (at < 0) return path;
  const rest = path.slice(at + marker.length);
  return rest === "" ? "/" : rest;
}

/** A refusal with a reason a person can act on; a handler throws it and answers errorResponse. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly details?: unknown) {
    super(message);
  }
}

/** Validates `value` with zod at the edge: a 400 naming every bad field, or the parsed value. */
export function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    throw new ApiError(
      400,
      "invalid_input",
      `Invalid ${what}.`,
      r.error.issues.map((i) => `${i.path.join(".") || what}: ${i.message}`),
    );
  }
  return r.data;
}

/** The request's JSON body ({} when empty), or a 400 when it is not JSON. */
export async function body(req: Request): Promise<unknown> {
  const text = await req.text();
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(400, "malformed_json", "The request body is not valid JSON.");
  }
}

export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`The body exceeds the ${limit}-byte limit.`);
    this.name = "BodyTooLarge";
  }
}

/** Reads a request body as bytes, stopping (BodyTooLarge) as soon as it passes `max`: a declared
 * Content-Length over the cap is refused before reading, and a body without one is cut off. */
// Return type inferred: Uint8Array<ArrayBuffer> on TypeScript 5.9, plain Uint8Array on the edge Deno's 5.6.
export async function readCappedBody(req: Request, max: number) {
  if (Number(req.headers.get("content-length") ?? "0") > max) throw new BodyTooLarge(max);
  if (!req.body) return new Uint8Array();
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => {});
      throw new BodyTooLarge(max);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** What `readBodyThrough` saw: the bytes (null once the body passed `keepBytes`), how many bytes
 * were read, and whether the whole body was read (false: it passed `readLimit` and was cut off). */
export interface StreamedBody {
  bytes: Uint8Array | null;
  size: number;
  complete: boolean;
}

/**
 * Streams a request body through `onChunk` (a signature's HMAC, say) while keeping the bytes up
 * to `keepBytes`. Past `keepBytes` it drops what it kept and goes on reading only for `onChunk`,
 * in constant memory, up to `readLimit`; past that (or a declared Content-Length over it) it stops
 * reading. So a caller can check a signature over a body it will not keep, and decide about size
 * only afterwards: the answer does not depend on which check runs first.
 */
export async function readBodyThrough(
  req: Request,
  opts: { keepBytes: number; readLimit: number; onChunk?: (chunk: Uint8Array) => void },
): Promise<StreamedBody> {
  const declared = Number(req.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > opts.readLimit) {
    await req.body?.cancel().catch(() => {});
    return { bytes: null, size: declared, complete: false };
  }
  if (!req.body) return { bytes: new Uint8Array(), size: 0, complete: true };
  // A declared length within the cap is read straight into one buffer (no second copy at the end).
  let buffer: Uint8Array | null = Number.isFinite(declared) && declared <= opts.keepBytes
    ? new Uint8Array(declared)
    : null;
  let chunks: Uint8Array[] | null = buffer ? null : [];
  let size = 0;
  const reader = req.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    opts.onChunk?.(value);
    const end = size + value.byteLength;
    if (end > opts.readLimit) {
      await reader.cancel().catch(() => {});
      return { bytes: null, size: end, complete: false };
    }
    if (end > opts.keepBytes) {
      buffer = null; // past the cap: nothing more is kept, and what was kept is let go
      chunks = null;
    } else if (buffer && end <= buffer.byteLength) {
      buffer.set(value, size);
    } else if (buffer) {
      // More bytes than Content-Length said: fall back to collecting chunks.
      chunks = [buffer.subarray(0, size), value];
      buffer = null;
    } else if (chunks) {
      chunks.push(value);
    }
    size = end;
  }
  if (size > opts.keepBytes) return { bytes: null, size, complete: true };
  if (buffer) return { bytes: size === buffer.byteLength ? buffer : buffer.subarray(0, size), size, complete: true };
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks ?? []) {
    out.set(c, at);
    at += c.byteLength;
  }
  return { bytes: out, size, complete: true };
}

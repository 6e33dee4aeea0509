// The emulator's own request/reply shapes, between node:http (server.ts) and the routes: a request whose body
// can be buffered or streamed once, and a reply whose body is bytes or a slice of an open file.

import type { FileHandle } from "node:fs/promises";
import { GcsError } from "./errors.ts";

export interface GcsRequest {
  method: string;
  /** Absolute URL built from the Host header; `url.pathname` is still percent-encoded. */
  url: URL;
  /** Lower-cased header names. */
  headers: Headers;
  /** Reads the whole body (once). */
  body(): Promise<Uint8Array>;
  /** The body as a stream of chunks (once); throws if the client goes away mid-body. */
  bodyStream(): AsyncIterable<Uint8Array>;
}

/** Bytes of a blob on disk, served without loading them; the server closes the handle. */
export interface FileSlice {
  handle: FileHandle;
  start: number;
  length: number;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: Uint8Array | FileSlice;
}

export function isFileSlice(body: Reply["body"]): body is FileSlice {
  return !!body && !(body instanceof Uint8Array);
}

export function json(value: unknown, status = 200, headers: Record<string, string> = {}): Reply {
  return {
    status,
    headers: { "content-type": "application/json; charset=UTF-8", ...headers },
    body: new TextEncoder().encode(JSON.stringify(value)),
  };
}

export function empty(status = 204, headers: Record<string, string> = {}): Reply {
  return { status, headers };
}

export function errorReply(e: GcsError): Reply {
  if (e.status === 304) return empty(304, e.headers);
  return json(e.body(), e.status, e.headers);
}

/** Parses a JSON request body; an empty body is `{}`. */
export async function readJson(req: GcsRequest): Promise<Record<string, unknown>> {
  const bytes = await req.body();
  return parseJsonObject(bytes);
}

export function parseJsonObject(bytes: Uint8Array): Record<string, unknown> {
  const text = new TextDecoder().decode(bytes).trim();
  if (!text) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new GcsError(400, "parseError", "Parse Error");
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new GcsError(400, "invalid", "Invalid JSON payload received: expected an object.");
  }
  return parsed as Record<string, unknown>;
}

/** The origin a client reached us at (session URIs and links point back there). */
export function originOf(req: GcsRequest): string {
  return `${req.url.protocol}//${req.url.host}`;
}

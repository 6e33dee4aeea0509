// Wiring of the GCS emulator: `createGcsEmulator` opens the store, upload sessions, fault rules, clock and
// signed-URL checks over a data directory; `startGcsEmulator` serves it on node:http, which — unlike
// Deno.serve — can stall a response mid-body and destroy a socket, as the `stall` and `drop` faults need.

import { Buffer } from "node:buffer";
import http from "node:http";
import { CONTROL_PREFIX, controlPath } from "../kit/control.ts";
import { delay, type FaultPlan } from "../kit/faults.ts";
import { guardDroppedConnections, listen, requestParts, shutDown } from "../kit/node_server.ts";
import { EmulatorClock } from "./clock.ts";
import { handleControlApi } from "./control_api.ts";
import { GcsError } from "./errors.ts";
import { createFaultInjector, faultError, type FaultInjector, type FaultRule } from "./faults.ts";
import { errorReply, type GcsRequest, isFileSlice, json, type Reply } from "./http.ts";
import { handleJsonApi, isJsonApiPath } from "./json_api.ts";
import { SignedUrlVerifier, type SigningKeys } from "./signed_urls.ts";
import { GcsStore, type StoreStats } from "./store.ts";
import { UploadSessions } from "./uploads.ts";
import { BucketOperationQuota, type BucketQuotaSettings, ForeignBuckets } from "./projects.ts";
import { handleXmlApi } from "./xml_api.ts";

export interface GcsEmulatorOptions {
  /** Where buckets and objects persist. `startGcsEmulator` uses a fresh temp dir (removed on close) if omitted. */
  dataDir?: string;
  /** Base clock (default Date.now); `emulator.clock` adds a movable offset on top. */
  now?: () => number;
  /** Skip fsync before renames: faster, still crash-consistent for a process crash, not for a power cut. */
  noSync?: boolean;
  /** Keys to verify signed URLs with: service-account client_email → PEM key or service-account JSON. */
  signingKeys?: SigningKeys;
  /** Refuse signed URLs whose signer has no key in `signingKeys` (default: accept them unverified). */
  strictSignatures?: boolean;
  /** Random source for probabilistic faults. */
  random?: () => number;
  /** Structured log sink (one object per entry): faults fired, internal errors. */
  log?: (entry: Record<string, unknown>) => void;
  /** The bucket create/delete rate per project (default: GCS's one per 2 s, no burst; intervalMs 0 = off). */
  bucketOps?: Partial<BucketQuotaSettings>;
  /** Bucket names another project owns: inserting one is 409, any other call on it 403. */
  foreignBuckets?: string[];
  /** Who GCS names when it refuses a call (default: the one signing key's client_email, else "Anonymous caller"). */
  principal?: string;
}

export interface EmulatorState extends StoreStats {
  /** Resumable sessions still open. */
  uploads: number;
  faults: FaultRule[];
  clockOffsetMs: number;
  bucketOps: ReturnType<BucketOperationQuota["state"]>;
  foreignBuckets: string[];
}

export interface GcsEmulator {
  readonly dataDir: string;
  readonly store: GcsStore;
  readonly sessions: UploadSessions;
  readonly faults: FaultInjector;
  readonly clock: EmulatorClock;
  readonly signedUrls: SignedUrlVerifier;
  readonly bucketOps: BucketOperationQuota;
  readonly foreign: ForeignBuckets;
  /** Serves one request (no faults applied; the HTTP server applies them). */
  handle(req: GcsRequest): Promise<Reply>;
  state(): EmulatorState;
  /** Removes all buckets, objects, upload sessions, fault rules and foreign names, resets the clock offset and
   * refills every project's bucket-operation budget (its settings stay). */
  reset(): Promise<void>;
}

export async function createGcsEmulator(opts: GcsEmulatorOptions & { dataDir: string }): Promise<GcsEmulator> {
  const clock = new EmulatorClock(opts.now);
  const now = clock.now;
  const store = await GcsStore.open(opts.dataDir, { now, noSync: opts.noSync, log: opts.log });
  const sessions = await UploadSessions.open({ store, now });
  const faults = createFaultInjector(opts.random);
  const signedUrls = new SignedUrlVerifier({
    now,
    signingKeys: opts.signingKeys,
    strictSignatures: opts.strictSignatures,
  });
  const bucketOps = new BucketOperationQuota(now, opts.bucketOps);
  const foreign = new ForeignBuckets();
  for (const name of opts.foreignBuckets ?? []) foreign.add(name);
  const signers = Object.keys(opts.signingKeys ?? {});
  const principal = opts.principal ?? (signers.length === 1 ? signers[0] : "Anonymous caller");
  const deps = { store, now, sessions, signedUrls, bucketOps, foreign, principal };

  const emulator: GcsEmulator = {
    dataDir: opts.dataDir,
    store,
    sessions,
    faults,
    clock,
    signedUrls,
    bucketOps,
    foreign,
    async handle(req) {
      const path = req.url.pathname;
      try {
        if (controlPath(path)) return await handleControlApi(emulator, req);
        if (isJsonApiPath(path)) return await handleJsonApi(deps, req);
        if (path === "/") {
          return json({ service: "gcs-emulator", api: "/storage/v1", control: `${CONTROL_PREFIX}/state` });
        }
        return await handleXmlApi(deps, req);
      } catch (e) {
        if (e instanceof GcsError) return errorReply(e);
        opts.log?.({ msg: "gcs emulator internal error", method: req.method, path, error: String(e) });
        return errorReply(new GcsError(500, "backendError", "Internal Error"));
      }
    },
    state() {
      return {
        ...store.stats(),
        uploads: sessions.count,
        faults: faults.list(),
        clockOffsetMs: clock.offsetMs,
        bucketOps: bucketOps.state(),
        foreignBuckets: foreign.list(),
      };
    },
    async reset() {
      faults.clear();
      clock.reset();
      bucketOps.reset();
      foreign.clear();
      await sessions.reset();
      await store.reset();
    },
  };
  return emulator;
}

export interface StartOptions extends GcsEmulatorOptions {
  port?: number;
  hostname?: string;
}

export interface RunningGcsEmulator {
  /** Base URL, e.g. http://127.0.0.1:4443 — the SDK's `apiEndpoint`. */
  url: string;
  emulator: GcsEmulator;
  close(): Promise<void>;
}

async function materialize(body: Reply["body"]): Promise<Uint8Array> {
  if (!isFileSlice(body)) return body ?? new Uint8Array();
  try {
    const out = Buffer.alloc(body.length);
    await body.handle.read(out, 0, body.length, body.start);
    return out;
  } finally {
    await body.handle.close();
  }
}

async function closeBody(body: Reply["body"]): Promise<void> {
  if (isFileSlice(body)) await body.handle.close().catch(() => {});
}

function waitWritable(res: http.ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

async function writeReply(res: http.ServerResponse, reply: Reply, method: string, extra: Record<string, string>) {
  const headers: Record<string, string> = { ...reply.headers, ...extra };
  const body = reply.body;
  const head = method === "HEAD";
  if (body === undefined) {
    if (reply.status !== 204 && reply.status !== 304 && !("content-length" in headers)) headers["content-length"] = "0";
    res.writeHead(reply.status, headers);
    res.end();
    return;
  }
  if (!isFileSlice(body)) {
    headers["content-length"] = String(body.byteLength);
    res.writeHead(reply.status, headers);
    res.end(head ? undefined : body);
    return;
  }
  headers["content-length"] = String(body.length);
  res.writeHead(reply.status, headers);
  try {
    const chunk = Buffer.alloc(Math.min(body.length, 1 << 18));
    let position = body.start;
    let left = head ? 0 : body.length;
    while (left > 0 && !res.destroyed) {
      const { bytesRead } = await body.handle.read(chunk, 0, Math.min(chunk.length, left), position);
      if (!bytesRead) break;
      position += bytesRead;
      left -= bytesRead;
      // A copy: the buffer is reused for the next read while this one may still be queued.
      if (!res.write(Buffer.from(chunk.subarray(0, bytesRead)))) await waitWritable(res);
    }
  } finally {
    await body.handle.close().catch(() => {});
  }
  res.end();
}

/** Serves an emulator over HTTP; with no `dataDir`, state lives in a temp dir removed by close(). */
export async function startGcsEmulator(opts: StartOptions = {}): Promise<RunningGcsEmulator> {
  const { port = 4443, hostname = "127.0.0.1", ...rest } = opts;
  const ownDir = rest.dataDir === undefined;
  const dataDir = rest.dataDir ?? await Deno.makeTempDir({ prefix: "gcs-emulator-" });
  const emulator = await createGcsEmulator({ ...rest, dataDir });
  // A stalled response waits for the client to give up or the emulator to close.
  const closing = new AbortController();
  const stall = () => delay(Infinity, closing.signal);

  const server = http.createServer(async (req, res) => {
    const method = req.method ?? "GET";
    const { url, headers } = requestParts(req, `${hostname}:${port}`);
    let buffered: Promise<Uint8Array> | undefined;
    let streamed = false;
    const request: GcsRequest = {
      method,
      url,
      headers,
      body() {
        buffered ??= (async () => {
          const chunks: Buffer[] = [];
          if (!streamed) { for await (const chunk of req) chunks.push(chunk as Buffer); }
          streamed = true;
          return new Uint8Array(Buffer.concat(chunks));
        })();
        return buffered;
      },
      async *bodyStream() {
        if (buffered) {
          yield await buffered;
          return;
        }
        if (streamed) return;
        streamed = true;
        for await (const chunk of req) yield chunk as Uint8Array;
      },
    };
    const drain = async () => {
      try {
        for await (const _ of request.bodyStream()) { /* discard */ }
      } catch { /* the client went away */ }
    };

    try {
      const path = url.pathname;
      const plan: FaultPlan<FaultRule> = controlPath(path) ? { delayMs: 0 } : emulator.faults.forRequest(method, url);
      const fault = plan.terminal;
      if (fault || plan.delayMs) {
        rest.log?.({ msg: "fault", mode: fault?.mode ?? "slow", id: fault?.id, method, path });
      }
      if (plan.delayMs) await delay(plan.delayMs);
      const extra = dropGuard();

      if (fault && !fault.after_work && fault.bytes === undefined) {
        if (fault.mode === "503" || fault.mode === "429") {
          await drain();
          await writeReply(res, errorReply(faultError(fault)), method, extra);
          return;
        }
        if (fault.mode === "drop") {
          req.socket.destroy();
          return;
        }
        if (fault.mode === "stall") {
          await drain();
          await stall();
          res.destroy();
          return;
        }
      }

      const reply = await emulator.handle(request);
      if (fault?.mode === "drop") {
        await closeBody(reply.body);
        req.socket.destroy();
        return;
      }
      if (fault?.mode === "stall") {
        const bytes = await materialize(reply.body);
        if (fault.bytes !== undefined) {
          res.writeHead(reply.status, { ...reply.headers, ...extra, "content-length": String(bytes.byteLength) });
          res.write(bytes.subarray(0, Math.min(fault.bytes, bytes.byteLength)));
        }
        await stall();
        res.destroy();
        return;
      }
      await writeReply(res, reply, method, extra);
    } catch (e) {
      if (closing.signal.aborted) return;
      rest.log?.({ msg: "gcs emulator server error", method, path: url.pathname, error: String(e) });
      if (!res.headersSent) {
        await writeReply(res, errorReply(new GcsError(500, "backendError", "Internal Error")), method, {});
      } else res.destroy();
    }
  });
  // Idle keep-alive sockets outlive clients' pool timeouts, so a client never reuses one the server just closed.
  server.keepAliveTimeout = 120_000;
  const dropGuard = guardDroppedConnections(server, emulator.faults);
  const url = await listen(server, port, hostname);

  return {
    url,
    emulator,
    async close() {
      closing.abort();
      await shutDown(server);
      if (ownDir) await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    },
  };
}

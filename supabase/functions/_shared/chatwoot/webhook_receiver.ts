// Receiving one signed Chatwoot delivery, for the account webhook and the agent bot alike (each at
// POST /functions/v1/<function>/<route-token>). Authenticates it (route token → account, fresh
// timestamp, signature over the raw bytes as they stream in) before anything else, then KEEPS it:
// Chatwoot sends an account webhook once and never again, and any bot answer but 2xx/429/500 opens
// the conversation (AgentBots::WebhookJob), so an authenticated delivery always gets a 2xx — applied
// to the mirror, or kept in the ledger with its reasons for `switchboard webhooks replay`.

import { createHash } from "node:crypto";
import type { Sql, TransactionSql } from "../platform/db.ts";
import { errorResponse, json, readBodyThrough, subPath } from "../platform/http.ts";
import type { Logger } from "../platform/log.ts";
import type { PrivateFunctionRow } from "../platform/rows.ts";
import { isInboxEvent, isTypingEvent, parseChatwootEvent } from "./events.ts";
import { normalizeChatwootEvent, type NormalizedChatwootEvent, payloadAccountId } from "./normalize.ts";
import { ingestDelivery, type IngestInput, type IngestOutcome, mirrorRows } from "./ingest.ts";
import { isFreshTimestamp, streamingChatwootSignature } from "./signature.ts";
import type { MetricsRecorder } from "../metrics/recorder.ts";

/** The account a route token leads to (null secret: an account that may deliver unsigned, or not set up yet). */
export type RouteAccount = PrivateFunctionRow<"chatwoot_account_by_route_token", "webhook_secret">;

/** Applies a delivery with work of its own in the same statement (the bot's reply job). */
export type ApplyDelivery = (
  sql: Sql | TransactionSql,
  input: IngestInput,
  applied: { account: RouteAccount; normalized: NormalizedChatwootEvent },
) => Promise<IngestOutcome>;

/** What happens after a delivery was kept unapplied (the bot hands such a conversation to people). */
export type OnKept = (
  sql: Sql | TransactionSql,
  kept: { account: RouteAccount; body: unknown; reason: string; deliveryId: string },
) => Promise<void>;

export interface ReceiverDeps {
  sql: Sql;
  /** The function's name in the URL (the agent bot receiver reuses this handler). */
  functionName?: string;
  /** By default a delivery is only mirrored. */
  ingestApplied?: ApplyDelivery;
  onKept?: OnKept;
  resolveRoute: (token: string) => Promise<RouteAccount | null>;
  /** The largest body kept and applied (WEBHOOK_MAX_BODY_BYTES, 16 MiB by default). */
  maxBodyBytes: number;
  /** Bodies past maxBodyBytes are still read, unkept, this far to check their signature
   * (WEBHOOK_VERIFY_LIMIT_BYTES, default 4 × maxBodyBytes); past this they are refused unread. */
  verifyLimitBytes?: number;
  toleranceSeconds: number;
  log: Logger;
  now?: () => number;
  /** Counts each delivery's outcome and processing time (webhook_processing_seconds); none: not measured. */
  metrics?: MetricsRecorder;
}

const ROUTE_TOKEN = /^[A-Za-z0-9_-]{20,128}$/;
const DELIVERY_ID = /^[A-Za-z0-9._:-]{1,200}$/;

/** One answer for every authentication failure, so a caller learns nothing about which check failed. */
function unauthorized(): Response {
  return errorResponse(401, "unauthorized", "The webhook URL or its signature is not valid.");
}

/** Receives one delivery, measured: its outcome (the answer's status, or how it was refused) and
 * the time from the request to the answer, in memory until the recorder flushes. */
export async function receiveDelivery(req: Request, deps: ReceiverDeps): Promise<Response> {
  if (!deps.metrics) return await receive(req, deps, {});
  const started = performance.now();
  const seen: { outcome?: string } = {};
  const labels = (outcome: string) => ({ receiver: deps.functionName ?? "chatwoot-webhook", outcome });
  try {
    const res = await receive(req, deps, seen);
    const outcome = seen.outcome ??
      (res.status === 401
        ? "unauthorized"
        : res.status === 413
        ? "too_large"
        : res.status >= 500
        ? "error"
        : res.status === 405
        ? "method_not_allowed"
        : String(res.status));
    deps.metrics.observe("webhook_processing_seconds", labels(outcome), (performance.now() - started) / 1000);
    return res;
  } catch (err) {
    deps.metrics.observe("webhook_processing_seconds", labels("error"), (performance.now() - started) / 1000);
    throw err;
  }
}

async function receive(req: Request, deps: ReceiverDeps, seen: { outcome?: string }): Promise<Response> {
  const now = deps.now ?? Date.now;
  if (req.method !== "POST") return errorResponse(405, "method_not_allowed", "Chatwoot delivers webhooks with POST.");
  const log = deps.log;
  // ── authentication: what can be checked before the body ─────────────────────────────────────
  const token = subPath(req, deps.functionName ?? "chatwoot-webhook").replace(/^\/+|\/+$/g, "");
  if (!ROUTE_TOKEN.test(token)) {
    log.warn("webhook refused", { reason: "malformed route token" });
    return unauthorized();
  }
  const account = await deps.resolveRoute(token);
  if (!account) {
    log.warn("webhook refused", { reason: "unknown route token" });
    return unauthorized();
  }
  const signature = req.headers.get("x-chatwoot-signature");
  const timestamp = req.headers.get("x-chatwoot-timestamp");
  const signed = signature !== null || timestamp !== null;
  if (!signed && !account.accepts_unsigned) {
    log.warn("webhook refused", { reason: "unsigned delivery", account_ref: account.account_ref });
    return unauthorized();
  }
  if (signed) {
    if (!signature || !timestamp || !account.webhook_secret) {
      log.warn("webhook refused", {
        reason: "incomplete signature headers or no secret",
        account_ref: account.account_ref,
      });
      return unauthorized();
    }
    if (!isFreshTimestamp(timestamp, now(), deps.toleranceSeconds)) {
      log.warn("webhook refused", { reason: "stale or future timestamp", account_ref: account.account_ref, timestamp });
      return unauthorized();
    }
  }

  // ── the body streams through the signature (and the fallback delivery id) ───────────────────
  const headerDelivery = req.headers.get("x-chatwoot-delivery");
  const validDelivery = headerDelivery !== null && DELIVERY_ID.test(headerDelivery) ? headerDelivery : null;
  const mac = signed ? streamingChatwootSignature(account.webhook_secret!, timestamp!) : null;
  // Unsigned (pre-4.11.2) Chatwoot sends no delivery id: identical bodies are then one delivery.
  const bodyHash = validDelivery ? null : createHash("sha256");
  const verifyLimit = Math.max(deps.verifyLimitBytes ?? deps.maxBodyBytes * 4, deps.maxBodyBytes);
  const body = await readBodyThrough(req, {
    keepBytes: deps.maxBodyBytes,
    readLimit: verifyLimit,
    onChunk: (chunk) => {
      mac?.update(chunk);
      bodyHash?.update(chunk);
    },
  });
  if (!body.complete) {
    // A flood-sized body is not read to its end, so it cannot be verified: refused unread.
    log.warn("webhook refused", { reason: "body past the verify limit", account_ref: account.account_ref });
    return errorResponse(
      413,
      "payload_too_large",
      `The body exceeds ${verifyLimit} bytes; it was not read, so not verified, and nothing was kept.`,
    );
  }
  if (mac && !mac.matches(signature!)) {
    log.warn("webhook refused", { reason: "signature mismatch", account_ref: account.account_ref });
    return unauthorized();
  }

  // ── authenticated: from here on every answer is a 2xx, except a body too large to keep ──────
  const deliveryId = validDelivery ?? `sha256:${bodyHash!.digest("hex")}`;
  const headerIssues = headerDelivery !== null && !validDelivery
    ? [`X-Chatwoot-Delivery ${JSON.stringify(headerDelivery.slice(0, 80))} is not a UUID-like token`]
    : [];
  if (!body.bytes) {
    // Genuine but past the cap: a record says so (reconciliation fetches the state through the
    // API). A 413 tells a bot's Chatwoot to open the conversation for people, which is right:
    // the bot cannot read it.
    const outcome = await ingestDelivery(deps.sql, {
      accountRef: account.account_ref,
      deliveryId,
      event: "(too large)",
      outcome: "too_large",
      detail: { size: body.size, limit: deps.maxBodyBytes, issues: headerIssues },
    });
    log.warn("authenticated delivery too large to keep", {
      account_ref: account.account_ref,
      delivery_id: deliveryId,
      size: body.size,
      outcome,
    });
    return errorResponse(
      413,
      "payload_too_large",
      `The body (${body.size} bytes) exceeds the ${deps.maxBodyBytes}-byte limit; its arrival was recorded.`,
    );
  }
  const contentType = (req.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  const result = await acceptDelivery(deps, account, {
    bytes: body.bytes,
    contentType,
    deliveryId,
    headerIssues,
  });
  seen.outcome = result.status;
  return json(result);
}

/** What the receiver answers (always with 200) for an authenticated delivery it could read. */
export interface AcceptedDelivery {
  /** applied | stale | duplicate | noise | ignored; "recorded" (unknown event), "rejected" (kept
   * with the reasons it did not apply), "kept" (not JSON: kept as raw bytes). */
  status: string;
  event: string;
  delivery_id: string;
  issues?: string[];
}

/** A delivery whose bytes are in hand: from the network, or from the ledger on replay. */
export interface DeliveryBody {
  bytes: Uint8Array;
  contentType: string;
  deliveryId: string;
  /** Problems found before the body (a malformed delivery id header), noted with the delivery. */
  headerIssues?: string[];
}

/**
 * Parses, checks and applies an authenticated delivery, keeping whatever does not apply: a body
 * that is not JSON as raw bytes, a schema miss or an account mismatch as its payload with the
 * issues, a payload the database refuses likewise. NUL characters (which Postgres text and jsonb
 * refuse) are stripped and noted. Throws only when the database cannot be reached (nothing kept).
 */
export async function acceptDelivery(
  deps: Pick<ReceiverDeps, "ingestApplied" | "onKept" | "log"> & { sql: AnySql },
  account: RouteAccount,
  delivery: DeliveryBody,
): Promise<AcceptedDelivery> {
  const log = deps.log;
  const base = { accountRef: account.account_ref, deliveryId: delivery.deliveryId };
  const headerIssues = delivery.headerIssues ?? [];
  const keepRaw = async (reason: string, issue: string): Promise<AcceptedDelivery> => {
    const issues = [...headerIssues, issue];
    const outcome = await transaction(deps.sql, async (tx) => {
      const outcome = await ingestDelivery(tx, {
        ...base,
        event: "(unreadable)",
        outcome: "rejected",
        detail: { reason, issues, content_type: delivery.contentType || null, size: delivery.bytes.byteLength },
      });
      if (outcome !== "duplicate") {
        await tx`update private.chatwoot_deliveries set raw_body = ${delivery.bytes}
                 where account_ref = ${account.account_ref} and delivery_id = ${delivery.deliveryId}`;
        await deps.onKept?.(tx, { account, body: null, reason, deliveryId: delivery.deliveryId });
      }
      return outcome;
    });
    log.warn("unreadable delivery kept", { reason, delivery_id: delivery.deliveryId, outcome });
    return { status: outcome === "duplicate" ? "duplicate" : "kept", event: "(unreadable)", ...idOf(delivery), issues };
  };

  if (delivery.contentType !== "application/json") {
    return await keepRaw("unsupported_media_type", `Content-Type is "${delivery.contentType || "none"}", not JSON`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(delivery.bytes);
  } catch {
    return await keepRaw("not_utf8", "the body is not valid UTF-8");
  }
  let parsedJson: unknown;
  try {
    parsedJson = JSON.parse(text);
  } catch (err) {
    return await keepRaw("malformed_json", `the body is not valid JSON: ${err instanceof Error ? err.message : err}`);
  }
  // Postgres text and jsonb cannot hold U+0000; JSON can only carry it escaped, so look for that first.
  const stripped = text.includes("\\u0000")
    ? stripNulCharacters(parsedJson)
    : { value: parsedJson, count: 0, paths: [] };
  const body = stripped.value;
  const notes: Record<string, unknown> = {};
  if (stripped.count > 0) notes.nul_stripped = { count: stripped.count, paths: stripped.paths };
  if (headerIssues.length) notes.issues = headerIssues;
  const detail = Object.keys(notes).length ? notes : undefined;

  const parsed = parseChatwootEvent(body);
  const eventName = typeof (body as { event?: unknown })?.event === "string"
    ? String((body as { event: string }).event).slice(0, 100)
    : "(none)";
  const withEvent = { ...base, event: eventName };
  const keepRejected = async (reason: string, issues: string[]): Promise<AcceptedDelivery> => {
    const all = [...headerIssues, ...issues];
    let outcome: IngestOutcome;
    try {
      outcome = await transaction(deps.sql, async (tx) => {
        const outcome = await ingestDelivery(tx, {
          ...withEvent,
          outcome: "rejected",
          detail: { ...notes, reason, issues: all },
          payload: body,
        });
        if (outcome !== "duplicate") {
          await deps.onKept?.(tx, { account, body, reason, deliveryId: delivery.deliveryId });
        }
        return outcome;
      });
    } catch (err) {
      // jsonb refuses what JSON allows (a lone surrogate escape, say): then the bytes are kept.
      if (!isDataError(err)) throw err;
      return await keepRaw(reason, `${issues.join("; ")}; as JSON the database refused it: ${(err as Error).message}`);
    }
    log.warn("delivery kept unapplied", {
      reason,
      event: eventName,
      delivery_id: delivery.deliveryId,
      issues,
      outcome,
    });
    return {
      status: outcome === "duplicate" ? "duplicate" : "rejected",
      event: eventName,
      ...idOf(delivery),
      issues: all,
    };
  };

  if (!parsed.ok && parsed.kind === "unknown_event") {
    let outcome: IngestOutcome;
    try {
      outcome = await statement(
        deps.sql,
        (sql) => ingestDelivery(sql, { ...withEvent, outcome: "unknown_event", detail, payload: body }),
      );
    } catch (err) {
      if (!isDataError(err)) throw err;
      return await keepRaw(
        "database_refused",
        `an unknown event the database refused as JSON: ${(err as Error).message}`,
      );
    }
    log.info("unknown event recorded", { event: eventName, delivery_id: delivery.deliveryId, outcome });
    return { status: outcome === "duplicate" ? "duplicate" : "recorded", event: eventName, ...idOf(delivery) };
  }
  if (!parsed.ok) return await keepRejected("invalid_payload", parsed.issues);
  const event = parsed.event;
  const claimedAccount = payloadAccountId(event);
  if (claimedAccount !== null && claimedAccount !== account.account_id) {
    return await keepRejected("account_mismatch", [
      `payload account ${claimedAccount} is not the route's account ${account.account_id}`,
    ]);
  }
  const normalized = normalizeChatwootEvent(event, account.account_id);
  let outcome: IngestOutcome;
  try {
    // One statement each; inside a caller's transaction (replay) under a savepoint, so a refusal
    // leaves the transaction usable for keeping the delivery.
    outcome = await statement(deps.sql, async (sql) => {
      if (normalized.last_activity_noise) {
        return await ingestDelivery(sql, { ...withEvent, outcome: "noise", detail });
      }
      if (isInboxEvent(event) || (isTypingEvent(event) && !normalized.conversation)) {
        // Inbox payloads carry channel credentials: acknowledged and counted, never stored.
        return await ingestDelivery(sql, { ...withEvent, outcome: "ignored", detail });
      }
      const input = { ...withEvent, rows: mirrorRows(normalized), detail };
      return deps.ingestApplied
        ? await deps.ingestApplied(sql, input, { account, normalized })
        : await ingestDelivery(sql, input);
    });
  } catch (err) {
    // A value the database refuses (out of range, a constraint) is this payload's problem: kept.
    // Anything else (the database is gone) throws on: nothing was stored, and the caller says so.
    if (!isDataError(err)) throw err;
    return await keepRejected("database_refused", [`the database refused it: ${(err as Error).message}`]);
  }
  return { status: outcome, event: event.event, ...idOf(delivery) };
}

type AnySql = Sql | TransactionSql;

function inTransaction(sql: AnySql): sql is TransactionSql {
  return typeof (sql as TransactionSql).savepoint === "function";
}

/** Several statements atomically: a transaction, or a savepoint inside the caller's. */
function transaction<T>(sql: AnySql, fn: (tx: TransactionSql) => Promise<T>): Promise<T> {
  return (inTransaction(sql) ? sql.savepoint(fn) : sql.begin(fn)) as Promise<T>;
}

/** One statement: as it is, or under a savepoint inside the caller's transaction. */
function statement<T>(sql: AnySql, fn: (sql: AnySql) => Promise<T>): Promise<T> {
  return inTransaction(sql) ? (sql.savepoint(fn) as Promise<T>) : fn(sql);
}

function idOf(delivery: DeliveryBody): { delivery_id: string } {
  return { delivery_id: delivery.deliveryId };
}

/** SQLSTATE class 22 (data exception) and 23 (integrity constraint violation). */
function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === "string" && /^2[23]/.test(code);
}

/**
 * Removes U+0000 from every string and key of a parsed JSON value, counting them and naming up to
 * ten paths where they were (for the ledger's detail). Other characters are left as they are.
 */
export function stripNulCharacters(value: unknown): { value: unknown; count: number; paths: string[] } {
  let count = 0;
  const paths: string[] = [];
  const clean = (text: string, path: string): string => {
    if (!text.includes("\u0000")) return text;
    const parts = text.split("\u0000");
    count += parts.length - 1;
    if (paths.length < 10) paths.push(path || "(root)");
    return parts.join("");
  };
  const walk = (v: unknown, path: string): unknown => {
    if (typeof v === "string") return clean(v, path);
    if (Array.isArray(v)) return v.map((item, i) => walk(item, `${path}[${i}]`));
    if (v && typeof v === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, item] of Object.entries(v)) {
        const key = k.includes("\u0000") ? k.split("\u0000").join("") : k;
        const at = path ? `${path}.${key}` : key;
        if (key !== k) clean(k, at); // counted and noted under its cleaned name (the detail is jsonb too)
        out[key] = walk(item, at);
      }
      return out;
    }
    return v;
  };
  const out = walk(value, "");
  return { value: out, count, paths };
}

async function accountWebhookRoute(sql: Sql, token: string): Promise<RouteAccount | null> {
  const [row] = await sql<RouteAccount[]>`select * from private.chatwoot_account_by_route_token(${token})`;
  return row ?? null;
}

/** Route lookups cached briefly: a burst for one account costs one query, and garbage tokens
 * (negative results) are cached too so they cannot hammer the database. */
export function cachedRouteResolver(
  sql: Sql,
  opts: {
    ttlMs?: number;
    negativeTtlMs?: number;
    now?: () => number;
    /** Where a token leads; by default an account webhook's route (the bot receiver passes its own). */
    lookup?: (sql: Sql, token: string) => Promise<RouteAccount | null>;
  } = {},
): (token: string) => Promise<RouteAccount | null> {
  const ttl = opts.ttlMs ?? 30_000;
  const negativeTtl = opts.negativeTtlMs ?? 5_000;
  const now = opts.now ?? Date.now;
  const cache = new Map<string, { value: RouteAccount | null; expires: number }>();
  return async (token) => {
    const hit = cache.get(token);
    if (hit && hit.expires > now()) return hit.value;
    const value = await (opts.lookup ?? accountWebhookRoute)(sql, token);
    if (cache.size > 10_000) cache.clear();
    cache.set(token, { value, expires: now() + (value ? ttl : negativeTtl) });
    return value;
  };
}

// Receiving one signed Chatwoot delivery, for the account webhook and the agent bot alike (each at
// POST /functions/v1/<function>/<route-token>). Authenticates the delivery (route token → account, signature over the raw bytes, fresh timestamp) before the
// body is parsed, validates it, and applies it to the mirror in one transaction; answers as soon
// as that commits. Chatwoot never retries, so an unprocessable delivery is kept, not dropped.

import { createHash } from "node:crypto";
import type { Sql } from "../platform/db.ts";
import { BodyTooLarge, errorResponse, json, readCappedBody, subPath } from "../platform/http.ts";
import type { Logger } from "../platform/log.ts";
import type { PrivateFunctionRow } from "../platform/rows.ts";
import { parseChatwootEvent } from "./events.ts";
import { isInboxEvent, isTypingEvent } from "./events.ts";
import { normalizeChatwootEvent, type NormalizedChatwootEvent, payloadAccountId } from "./normalize.ts";
import { ingestDelivery, type IngestInput, type IngestOutcome, mirrorRows } from "./ingest.ts";
import { isFreshTimestamp, verifyChatwootSignature } from "./signature.ts";

/** The account a route token leads to (null secret: an account that may deliver unsigned, or not set up yet). */
export type RouteAccount = PrivateFunctionRow<"chatwoot_account_by_route_token", "webhook_secret">;

export interface ReceiverDeps {
  sql: Sql;
  /** The function's name in the URL (the agent bot receiver reuses this handler). */
  functionName?: string;
  /** Applies a delivery with work of its own in the same statement (the bot's reply job); by
   * default the delivery is only mirrored. */
  ingestApplied?: (
    sql: Sql,
    input: IngestInput,
    applied: { account: RouteAccount; normalized: NormalizedChatwootEvent },
  ) => Promise<IngestOutcome>;
  resolveRoute: (token: string) => Promise<RouteAccount | null>;
  maxBodyBytes: number;
  toleranceSeconds: number;
  log: Logger;
  now?: () => number;
}

const ROUTE_TOKEN = /^[A-Za-z0-9_-]{20,128}$/;

/** One answer for every authentication failure, so a caller learns nothing about which check failed. */
function unauthorized(): Response {
  return errorResponse(401, "unauthorized", "The webhook URL or its signature is not valid.");
}

export async function receiveDelivery(req: Request, deps: ReceiverDeps): Promise<Response> {
  const now = deps.now ?? Date.now;
  if (req.method !== "POST") return errorResponse(405, "method_not_allowed", "Chatwoot delivers webhooks with POST.");
  const log = deps.log;

  // ── authentication, before the body is looked at ────────────────────────────────────────────
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

  let raw: Uint8Array;
  try {
    raw = await readCappedBody(req, deps.maxBodyBytes);
  } catch (err) {
    if (err instanceof BodyTooLarge) {
      return errorResponse(413, "payload_too_large", `The body exceeds the ${deps.maxBodyBytes}-byte limit.`);
    }
    throw err;
  }
  if (signed && !verifyChatwootSignature(account.webhook_secret!, timestamp!, raw, signature!)) {
    log.warn("webhook refused", { reason: "signature mismatch", account_ref: account.account_ref });
    return unauthorized();
  }

  // ── the body ────────────────────────────────────────────────────────────────────────────────
  const type = (req.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (type !== "application/json") {
    return errorResponse(
      415,
      "unsupported_media_type",
      `Expected Content-Type application/json, got "${type || "none"}".`,
    );
  }
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(raw));
  } catch (err) {
    return errorResponse(
      400,
      "malformed_json",
      `The body is not valid JSON: ${err instanceof Error ? err.message : err}`,
    );
  }
  const headerDelivery = req.headers.get("x-chatwoot-delivery");
  if (headerDelivery !== null && !/^[A-Za-z0-9._:-]{1,200}$/.test(headerDelivery)) {
    return errorResponse(400, "invalid_delivery_id", "X-Chatwoot-Delivery must be a UUID-like token.");
  }
  // Unsigned (pre-4.11.2) Chatwoot sends no delivery id: identical bodies are then one delivery.
  const deliveryId = headerDelivery ?? `sha256:${createHash("sha256").update(raw).digest("hex")}`;

  const parsed = parseChatwootEvent(body);
  const eventName = typeof (body as { event?: unknown })?.event === "string"
    ? String((body as { event: string }).event).slice(0, 100)
    : "(none)";
  const base = { accountRef: account.account_ref, deliveryId, event: eventName };

  if (!parsed.ok && parsed.kind === "unknown_event") {
    const outcome = await ingestDelivery(deps.sql, { ...base, outcome: "unknown_event", payload: body });
    log.info("unknown event recorded", { event: eventName, delivery_id: deliveryId, outcome });
    return json({
      status: outcome === "duplicate" ? "duplicate" : "recorded",
      event: eventName,
      delivery_id: deliveryId,
    });
  }
  if (!parsed.ok) {
    // Kept with its problems so it can be replayed once understood; Chatwoot will not resend it.
    const outcome = await ingestDelivery(deps.sql, {
      ...base,
      outcome: "rejected",
      detail: { issues: parsed.issues },
      payload: body,
    });
    log.warn("invalid payload kept", { event: eventName, delivery_id: deliveryId, issues: parsed.issues, outcome });
    return errorResponse(
      422,
      "invalid_payload",
      `The ${eventName} payload does not match Chatwoot's contract; it was kept for review.`,
      parsed.issues,
    );
  }

  const event = parsed.event;
  const claimedAccount = payloadAccountId(event);
  if (claimedAccount !== null && claimedAccount !== account.account_id) {
    await ingestDelivery(deps.sql, {
      ...base,
      outcome: "rejected",
      detail: { issues: [`payload account ${claimedAccount} is not the route's account ${account.account_id}`] },
      payload: body,
    });
    return errorResponse(422, "account_mismatch", "The payload belongs to a different Chatwoot account than this URL.");
  }

  const normalized = normalizeChatwootEvent(event, account.account_id);
  let outcome;
  if (normalized.last_activity_noise) {
    outcome = await ingestDelivery(deps.sql, { ...base, outcome: "noise" });
  } else if (isInboxEvent(event) || (isTypingEvent(event) && !normalized.conversation)) {
    // Inbox payloads carry channel credentials: acknowledged and counted, never stored.
    outcome = await ingestDelivery(deps.sql, { ...base, outcome: "ignored" });
  } else if (deps.ingestApplied) {
    outcome = await deps.ingestApplied(deps.sql, { ...base, rows: mirrorRows(normalized) }, { account, normalized });
  } else {
    outcome = await ingestDelivery(deps.sql, { ...base, rows: mirrorRows(normalized) });
  }
  return json({ status: outcome, event: event.event, delivery_id: deliveryId });
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

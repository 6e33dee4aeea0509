// Reconciliation: Chatwoot delivers account webhooks once and never retries, so a periodic job
// per linked account pulls the conversations active since its cursor, and their messages,
// through the Application API, and applies them with the same idempotent ingestion as webhooks.
// Delivery ids are derived from each item's state, so re-reading an unchanged item is a no-op.

import { z } from "zod";
import type { Sql } from "../platform/db.ts";
import type { Fetched, PrivateRow, Row } from "../platform/rows.ts";
import { jobKind, type JobRegistry, PermanentFailure } from "../jobs/queue.ts";
import { chatwootJobError } from "./job_errors.ts";
import { recordApiClosed } from "./accounts.ts";
import { chatwootTimestamp, conversationSchema, MESSAGE_TYPES, parseChatwootEvent } from "./events.ts";
import { normalizeChatwootEvent, normalizeConversation } from "./normalize.ts";
import { ChatwootClient, ChatwootError, listConversations, listMessages } from "./client.ts";
import { conversationRow, ingestDelivery, type IngestOutcome, mirrorRows } from "./ingest.ts";
import type { RateLimiter } from "./rate_limit.ts";
import { checkMirroredContacts, type ContactCheck, recordContactMerge } from "./merges.ts";
import { getContact } from "./contacts.ts";

export interface ReconcileDeps {
  sql: Sql;
  limiter: RateLimiter;
  fetch?: typeof fetch;
  /** Clock skew and in-flight margin: the cursor is set this far before the run started. */
  overlapMs?: number;
  /** Safety valve for a first run against a large account. */
  maxPages?: number;
  maxMessagePagesPerConversation?: number;
  /** Mirrored contacts asked about per run (is it still there, or was it merged?); default 10. */
  contactChecksPerRun?: number;
}

export interface ReconcileResult {
  conversations: number;
  messages: number;
  applied: number;
  unchanged: number;
  skipped: number;
  /** Set when the account's API is closed (Cloud free plan): nothing was read. */
  closed?: string;
  /** Contacts found merged away in Chatwoot (no webhook tells of a merge). */
  merges?: ContactCheck & { moved_conversations: number };
}

const jobPayload = z.object({ account_ref: z.uuid() });

/** A REST message (`_message.json.jbuilder`: integer message_type and created_at) as the
 * message_created event Chatwoot would have sent, so one normaliser serves both paths. */
export function restMessageAsEvent(
  message: Record<string, unknown>,
  conversation: Record<string, unknown>,
  accountId: number,
): unknown {
  const type = typeof message.message_type === "number" ? MESSAGE_TYPES[message.message_type] : message.message_type;
  return {
    ...message,
    event: "message_created",
    message_type: type,
    account: { id: accountId, name: null },
    inbox: { id: message.inbox_id ?? conversation.inbox_id, name: null },
    conversation,
  };
}

/** REST conversations name their channel in meta.channel; webhook payloads at the top level. */
export function restConversation(c: Record<string, unknown>): Record<string, unknown> {
  const meta = (c.meta ?? {}) as Record<string, unknown>;
  return { ...c, channel: c.channel ?? meta.channel ?? null };
}

type ReconciledAccount =
  & Pick<Row<"chatwoot_accounts">, "id" | "store_id" | "chatwoot_url" | "account_id" | "api_closed_reason">
  & Pick<PrivateRow<"chatwoot_account_secrets">, "api_token">
  & Fetched<Pick<Row<"chatwoot_sync_cursors">, "synced_until">, "synced_until">;

async function loadAccount(sql: Sql, accountRef: string): Promise<ReconciledAccount | undefined> {
  const [row] = await sql<ReconciledAccount[]>`
    select a.id, a.store_id, a.chatwoot_url, a.account_id, a.api_closed_reason, s.api_token, c.synced_until
    from public.chatwoot_accounts a
    join private.chatwoot_account_secrets s on s.account_ref = a.id
    left join public.chatwoot_sync_cursors c on c.account_ref = a.id
    where a.id = ${accountRef}`;
  return row;
}

export async function reconcileAccount(deps: ReconcileDeps, accountRef: string): Promise<ReconcileResult> {
  const account = await loadAccount(deps.sql, accountRef);
  if (!account) throw new PermanentFailure(`Chatwoot account ${accountRef} is no longer linked`);
  if (!account.api_token) {
    throw new PermanentFailure(`Chatwoot account ${accountRef} has no API token to reconcile with`);
  }
  // Closed by Chatwoot Cloud's plan: the job that found out said so and died; later runs make no calls.
  if (account.api_closed_reason) {
    return { conversations: 0, messages: 0, applied: 0, unchanged: 0, skipped: 0, closed: account.api_closed_reason };
  }
  const client = new ChatwootClient({
    baseUrl: account.chatwoot_url,
    token: account.api_token,
    limiter: deps.limiter,
    fetch: deps.fetch,
  });
  try {
    return await pull(deps, client, account, accountRef);
  } finally {
    client.close();
  }
}

async function pull(
  deps: ReconcileDeps,
  client: ChatwootClient,
  account: { account_id: number; synced_until: Date | null },
  accountRef: string,
): Promise<ReconcileResult> {
  const startedAt = Date.now();
  const since = account.synced_until?.getTime() ?? null;
  const result: ReconcileResult = { conversations: 0, messages: 0, applied: 0, unchanged: 0, skipped: 0 };
  const merges = { checked: 0, merged: 0, gone: 0, moved_conversations: 0 };
  const count = (o: IngestOutcome) => {
    if (o === "applied") result.applied++;
    else if (o === "stale" || o === "duplicate") result.unchanged++;
    else result.skipped++;
  };

  const maxPages = deps.maxPages ?? 40;
  pages: for (let page = 1; page <= maxPages; page++) {
    const { conversations } = await listConversations(client, account.account_id, { page });
    if (conversations.length === 0) break;
    for (const raw of conversations) {
      const c = restConversation(raw);
      const activity = chatwootTimestamp(c.last_activity_at)?.getTime() ?? 0;
      // Sorted by last activity: once past the cursor, everything further is already mirrored.
      if (since !== null && activity < since) break pages;
      const parsed = conversationSchema.safeParse(c);
      if (!parsed.success) {
        result.skipped++;
        continue;
      }
      result.conversations++;
      const conv = normalizeConversation(parsed.data, account.account_id);
      if (await movedByMerge(deps.sql, client, account.account_id, accountRef, conv.display_id, conv.contact_id)) {
        merges.moved_conversations++;
        merges.merged++;
      }
      count(
        await ingestDelivery(deps.sql, {
          accountRef,
          deliveryId: `reconcile:conversation:${conv.display_id}:${conv.version}`,
          event: "reconcile.conversation",
          rows: { conversation: conversationRow(conv) },
        }),
      );
      await reconcileMessages(deps, client, account.account_id, accountRef, c, since, result, count);
    }
  }

  const checked = await checkMirroredContacts(
    deps.sql,
    client,
    { ref: accountRef, accountId: account.account_id },
    deps.contactChecksPerRun ?? 10,
  );
  merges.checked += checked.checked;
  merges.merged += checked.merged;
  merges.gone += checked.gone;
  if (merges.checked || merges.merged) result.merges = merges;

  await deps.sql`
    update public.chatwoot_sync_cursors
       set synced_until = to_timestamp(${(startedAt - (deps.overlapMs ?? 120_000)) / 1000}), last_run_at = now(),
           last_result = ${deps.sql.json({ ...result } as never)}, last_error = null
     where account_ref = ${accountRef}`;
  return result;
}

/**
 * A conversation Chatwoot now shows under another contact than the mirror has: if the old contact is gone, it was
 * merged into the new one (ContactMergeAction moves conversations, sends no webhook). Recorded before the
 * conversation is applied, so the mirror and the customer links move together.
 */
async function movedByMerge(
  sql: Sql,
  client: ChatwootClient,
  accountId: number,
  accountRef: string,
  displayId: number,
  contactId: number | null,
): Promise<boolean> {
  if (contactId === null) return false;
  const [row] = await sql<{ contact_id: number | null; merged: boolean }[]>`
    select v.contact_id, (c.merged_into is not null) as merged from public.chatwoot_conversations v
    left join public.chatwoot_contacts c on c.account_ref = v.account_ref and c.contact_id = v.contact_id
    where v.account_ref = ${accountRef} and v.display_id = ${displayId}`;
  if (!row || row.contact_id === null || row.contact_id === contactId || row.merged) return false;
  if (await getContact(client, accountId, row.contact_id)) return false; // reassigned, not merged
  await recordContactMerge(
    sql,
    accountRef,
    row.contact_id,
    contactId,
    "found by reconciliation: its conversation moved",
  );
  return true;
}

async function reconcileMessages(
  deps: ReconcileDeps,
  client: ChatwootClient,
  accountId: number,
  accountRef: string,
  conversation: Record<string, unknown>,
  since: number | null,
  result: ReconcileResult,
  count: (o: IngestOutcome) => void,
) {
  let before: number | undefined;
  const maxPages = deps.maxMessagePagesPerConversation ?? 10;
  for (let page = 0; page < maxPages; page++) {
    const messages = await listMessages(client, accountId, conversation.id as number, { before });
    if (messages.length === 0) return;
    let reachedCursor = false;
    for (const m of messages) {
      const created = chatwootTimestamp(m.created_at)?.getTime() ?? 0;
      if (since !== null && created < since) reachedCursor = true;
      const parsed = parseChatwootEvent(restMessageAsEvent(m, conversation, accountId));
      if (!parsed.ok) {
        result.skipped++;
        continue;
      }
      const n = normalizeChatwootEvent(parsed.event, accountId);
      if (!n.message) continue;
      result.messages++;
      // The conversation is applied on its own above; a message carries only itself here.
      const rows = mirrorRows(n);
      delete rows.conversation;
      count(
        await ingestDelivery(deps.sql, {
          accountRef,
          deliveryId: `reconcile:message:${n.message.message_id}:${n.message.version.fingerprint}`,
          event: "reconcile.message",
          rows,
        }),
      );
    }
    // Older pages only matter while we are still after the cursor (or on a first run).
    if (reachedCursor || messages.length < 20) return;
    before = Math.min(...messages.map((m) => m.id as number));
  }
}

/** The `chatwoot.reconcile` job: transient Chatwoot trouble retries, a revoked token dead-letters. */
export function reconcileJobHandlers(deps: ReconcileDeps): JobRegistry {
  return {
    "chatwoot.reconcile": jobKind(jobPayload, async ({ payload }, ctx) => {
      try {
        const r = await reconcileAccount(deps, payload.account_ref);
        ctx.log.info("reconciled", { account_ref: payload.account_ref, ...r });
      } catch (err) {
        if (err instanceof ChatwootError) {
          await deps.sql`update public.chatwoot_sync_cursors set last_error = ${err.message}, last_run_at = now()
                         where account_ref = ${payload.account_ref}`;
          if (err.kind === "api_closed") await recordApiClosed(deps.sql, payload.account_ref, err.message);
        }
        throw chatwootJobError(err);
      }
    }),
  };
}

// The chatwoot-bot receiver: POST /functions/v1/chatwoot-bot/<route-token>, the agent bot's
// outgoing_url. Authentication, validation and mirroring are the account webhook's (same handler,
// the bot's secret); in the same transaction it queues the bot's work, then answers. No model is
// called here: Chatwoot gives a bot webhook a few seconds before it opens the conversation for good.

import type { Sql, TransactionSql } from "../_shared/db.ts";
import type { NormalizedChatwootEvent } from "../_shared/chatwoot/normalize.ts";
import type { RouteAccount } from "../chatwoot-webhook/handler.ts";

/** A customer's message queues one reply job (keyed by message: duplicates share it); a person's
 * public reply pauses the bot in that conversation at once and queues opening it. */
export async function enqueueBotWork(
  tx: TransactionSql,
  { account, normalized }: { account: RouteAccount; normalized: NormalizedChatwootEvent },
): Promise<void> {
  const m = normalized.message;
  if (!m || normalized.event !== "message_created" || m.private) return;
  const payload = { account_ref: account.account_ref, conversation_display_id: m.conversation_display_id };
  if (m.message_type === "incoming") {
    await tx`select private.enqueue_job('ai.reply', ${tx.json({ ...payload, message_id: m.message_id })},
                                        ${`ai_reply:${account.account_ref}:${m.message_id}`}, ${account.store_id}::uuid)`;
  } else if (m.message_type === "outgoing" && m.sender.type === "user") {
    await tx`
      insert into public.ai_conversations (account_ref, conversation_display_id, store_id, bot_paused, paused_reason, paused_at)
      values (${account.account_ref}, ${m.conversation_display_id}, ${account.store_id}, true, 'a person replied', now())
      on conflict (account_ref, conversation_display_id) do update
        set bot_paused = true, paused_reason = 'a person replied', paused_at = now()`;
    await tx`select private.enqueue_job('ai.human_reply', ${tx.json(payload)},
                                        ${`ai_human:${account.account_ref}:${m.message_id}`}, ${account.store_id}::uuid)`;
  }
}

/** Bot route lookups, cached briefly like the webhook's. */
export function cachedBotRouteResolver(sql: Sql, ttlMs = 30_000): (token: string) => Promise<RouteAccount | null> {
  const cache = new Map<string, { value: RouteAccount | null; expires: number }>();
  return async (token) => {
    const hit = cache.get(token);
    if (hit && hit.expires > Date.now()) return hit.value;
    const [row] = await sql`select * from private.ai_bot_by_route_token(${token})`;
    const value = row ? (row as unknown as RouteAccount) : null;
    if (cache.size > 10_000) cache.clear();
    cache.set(token, { value, expires: Date.now() + (value ? ttlMs : 5_000) });
    return value;
  };
}

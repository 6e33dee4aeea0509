// The chatwoot-bot function: POST /functions/v1/chatwoot-bot/<route-token>, the agent bot's
// outgoing_url. Authentication, validation and mirroring are the account webhook's (the shared
// receiver, with the bot's secret); in the same transaction it queues the bot's work, then answers. No model is
// called here: Chatwoot gives a bot webhook a few seconds before it opens the conversation for good.

import type { Sql } from "../_shared/platform/db.ts";
import type { PrivateFunctionRow } from "../_shared/platform/rows.ts";
import type { IngestInput, IngestOutcome } from "../_shared/chatwoot/ingest.ts";
import type { NormalizedChatwootEvent } from "../_shared/chatwoot/normalize.ts";
import { receiveDelivery, type ReceiverDeps, type RouteAccount } from "../_shared/chatwoot/webhook_receiver.ts";

export type BotReceiverDeps = Omit<ReceiverDeps, "functionName" | "ingestApplied">;

export function handler(req: Request, deps: BotReceiverDeps): Promise<Response> {
  return receiveDelivery(req, { ...deps, functionName: "chatwoot-bot", ingestApplied: ingestAndQueueBotWork });
}

/** Mirrors a bot delivery and queues the bot's work in one statement (one round trip, atomic):
 * a customer's message queues one reply job (keyed by message: duplicates share it); a person's
 * public reply pauses the bot in that conversation at once and queues opening it. A duplicate
 * delivery changes nothing. */
export async function ingestAndQueueBotWork(
  sql: Sql,
  input: IngestInput,
  { account, normalized }: { account: RouteAccount; normalized: NormalizedChatwootEvent },
): Promise<IngestOutcome> {
  const m = normalized.message;
  let job: { kind: string; key: string; payload: Record<string, unknown> } | null = null;
  let pause = false;
  if (m && normalized.event === "message_created" && !m.private) {
    const payload = { account_ref: account.account_ref, conversation_display_id: m.conversation_display_id };
    if (m.message_type === "incoming") {
      job = {
        kind: "ai.reply",
        key: `ai_reply:${account.account_ref}:${m.message_id}`,
        payload: { ...payload, message_id: m.message_id },
      };
    } else if (m.message_type === "outgoing" && m.sender.type === "user") {
      pause = true;
      job = { kind: "ai.human_reply", key: `ai_human:${account.account_ref}:${m.message_id}`, payload };
    }
  }
  const [row] = await sql<{ outcome: IngestOutcome; jobs: number; paused: number }[]>`
    with i as (
      select private.ingest_chatwoot_delivery(${input.accountRef}::uuid, ${input.deliveryId}, ${input.event},
                                              ${sql.json(input.rows ?? {})}) as outcome
    ), paused as (
      insert into public.ai_conversations as c
        (account_ref, conversation_display_id, store_id, bot_paused, paused_reason, paused_at)
      select ${account.account_ref}::uuid, ${m?.conversation_display_id ?? 0}, ${account.store_id}::uuid, true,
             'a person replied', now()
      from i where ${pause} and i.outcome <> 'duplicate'
      on conflict (account_ref, conversation_display_id) do update
        set bot_paused = true, paused_reason = 'a person replied', paused_at = now()
      returning 1
    ), queued as (
      select private.enqueue_job(${job?.kind ?? null}::text, ${sql.json((job?.payload ?? {}) as never)},
                                 ${job?.key ?? null}::text, ${account.store_id}::uuid) as id
      from i where ${job !== null} and i.outcome <> 'duplicate'
    )
    select i.outcome, (select count(*) from queued)::int as jobs, (select count(*) from paused)::int as paused from i`;
  return row.outcome;
}

/** The store and bot a delivery's route token names (the bot's secret verifies it). */
export async function botRoute(sql: Sql, token: string): Promise<RouteAccount | null> {
  const [row] = await sql<PrivateFunctionRow<"ai_bot_by_route_token", "webhook_secret">[]>`
    select * from private.ai_bot_by_route_token(${token})`;
  return row ?? null;
}

// The chatwoot-bot function: POST /functions/v1/chatwoot-bot/<route-token>, the agent bot's
// outgoing_url. Authentication, validation and mirroring are the account webhook's (the shared
// receiver, with the bot's secret); in the same transaction it queues the bot's work, then answers. No model is
// called here: Chatwoot gives a bot webhook a few seconds before it opens the conversation for good.

import type { Sql, TransactionSql } from "../_shared/platform/db.ts";
import type { PrivateFunctionRow } from "../_shared/platform/rows.ts";
import type { IngestInput, IngestOutcome } from "../_shared/chatwoot/ingest.ts";
import type { MessageRecord, NormalizedChatwootEvent } from "../_shared/chatwoot/normalize.ts";
import {
  type OnKept,
  receiveDelivery,
  type ReceiverDeps,
  type RouteAccount,
} from "../_shared/chatwoot/webhook_receiver.ts";

export type BotReceiverDeps = Omit<ReceiverDeps, "functionName" | "ingestApplied" | "onKept">;

export function handler(req: Request, deps: BotReceiverDeps): Promise<Response> {
  return receiveDelivery(req, {
    ...deps,
    functionName: "chatwoot-bot",
    ingestApplied: ingestAndQueueBotWork,
    onKept: handOffUnreadable,
  });
}

/**
 * Why a message pauses the bot: a person answered, from Chatwoot (an agent's public reply) or from
 * the WhatsApp Business app on the phone. The latter arrives as an outgoing message with no sender
 * and `content_attributes.external_echo: true` (Chatwoot PR #13371, smb_message_echoes; Chatwoot:
 * app/services/whatsapp/incoming_message_base_service.rb, outgoing_echo). Null: it does not pause.
 */
export function personReplyReason(m: Pick<MessageRecord, "message_type" | "private" | "sender" | "echo">) {
  if (m.private || m.message_type !== "outgoing") return null;
  if (m.sender.type === "user") return "a person replied";
  if (m.echo && m.sender.type === null) return "a person replied from the WhatsApp Business app";
  return null;
}

/** Mirrors a bot delivery and queues the bot's work in one statement (one round trip, atomic):
 * a customer's message queues one reply job (keyed by message: duplicates share it); a person's
 * public reply (in Chatwoot, or an echo from the phone) pauses the bot in that conversation at
 * once and queues opening it. A duplicate delivery changes nothing. */
export async function ingestAndQueueBotWork(
  sql: Sql | TransactionSql,
  input: IngestInput,
  { account, normalized }: { account: RouteAccount; normalized: NormalizedChatwootEvent },
): Promise<IngestOutcome> {
  const m = normalized.message;
  let job: { kind: string; key: string; payload: Record<string, unknown> } | null = null;
  let pause: string | null = null;
  if (m && normalized.event === "message_created" && !m.private) {
    const payload = { account_ref: account.account_ref, conversation_display_id: m.conversation_display_id };
    pause = personReplyReason(m);
    if (m.message_type === "incoming") {
      job = {
        kind: "ai.reply",
        key: `ai_reply:${account.account_ref}:${m.message_id}`,
        payload: { ...payload, message_id: m.message_id },
      };
    } else if (pause) {
      job = { kind: "ai.human_reply", key: `ai_human:${account.account_ref}:${m.message_id}`, payload };
    }
  }
  const detail = input.detail === undefined ? null : sql.json(input.detail as never);
  const [row] = await sql<{ outcome: IngestOutcome; jobs: number; paused: number }[]>`
    with i as (
      select private.ingest_chatwoot_delivery(${input.accountRef}::uuid, ${input.deliveryId}, ${input.event},
                                              ${sql.json(input.rows ?? {})}, null, ${detail}) as outcome
    ), paused as (
      insert into public.ai_conversations as c
        (account_ref, conversation_display_id, store_id, bot_paused, paused_reason, paused_at)
      select ${account.account_ref}::uuid, ${m?.conversation_display_id ?? 0}, ${account.store_id}::uuid, true,
             ${pause}, now()
      from i where ${pause !== null} and i.outcome <> 'duplicate'
      on conflict (account_ref, conversation_display_id) do update
        set bot_paused = true, paused_reason = excluded.paused_reason, paused_at = now()
      returning 1
    ), queued as (
      select private.enqueue_job(${job?.kind ?? null}::text, ${sql.json((job?.payload ?? {}) as never)},
                                 ${job?.key ?? null}::text, ${account.store_id}::uuid) as id
      from i where ${job !== null} and i.outcome <> 'duplicate'
    )
    select i.outcome, (select count(*) from queued)::int as jobs, (select count(*) from paused)::int as paused from i`;
  return row.outcome;
}

/**
 * A bot delivery the receiver kept without applying (it answered 2xx, so Chatwoot leaves the
 * conversation pending, owned by the bot): when the body names its conversation, the bot pauses
 * there and the conversation is queued to open for people, as a non-2xx answer would have done.
 */
export const handOffUnreadable: OnKept = async (sql, { account, body, reason, deliveryId }) => {
  const conversation = conversationNamedBy(body);
  if (conversation === null) return;
  const paused = `a delivery could not be read (${reason})`;
  await sql`
    insert into public.ai_conversations as c
      (account_ref, conversation_display_id, store_id, bot_paused, paused_reason, paused_at)
    values (${account.account_ref}::uuid, ${conversation}, ${account.store_id}::uuid, true, ${paused}, now())
    on conflict (account_ref, conversation_display_id) do update
      set bot_paused = true, paused_reason = excluded.paused_reason, paused_at = now()`;
  await sql`select private.enqueue_job('ai.human_reply',
              ${sql.json({ account_ref: account.account_ref, conversation_display_id: conversation })},
              ${`ai_unreadable:${account.account_ref}:${deliveryId}`}, ${account.store_id}::uuid)`;
};

/** The conversation (display id) a raw payload names: `conversation.id` of a message event, or
 * the `id` of a conversation event (which also has `inbox_id`); null when it names none. */
function conversationNamedBy(body: unknown): number | null {
  if (!body || typeof body !== "object") return null;
  const b = body as { conversation?: { id?: unknown }; id?: unknown; inbox_id?: unknown; event?: unknown };
  const id = b.conversation && typeof b.conversation === "object"
    ? b.conversation.id
    : typeof b.event === "string" && b.event.startsWith("conversation_") && b.inbox_id !== undefined
    ? b.id
    : undefined;
  return typeof id === "number" && Number.isInteger(id) && id > 0 && id < 2 ** 31 ? id : null;
}

/** The store and bot a delivery's route token names (the bot's secret verifies it). */
export async function botRoute(sql: Sql, token: string): Promise<RouteAccount | null> {
  const [row] = await sql<PrivateFunctionRow<"ai_bot_by_route_token", "webhook_secret">[]>`
    select * from private.ai_bot_by_route_token(${token})`;
  return row ?? null;
}

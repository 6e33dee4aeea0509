// Test support for AI replies: a store linked to a fresh sandbox account (account webhook
// included), an API inbox with the store's agent bot attached, a small knowledge base embedded by
// the stack's worker through the OpenAI stand-in, and helpers to talk as the customer and read
// the conversation back.

import type { Sql } from "../../supabase/functions/_shared/platform/db.ts";
import { createSandboxWhatsAppInbox, type Json, sandboxCall, sandboxLinkedStore } from "./chatwoot.ts";
import { testStack, waitFor } from "./env.ts";
import { enableStoreBot } from "../../supabase/functions/_shared/ai/agent_bot.ts";
import { addFaq, ingestDocument } from "../../supabase/functions/_shared/knowledge/ingest.ts";

export const SHIPPING_DOC = `# Shipping

## Delivery times
Orders ship from our warehouse within one business day. Standard delivery takes 3 to 5 business days.

## International shipping
We ship to Canada and Mexico. International delivery takes 7 to 12 business days and duties are paid by the customer.
`;

export async function botStore(
  sql: Sql,
  opts: { mode?: "auto" | "assist"; faqs?: [string, string][]; doc?: string; whatsapp?: boolean } = {},
) {
  const { env, cw, store, accountRef, api } = await sandboxLinkedStore(sql, `${testStack().apiUrl}/functions/v1`);
  const inbox = opts.whatsapp
    ? { status: 200, body: { id: await createSandboxWhatsAppInbox(env, cw.accountId, cw.token) } }
    : await api("POST", "/inboxes", { name: "Help center", channel: { type: "api" } });
  if (inbox.status !== 200) throw new Error(`inbox: ${JSON.stringify(inbox.body)}`);

  const doc = await ingestDocument(sql, {
    storeId: store.id,
    sourceName: "shipping.md",
    bytes: new TextEncoder().encode(opts.doc ?? SHIPPING_DOC),
  });
  for (const [question, answer] of opts.faqs ?? []) await addFaq(sql, { storeId: store.id, question, answer });
  // The stack's worker embeds the chunks (kb.embed_document) through the stand-in.
  await waitFor(
    async () => {
      const [r] = await sql`select count(*) filter (where embedding is null)::int as pending, count(*)::int as n
                          from public.kb_chunks where store_id = ${store.id}`;
      return r.n > 0 && r.pending === 0;
    },
    "the knowledge base embedded",
    30_000,
  );

  const bot = await enableStoreBot({ sql }, {
    storeId: store.id,
    mode: opts.mode ?? "auto",
    inboxIds: [inbox.body.id],
    functionsUrl: `${testStack().apiUrl}/functions/v1`,
  });
  return {
    env,
    cw,
    store,
    api,
    accountRef,
    inboxId: inbox.body.id as number,
    bot,
    documentId: doc.documentId,
  };
}

export type BotStore = Awaited<ReturnType<typeof botStore>>;

/** A customer writes (a new conversation unless one is given). */
export async function customerSays(
  s: BotStore,
  content: string,
  opts: { conversationId?: number; audio?: Record<string, unknown> } = {},
) {
  const res = await sandboxCall(s.env, "POST", "/_control/traffic/incoming", {
    body: {
      inbox_id: s.inboxId,
      content,
      name: "Casey Customer",
      ...(opts.conversationId ? { conversation_id: opts.conversationId } : {}),
      ...(opts.audio ? { audio: opts.audio } : {}),
    },
  });
  if (res.status !== 200) throw new Error(`incoming: ${res.status} ${JSON.stringify(res.body)}`);
  return { conversationId: res.body.conversation.id as number, messageId: res.body.message.id as number };
}

export async function agentSays(s: BotStore, conversationId: number, content: string) {
  const res = await sandboxCall(s.env, "POST", "/_control/traffic/agent_reply", {
    body: { account_id: s.cw.accountId, conversation_id: conversationId, content },
  });
  if (res.status !== 200) throw new Error(`agent_reply: ${res.status} ${JSON.stringify(res.body)}`);
}

/** The conversation as Chatwoot holds it: status and messages, oldest first. */
export async function conversation(s: BotStore, conversationId: number) {
  const res = await sandboxCall(s.env, "GET", `/_control/accounts/${s.cw.accountId}/conversations/${conversationId}`);
  const messages = res.body.messages as Json[];
  const fromBot = messages.filter((m) => m.sender?.type === "agent_bot");
  return {
    status: res.body.conversation.status as string,
    messages,
    botReplies: fromBot.filter((m) => !m.private),
    botNotes: fromBot.filter((m) => m.private),
  };
}

export async function decisionFor(sql: Sql, accountRef: string, messageId: number) {
  return await waitFor(
    async () => {
      const [d] =
        await sql`select * from public.ai_decisions where account_ref = ${accountRef} and message_id = ${messageId}
                          and status in ('posted', 'skipped')`;
      return d;
    },
    `the bot's decision on message ${messageId}`,
    20_000,
  );
}

/** The OpenAI stand-in of the test stack: script its next answers (faults, delays). */
export async function scriptModel(rule: Record<string, unknown>) {
  const url = Deno.env.get("OPENAI_STANDIN_URL");
  const key = Deno.env.get("OPENAI_STANDIN_KEY");
  if (!url || !key) throw new Error("OPENAI_STANDIN_URL/KEY are not set: run through `npm test`");
  const res = await fetch(`${url}/_control/faults`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify(rule),
  });
  if (!res.ok) throw new Error(`script: ${res.status} ${await res.text()}`);
  await res.body?.cancel();
}

export async function modelRequests(): Promise<Json[]> {
  const res = await fetch(`${Deno.env.get("OPENAI_STANDIN_URL")}/_control/requests`, {
    headers: { authorization: `Bearer ${Deno.env.get("OPENAI_STANDIN_KEY")}` },
  });
  const body = await res.json();
  return body.requests ?? body;
}

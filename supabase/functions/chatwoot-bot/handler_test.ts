// The agent bot's receiver against the test stack and the Chatwoot sandbox: a reply typed in the
// WhatsApp Business app (a coexistence echo: outgoing, no sender, external_echo) pauses the bot as
// an agent's reply does; a bot delivery that cannot be read still gets a 2xx (any other answer but
// 429/500 would open the conversation at once, AgentBots::WebhookJob) and is kept, and the
// conversation goes to people.

import assert from "node:assert/strict";
import { connect } from "../_shared/platform/db.ts";
import { testStack, waitFor } from "../../../scripts/testing/env.ts";
import { deliver, fixture, type Json, sandboxCall } from "../../../scripts/testing/chatwoot.ts";
import { botStore, conversation, decisionFor } from "../../../scripts/testing/bot.ts";
import { personReplyReason } from "./handler.ts";

const stack = testStack();
const opts = { sanitizeOps: false, sanitizeResources: false };

async function whatsapp(s: Awaited<ReturnType<typeof botStore>>, body: Record<string, unknown>) {
  const res = await sandboxCall(s.env, "POST", "/_control/traffic/whatsapp", {
    body: { inbox_id: s.inboxId, from: "+5511976540002", ...body },
  });
  if (res.status !== 200) throw new Error(`whatsapp: ${res.status} ${JSON.stringify(res.body)}`);
  return { conversationId: res.body.conversation.id as number, messageId: res.body.message.id as number };
}

Deno.test("a reply from the WhatsApp Business app pauses the bot: it stops answering", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const s = await botStore(sql, { whatsapp: true });
    const first = await whatsapp(s, { text: "How long does standard delivery take?" });
    assert.equal((await decisionFor(sql, s.accountRef, first.messageId)).action, "reply");
    // The shop owner answers on the phone: Meta's smb_message_echoes → an outgoing echo.
    await whatsapp(s, { kind: "echo", text: "Hola! I'll check your order myself." });
    const paused = await waitFor(async () => {
      const [c] = await sql`select bot_paused, paused_reason from public.ai_conversations
                            where account_ref = ${s.accountRef} and conversation_display_id = ${first.conversationId}`;
      return c?.bot_paused ? c : null;
    }, "the bot paused by the echo");
    assert.equal(paused.paused_reason, "a person replied from the WhatsApp Business app");
    const second = await whatsapp(s, { text: "And to Mexico?" });
    const d = await decisionFor(sql, s.accountRef, second.messageId);
    assert.equal(d.action, "skip");
    assert.match(d.reason, /paused|person replied/);
    const c = await conversation(s, first.conversationId);
    assert.equal(c.botReplies.length, 1, "only the answer from before the echo");
    await waitFor(async () => (await conversation(s, first.conversationId)).status === "open", "opened for the person");
  } finally {
    await sql.end();
  }
});

Deno.test("who pauses the bot: agents and phone echoes, not bots, notes or system messages", () => {
  const base = { message_type: "outgoing" as const, private: false, echo: false };
  assert.equal(personReplyReason({ ...base, sender: { type: "user", id: 1 } }), "a person replied");
  assert.equal(
    personReplyReason({ ...base, echo: true, sender: { type: null, id: null } }),
    "a person replied from the WhatsApp Business app",
  );
  assert.equal(personReplyReason({ ...base, sender: { type: "agent_bot", id: 2 } }), null);
  assert.equal(personReplyReason({ ...base, sender: { type: null, id: null } }), null, "a template or greeting");
  assert.equal(personReplyReason({ ...base, private: true, sender: { type: "user", id: 1 } }), null);
  assert.equal(personReplyReason({ ...base, message_type: "incoming", sender: { type: "contact", id: 3 } }), null);
});

Deno.test("an unreadable bot delivery gets 200, is kept, and its conversation goes to people", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const s = await botStore(sql, { whatsapp: true });
    const first = await whatsapp(s, { text: "How long does standard delivery take?" });
    await decisionFor(sql, s.accountRef, first.messageId);
    assert.equal((await conversation(s, first.conversationId)).status, "pending");
    const [secret] = await sql`select webhook_secret from private.ai_bot_secrets where store_id = ${s.store.id}`;
    const routeToken = s.bot.url.split("/").at(-1)!;
    // A message_created for that conversation that breaks the contract (no `private`).
    const broken: Json = structuredClone(fixture("whatsapp-text.message_created.json"));
    delete broken.private;
    broken.account = { id: s.cw.accountId, name: "x" };
    broken.conversation.id = first.conversationId;
    const r = await deliver(stack.apiUrl, { routeToken, secret: secret.webhook_secret }, broken, {
      functionName: "chatwoot-bot",
    });
    assert.deepEqual([r.status, r.body.status], [200, "rejected"], JSON.stringify(r.body));
    const [kept] = await sql`select outcome, payload is not null as kept from private.chatwoot_deliveries
                             where account_ref = ${s.accountRef} and delivery_id = ${r.body.delivery_id as string}`;
    assert.deepEqual({ ...kept }, { outcome: "rejected", kept: true });
    await waitFor(async () => (await conversation(s, first.conversationId)).status === "open", "handed to people");
    const [c] = await sql`select paused_reason from public.ai_conversations
                          where account_ref = ${s.accountRef} and conversation_display_id = ${first.conversationId}`;
    assert.match(c.paused_reason, /could not be read \(invalid_payload\)/);
  } finally {
    await sql.end();
  }
});

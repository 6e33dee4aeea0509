// The sandbox's webhooks in the shapes real Chatwoot sends for the cases the receiver must survive:
// WhatsApp coexistence echoes (PR #13371, issue #15325), a snoozed conversation reopened by an
// incoming message (Message#reopen_conversation), label changes (cached_label_list / label_list),
// a bot's typing (WebhookListener#handle_typing_status: the bot is the `user`), and develop's
// conversation payloads with a top-level account (PR #12445).

import assert from "node:assert/strict";
import {
  control,
  createAgentBot,
  createWebhook,
  createWhatsAppInbox,
  events,
  type Json,
  provision,
  startReceiver,
  testSandbox,
} from "./testing.ts";

async function setUp() {
  const sandbox = testSandbox();
  const receiver = startReceiver();
  const acct = await provision(sandbox);
  const inboxId = await createWhatsAppInbox(acct);
  await createWebhook(acct, `${receiver.url}/hooks`);
  const close = async () => {
    await sandbox.close();
    await receiver.close();
  };
  return { sandbox, receiver, acct, inboxId, close };
}

Deno.test("an echo from the WhatsApp Business app: outgoing, no sender, external_echo and nothing else", async () => {
  const { sandbox, receiver, inboxId, close } = await setUp();
  try {
    const first = await control(sandbox, "POST", "/traffic/whatsapp", {
      inbox_id: inboxId,
      from: "5215512345678",
      text: "¿Tienen cita el jueves?",
    });
    await control(sandbox, "POST", "/traffic/whatsapp", {
      inbox_id: inboxId,
      from: "5215512345678",
      kind: "echo",
      text: "Sí, a las 10",
      reply_to: first.body.message.source_id, // quoted on the phone: not recorded for echoes (#15325)
    });
    await sandbox.settle();
    const echo = events(receiver, "message_created").map((r) => r.json as Json).find((p) =>
      p.message_type === "outgoing"
    );
    assert.ok(echo, "the echo was delivered as message_created");
    assert.equal(echo.sender, null);
    assert.deepEqual(echo.content_attributes, { external_echo: true });
    assert.equal(echo.content, "Sí, a las 10");
    assert.match(echo.source_id, /^wamid\./);
  } finally {
    await close();
  }
});

Deno.test("an incoming message opens a snoozed conversation and ends the snooze", async () => {
  const { sandbox, receiver, acct, inboxId, close } = await setUp();
  try {
    const first = await control(sandbox, "POST", "/traffic/whatsapp", { inbox_id: inboxId, from: "5215512345678" });
    const id = first.body.conversation.id;
    await control(sandbox, "POST", "/traffic/status", {
      account_id: acct.accountId,
      conversation_id: id,
      status: "snoozed",
    });
    await sandbox.settle();
    receiver.requests.length = 0;
    await control(sandbox, "POST", "/traffic/whatsapp", { inbox_id: inboxId, from: "5215512345678", text: "¿Hola?" });
    await sandbox.settle();
    const [statusChanged] = events(receiver, "conversation_status_changed").map((r) => r.json as Json);
    assert.equal(statusChanged?.status, "open");
    const updated = events(receiver, "conversation_updated").map((r) => r.json as Json)
      .find((p) => p.changed_attributes.some((c: Json) => "status" in c));
    assert.deepEqual(
      updated.changed_attributes.find((c: Json) => "status" in c).status,
      { previous_value: "snoozed", current_value: "open" },
    );
    assert.equal(updated.snoozed_until, null);
    assert.equal(sandbox.state.conversations.by(acct.accountId).find((c) => c.display_id === id)?.status, "open");
  } finally {
    await close();
  }
});

Deno.test("a label change sends conversation_updated with cached_label_list and label_list", async () => {
  const { sandbox, receiver, acct, inboxId, close } = await setUp();
  try {
    const first = await control(sandbox, "POST", "/traffic/whatsapp", { inbox_id: inboxId, from: "5215512345678" });
    const id = first.body.conversation.id;
    await sandbox.settle();
    receiver.requests.length = 0;
    const r = await control(sandbox, "POST", "/traffic/labels", {
      account_id: acct.accountId,
      conversation_id: id,
      labels: ["billing", "VIP"],
    });
    assert.equal(r.status, 200);
    await sandbox.settle();
    const [updated] = events(receiver, "conversation_updated").map((x) => x.json as Json);
    assert.deepEqual(updated.labels, ["billing", "vip"]);
    const changed = Object.assign({}, ...updated.changed_attributes);
    assert.deepEqual(changed.cached_label_list, { previous_value: "", current_value: "billing, vip" });
    assert.deepEqual(changed.label_list, { previous_value: [], current_value: ["billing", "vip"] });
    assert.ok(changed.updated_at, "the save moves updated_at (the mirror's version)");
  } finally {
    await close();
  }
});

Deno.test("a bot's typing carries the bot as the user", async () => {
  const { sandbox, receiver, acct, inboxId, close } = await setUp();
  try {
    const bot = await createAgentBot(sandbox, acct, "https://bots.example/hook", inboxId);
    const first = await control(sandbox, "POST", "/traffic/whatsapp", { inbox_id: inboxId, from: "5215512345678" });
    await sandbox.settle();
    const id = first.body.conversation.id;
    assert.equal(
      (await bot.api("POST", `/conversations/${id}/toggle_typing_status`, { typing_status: "on" })).status,
      200,
    );
    await sandbox.settle();
    const [typing] = events(receiver, "conversation_typing_on").map((x) => x.json as Json);
    assert.deepEqual(typing.user, { id: bot.id, name: "Asistente", type: "agent_bot" });
  } finally {
    await close();
  }
});

Deno.test("develop's conversation payloads carry the account; 4.13's do not", async () => {
  const { sandbox, receiver, acct, inboxId, close } = await setUp();
  try {
    await control(sandbox, "POST", "/traffic/whatsapp", { inbox_id: inboxId, from: "5215512345678" });
    await sandbox.settle();
    assert.equal((events(receiver, "conversation_created")[0].json as Json).account, undefined);
    await control(sandbox, "PATCH", `/accounts/${acct.accountId}`, { develop_payloads: true });
    await control(sandbox, "POST", "/traffic/whatsapp", { inbox_id: inboxId, from: "5215599990000" });
    await sandbox.settle();
    const created = events(receiver, "conversation_created").map((x) => x.json as Json);
    assert.deepEqual(created[1].account, { id: acct.accountId, name: created[1].account.name });
    assert.equal(typeof created[1].account.name, "string");
  } finally {
    await close();
  }
});

import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import {
  call,
  control,
  createWebhook,
  createWhatsAppInbox,
  dispatched,
  events,
  type Json,
  platform,
  provision,
  startReceiver,
  testSandbox,
} from "./testing.ts";

Deno.test('a webhook is signed with its secret over "{timestamp}.{raw body}"', async () => {
  const sandbox = testSandbox();
  const receiver = startReceiver();
  try {
    const acct = await provision(sandbox);
    const inboxId = await createWhatsAppInbox(acct);
    const webhook = await createWebhook(acct, `${receiver.url}/hooks/acme`, ["message_created"]);
    assert.match(String(webhook.secret), /^[1-9A-HJ-NP-Za-km-z]{24}$/);

    sandbox.traffic.whatsappInbound({ inbox_id: inboxId, from: "5215512345678", name: "María", text: "Hola" });
    await sandbox.settle();

    const [req] = events(receiver, "message_created");
    assert.ok(req, "message_created was delivered");
    const ts = req.headers.get("x-chatwoot-timestamp")!;
    assert.match(ts, /^\d{10}$/);
    const expected = "sha256=" + createHmac("sha256", String(webhook.secret)).update(`${ts}.${req.body}`).digest("hex");
    assert.equal(req.headers.get("x-chatwoot-signature"), expected);
    const bodyOnly = "sha256=" + createHmac("sha256", String(webhook.secret)).update(req.body).digest("hex");
    assert.notEqual(req.headers.get("x-chatwoot-signature"), bodyOnly, "the body alone is not what is signed");
    assert.equal(req.headers.get("content-type"), "application/json");
    assert.match(req.headers.get("x-chatwoot-delivery")!, /^[0-9a-f-]{36}$/);
    assert.equal(req.path, "/hooks/acme");
  } finally {
    await sandbox.close();
    await receiver.close();
  }
});

Deno.test("an account flagged unsigned (Chatwoot < 4.11.2) sends no signature headers", async () => {
  const sandbox = testSandbox();
  const receiver = startReceiver();
  try {
    const acct = await provision(sandbox);
    const inboxId = await createWhatsAppInbox(acct);
    await createWebhook(acct, receiver.url, ["message_created"]);
    assert.equal(
      (await control(sandbox, "PATCH", `/accounts/${acct.accountId}`, { unsigned_webhooks: true })).status,
      200,
    );
    sandbox.traffic.whatsappInbound({ inbox_id: inboxId, from: "5215512345678", text: "Hola" });
    await sandbox.settle();
    const [req] = events(receiver, "message_created");
    assert.equal(req.headers.get("x-chatwoot-signature"), null);
    assert.equal(req.headers.get("x-chatwoot-timestamp"), null);
    assert.ok(req.headers.get("x-chatwoot-delivery"));
  } finally {
    await sandbox.close();
    await receiver.close();
  }
});

Deno.test("message_type is a string at the top level, an integer nested and in REST", async () => {
  const sandbox = testSandbox();
  const receiver = startReceiver();
  try {
    const acct = await provision(sandbox);
    const inboxId = await createWhatsAppInbox(acct);
    await createWebhook(acct, receiver.url, ["message_created"]);
    const { conversation } = sandbox.traffic.whatsappInbound({
      inbox_id: inboxId,
      from: "5215512345678",
      text: "Hola",
    });
    await sandbox.settle();

    const payload = events(receiver, "message_created")[0].json;
    assert.equal(payload.message_type, "incoming");
    assert.equal(payload.conversation.messages[0].message_type, 0);
    assert.equal(payload.status, undefined, "the top-level message webhook has no status");
    assert.equal(payload.conversation.messages[0].status, "sent");

    const rest = await acct.api("GET", `/conversations/${conversation!.display_id}/messages`);
    assert.equal(rest.body.payload.at(-1).message_type, 0);
    const reply = await acct.api("POST", `/conversations/${conversation!.display_id}/messages`, { content: "Claro" });
    assert.equal(reply.body.message_type, 1);
    assert.equal(typeof reply.body.created_at, "number");
  } finally {
    await sandbox.close();
    await receiver.close();
  }
});

Deno.test("payload encodings: ISO message created_at, unix-int conversation times, float updated_at, display_id", async () => {
  const sandbox = testSandbox();
  const receiver = startReceiver();
  try {
    const acct = await provision(sandbox);
    const other = await provision(sandbox, { name: "Other" });
    await createWhatsAppInbox(other, "+5215500002222");
    // Burn display ids in another account: display ids are per account, primary keys are global.
    const otherInbox = sandbox.state.inboxes.by(other.accountId)[0].id;
    sandbox.traffic.whatsappInbound({ inbox_id: otherInbox, from: "5215599999999", text: "x" });
    const inboxId = await createWhatsAppInbox(acct);
    await createWebhook(acct, receiver.url, ["message_created", "conversation_created"]);
    sandbox.traffic.whatsappInbound({ inbox_id: inboxId, from: "5215512345678", name: "María", text: "Hola" });
    await sandbox.settle();

    const msg = events(receiver, "message_created")[0].json;
    assert.match(msg.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.deepEqual(msg.account, { id: acct.accountId, name: "Acme Clinic" });
    const conv = msg.conversation;
    assert.equal(conv.id, 1, "conversation id is the account's display_id");
    assert.equal(conv.messages[0].conversation_id, 1);
    for (const key of ["created_at", "last_activity_at", "timestamp", "waiting_since", "agent_last_seen_at"]) {
      assert.ok(Number.isInteger(conv[key]), `${key} is a unix int`);
    }
    assert.equal(conv.agent_last_seen_at, 0, "null timestamps are 0");
    assert.equal(typeof conv.updated_at, "number");
    assert.equal(typeof conv.messages[0].created_at, "number");
    assert.match(conv.messages[0].updated_at, /Z$/);
    assert.equal(conv.account, undefined);
    assert.equal(conv.account_id, undefined);
    assert.equal(conv.channel, "Channel::Whatsapp");
    assert.equal(conv.contact_inbox.source_id, "5215512345678");
    assert.equal(conv.meta.sender.type, "contact");
    assert.equal(msg.sender.type, undefined, "Contact#webhook_data has no type");
    assert.equal(msg.sender.phone_number, "+5215512345678");

    const created = events(receiver, "conversation_created")[0].json;
    assert.equal(created.account, undefined);
    assert.equal(created.messages.length, 1, "built after the transaction: the first message is included");
  } finally {
    await sandbox.close();
    await receiver.close();
  }
});

Deno.test("every inbound message fires contact_updated with only last_activity_at (and updated_at) changed", async () => {
  const sandbox = testSandbox();
  const receiver = startReceiver();
  try {
    const acct = await provision(sandbox);
    const inboxId = await createWhatsAppInbox(acct);
    await createWebhook(acct, receiver.url, ["contact_updated", "contact_created"]);
    sandbox.traffic.whatsappInbound({ inbox_id: inboxId, from: "5215512345678", name: "María", text: "uno" });
    sandbox.traffic.whatsappInbound({ inbox_id: inboxId, from: "5215512345678", text: "dos" });
    await sandbox.settle();
    assert.equal(events(receiver, "contact_created").length, 1);
    const updates = events(receiver, "contact_updated");
    assert.equal(updates.length, 2);
    for (const u of updates) {
      const keys = (u.json.changed_attributes as Record<string, unknown>[]).map((c) => Object.keys(c)[0]);
      assert.deepEqual(keys, ["last_activity_at", "updated_at"]);
    }
  } finally {
    await sandbox.close();
    await receiver.close();
  }
});

Deno.test("private notes are delivered, activity messages never are", async () => {
  const sandbox = testSandbox();
  const receiver = startReceiver();
  try {
    const acct = await provision(sandbox);
    const inboxId = await createWhatsAppInbox(acct);
    await createWebhook(acct, receiver.url, ["message_created"]);
    const { conversation } = sandbox.traffic.whatsappInbound({
      inbox_id: inboxId,
      from: "5215512345678",
      text: "Hola",
    });
    const id = conversation!.display_id;
    await acct.api("POST", `/conversations/${id}/messages`, { content: "internal", private: true });
    await acct.api("POST", `/conversations/${id}/toggle_status`, { status: "resolved" });
    await sandbox.settle();

    const created = events(receiver, "message_created").map((r) => r.json).sort((a, b) => a.id - b.id);
    assert.deepEqual(created.map((m) => [m.message_type, m.private]), [["incoming", false], ["outgoing", true]]);
    const rest = await acct.api("GET", `/conversations/${id}/messages`);
    assert.ok(rest.body.payload.some((m: { message_type: number }) => m.message_type === 2), "activity exists in REST");
  } finally {
    await sandbox.close();
    await receiver.close();
  }
});

Deno.test("a status change emits conversation_status_changed (changed_attributes null) and conversation_updated", async () => {
  const sandbox = testSandbox();
  const receiver = startReceiver();
  try {
    const acct = await provision(sandbox);
    const inboxId = await createWhatsAppInbox(acct);
    await createWebhook(acct, receiver.url, ["conversation_status_changed", "conversation_updated"]);
    const { conversation } = sandbox.traffic.whatsappInbound({
      inbox_id: inboxId,
      from: "5215512345678",
      text: "Hola",
    });
    await sandbox.settle();
    receiver.requests.length = 0;
    sandbox.traffic.statusChange({
      account_id: acct.accountId,
      conversation_id: conversation!.display_id,
      status: "resolved",
    });
    await sandbox.settle();

    assert.deepEqual(dispatched(sandbox).slice(-2), ["conversation_status_changed", "conversation_updated"]);
    assert.equal(receiver.requests.length, 2);
    const changed = events(receiver, "conversation_status_changed")[0].json;
    assert.equal(changed.status, "resolved");
    assert.equal(changed.changed_attributes, null);
    const updated = events(receiver, "conversation_updated")[0].json.changed_attributes;
    assert.deepEqual(updated.find((c: Json) => c.status)?.status, {
      previous_value: "open",
      current_value: "resolved",
    });
    assert.ok(updated.some((c: Json) => c.updated_at), "previous_changes includes updated_at");
  } finally {
    await sandbox.close();
    await receiver.close();
  }
});

Deno.test("webhooks get only the events they subscribe to; a failing target is tried once", async () => {
  const sandbox = testSandbox({ webhookTimeoutMs: 100 });
  const receiver = startReceiver();
  try {
    const acct = await provision(sandbox);
    const inboxId = await createWhatsAppInbox(acct);
    await createWebhook(acct, receiver.url, ["conversation_created"]);
    receiver.status = 503;
    sandbox.traffic.whatsappInbound({ inbox_id: inboxId, from: "5215512345678", text: "Hola" });
    await sandbox.settle();
    assert.deepEqual(receiver.requests.map((r) => r.json.event), ["conversation_created"]);
    const [log] = sandbox.deliveries();
    assert.equal(log.state, "failed");
    assert.equal(log.status, 503);
    assert.equal(log.attempts, 1);

    receiver.status = 200;
    receiver.delayMs = 300;
    sandbox.traffic.whatsappInbound({ inbox_id: inboxId, from: "5215512340000", text: "otra" });
    await sandbox.settle();
    const timedOut = sandbox.deliveries().at(-1)!;
    assert.equal(timedOut.state, "failed");
    assert.match(timedOut.error!, /Timed out/);
    assert.equal(timedOut.attempts, 1);
  } finally {
    await sandbox.close();
    await receiver.close();
  }
});

Deno.test("a voice note arrives with an empty transcript, then message_updated carries the transcription", async () => {
  const sandbox = testSandbox();
  const receiver = startReceiver();
  try {
    const acct = await provision(sandbox);
    const inboxId = await createWhatsAppInbox(acct);
    await createWebhook(acct, receiver.url, ["message_created", "message_updated"]);
    const { message } = sandbox.traffic.whatsappInbound({
      inbox_id: inboxId,
      from: "5215512345678",
      kind: "voice",
      transcription: "Hola, ¿tienen cita el jueves?",
    });
    await sandbox.settle();
    const created = events(receiver, "message_created")[0].json;
    const updated = events(receiver, "message_updated")[0].json;
    assert.equal(created.content, null);
    assert.equal(created.attachments[0].file_type, "audio");
    assert.equal(created.attachments[0].content_type, "audio/ogg");
    assert.equal(created.attachments[0].transcribed_text, "");
    assert.equal(updated.id, message!.id);
    assert.equal(updated.attachments[0].transcribed_text, "Hola, ¿tienen cita el jueves?");
    assert.equal(updated.message_type, "incoming");
  } finally {
    await sandbox.close();
    await receiver.close();
  }
});

Deno.test("agent bots get their events at outgoing_url, signed with the bot secret, retried on 500", async () => {
  const sandbox = testSandbox();
  const receiver = startReceiver();
  try {
    const acct = await provision(sandbox);
    const inboxId = await createWhatsAppInbox(acct);
    const bot = await platform(sandbox, "POST", "/agent_bots", {
      name: "Helper",
      outgoing_url: `${receiver.url}/bot`,
      account_id: acct.accountId,
    });
    assert.equal(bot.body.secret, undefined, "the platform view has no secret");
    await acct.api("POST", `/inboxes/${inboxId}/set_agent_bot`, { agent_bot: bot.body.id });
    const secret = (await acct.api("GET", `/agent_bots/${bot.body.id}`)).body.secret;
    assert.equal(typeof secret, "string");

    receiver.status = 500;
    const { conversation } = sandbox.traffic.whatsappInbound({
      inbox_id: inboxId,
      from: "5215512345678",
      text: "Hola",
    });
    assert.equal(conversation!.status, "pending", "an active bot makes new conversations pending");
    await sandbox.settle();
    const botMessages = events(receiver, "message_created");
    assert.equal(botMessages.length, 3, "429/500 are retried: 3 attempts");
    assert.equal(new Set(botMessages.map((r) => r.headers.get("x-chatwoot-delivery"))).size, 1, "same delivery id");
    const req = botMessages[0];
    const ts = req.headers.get("x-chatwoot-timestamp");
    const expected = "sha256=" + createHmac("sha256", secret).update(`${ts}.${req.body}`).digest("hex");
    assert.equal(req.headers.get("x-chatwoot-signature"), expected);

    // The bot hands off with its own token; that endpoint is in BOT_ACCESSIBLE_ENDPOINTS.
    receiver.status = 200;
    const handoff = await call(sandbox, "POST", `/api/v1/accounts/${acct.accountId}/conversations/1/toggle_status`, {
      token: bot.body.access_token,
      body: { status: "open" },
    });
    assert.equal(handoff.status, 200);
    assert.equal(handoff.body.payload.current_status, "open");
    await sandbox.settle();
    assert.ok(events(receiver, "conversation_opened").length >= 1, "bots get the deprecated conversation_opened");
  } finally {
    await sandbox.close();
    await receiver.close();
  }
});

Deno.test("an outgoing WhatsApp reply gets its wamid later through message_updated", async () => {
  const sandbox = testSandbox();
  const receiver = startReceiver();
  try {
    const acct = await provision(sandbox);
    const inboxId = await createWhatsAppInbox(acct);
    await createWebhook(acct, receiver.url, ["message_created", "message_updated"]);
    const { conversation } = sandbox.traffic.whatsappInbound({
      inbox_id: inboxId,
      from: "5215512345678",
      text: "Hola",
    });
    sandbox.traffic.agentReply({
      account_id: acct.accountId,
      conversation_id: conversation!.display_id,
      content: "¡Hola!",
    });
    await sandbox.settle();
    const outgoing = events(receiver, "message_created").map((r) => r.json).find((m) => m.message_type === "outgoing")!;
    assert.equal(outgoing.source_id, null);
    assert.equal((outgoing.sender as Record<string, unknown>).type, "user");
    const updated = events(receiver, "message_updated")[0].json;
    assert.equal(updated.id, outgoing.id);
    assert.match(String(updated.source_id), /^wamid\./);
  } finally {
    await sandbox.close();
    await receiver.close();
  }
});

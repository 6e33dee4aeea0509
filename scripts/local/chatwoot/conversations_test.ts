import assert from "node:assert/strict";
import { createWhatsAppInbox, provision, testSandbox } from "./testing.ts";

Deno.test("GET /conversations filters by status, sorts by last activity, and reconciles with updated_within", async () => {
  let clock = Date.parse("2026-04-20T14:00:00Z");
  const sandbox = testSandbox({ now: () => clock });
  const acct = await provision(sandbox);
  const inboxId = await createWhatsAppInbox(acct);
  const first = sandbox.traffic.whatsappInbound({ inbox_id: inboxId, from: "5215500000001", text: "a" });
  clock += 60_000;
  sandbox.traffic.whatsappInbound({ inbox_id: inboxId, from: "5215500000002", text: "b" });
  clock += 60_000;
  sandbox.traffic.whatsappInbound({ inbox_id: inboxId, from: "5215500000001", text: "a again" });
  clock += 600_000;
  sandbox.traffic.whatsappInbound({ inbox_id: inboxId, from: "5215500000003", text: "c" });
  sandbox.traffic.statusChange({ account_id: acct.accountId, conversation_id: 3, status: "resolved" });

  const open = await acct.api("GET", "/conversations");
  assert.equal(open.status, 200);
  assert.deepEqual(open.body.data.payload.map((c: { id: number }) => c.id), [1, 2], "open only, latest activity first");
  assert.deepEqual(open.body.data.meta, { mine_count: 0, assigned_count: 0, unassigned_count: 2, all_count: 2 });
  const conv = open.body.data.payload[0];
  assert.equal(conv.account_id, acct.accountId);
  assert.equal(typeof conv.updated_at, "number");
  assert.ok(conv.last_activity_at >= conv.created_at);
  assert.equal(conv.id, first.conversation!.display_id);

  const all = await acct.api("GET", "/conversations?status=all&sort_by=created_at_asc");
  assert.deepEqual(all.body.data.payload.map((c: { id: number }) => c.id), [1, 2, 3]);
  const recent = await acct.api("GET", "/conversations?status=all&updated_within=300");
  assert.deepEqual(recent.body.data.payload.map((c: { id: number }) => c.id), [3]);
  await sandbox.close();
});

Deno.test("toggle_status answers Chatwoot's payload and toggles open↔resolved without a status", async () => {
  const sandbox = testSandbox();
  const acct = await provision(sandbox);
  const inboxId = await createWhatsAppInbox(acct);
  const { conversation } = sandbox.traffic.whatsappInbound({ inbox_id: inboxId, from: "5215512345678", text: "Hola" });
  const path = `/conversations/${conversation!.display_id}/toggle_status`;
  const resolved = await acct.api("POST", path);
  assert.deepEqual(resolved.body, {
    meta: {},
    payload: { success: true, conversation_id: 1, current_status: "resolved", snoozed_until: null },
  });
  assert.equal((await acct.api("POST", path)).body.payload.current_status, "open");
  const snoozed = await acct.api("POST", path, { status: "snoozed", snoozed_until: 1776700000 });
  assert.equal(snoozed.body.payload.current_status, "snoozed");
  assert.equal(snoozed.body.payload.snoozed_until, "2026-04-20T15:46:40.000Z");
  assert.equal((await acct.api("POST", path, { status: "closed" })).status, 422);
  assert.equal((await acct.api("POST", "/conversations/99/toggle_status")).status, 404);
  await sandbox.close();
});

Deno.test("an incoming message reopens a resolved conversation only while lock_to_single_conversation", async () => {
  const sandbox = testSandbox();
  const acct = await provision(sandbox);
  const inboxId = await createWhatsAppInbox(acct);
  const a = sandbox.traffic.whatsappInbound({ inbox_id: inboxId, from: "5215512345678", text: "uno" });
  sandbox.traffic.statusChange({ account_id: acct.accountId, conversation_id: 1, status: "resolved" });
  const b = sandbox.traffic.whatsappInbound({ inbox_id: inboxId, from: "5215512345678", text: "dos" });
  assert.notEqual(b.conversation!.id, a.conversation!.id, "a resolved conversation is not reused by default");
  await acct.api("PATCH", `/inboxes/${inboxId}`, { lock_to_single_conversation: true });
  sandbox.traffic.statusChange({ account_id: acct.accountId, conversation_id: 2, status: "resolved" });
  const c = sandbox.traffic.whatsappInbound({ inbox_id: inboxId, from: "5215512345678", text: "tres" });
  assert.equal(c.conversation!.id, b.conversation!.id);
  assert.equal(c.conversation!.status, "open");
  await sandbox.close();
});

Deno.test("messages: before/after windows, incoming only in API inboxes, 200/min flood guard", async () => {
  let clock = Date.parse("2026-04-20T14:00:00Z");
  const sandbox = testSandbox({ now: () => clock });
  const acct = await provision(sandbox);
  const inboxId = await createWhatsAppInbox(acct);
  const { conversation } = sandbox.traffic.whatsappInbound({ inbox_id: inboxId, from: "5215512345678", text: "m0" });
  const path = `/conversations/${conversation!.display_id}/messages`;
  const ids: number[] = [];
  for (let i = 1; i < 200; i++) {
    const res = await acct.api("POST", path, { content: `m${i}`, private: true });
    assert.equal(res.status, 200, `message ${i}`);
    ids.push(res.body.id);
  }
  const flooded = await acct.api("POST", path, { content: "one too many" });
  assert.equal(flooded.status, 422);
  assert.deepEqual(flooded.body, { error: "Validation failed: Too many messages" });
  clock += 61_000;
  assert.equal((await acct.api("POST", path, { content: "a minute later" })).status, 200);

  const latest = await acct.api("GET", path);
  assert.equal(latest.body.payload.length, 20);
  assert.equal(latest.body.payload.at(-1).content, "a minute later");
  const before = await acct.api("GET", `${path}?before=${ids[50]}`);
  assert.equal(before.body.payload.length, 20);
  assert.equal(before.body.payload.at(-1).id, ids[49]);
  const after = await acct.api("GET", `${path}?after=${ids[10]}`);
  assert.equal(after.body.payload.length, 100);
  assert.equal(after.body.payload[0].id, ids[11]);
  assert.equal(after.body.meta.contact.phone_number, "+5215512345678");

  const incoming = await acct.api("POST", path, { content: "spoofed", message_type: "incoming" });
  assert.equal(incoming.status, 422);
  assert.deepEqual(incoming.body, { error: "Incoming messages are only allowed in Api inboxes" });
  await sandbox.close();
});

Deno.test("API inboxes: incoming messages via REST and delivery status updates via PATCH", async () => {
  const sandbox = testSandbox();
  const acct = await provision(sandbox);
  const inbox = await acct.api("POST", "/inboxes", { name: "Platform", channel: { type: "api" } });
  const contact = await acct.api("POST", "/contacts", {
    name: "Sam",
    identifier: "user_8812",
    inbox_id: inbox.body.id,
  });
  assert.match(contact.body.payload.contact_inbox.source_id, /^[0-9a-f-]{36}$/);
  const conv = await acct.api("POST", "/conversations", {
    source_id: contact.body.payload.contact_inbox.source_id,
    inbox_id: inbox.body.id,
    message: { content: "Welcome!" },
  });
  assert.equal(conv.status, 200);
  assert.equal(conv.body.messages[0].content, "Welcome!");
  const path = `/conversations/${conv.body.id}/messages`;
  const incoming = await acct.api("POST", path, { content: "hi", message_type: "incoming" });
  assert.equal(incoming.body.message_type, 0);
  assert.equal(incoming.body.sender.type, "contact");

  const outgoing = await acct.api("POST", path, { content: "hello" });
  const read = await acct.api("PATCH", `${path}/${outgoing.body.id}`, { status: "read" });
  assert.equal(read.body.status, "read");
  const back = await acct.api("PATCH", `${path}/${outgoing.body.id}`, { status: "delivered" });
  assert.equal(back.body.status, "read", "read → delivered is refused");
  const failed = await acct.api("PATCH", `${path}/${outgoing.body.id}`, {
    status: "failed",
    external_error: "131047: Re-engagement",
  });
  assert.equal(failed.body.content_attributes.external_error, "131047: Re-engagement");

  const waInbox = await createWhatsAppInbox(acct);
  const wa = sandbox.traffic.whatsappInbound({ inbox_id: waInbox, from: "5215512345678", text: "x" });
  const forbidden = await acct.api(
    "PATCH",
    `/conversations/${wa.conversation!.display_id}/messages/${wa.message!.id}`,
    {
      status: "read",
    },
  );
  assert.equal(forbidden.status, 403);
  await sandbox.close();
});

Deno.test("assignments: a user, an agent bot, and unassignment", async () => {
  const sandbox = testSandbox();
  const acct = await provision(sandbox);
  const inboxId = await createWhatsAppInbox(acct);
  const { conversation } = sandbox.traffic.whatsappInbound({ inbox_id: inboxId, from: "5215512345678", text: "x" });
  const path = `/conversations/${conversation!.display_id}/assignments`;
  const assigned = await acct.api("POST", path, { assignee_id: acct.userId });
  assert.equal(assigned.body.id, acct.userId);
  assert.equal(assigned.body.role, "administrator");
  const shown = await acct.api("GET", `/conversations/${conversation!.display_id}`);
  assert.equal(shown.body.meta.assignee.id, acct.userId);
  const webhookView = sandbox.payloads.conversationWebhookData(conversation!);
  assert.equal((webhookView.meta as Record<string, unknown>).assignee_type, "User");

  const bot = sandbox.setup.createAgentBot({ name: "Bot" }, acct.accountId);
  const botAssigned = await acct.api("POST", path, { assignee_id: bot.id, assignee_type: "AgentBot" });
  assert.equal(botAssigned.body.name, "Bot");
  const unassigned = await acct.api("POST", path, { assignee_id: null });
  assert.equal(unassigned.body, null);
  assert.equal(conversation!.assignee_id, null);
  await sandbox.close();
});

// Agent bots as Chatwoot 4.13 runs them: bot records and tokens, inbox attachment, BOT_ACCESSIBLE_ENDPOINTS,
// pending conversations and bot_handoff, signed bot webhooks, the open-on-failure rule, and the control API.

import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import {
  addMember,
  call,
  control,
  createAgentBot,
  createWhatsAppInbox,
  events,
  provision,
  startReceiver,
  testSandbox,
} from "./testing.ts";
import { BOT_ERROR_MOVED_TO_OPEN } from "./model.ts";

const verify = (secret: string, headers: Headers, body: string) =>
  headers.get("x-chatwoot-signature") ===
    "sha256=" + createHmac("sha256", secret).update(`${headers.get("x-chatwoot-timestamp")}.${body}`).digest("hex");

Deno.test("agent bots: account API CRUD, token and secret only where Chatwoot shows them, resets", async () => {
  const sandbox = testSandbox();
  try {
    const acct = await provision(sandbox);
    const created = await acct.api("POST", "/agent_bots", {
      name: "Asistente",
      description: "AI replies",
      outgoing_url: "https://bots.example/hook",
      bot_config: { tone: "warm" },
    });
    assert.equal(created.status, 200);
    assert.deepEqual(Object.keys(created.body), [
      "id",
      "name",
      "description",
      "thumbnail",
      "outgoing_url",
      "bot_type",
      "bot_config",
      "account_id",
      "access_token",
      "secret",
      "system_bot",
    ]);
    assert.equal(created.body.bot_type, "webhook");
    assert.equal(created.body.system_bot, false);
    assert.deepEqual(Object.keys(created.body.access_token).sort(), [
      "created_at",
      "id",
      "owner_id",
      "owner_type",
      "token",
      "updated_at",
    ]);
    assert.equal(created.body.access_token.owner_type, "AgentBot");
    assert.match(created.body.secret, /^[1-9A-HJ-NP-Za-km-z]{24}$/);
    const id = created.body.id;

    const agent = await addMember(sandbox, acct.accountId, "agent");
    assert.equal((await agent.api("POST", "/agent_bots", { name: "x" })).status, 401);
    const seenByAgent = await agent.api("GET", `/agent_bots/${id}`);
    assert.equal(seenByAgent.body.secret, undefined, "the secret is for administrators only");
    assert.equal((await acct.api("GET", "/agent_bots")).body.length, 1);

    const oldToken = created.body.access_token.token;
    const reset = await acct.api("POST", `/agent_bots/${id}/reset_access_token`);
    assert.notEqual(reset.body.access_token.token, oldToken);
    const stale = await call(sandbox, "POST", `/api/v1/accounts/${acct.accountId}/conversations/1/messages`, {
      token: oldToken,
      body: { content: "x" },
    });
    assert.deepEqual([stale.status, stale.body], [401, { error: "Invalid Access Token" }]);
    const rotated = await acct.api("POST", `/agent_bots/${id}/reset_secret`);
    assert.notEqual(rotated.body.secret, created.body.secret);

    const inboxId = await createWhatsAppInbox(acct);
    assert.equal((await acct.api("POST", `/inboxes/${inboxId}/set_agent_bot`, { agent_bot: id })).status, 200);
    assert.equal((await acct.api("GET", `/inboxes/${inboxId}/agent_bot`)).body.agent_bot.id, id);
    await acct.api("POST", `/inboxes/${inboxId}/set_agent_bot`, { agent_bot: null });
    assert.deepEqual((await acct.api("GET", `/inboxes/${inboxId}/agent_bot`)).body, { agent_bot: null });
    assert.equal((await acct.api("DELETE", `/agent_bots/${id}`)).status, 200);
    assert.equal((await acct.api("GET", `/agent_bots/${id}`)).status, 404);
  } finally {
    await sandbox.close();
  }
});

Deno.test("with a bot on the inbox a new conversation is pending and the bot gets a signed message_created", async () => {
  const sandbox = testSandbox();
  const receiver = startReceiver();
  try {
    const acct = await provision(sandbox);
    const inboxId = await createWhatsAppInbox(acct);
    const bot = await createAgentBot(sandbox, acct, `${receiver.url}/bot`, inboxId);
    const { conversation } = sandbox.traffic.whatsappInbound({
      inbox_id: inboxId,
      from: "5215512345678",
      text: "Hola",
    });
    assert.equal(conversation!.status, "pending");
    await sandbox.settle();
    const [req] = events(receiver, "message_created");
    assert.equal(req.path, "/bot");
    assert.ok(verify(bot.secret, req.headers, req.body), "signed with the bot's secret like account webhooks");
    assert.ok(req.headers.get("x-chatwoot-delivery"));
    assert.equal(req.json.message_type, "incoming");
    assert.equal(req.json.conversation.status, "pending");
    assert.equal(sandbox.deliveries().find((d) => d.event === "message_created")!.kind, "agent_bot");

    // The bot answers with its own token: REST and webhook both name it as the sender.
    const reply = await bot.api("POST", `/conversations/${conversation!.display_id}/messages`, { content: "¡Hola!" });
    assert.equal(reply.status, 200);
    assert.equal(reply.body.sender_type, undefined, "_message.json.jbuilder has no sender_type; sender.type says it");
    assert.deepEqual(
      { id: reply.body.sender.id, type: reply.body.sender.type },
      { id: bot.id, type: "agent_bot" },
    );
    await sandbox.settle();
    const own = events(receiver, "message_created").map((r) => r.json).find((m) => m.message_type === "outgoing")!;
    assert.deepEqual(own.sender, { id: bot.id, name: "Asistente", type: "agent_bot" }, "bots get their own messages");
    const nested = own.conversation.messages[0];
    assert.deepEqual([nested.sender_type, nested.sender_id, nested.sender.type], ["AgentBot", bot.id, "agent_bot"]);
    assert.equal(conversation!.status, "pending", "a bot reply does not open the conversation");
    assert.equal(conversation!.waiting_since, null, "bot_response? clears waiting_since");
    assert.equal(conversation!.first_reply_created_at, null, "a bot reply is not a first reply");
  } finally {
    await sandbox.close();
    await receiver.close();
  }
});

Deno.test("a bot token reaches only BOT_ACCESSIBLE_ENDPOINTS, and only on its accounts", async () => {
  const sandbox = testSandbox();
  try {
    const acct = await provision(sandbox);
    const inboxId = await createWhatsAppInbox(acct);
    const bot = await createAgentBot(sandbox, acct, "https://bots.example/hook", inboxId);
    const { conversation } = sandbox.traffic.whatsappInbound({
      inbox_id: inboxId,
      from: "5215512345678",
      text: "Hola",
    });
    const id = conversation!.display_id;
    assert.equal((await bot.api("POST", `/conversations/${id}/messages`, { content: "hi" })).status, 200);
    assert.equal(
      (await bot.api("POST", `/conversations/${id}/toggle_typing_status`, { typing_status: "on" })).status,
      200,
    );
    assert.equal((await bot.api("POST", `/conversations/${id}/toggle_priority`, { priority: "high" })).status, 200);
    assert.equal(
      (await bot.api("POST", `/conversations/${id}/custom_attributes`, { custom_attributes: {} })).status,
      200,
    );
    for (
      const [method, path] of [
        ["GET", "/contacts"],
        ["GET", "/conversations"],
        ["GET", `/conversations/${id}`],
        ["GET", `/conversations/${id}/messages`],
        ["GET", "/agent_bots"],
        ["GET", "/inboxes"],
      ]
    ) {
      const res = await bot.api(method, path);
      assert.deepEqual([res.status, res.body], [401, { error: "Access to this endpoint is not authorized for bots" }]);
    }
    const other = await provision(sandbox, { name: "Other" });
    const res = await call(sandbox, "POST", `/api/v1/accounts/${other.accountId}/conversations/1/messages`, {
      token: bot.token,
      body: { content: "x" },
    });
    assert.deepEqual([res.status, res.body], [401, { error: "Bot is not authorized to access this account" }]);
  } finally {
    await sandbox.close();
  }
});

Deno.test("bot handoff: toggle_status open by the bot opens, starts waiting_since, and tells the bot", async () => {
  const sandbox = testSandbox();
  const receiver = startReceiver();
  try {
    const acct = await provision(sandbox);
    const inboxId = await createWhatsAppInbox(acct);
    const bot = await createAgentBot(sandbox, acct, receiver.url, inboxId);
    const { conversation } = sandbox.traffic.whatsappInbound({
      inbox_id: inboxId,
      from: "5215512345678",
      text: "Hola",
    });
    const id = conversation!.display_id;
    await bot.api("POST", `/conversations/${id}/messages`, { content: "Let me get a person" });
    assert.equal(conversation!.waiting_since, null);
    await sandbox.settle();
    receiver.requests.length = 0;

    const res = await bot.api("POST", `/conversations/${id}/toggle_status`, { status: "open" });
    assert.deepEqual(res.body, {
      meta: {},
      // The bot_handoff! branch of toggle_status never sets @status: Chatwoot renders `success: null`.
      payload: { success: null, conversation_id: id, current_status: "open", snoozed_until: null },
    });
    assert.equal(conversation!.status, "open");
    assert.ok(conversation!.waiting_since, "bot_handoff! restarts waiting_since");
    await sandbox.settle();
    assert.equal(events(receiver, "conversation_status_changed").length, 1);
    assert.equal(events(receiver, "conversation_opened").length, 1);
    const updates = events(receiver, "conversation_updated").map((r) => r.json.changed_attributes);
    const changed = updates.flatMap((c: Record<string, unknown>[]) => c.map((a) => Object.keys(a)[0]));
    assert.ok(changed.includes("waiting_since") && changed.includes("status"), JSON.stringify(updates));
    const statusChange = updates.flat().find((a: Record<string, unknown>) => "status" in a)!.status;
    assert.deepEqual(statusChange, { previous_value: "pending", current_value: "open" });
  } finally {
    await sandbox.close();
    await receiver.close();
  }
});

Deno.test("a human reply leaves a bot's pending conversation pending, unless the account opts into Captain's rule", async () => {
  const sandbox = testSandbox();
  try {
    const acct = await provision(sandbox);
    const inboxId = await createWhatsAppInbox(acct);
    await createAgentBot(sandbox, acct, "https://bots.example/hook", inboxId);
    const first = sandbox.traffic.whatsappInbound({ inbox_id: inboxId, from: "5215512345678", text: "Hola" });
    const reply = {
      account_id: acct.accountId,
      conversation_id: first.conversation!.display_id,
      content: "Hi, Ana here",
    };
    sandbox.traffic.agentReply(reply);
    assert.equal(first.conversation!.status, "pending", "4.13: only Captain inboxes open on a human reply");

    await control(sandbox, "PATCH", `/accounts/${acct.accountId}`, { open_pending_on_human_reply: true });
    sandbox.traffic.agentReply({ ...reply, content: "note", private: true });
    assert.equal(first.conversation!.status, "pending", "a private note never opens it");
    const res = await control(sandbox, "POST", "/traffic/agent_reply", reply);
    assert.equal(res.status, 200);
    assert.equal(first.conversation!.status, "open");
  } finally {
    await sandbox.close();
  }
});

Deno.test("a failed or slow bot delivery opens the pending conversation for good", async () => {
  const sandbox = testSandbox({ webhookTimeoutMs: 100 });
  const receiver = startReceiver();
  try {
    const acct = await provision(sandbox);
    const inboxId = await createWhatsAppInbox(acct);
    await createAgentBot(sandbox, acct, receiver.url, inboxId);

    receiver.status = 503; // not retried: fails at once
    const a = sandbox.traffic.whatsappInbound({ inbox_id: inboxId, from: "5215512345678", text: "Hola" });
    await sandbox.settle();
    assert.equal(a.conversation!.status, "open");
    const activity = sandbox.state.messages.by(a.conversation!.id).filter((m) => m.message_type === 2);
    assert.equal(activity.at(-1)!.content, BOT_ERROR_MOVED_TO_OPEN);
    receiver.status = 200;
    sandbox.traffic.whatsappInbound({ inbox_id: inboxId, from: "5215512345678", text: "¿Hola?" });
    await sandbox.settle();
    assert.equal(a.conversation!.status, "open", "later messages do not make it pending again");

    receiver.delayMs = 300; // slower than WEBHOOK_TIMEOUT
    const b = sandbox.traffic.whatsappInbound({ inbox_id: inboxId, from: "5215599999999", text: "Hola" });
    assert.equal(b.conversation!.status, "pending");
    await sandbox.settle();
    assert.equal(b.conversation!.status, "open");
    assert.ok(sandbox.deliveries().some((d) => d.error === "Timed out reading data from server"));

    receiver.delayMs = 0;
    receiver.status = 500;
    await control(sandbox, "PATCH", `/accounts/${acct.accountId}`, { keep_pending_on_bot_failure: true });
    const c = sandbox.traffic.whatsappInbound({ inbox_id: inboxId, from: "5215588888888", text: "Hola" });
    await sandbox.settle();
    assert.equal(c.conversation!.status, "pending", "keep_pending_on_bot_failure");
  } finally {
    await sandbox.close();
    await receiver.close();
  }
});

Deno.test("fault rules act on bot deliveries: a duplicate can reuse the delivery id, a drop loses the event", async () => {
  const sandbox = testSandbox();
  const receiver = startReceiver();
  try {
    const acct = await provision(sandbox);
    const inboxId = await createWhatsAppInbox(acct);
    await createAgentBot(sandbox, acct, `${receiver.url}/bot`, inboxId);
    const rule = await control(sandbox, "POST", "/faults", {
      mode: "duplicate",
      path: "/bot",
      event: "message_created",
      same_delivery_id: true,
      count: 1,
    });
    assert.equal(rule.status, 201);
    sandbox.traffic.whatsappInbound({ inbox_id: inboxId, from: "5215512345678", text: "Hola" });
    await sandbox.settle();
    const got = events(receiver, "message_created");
    assert.equal(got.length, 2);
    assert.equal(got[0].headers.get("x-chatwoot-delivery"), got[1].headers.get("x-chatwoot-delivery"));
    assert.equal(got[0].body, got[1].body);

    await control(sandbox, "POST", "/faults", { mode: "drop", path: "/bot", event: "message_created", count: 1 });
    sandbox.traffic.whatsappInbound({ inbox_id: inboxId, from: "5215512345678", text: "¿Sigues?" });
    await sandbox.settle();
    assert.equal(events(receiver, "message_created").length, 2);
    const bot = await control(sandbox, "GET", "/deliveries?kind=agent_bot&event=message_created");
    assert.deepEqual(bot.body.deliveries.map((d: { state: string }) => d.state), ["delivered", "delivered", "dropped"]);
  } finally {
    await sandbox.close();
    await receiver.close();
  }
});

Deno.test("control API: a customer writes (text or a voice note) into an inbox and a test reads the conversation", async () => {
  const sandbox = testSandbox();
  const receiver = startReceiver();
  try {
    const acct = await provision(sandbox);
    const inbox = await acct.api("POST", "/inboxes", { name: "Web API", channel: { type: "api" } });
    const bot = await createAgentBot(sandbox, acct, receiver.url, inbox.body.id);

    const first = await control(sandbox, "POST", "/traffic/incoming", {
      inbox_id: inbox.body.id,
      name: "Lucía",
      source_id: "lucia-1",
      content: "Hola",
    });
    assert.equal(first.status, 200);
    assert.equal(first.body.conversation.status, "pending");
    assert.equal(first.body.source_id, "lucia-1");
    const id = first.body.conversation.id;

    const voice = await control(sandbox, "POST", "/traffic/incoming", {
      inbox_id: inbox.body.id,
      conversation_id: id,
      audio: {},
    });
    assert.equal(voice.body.conversation.id, id);
    assert.equal(voice.body.message.attachments[0].file_type, "audio");
    assert.equal(voice.body.message.attachments[0].transcribed_text, "");

    // A resolved conversation that gets a new message reopens as pending while the bot is active.
    await control(sandbox, "POST", "/traffic/status", {
      account_id: acct.accountId,
      conversation_id: id,
      status: "resolved",
    });
    await control(sandbox, "POST", "/traffic/incoming", {
      inbox_id: inbox.body.id,
      conversation_id: id,
      content: "¿?",
    });
    await bot.api("POST", `/conversations/${id}/messages`, { content: "Aquí estoy" });

    const read = await control(sandbox, "GET", `/accounts/${acct.accountId}/conversations/${id}`);
    assert.equal(read.status, 200);
    assert.equal(read.body.conversation.status, "pending");
    assert.equal(read.body.conversation.meta.assignee, undefined);
    const nonActivity = read.body.messages.filter((m: { message_type: number }) => m.message_type !== 2);
    assert.deepEqual(
      nonActivity.map((m: { message_type: number; sender: { type: string } }) => [m.message_type, m.sender.type]),
      [[0, "contact"], [0, "contact"], [0, "contact"], [1, "agent_bot"]],
    );
    await sandbox.settle();
    const voiceWebhook = events(receiver, "message_created").find((r) => r.json.attachments)!.json;
    assert.equal(voiceWebhook.attachments[0].file_type, "audio");
  } finally {
    await sandbox.close();
    await receiver.close();
  }
});

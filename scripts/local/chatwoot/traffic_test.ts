import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { startSandbox } from "./server.ts";
import {
  call,
  control,
  createWebhook,
  createWhatsAppInbox,
  dispatched,
  events,
  type Json,
  provision,
  startReceiver,
  testSandbox,
} from "./testing.ts";

const FIXTURES = new URL("../../../fixtures/chatwoot", import.meta.url).pathname;

Deno.test("the control API needs the platform token and drives scripted WhatsApp traffic", async () => {
  const sandbox = testSandbox();
  const acct = await provision(sandbox);
  const inboxId = await createWhatsAppInbox(acct);
  const denied = await call(sandbox, "POST", "/_control/traffic/whatsapp", { token: acct.token, body: {} });
  assert.equal(denied.status, 401);
  const invalid = await control(sandbox, "POST", "/traffic/whatsapp", { inbox_id: inboxId, from: "abc" });
  assert.equal(invalid.status, 400);

  const location = await control(sandbox, "POST", "/traffic/whatsapp", {
    inbox_id: inboxId,
    from: "+5215512345678",
    name: "María López",
    kind: "location",
    location: {
      latitude: 25.67,
      longitude: -100.31,
      name: "Clínica",
      address: "Centro",
      url: "https://maps.example/x",
    },
  });
  assert.equal(location.status, 200);
  const att = location.body.message.attachments[0];
  assert.deepEqual(
    [att.file_type, att.coordinates_lat, att.fallback_title, att.data_url],
    ["location", 25.67, "Clínica, Centro", "https://maps.example/x"],
  );
  assert.equal(location.body.message.content, null);
  assert.equal(location.body.source_id, "5215512345678");

  const shared = await control(sandbox, "POST", "/traffic/whatsapp", {
    inbox_id: inboxId,
    from: "5215512345678",
    kind: "contact",
    shared_contact: { formatted_name: "Dr. Ruiz", first_name: "Juan", last_name: "Ruiz", phones: ["+5215599990000"] },
  });
  assert.equal(shared.body.message.content, "Dr. Ruiz");
  assert.deepEqual(shared.body.message.attachments[0].meta, { firstName: "Juan", lastName: "Ruiz" });

  const echo = await control(sandbox, "POST", "/traffic/whatsapp", {
    inbox_id: inboxId,
    from: "5215512345678",
    kind: "echo",
    text: "sent from the phone",
  });
  assert.equal(echo.body.message.message_type, 1);
  assert.equal(echo.body.message.sender, undefined);
  assert.equal(echo.body.message.status, "delivered");
  assert.equal(echo.body.message.content_attributes.external_echo, true);

  const dup = await control(sandbox, "POST", "/traffic/whatsapp", {
    inbox_id: inboxId,
    from: "5215512345678",
    text: "again",
    wamid: echo.body.message.source_id,
  });
  assert.equal(dup.body.message.id, echo.body.message.id, "a repeated wamid is deduplicated");
  assert.equal(sandbox.state.contacts.size, 1, "one contact for one phone");
  await sandbox.close();
});

Deno.test("an image's data_url redirects to the stored bytes", async () => {
  const running = await startSandbox({ port: 0, platformToken: "ptok" });
  try {
    const acct = await provision(running.sandbox);
    const inboxId = await createWhatsAppInbox(acct);
    const bytes = new TextEncoder().encode("fake-jpeg-bytes");
    const { message } = running.sandbox.traffic.whatsappInbound({
      inbox_id: inboxId,
      from: "5215512345678",
      kind: "image",
      caption: "mi receta",
      media: { base64: btoa("fake-jpeg-bytes"), content_type: "image/jpeg", filename: "receta.jpg" },
    });
    const view = running.sandbox.views.message(message!);
    assert.equal(view.content, "mi receta");
    const attachment = (view.attachments as Json[])[0];
    assert.equal(attachment.file_type, "image");
    assert.equal(attachment.extension, "jpg");
    assert.equal(attachment.file_size, bytes.byteLength);
    assert.ok(attachment.data_url.startsWith(`${running.url}/rails/active_storage/blobs/redirect/`));
    const res = await fetch(attachment.data_url);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "image/jpeg");
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), bytes);
  } finally {
    await running.close();
  }
});

Deno.test("a widget message from an identified contact: hmac_verified, additional_attributes, in_reply_to", async () => {
  const sandbox = testSandbox();
  const receiver = startReceiver();
  try {
    const acct = await provision(sandbox);
    const inbox = await acct.api("POST", "/inboxes", {
      name: "Website",
      channel: { type: "web_widget", website_url: "https://acme.example" },
    });
    await createWebhook(acct, receiver.url, ["webwidget_triggered", "message_created"]);
    // What the product computes for window.$chatwoot.setUser (chatwoot-api.md §5).
    const identifierHash = createHmac("sha256", inbox.body.hmac_token).update("user_8812").digest("hex");
    assert.throws(
      () => sandbox.traffic.widgetOpen({ inbox_id: inbox.body.id, identifier: "user_8812", identifier_hash: "bad" }),
      (e: Json) => e.status === 401 && e.body.error === "HMAC failed: Invalid Identifier Hash Provided",
    );
    sandbox.traffic.widgetOpen({
      inbox_id: inbox.body.id,
      identifier: "user_8812",
      identifier_hash: identifierHash,
      name: "Sam",
      email: "sam@x.test",
    });
    await sandbox.settle(); // payloads are built when the job runs: let the bubble-open event go first
    sandbox.traffic.widgetMessage({
      inbox_id: inbox.body.id,
      identifier: "user_8812",
      content: "Do you take walk-ins?",
      referer: "https://acme.example/pricing",
    });
    await sandbox.settle();
    const triggered = events(receiver, "webwidget_triggered")[0].json;
    assert.equal(triggered.contact.identifier, "user_8812");
    assert.equal(triggered.current_conversation, null);
    assert.ok(triggered.event_info.browser);
    const msg = events(receiver, "message_created")[0].json;
    assert.deepEqual(msg.content_attributes, { in_reply_to: null });
    assert.equal(msg.conversation.channel, "Channel::WebWidget");
    assert.equal(msg.conversation.meta.hmac_verified, true);
    assert.equal(msg.conversation.additional_attributes.referer, "https://acme.example/pricing");
    assert.equal(msg.sender.email, "sam@x.test");
    assert.equal(sandbox.state.contacts.size, 1, "the same identified contact");
  } finally {
    await sandbox.close();
    await receiver.close();
  }
});

Deno.test("an API inbox gets events at its webhook_url signed with the channel secret; a failure marks the message failed", async () => {
  const sandbox = testSandbox();
  const receiver = startReceiver();
  try {
    const acct = await provision(sandbox);
    const inbox = await acct.api("POST", "/inboxes", {
      name: "Platform",
      channel: { type: "api", webhook_url: `${receiver.url}/api-inbox` },
    });
    const contact = await acct.api("POST", "/contacts", { name: "Sam", email: "sam@x.test", inbox_id: inbox.body.id });
    const conv = await acct.api("POST", "/conversations", {
      inbox_id: inbox.body.id,
      contact_id: contact.body.payload.contact.id,
    });
    await acct.api("POST", `/conversations/${conv.body.id}/toggle_typing_status`, { typing_status: "on" });
    const reply = await acct.api("POST", `/conversations/${conv.body.id}/messages`, { content: "hello" });
    await sandbox.settle();
    assert.equal(receiver.requests.length, 4);
    assert.deepEqual(dispatched(sandbox, "api_inbox"), [
      "conversation_created",
      "conversation_typing_on",
      "message_created",
      "conversation_updated",
    ]);
    const typing = events(receiver, "conversation_typing_on")[0].json;
    assert.equal(typing.user.type, "user");
    assert.equal(typing.is_private, false);
    const msg = events(receiver, "message_created")[0];
    const ts = msg.headers.get("x-chatwoot-timestamp");
    const expected = "sha256=" + createHmac("sha256", inbox.body.secret).update(`${ts}.${msg.body}`).digest("hex");
    assert.equal(msg.headers.get("x-chatwoot-signature"), expected, "signed with the channel secret, not hmac_token");
    assert.equal(msg.json.message_type, "outgoing");
    assert.equal(msg.json.id, reply.body.id);

    receiver.status = 502;
    const lost = await acct.api("POST", `/conversations/${conv.body.id}/messages`, { content: "lost" });
    await sandbox.settle();
    const shown = await acct.api("GET", `/conversations/${conv.body.id}/messages`);
    const failed = shown.body.payload.find((m: Json) => m.id === lost.body.id);
    assert.equal(failed.status, "failed");
    assert.match(failed.content_attributes.external_error, /502/);
    assert.ok(events(receiver, "message_updated").some((r) => r.json.id === lost.body.id));
  } finally {
    await sandbox.close();
    await receiver.close();
  }
});

Deno.test("every fixture replays as a signed delivery rewritten to the target account", async () => {
  const sandbox = testSandbox({ fixturesDir: FIXTURES });
  const receiver = startReceiver();
  try {
    const acct = await provision(sandbox, { name: "Tenant Nine" });
    const waInbox = await createWhatsAppInbox(acct);
    const webhook = await createWebhook(acct, receiver.url);
    const fixtures = (await control(sandbox, "GET", "/fixtures")).body.fixtures as string[];
    assert.equal(fixtures.length, 8);
    for (const name of fixtures) {
      const res = await control(sandbox, "POST", `/fixtures/${name}/replay`, { account_id: acct.accountId });
      assert.equal(res.status, 200, name);
      assert.equal(res.body.deliveries.length, 1, name);
    }
    await sandbox.settle();
    assert.equal(receiver.requests.length, fixtures.length);
    for (const req of receiver.requests) {
      const ts = req.headers.get("x-chatwoot-timestamp");
      const expected = "sha256=" +
        createHmac("sha256", String(webhook.secret)).update(`${ts}.${req.body}`).digest("hex");
      assert.equal(req.headers.get("x-chatwoot-signature"), expected);
      assert.ok(!req.body.includes('"Acme Clinic"'), "account name rewritten");
    }
    const text = events(receiver, "message_created").find((r) => r.json.content === "Hola, quiero agendar una cita")!;
    const payload = text.json;
    assert.deepEqual(payload.account, { id: acct.accountId, name: "Tenant Nine" });
    assert.equal(payload.inbox.id, waInbox);
    assert.equal(payload.conversation.inbox_id, waInbox);
    assert.equal(payload.conversation.messages[0].account_id, acct.accountId);
    const missing = await control(sandbox, "POST", "/fixtures/nope.json/replay", { account_id: acct.accountId });
    assert.equal(missing.status, 404);
  } finally {
    await sandbox.close();
    await receiver.close();
  }
});

Deno.test("state persists to a JSON file and survives a restart", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/nested/chatwoot-sandbox.json`;
  try {
    const first = await startSandbox({ port: 0, persistPath: path, persistDebounceMs: 10 });
    const acct = await provision(first.sandbox);
    const inboxId = await createWhatsAppInbox(acct);
    first.sandbox.traffic.whatsappInbound({ inbox_id: inboxId, from: "5215512345678", text: "Hola" });
    const token = first.sandbox.platformToken;
    await first.close();

    const second = await startSandbox({ port: 0, persistPath: path });
    try {
      assert.equal(second.sandbox.platformToken, token);
      const res = await fetch(`${second.url}/api/v1/accounts/${acct.accountId}/conversations`, {
        headers: { api_access_token: acct.token },
      });
      const body = await res.json();
      assert.equal(body.data.payload.length, 1);
      assert.equal(body.data.payload[0].messages[0].content, "Hola");
      // Sequences continue: the next conversation is display_id 2.
      second.sandbox.traffic.whatsappInbound({ inbox_id: inboxId, from: "5215500000000", text: "otro" });
      assert.equal(second.sandbox.state.conversations.by(acct.accountId).at(-1)!.display_id, 2);
    } finally {
      await second.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("reset empties Chatwoot state, deliveries and faults but keeps the platform token", async () => {
  const sandbox = testSandbox();
  const acct = await provision(sandbox);
  sandbox.faults.add({ mode: "drop" });
  assert.equal((await control(sandbox, "POST", "/reset")).status, 200);
  assert.equal(sandbox.state.accounts.size, 0);
  assert.equal(sandbox.faults.list().length, 0);
  assert.equal((await acct.api("GET", "/inboxes")).status, 401);
  assert.equal((await control(sandbox, "GET", "/")).status, 200);
  await sandbox.close();
});

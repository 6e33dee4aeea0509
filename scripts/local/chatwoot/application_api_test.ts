import assert from "node:assert/strict";
import {
  addMember,
  call,
  control,
  createWebhook,
  events,
  platform,
  provision,
  startReceiver,
  testSandbox,
} from "./testing.ts";

Deno.test("an unknown token is 401 Invalid Access Token; an unknown record is the exact 404 body", async () => {
  const sandbox = testSandbox();
  const acct = await provision(sandbox);
  const bad = await call(sandbox, "GET", `/api/v1/accounts/${acct.accountId}/inboxes`, { token: "nope" });
  assert.equal(bad.status, 401);
  assert.deepEqual(bad.body, { error: "Invalid Access Token" });
  const missing = await acct.api("GET", "/inboxes/999");
  assert.equal(missing.status, 404);
  assert.deepEqual(missing.body, { error: "Resource could not be found" });
  await sandbox.close();
});

Deno.test("tenant isolation: a user of account A gets 401 on account B", async () => {
  const sandbox = testSandbox();
  const a = await provision(sandbox, { name: "A" });
  const b = await provision(sandbox, { name: "B" });
  const res = await call(sandbox, "GET", `/api/v1/accounts/${b.accountId}/contacts`, { token: a.token });
  assert.equal(res.status, 401);
  assert.deepEqual(res.body, { error: "You are not authorized to access this account" });
  await sandbox.close();
});

Deno.test("inboxes: web widget, API and e-mail shapes; secrets only for administrators", async () => {
  const sandbox = testSandbox();
  const admin = await provision(sandbox);
  const widget = await admin.api("POST", "/inboxes", {
    name: "Website",
    channel: { type: "web_widget", website_url: "https://acme.example", hmac_mandatory: true },
  });
  assert.equal(widget.status, 200);
  assert.equal(widget.body.channel_type, "Channel::WebWidget");
  assert.match(widget.body.website_token, /^\w{24}$/);
  assert.match(widget.body.hmac_token, /^\w{24}$/);
  assert.equal(widget.body.hmac_mandatory, true);
  assert.match(widget.body.web_widget_script, new RegExp(widget.body.website_token));

  const api = await admin.api("POST", "/inboxes", {
    name: "Platform",
    channel: { type: "api", webhook_url: "https://platform.example/chatwoot" },
  });
  assert.equal(api.body.channel_type, "Channel::Api");
  for (const key of ["inbox_identifier", "hmac_token", "secret"]) assert.match(api.body[key], /^\w{24}$/, key);
  assert.notEqual(api.body.secret, api.body.hmac_token);
  assert.equal(api.body.webhook_url, "https://platform.example/chatwoot");

  const email = await admin.api("POST", "/inboxes", {
    name: "Mail",
    channel: { type: "email", email: "Help@acme.test" },
  });
  assert.equal(email.body.email, "help@acme.test");
  // No MAILER_INBOUND_EMAIL_DOMAIN: nothing can be forwarded, so the address is not shown.
  assert.equal(email.body.forwarding_enabled, false);
  assert.ok(!("forward_to_email" in email.body));
  const dup = await admin.api("POST", "/inboxes", {
    name: "Mail 2",
    channel: { type: "email", email: "help@acme.test" },
  });
  assert.equal(dup.status, 422);
  assert.deepEqual(dup.body, { message: "Email has already been taken", attributes: ["email"] });
  const noUrl = await admin.api("POST", "/inboxes", { name: "W", channel: { type: "web_widget" } });
  assert.deepEqual(noUrl.body, { message: "Website url can't be blank", attributes: ["website_url"] });

  const agent = await addMember(sandbox, admin.accountId, "agent");
  const seen = await agent.api("GET", `/inboxes/${api.body.id}`);
  assert.equal(seen.status, 200);
  assert.equal(seen.body.secret, undefined);
  assert.equal(seen.body.hmac_token, undefined);
  const denied = await agent.api("POST", "/inboxes", { name: "x", channel: { type: "api" } });
  assert.equal(denied.status, 401);
  assert.deepEqual(denied.body, { error: "You are not authorized to do this action" });

  const listed = await admin.api("GET", "/inboxes");
  assert.equal(listed.body.payload.length, 3);
  const patched = await admin.api("PATCH", `/inboxes/${widget.body.id}`, {
    name: "Website 2",
    channel: { widget_color: "#000000" },
  });
  assert.equal(patched.body.name, "Website 2");
  assert.equal(patched.body.widget_color, "#000000");
  await sandbox.close();
});

Deno.test("inbox_created and inbox_updated carry the full channel row (secrets included)", async () => {
  const sandbox = testSandbox();
  const receiver = startReceiver();
  try {
    const acct = await provision(sandbox);
    await createWebhook(acct, receiver.url, ["inbox_created", "inbox_updated"]);
    const api = await acct.api("POST", "/inboxes", { name: "Platform", channel: { type: "api" } });
    await acct.api("PATCH", `/inboxes/${api.body.id}`, { name: "Platform 2" });
    await sandbox.settle();
    const created = events(receiver, "inbox_created")[0].json;
    const updated = events(receiver, "inbox_updated")[0].json;
    assert.equal(created.event, "inbox_created");
    assert.equal(created.channel.secret, api.body.secret);
    assert.equal(created.id, undefined, "Inbox::EventDataPresenter has no inbox id");
    assert.equal(updated.event, "inbox_updated");
    assert.deepEqual(updated.changed_attributes[0], {
      name: { previous_value: "Platform", current_value: "Platform 2" },
    });
  } finally {
    await sandbox.close();
    await receiver.close();
  }
});

Deno.test("webhooks: http(s) url, unique per account, only the 12 events, generated secret", async () => {
  const sandbox = testSandbox();
  const acct = await provision(sandbox);
  const created = await acct.api("POST", "/webhooks", {
    url: "https://hooks.example/a",
    subscriptions: ["message_created"],
  });
  assert.equal(created.status, 200);
  const webhook = created.body.payload.webhook;
  assert.deepEqual(Object.keys(webhook).sort(), ["account_id", "id", "name", "secret", "subscriptions", "url"]);
  assert.equal(webhook.secret.length, 24);

  const cases: [unknown, string, string][] = [
    [{ url: "ftp://hooks.example/a", subscriptions: ["message_created"] }, "Url is invalid", "url"],
    [{ url: "https://hooks.example/a", subscriptions: ["message_created"] }, "Url has already been taken", "url"],
    [
      { url: "https://hooks.example/b", subscriptions: ["contact_merged"] },
      "Subscriptions Invalid events",
      "subscriptions",
    ],
    [{ url: "https://hooks.example/b", subscriptions: [] }, "Subscriptions Invalid events", "subscriptions"],
  ];
  for (const [body, message, attribute] of cases) {
    const res = await acct.api("POST", "/webhooks", { webhook: body });
    assert.equal(res.status, 422);
    assert.deepEqual(res.body, { message, attributes: [attribute] });
  }
  const patched = await acct.api("PATCH", `/webhooks/${webhook.id}`, {
    subscriptions: ["message_created", "contact_updated"],
  });
  assert.deepEqual(patched.body.payload.webhook.subscriptions, ["message_created", "contact_updated"]);
  assert.equal(patched.body.payload.webhook.secret, webhook.secret, "the secret is read-only");
  const listed = await acct.api("GET", "/webhooks");
  assert.equal(listed.body.payload.webhooks.length, 1);
  assert.equal((await acct.api("DELETE", `/webhooks/${webhook.id}`)).status, 200);
  assert.equal((await acct.api("GET", "/webhooks")).body.payload.webhooks.length, 0);

  // Another account may use the same URL.
  const other = await provision(sandbox, { name: "Other" });
  assert.equal(
    (await other.api("POST", "/webhooks", { url: "https://hooks.example/a", subscriptions: ["message_created"] }))
      .status,
    200,
  );
  await sandbox.close();
});

Deno.test("bot tokens reach only BOT_ACCESSIBLE_ENDPOINTS", async () => {
  const sandbox = testSandbox();
  const acct = await provision(sandbox);
  const inbox = await acct.api("POST", "/inboxes", { name: "Platform", channel: { type: "api" } });
  const contact = await acct.api("POST", "/contacts", { name: "Sam", email: "sam@x.test", inbox_id: inbox.body.id });
  const conv = await acct.api("POST", "/conversations", {
    inbox_id: inbox.body.id,
    contact_id: contact.body.payload.contact.id,
  });
  const bot = await platform(sandbox, "POST", "/agent_bots", { name: "Bot", account_id: acct.accountId });
  await acct.api("POST", `/inboxes/${inbox.body.id}/set_agent_bot`, { agent_bot: bot.body.id });
  const asBot = (method: string, path: string, body?: unknown) =>
    call(sandbox, method, `/api/v1/accounts/${acct.accountId}${path}`, { token: bot.body.access_token, body });

  const posted = await asBot("POST", `/conversations/${conv.body.id}/messages`, { content: "I am a bot" });
  assert.equal(posted.status, 200);
  assert.equal(posted.body.sender.type, "agent_bot");
  assert.equal((await asBot("POST", `/conversations/${conv.body.id}/toggle_status`, { status: "open" })).status, 200);
  for (const [method, path] of [["GET", "/contacts"], ["GET", "/conversations"], ["GET", "/inboxes"]]) {
    const res = await asBot(method, path);
    assert.equal(res.status, 401, path);
    assert.deepEqual(res.body, { error: "Access to this endpoint is not authorized for bots" });
  }
  await sandbox.close();
});

Deno.test("custom attribute definitions: key format, uniqueness, standard-attribute clash", async () => {
  const sandbox = testSandbox();
  const acct = await provision(sandbox);
  const ok = await acct.api("POST", "/custom_attribute_definitions", {
    attribute_display_name: "Tier",
    attribute_key: "tier",
    attribute_model: "contact_attribute",
    attribute_display_type: "list",
    attribute_values: ["gold", "silver"],
  });
  assert.equal(ok.status, 200);
  assert.equal(ok.body.attribute_model, "contact_attribute");
  const dup = await acct.api("POST", "/custom_attribute_definitions", {
    custom_attribute_definition: { attribute_display_name: "Tier", attribute_key: "tier", attribute_model: 1 },
  });
  assert.deepEqual(dup.body, { message: "Attribute key has already been taken", attributes: ["attribute_key"] });
  const clash = await acct.api("POST", "/custom_attribute_definitions", {
    attribute_display_name: "E-mail",
    attribute_key: "email",
    attribute_model: "contact_attribute",
  });
  assert.equal(clash.status, 422);
  const listed = await acct.api("GET", "/custom_attribute_definitions?attribute_model=contact_attribute");
  assert.equal(listed.body.length, 1);
  await sandbox.close();
});

Deno.test("e-mail inboxes show forward_to_email only when MAILER_INBOUND_EMAIL_DOMAIN is set", async () => {
  const sandbox = testSandbox({ mailerInboundEmailDomain: "inbound.acme.test" });
  const admin = await provision(sandbox);
  const email = await admin.api("POST", "/inboxes", {
    name: "Mail",
    channel: { type: "email", email: "help@acme.test" },
  });
  assert.equal(email.body.forwarding_enabled, true);
  assert.match(email.body.forward_to_email, /^\w+@/);
  const off = await control(sandbox, "PATCH", "/options", { mailer_inbound_email_domain: null });
  assert.equal(off.body.mailer_inbound_email_domain, null);
  const shown = await admin.api("GET", `/inboxes/${email.body.id}`);
  assert.ok(!("forward_to_email" in shown.body));
  await sandbox.close();
});

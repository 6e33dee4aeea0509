import assert from "node:assert/strict";
import { call, control, createWhatsAppInbox, platform, provision, testSandbox } from "./testing.ts";

Deno.test("contact uniqueness and format errors are 422 {message, attributes}; e-mail is lower-cased", async () => {
  const sandbox = testSandbox();
  const acct = await provision(sandbox);
  const first = await acct.api("POST", "/contacts", {
    name: "María",
    email: "Maria.Lopez@Example.com",
    phone_number: "+5215512345678",
    identifier: "P-00917",
  });
  assert.equal(first.status, 200);
  assert.equal(first.body.payload.contact.email, "maria.lopez@example.com");
  assert.deepEqual(first.body.payload.contact_inbox, { inbox: null, source_id: null });

  const cases: [Record<string, string>, string, string[]][] = [
    [{ email: "MARIA.LOPEZ@example.com" }, "Email has already been taken", ["email"]],
    [{ identifier: "P-00917" }, "Identifier has already been taken", ["identifier"]],
    [{ phone_number: "+5215512345678" }, "Phone number has already been taken", ["phone_number"]],
    [{ phone_number: "5215512345678" }, "Phone number should be in e164 format", ["phone_number"]],
    [{ phone_number: "+0123" }, "Phone number should be in e164 format", ["phone_number"]],
    [{ email: "not-an-email" }, "Email Invalid email", ["email"]],
    [
      { email: "maria.lopez@example.com", identifier: "P-00917" },
      "Email has already been taken, Identifier has already been taken",
      ["email", "identifier"],
    ],
  ];
  for (const [body, message, attributes] of cases) {
    const res = await acct.api("POST", "/contacts", { name: "Dup", ...body });
    assert.equal(res.status, 422, JSON.stringify(body));
    assert.deepEqual(res.body, { message, attributes });
  }
  // Uniqueness is per account.
  const other = await provision(sandbox, { name: "Other" });
  assert.equal((await other.api("POST", "/contacts", { email: "maria.lopez@example.com" })).status, 200);
  // PATCH validates too.
  const second = await acct.api("POST", "/contacts", { name: "Sam", email: "sam@example.com" });
  const clash = await acct.api("PATCH", `/contacts/${second.body.payload.contact.id}`, {
    email: "Maria.Lopez@example.com",
  });
  assert.equal(clash.status, 422);
  await sandbox.close();
});

Deno.test("PATCH merges custom_attributes; destroy_custom_attributes removes keys; contact_updated lists changes", async () => {
  const sandbox = testSandbox();
  const acct = await provision(sandbox);
  const created = await acct.api("POST", "/contacts", {
    name: "María",
    email: "maria@example.com",
    custom_attributes: { patient_id: "P-1", tier: "gold" },
  });
  const id = created.body.payload.contact.id;
  const patched = await acct.api("PATCH", `/contacts/${id}`, { custom_attributes: { consent_whatsapp: true } });
  assert.deepEqual(patched.body.payload.custom_attributes, { patient_id: "P-1", tier: "gold", consent_whatsapp: true });
  const emitted = sandbox.events.emitted.filter((e) => e.name === "contact_updated").at(-1)!;
  assert.ok(emitted.name === "contact_updated");
  assert.deepEqual(emitted.changed.map((c) => Object.keys(c)[0]), ["custom_attributes", "updated_at"]);

  const removed = await acct.api("POST", `/contacts/${id}/destroy_custom_attributes`, { custom_attributes: ["tier"] });
  assert.deepEqual(removed.body.payload.custom_attributes, { patient_id: "P-1", consent_whatsapp: true });
  const before = sandbox.events.emitted.length;
  await acct.api("PATCH", `/contacts/${id}`, { name: "María" });
  assert.equal(sandbox.events.emitted.length, before, "no change, no contact_updated");
  await sandbox.close();
});

Deno.test("GET /contacts lists only contacts with e-mail, phone or identifier, 15 a page", async () => {
  const sandbox = testSandbox();
  const acct = await provision(sandbox);
  for (let i = 0; i < 17; i++) await acct.api("POST", "/contacts", { name: `C${i}`, email: `c${i}@x.test` });
  await acct.api("POST", "/contacts", { name: "anonymous visitor" });
  const p1 = await acct.api("GET", "/contacts");
  assert.equal(p1.body.meta.count, 17);
  assert.equal(p1.body.payload.length, 15);
  const p2 = await acct.api("GET", "/contacts?page=2&sort=name");
  assert.equal(p2.body.payload.length, 2);
  assert.equal(p2.body.meta.current_page, 2);
  assert.ok(!p2.body.payload.some((c: { name: string }) => c.name === "anonymous visitor"));
  await sandbox.close();
});

Deno.test("contact search: 100 a minute per account in a fixed window, Rack::Attack's bare 429", async () => {
  let clock = Date.parse("2026-04-20T14:00:10Z");
  const sandbox = testSandbox({ now: () => clock });
  const acct = await provision(sandbox);
  const other = await provision(sandbox, { name: "Other" });
  await acct.api("POST", "/contacts", { name: "María López", email: "maria@example.com" });
  for (let i = 0; i < 100; i++) {
    const res = await acct.api("GET", "/contacts/search?q=mar");
    assert.equal(res.status, 200, `request ${i + 1}`);
  }
  const limited = await acct.api("GET", "/contacts/search?q=mar");
  assert.equal(limited.status, 429);
  assert.equal(limited.body, "Retry later\n");
  assert.equal(limited.headers.get("content-type"), "text/plain");
  assert.equal(limited.headers.get("retry-after"), null, "rack-attack sends no Retry-After by default");
  assert.equal((await other.api("GET", "/contacts/search?q=mar")).status, 200, "the limit is per account");
  clock += 49_000; // 14:00:59: still the same window
  assert.equal((await acct.api("GET", "/contacts/search?q=mar")).status, 429);
  clock += 1_000; // 14:01:00: the window turns on the minute, not 60 s after the first request
  const after = await acct.api("GET", "/contacts/search?q=mar");
  assert.equal(after.status, 200);
  assert.equal(after.body.payload[0].email, "maria@example.com");
  assert.deepEqual(after.body.meta, { count: 1, current_page: 1, has_more: false });
  await sandbox.close();
});

Deno.test("every API request counts against 3000 a minute per IP (RACK_ATTACK_LIMIT); a new window lets them in", async () => {
  let clock = Date.parse("2026-04-20T14:00:30Z");
  const sandbox = testSandbox({ now: () => clock, rackAttack: { perIp: 20 } });
  const acct = await provision(sandbox); // provisioning's platform calls count too
  let allowed = 0;
  let refused: { status: number; body: unknown } | undefined;
  for (let i = 0; i < 30 && !refused; i++) {
    const res = await acct.api("GET", "/inboxes");
    if (res.status === 200) allowed++;
    else refused = res;
  }
  assert.ok(allowed > 0 && allowed < 20, `some got through before the limit (${allowed})`);
  assert.equal(refused?.status, 429);
  assert.equal(refused?.body, "Retry later\n");
  const platformToo = await platform(sandbox, "GET", "/accounts");
  assert.equal(platformToo.status, 429, "the Platform API shares the per-IP budget");
  const elsewhere = await call(sandbox, "GET", `/api/v1/accounts/${acct.accountId}/inboxes`, { token: acct.token });
  assert.equal(elsewhere.status, 429);
  clock = Date.parse("2026-04-20T14:01:00Z");
  assert.equal((await acct.api("GET", "/inboxes")).status, 200);
  await control(sandbox, "PATCH", "/options", { rack_attack: { enabled: false } });
  for (let i = 0; i < 25; i++) assert.equal((await acct.api("GET", "/inboxes")).status, 200);
  await sandbox.close();
});

Deno.test("a contact with a live widget presence cannot be deleted (422); deletion is admin-only", async () => {
  const sandbox = testSandbox();
  const acct = await provision(sandbox);
  const created = await acct.api("POST", "/contacts", { name: "sam", email: "sam@x.test" });
  const id = created.body.payload.contact.id;
  await control(sandbox, "POST", `/contacts/${id}/presence`, { online: true });
  const online = await acct.api("DELETE", `/contacts/${id}`);
  assert.equal(online.status, 422);
  assert.deepEqual(online.body, { message: "Sam is Online, please try again later" });
  await control(sandbox, "POST", `/contacts/${id}/presence`, { online: false });
  assert.equal((await acct.api("DELETE", `/contacts/${id}`)).status, 200);
  assert.equal((await acct.api("GET", `/contacts/${id}`)).status, 404);
  await sandbox.close();
});

Deno.test("contact merge moves conversations to the base contact; base attributes win", async () => {
  const sandbox = testSandbox();
  const acct = await provision(sandbox);
  const inboxId = await createWhatsAppInbox(acct);
  const wa = sandbox.traffic.whatsappInbound({ inbox_id: inboxId, from: "5215512345678", name: "María", text: "Hola" });
  const base = await acct.api("POST", "/contacts", {
    name: "María López",
    email: "maria@example.com",
    custom_attributes: { tier: "gold" },
  });
  const baseId = base.body.payload.contact.id;
  sandbox.model.updateContact(wa.contact, { custom_attributes: { tier: "silver", source: "wa" } });
  const merged = await acct.api("POST", "/actions/contact_merge", {
    base_contact_id: baseId,
    mergee_contact_id: wa.contact.id,
  });
  assert.equal(merged.status, 200);
  assert.equal(merged.body.phone_number, "+5215512345678");
  assert.equal(merged.body.name, "María López");
  assert.deepEqual(merged.body.custom_attributes, { tier: "gold", source: "wa" });
  assert.equal((await acct.api("GET", `/contacts/${wa.contact.id}`)).status, 404);
  const conversations = await acct.api("GET", `/contacts/${baseId}/conversations`);
  assert.equal(conversations.body.payload.length, 1);
  await sandbox.close();
});

Deno.test("POST /contacts/filter combines conditions, with custom attributes", async () => {
  const sandbox = testSandbox();
  const acct = await provision(sandbox);
  await acct.api("POST", "/custom_attribute_definitions", {
    attribute_display_name: "Tier",
    attribute_key: "tier",
    attribute_model: "contact_attribute",
  });
  await acct.api("POST", "/contacts", {
    name: "Gold MX",
    phone_number: "+5215511111111",
    custom_attributes: { tier: "gold" },
  });
  await acct.api("POST", "/contacts", {
    name: "Gold US",
    phone_number: "+15550001111",
    custom_attributes: { tier: "gold" },
  });
  await acct.api("POST", "/contacts", {
    name: "Silver MX",
    phone_number: "+5215522222222",
    custom_attributes: { tier: "silver" },
  });
  const res = await acct.api("POST", "/contacts/filter", {
    payload: [
      { attribute_key: "phone_number", filter_operator: "starts_with", values: ["+52"], query_operator: "AND" },
      { attribute_key: "tier", filter_operator: "equal_to", values: ["gold"], query_operator: null },
    ],
  });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.payload.map((c: { name: string }) => c.name), ["Gold MX"]);
  const bad = await acct.api("POST", "/contacts/filter", {
    payload: [{ attribute_key: "undefined_key", filter_operator: "equal_to", values: ["x"] }],
  });
  assert.equal(bad.status, 422);
  await sandbox.close();
});

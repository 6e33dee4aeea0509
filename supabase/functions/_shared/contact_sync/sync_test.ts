// The contact sync against the stack's Chatwoot sandbox: create, no-op resync, conflicts per
// policy, coalesced rounds, tiers, agents' edits coming back, and erasure on both sides.

import assert from "node:assert/strict";
import { connect } from "../platform/db.ts";
import { testStack, waitFor } from "../../../../scripts/testing/env.ts";
import { sandboxCall } from "../../../../scripts/testing/chatwoot.ts";
import { unlimited } from "../chatwoot/rate_limit.ts";
import { type ContactSyncDeps, syncCustomer } from "./sync.ts";
import { allContacts, insertCustomer, linkedSandboxStore } from "../../../../scripts/testing/contact_sync.ts";

const stack = testStack();
const opts = { sanitizeOps: false, sanitizeResources: false };

function counting(sql: ReturnType<typeof connect>) {
  const requests: string[] = [];
  const deps: ContactSyncDeps = { sql, limiter: unlimited, onRequest: (i) => requests.push(`${i.method} ${i.path}`) };
  return { deps, requests };
}

Deno.test("a new customer becomes one contact with its attributes; a second sync sends nothing", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const { store, api } = await linkedSandboxStore(sql, {
      platform_url_template: "https://platform.test/customers/{external_id}",
    });
    await sql`insert into public.customer_tiers (store_id, tier, min_lifetime_value) values (${store.id}, 'gold', 100)`;
    const id = await insertCustomer(sql, store.id, {
      external_id: "cus_1",
      name: "Ana Souza",
      email: "Ana@Example.com",
      phone: "+55 11 98765-4321",
    });
    await sql`insert into public.orders (store_id, customer_id, amount, currency, placed_at)
              values (${store.id}, ${id}, 150, 'USD', '2026-11-01T10:00:00Z')`;
    const { deps, requests } = counting(sql);

    const first = await syncCustomer(deps, id);
    assert.equal(first.outcome, "created");
    const contact = (await api("GET", `/contacts/${first.contactId}`)).body.payload;
    assert.equal(contact.name, "Ana Souza");
    assert.equal(contact.email, "ana@example.com");
    assert.equal(contact.phone_number, "+5511987654321");
    assert.equal(contact.identifier, "cus_1");
    assert.equal(contact.custom_attributes.order_count, 1);
    assert.equal(contact.custom_attributes.lifetime_value, 150);
    assert.equal(contact.custom_attributes.tier, "gold");
    assert.equal(contact.custom_attributes.last_order_at, "2026-11-01");
    assert.equal(contact.custom_attributes.platform_url, "https://platform.test/customers/cus_1");
    const defs = (await api("GET", "/custom_attribute_definitions?attribute_model=contact_attribute")).body;
    assert.deepEqual(
      defs.map((d: { attribute_key: string }) => d.attribute_key).sort(),
      ["customer_since", "last_order_at", "lifetime_value", "order_count", "platform_url", "tier"],
    );
    // Attribute definitions (1 GET + 6 POSTs, once per account), then one lookup and one create.
    assert.equal(requests.filter((r) => !r.includes("custom_attribute")).length, 2, requests.join("\n"));

    requests.length = 0;
    const second = await syncCustomer(deps, id);
    assert.equal(second.outcome, "unchanged");
    assert.equal(requests.length, 0, "an unchanged customer costs no request");

    await sql`update public.customers set name = 'Ana S. Souza' where id = ${id}`;
    const third = await syncCustomer(deps, id);
    assert.equal(third.outcome, "updated");
    assert.equal(requests.length, 1, "a changed customer costs one PATCH");
    assert.match(requests[0], /^PATCH \/api\/v1\/accounts\/\d+\/contacts\/\d+$/);
    assert.equal((await api("GET", `/contacts/${first.contactId}`)).body.payload.name, "Ana S. Souza");
    assert.equal((await allContacts(api)).length, 1);
  } finally {
    await sql.end();
  }
});

Deno.test("an invalid phone is left out with its reason, never a failed sync", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const { store, api } = await linkedSandboxStore(sql);
    const id = await insertCustomer(sql, store.id, { name: "Bo", email: "not-an-email", phone: "12345" });
    const r = await syncCustomer(counting(sql).deps, id);
    assert.equal(r.outcome, "created");
    const contact = (await api("GET", `/contacts/${r.contactId}`)).body.payload;
    assert.equal(contact.phone_number, null);
    assert.equal(contact.email, null);
    const [link] = await sql`select omitted from public.customer_contact_links where customer_id = ${id}`;
    assert.match(link.omitted.phone_number, /not a valid phone number/);
    assert.match(link.omitted.email, /not a valid e-mail/);
    // With a default country, the same national number becomes valid E.164.
    await sql`insert into public.customer_settings (store_id, default_phone_country) values (${store.id}, 'BR')`;
    await sql`update public.customers set phone = '(11) 98765-1111' where id = ${id}`;
    await syncCustomer(counting(sql).deps, id);
    assert.equal((await api("GET", `/contacts/${r.contactId}`)).body.payload.phone_number, "+5511987651111");
  } finally {
    await sql.end();
  }
});

for (const policy of ["link", "merge"] as const) {
  Deno.test(`an e-mail and phone owned by other contacts: policy ${policy}`, opts, async () => {
    const sql = connect(stack.dbUrl);
    try {
      const { store, api } = await linkedSandboxStore(sql, { conflict_policy: policy });
      // Contacts Chatwoot made itself: one from an e-mail inbox, one from WhatsApp.
      const byEmail = (await api("POST", "/contacts", { name: "ana (email)", email: "ana@shop.test" })).body.payload
        .contact;
      const byPhone = (await api("POST", "/contacts", { name: "Ana WA", phone_number: "+5511911112222" })).body
        .payload.contact;
      const id = await insertCustomer(sql, store.id, {
        external_id: "cus_ana",
        name: "Ana",
        email: "ana@shop.test",
        phone: "+5511911112222",
      });
      const r = await syncCustomer(counting(sql).deps, id);
      assert.equal(r.outcome, "linked");
      assert.equal(r.contactId, byEmail.id, "e-mail outranks phone");
      const contacts = await allContacts(api);
      const [link] = await sql`select contact_id, linked_by, omitted from public.customer_contact_links
                               where customer_id = ${id}`;
      assert.equal(link.contact_id, byEmail.id);
      assert.equal(link.linked_by, "email");
      const conflicts = await sql`select field, resolution, other_contact_id from public.contact_sync_conflicts
                                  where customer_id = ${id} order by id`;
      if (policy === "link") {
        assert.equal(contacts.length, 2, "nothing duplicated, nothing merged");
        assert.deepEqual(conflicts.map((c) => [c.field, c.resolution, c.other_contact_id]), [
          ["phone_number", "omitted", byPhone.id],
        ]);
        assert.equal(link.omitted.phone_number, `owned by contact ${byPhone.id}`);
        const linked = (await api("GET", `/contacts/${byEmail.id}`)).body.payload;
        assert.equal(linked.identifier, "cus_ana");
        assert.equal(linked.phone_number, null);
      } else {
        assert.equal(contacts.length, 1, "the phone's contact was merged into the customer's");
        assert.deepEqual(conflicts.map((c) => [c.field, c.resolution, c.other_contact_id]), [
          ["phone_number", "merged", byPhone.id],
        ]);
        const merged = (await api("GET", `/contacts/${byEmail.id}`)).body.payload;
        assert.equal(merged.phone_number, "+5511911112222");
        assert.equal(merged.identifier, "cus_ana");
      }
      // Settled: the next round sends nothing and records nothing new.
      const again = counting(sql);
      assert.equal((await syncCustomer(again.deps, id)).outcome, "unchanged");
      assert.equal(again.requests.length, 0);
    } finally {
      await sql.end();
    }
  });
}

Deno.test("a linked customer taking an e-mail another contact owns: 422 resolved per policy", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    for (const policy of ["link", "merge"] as const) {
      const { store, api } = await linkedSandboxStore(sql, { conflict_policy: policy });
      const id = await insertCustomer(sql, store.id, { name: "Caio", email: "caio@old.test" });
      const first = await syncCustomer(counting(sql).deps, id);
      const other = (await api("POST", "/contacts", { name: "caio", email: "caio@new.test" })).body.payload.contact;
      await sql`update public.customers set email = 'caio@new.test' where id = ${id}`;
      const r = await syncCustomer(counting(sql).deps, id);
      assert.equal(r.contactId, first.contactId, "the customer keeps its contact");
      const ours = (await api("GET", `/contacts/${first.contactId}`)).body.payload;
      const [conflict] =
        await sql`select field, resolution from public.contact_sync_conflicts where customer_id = ${id}`;
      assert.equal(conflict.field, "email");
      if (policy === "link") {
        assert.equal(conflict.resolution, "omitted");
        assert.equal(ours.email, "caio@old.test");
        assert.equal((await api("GET", `/contacts/${other.id}`)).status, 200);
      } else {
        assert.equal(conflict.resolution, "merged");
        assert.equal(ours.email, "caio@new.test");
        assert.equal((await api("GET", `/contacts/${other.id}`)).status, 404);
      }
    }
  } finally {
    await sql.end();
  }
});

Deno.test("100 rapid updates cost one round; an order raises the tier shown in Chatwoot", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    // A wide debounce window: the burst below must fall inside it even on a slow, busy machine.
    const { store, api } = await linkedSandboxStore(sql, { auto_sync: true, debounce_ms: 4000 });
    await sql`insert into public.customer_tiers (store_id, tier, min_lifetime_value)
              values (${store.id}, 'silver', 0), (${store.id}, 'gold', 500)`;
    const id = await insertCustomer(sql, store.id, { external_id: "cus_burst", name: "Dora" });
    const first = await waitFor(async () => {
      const [l] = await sql`select contact_id, rounds from public.customer_contact_links where customer_id = ${id}`;
      return l?.rounds === 1 ? l : null;
    }, "the first round");
    for (let i = 1; i <= 100; i++) {
      await sql`update public.customers set name = ${`Dora ${i}`} where id = ${id}`;
    }
    const settled = await waitFor(async () => {
      const [l] = await sql`select rounds, last_round_requests from public.customer_contact_links
                            where customer_id = ${id}`;
      return l.rounds >= 2 ? l : null;
    }, "the burst's round");
    await new Promise((r) => setTimeout(r, 4500)); // a second round, if any, would have run by now
    const [after] = await sql`select rounds, last_round_requests from public.customer_contact_links
                              where customer_id = ${id}`;
    assert.equal(after.rounds, 2, "one round for the whole burst");
    assert.equal(settled.last_round_requests, 1, "one PATCH");
    const jobs = await sql`select count(*)::int as n from private.jobs
                           where kind = 'chatwoot.contact_sync' and payload ->> 'customer_id' = ${id}`;
    assert.equal(jobs[0].n, 2, "one job for the insert, one for the burst");
    assert.equal((await api("GET", `/contacts/${first.contact_id}`)).body.payload.name, "Dora 100");
    assert.equal((await api("GET", `/contacts/${first.contact_id}`)).body.payload.custom_attributes.tier, "silver");

    await sql`insert into public.orders (store_id, customer_id, amount, currency) values (${store.id}, ${id}, 620, 'USD')`;
    const [c] = await sql`select tier, order_count, lifetime_value from public.customers where id = ${id}`;
    assert.deepEqual([c.tier, c.order_count, Number(c.lifetime_value)], ["gold", 1, 620]);
    await waitFor(async () => {
      const contact = (await api("GET", `/contacts/${first.contact_id}`)).body.payload;
      return contact.custom_attributes.tier === "gold" && contact.custom_attributes.lifetime_value === 620;
    }, "the gold tier in Chatwoot");
  } finally {
    await sql.end();
  }
});

Deno.test("an agent's edit in Chatwoot comes back to the customer; last_activity_at noise does not", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const { store, api, env, accountRef } = await linkedSandboxStore(sql, { agent_edits: "apply" });
    const id = await insertCustomer(sql, store.id, { name: "Eva", email: "eva@shop.test", phone: "+14155550101" });
    const r = await syncCustomer(counting(sql).deps, id);
    // Our own write's webhook echo reaches the mirror and is not taken for an edit.
    await sandboxCall(env, "POST", "/_control/settle");
    await waitFor(async () => {
      const [m] = await sql`select 1 from public.chatwoot_contacts where contact_id = ${r.contactId}`;
      return m;
    }, "the contact_created echo in the mirror");
    await sql`update public.customers set email = 'eva.l@shop.test' where id = ${id}`;
    await syncCustomer(counting(sql).deps, id); // a PATCH: its contact_updated echo is versioned
    await sandboxCall(env, "POST", "/_control/settle");
    await waitFor(async () => {
      const [m] = await sql`select 1 from public.chatwoot_contacts where contact_id = ${r.contactId}
                            and email = 'eva.l@shop.test' and source_updated_at is not null`;
      return m;
    }, "the contact_updated echo in the mirror");
    const edits = () =>
      sql`select count(*)::int as n from private.audit_log where action = 'customer.agent_edit'
                            and target = ${`customer:${id}`}`;
    assert.equal((await edits())[0].n, 0, "our own write is not an agent's edit");

    await api("PATCH", `/contacts/${r.contactId}`, { name: "Eva Lima", phone_number: "+14155550199" });
    const changed = await waitFor(async () => {
      const [c] = await sql`select name, phone, email from public.customers where id = ${id}`;
      return c.name === "Eva Lima" ? c : null;
    }, "the agent's edit on the customer");
    assert.equal(changed.phone, "+14155550199");
    assert.equal(changed.email, "eva.l@shop.test");
    const [audit] = await sql`select detail from private.audit_log where action = 'customer.agent_edit'
                              and target = ${`customer:${id}`}`;
    assert.deepEqual(audit.detail.fields.sort(), ["name", "phone_number"]);
    assert.equal(JSON.stringify(audit.detail).includes("Eva"), false, "the audit names fields, not values");

    // The customer's change enqueues nothing to send: Chatwoot already holds it.
    const again = counting(sql);
    const round = await syncCustomer(again.deps, id);
    assert.equal(again.requests.length, 0, `${round.outcome}: ${again.requests.join(", ")}`);

    // Noise: an incoming message moves last_activity_at and fires contact_updated.
    const [before] = await sql`select updated_at from public.customers where id = ${id}`;
    const inbox = await api("POST", "/inboxes", { name: "API", channel: { type: "api" } });
    const sent = await sandboxCall(env, "POST", "/_control/traffic/incoming", {
      body: { inbox_id: inbox.body.id, contact_id: r.contactId, content: "hi" },
    });
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    await sandboxCall(env, "POST", "/_control/settle");
    await waitFor(async () => {
      const [d] = await sql`select 1 from private.chatwoot_deliveries where account_ref = ${accountRef}
                            and event = 'contact_updated' and outcome = 'noise'`;
      return d;
    }, "the last_activity_at contact_updated, recorded as noise");
    const [after] = await sql`select updated_at from public.customers where id = ${id}`;
    assert.equal(after.updated_at.getTime(), before.updated_at.getTime(), "noise changes nothing");
    assert.equal((await edits())[0].n, 1);
  } finally {
    await sql.end();
  }
});

Deno.test("with agent_edits = ignore, the edit updates the snapshot but not the customer", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const { store, api } = await linkedSandboxStore(sql, { agent_edits: "ignore" });
    const id = await insertCustomer(sql, store.id, { name: "Fabio", email: "fabio@shop.test" });
    const r = await syncCustomer(counting(sql).deps, id);
    await api("PATCH", `/contacts/${r.contactId}`, { name: "Fabinho" });
    await waitFor(async () => {
      const [l] = await sql`select snapshot from public.customer_contact_links where customer_id = ${id}`;
      return l.snapshot.name === "Fabinho";
    }, "the snapshot to take the edit");
    const [c] = await sql`select name from public.customers where id = ${id}`;
    assert.equal(c.name, "Fabio");
  } finally {
    await sql.end();
  }
});

// Merges against the stack's Chatwoot sandbox. Chatwoot deletes the mergee and sends no webhook for it, so the
// mirror and the customer links learn of a merge from us: at once for the contact sync's own merges, and from
// reconciliation (or the next sync round) for merges an agent makes in Chatwoot.

import assert from "node:assert/strict";
import { connect } from "../platform/db.ts";
import { testStack } from "../../../../scripts/testing/env.ts";
import { unlimited } from "../chatwoot/rate_limit.ts";
import { reconcileAccount } from "../chatwoot/reconcile.ts";
import { syncCustomer } from "./sync.ts";
import { allContacts, insertCustomer, linkedSandboxStore } from "../../../../scripts/testing/contact_sync.ts";
import { sandboxCall } from "../../../../scripts/testing/chatwoot.ts";

const stack = testStack();
const opts = { sanitizeOps: false, sanitizeResources: false };

/** Parks the stack worker's own reconciliation of this account, so the test runs it. */
async function holdReconciliation(sql: ReturnType<typeof connect>, accountRef: string) {
  await sql`update public.chatwoot_sync_cursors set next_run_at = now() + interval '1 day' where account_ref = ${accountRef}`;
  await sql`delete from private.jobs where kind = 'chatwoot.reconcile' and status = 'queued'
            and payload ->> 'account_ref' = ${accountRef}`;
}

Deno.test("our own merge (policy merge) marks the mergee merged in the mirror at once", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const { store, api, accountRef } = await linkedSandboxStore(sql, { conflict_policy: "merge" });
    const byEmail = (await api("POST", "/contacts", { name: "ana", email: "ana@m.test" })).body.payload.contact;
    const byPhone = (await api("POST", "/contacts", { name: "Ana WA", phone_number: "+5511933334444" })).body
      .payload.contact;
    const id = await insertCustomer(sql, store.id, { name: "Ana", email: "ana@m.test", phone: "+5511933334444" });
    const r = await syncCustomer({ sql, limiter: unlimited }, id);
    assert.equal(r.contactId, byEmail.id);
    assert.equal((await api("GET", `/contacts/${byPhone.id}`)).status, 404, "Chatwoot deleted the mergee");
    const [mergee] = await sql`select merged_into, merged_at from public.chatwoot_contacts
                               where account_ref = ${accountRef} and contact_id = ${byPhone.id}`;
    assert.equal(mergee.merged_into, byEmail.id);
    assert.ok(mergee.merged_at instanceof Date);
  } finally {
    await sql.end();
  }
});

Deno.test(
  "a merge done in Chatwoot: the next sync round follows the customer's identifier to the base",
  opts,
  async () => {
    const sql = connect(stack.dbUrl);
    try {
      const { store, api, accountRef } = await linkedSandboxStore(sql);
      const id = await insertCustomer(sql, store.id, { external_id: "cus_m1", name: "Bea", email: "bea@m.test" });
      const first = await syncCustomer({ sql, limiter: unlimited }, id);
      assert.equal(first.outcome, "created");
      // An agent merges our contact into another one (the base wins, and keeps its own e-mail).
      const base = (await api("POST", "/contacts", { name: "Beatriz", phone_number: "+5511955556666" })).body.payload
        .contact;
      const merged = await api("POST", "/actions/contact_merge", {
        base_contact_id: base.id,
        mergee_contact_id: first.contactId,
      });
      assert.equal(merged.status, 200, JSON.stringify(merged.body));
      assert.equal((await api("GET", `/contacts/${base.id}`)).body.payload.identifier, "cus_m1");

      await sql`update public.customers set name = 'Bea Lima' where id = ${id}`;
      const next = await syncCustomer({ sql, limiter: unlimited }, id);
      assert.equal(next.contactId, base.id, "the link followed the merge, no new contact");
      assert.equal(next.outcome, "updated");
      assert.equal((await allContacts(api)).length, 1);
      const [link] =
        await sql`select contact_id, merged_into from public.customer_contact_links where customer_id = ${id}`;
      assert.deepEqual({ ...link }, { contact_id: base.id, merged_into: null });
      const [mergee] = await sql`select merged_into from public.chatwoot_contacts
                               where account_ref = ${accountRef} and contact_id = ${first.contactId}`;
      assert.equal(mergee.merged_into, base.id);
      assert.equal((await api("GET", `/contacts/${base.id}`)).body.payload.name, "Bea Lima");
    } finally {
      await sql.end();
    }
  },
);

Deno.test(
  "reconciliation finds a Chatwoot merge by the moved conversation and moves mirror and link together",
  opts,
  async () => {
    const sql = connect(stack.dbUrl);
    try {
      const { env, store, api, accountRef, cw } = await linkedSandboxStore(sql);
      await holdReconciliation(sql, accountRef);
      const inbox = await api("POST", "/inboxes", {
        name: "WhatsApp",
        channel: { type: "whatsapp", phone_number: "+5511900001111", provider: "whatsapp_cloud" },
      });
      const sent = await sandboxCall(env, "POST", "/_control/traffic/whatsapp", {
        body: { inbox_id: inbox.body.id, from: "+5511977778888", name: "Caio", kind: "text", text: "Oi" },
      });
      assert.equal(sent.status, 200, JSON.stringify(sent.body));
      await sandboxCall(env, "POST", "/_control/settle");
      const waContact = sent.body.contact.id as number;
      const displayId = sent.body.conversation.id as number;
      const id = await insertCustomer(sql, store.id, {
        external_id: "cus_caio",
        name: "Caio",
        phone: "+5511977778888",
      });
      const linked = await syncCustomer({ sql, limiter: unlimited }, id);
      assert.equal(linked.contactId, waContact, "linked by phone to the WhatsApp contact");
      await reconcileAccount({ sql, limiter: unlimited }, accountRef);
      const [before] = await sql`select contact_id from public.chatwoot_conversations
                               where account_ref = ${accountRef} and display_id = ${displayId}`;
      assert.equal(before.contact_id, waContact);

      const base = (await api("POST", "/contacts", { name: "Caio Souza", email: "caio@m.test" })).body.payload.contact;
      await api("POST", "/actions/contact_merge", { base_contact_id: base.id, mergee_contact_id: waContact });
      // A message makes the conversation active again, so reconciliation lists it.
      await sandboxCall(env, "POST", "/_control/traffic/whatsapp", {
        body: { inbox_id: inbox.body.id, from: "+5511977778888", kind: "text", text: "Ainda aí?" },
      });
      await sandboxCall(env, "POST", "/_control/settle");

      const r = await reconcileAccount({ sql, limiter: unlimited, overlapMs: 600_000 }, accountRef);
      assert.ok((r.merges?.merged ?? 0) >= 1, JSON.stringify(r));
      const [mergee] = await sql`select merged_into from public.chatwoot_contacts
                               where account_ref = ${accountRef} and contact_id = ${waContact}`;
      assert.equal(mergee.merged_into, base.id);
      const [after] = await sql`select contact_id from public.chatwoot_conversations
                              where account_ref = ${accountRef} and display_id = ${displayId}`;
      assert.equal(after.contact_id, base.id);
      const [link] =
        await sql`select contact_id, sent_hash from public.customer_contact_links where customer_id = ${id}`;
      assert.equal(link.contact_id, base.id, "the customer link moved with it");
      assert.equal(link.sent_hash, null, "and will send the customer's values to the base");
      assert.ok(cw.accountId > 0);
    } finally {
      await sql.end();
    }
  },
);

Deno.test(
  "reconciliation's contact check finds a merge with no conversation, by the customer's identifier",
  opts,
  async () => {
    const sql = connect(stack.dbUrl);
    try {
      const { store, api, accountRef } = await linkedSandboxStore(sql);
      await holdReconciliation(sql, accountRef);
      const id = await insertCustomer(sql, store.id, { external_id: "cus_d1", name: "Duda", email: "duda@m.test" });
      const first = await syncCustomer({ sql, limiter: unlimited }, id);
      // The mirror knows the contact (as a webhook or reconciliation would have left it).
      await sql`insert into public.chatwoot_contacts (account_ref, contact_id, store_id, name, identifier)
              values (${accountRef}, ${first.contactId}, ${store.id}, 'Duda', 'cus_d1')
              on conflict do nothing`;
      const base = (await api("POST", "/contacts", { name: "Maria Eduarda", phone_number: "+5511922223333" })).body
        .payload.contact;
      await api("POST", "/actions/contact_merge", { base_contact_id: base.id, mergee_contact_id: first.contactId });

      const r = await reconcileAccount({ sql, limiter: unlimited, contactChecksPerRun: 50 }, accountRef);
      assert.ok((r.merges?.merged ?? 0) >= 1, JSON.stringify(r));
      const [mergee] = await sql`select merged_into from public.chatwoot_contacts
                               where account_ref = ${accountRef} and contact_id = ${first.contactId}`;
      assert.equal(mergee.merged_into, base.id);
      const [link] = await sql`select contact_id from public.customer_contact_links where customer_id = ${id}`;
      assert.equal(link.contact_id, base.id);
    } finally {
      await sql.end();
    }
  },
);

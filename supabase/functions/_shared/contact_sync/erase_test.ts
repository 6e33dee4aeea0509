// Erasure end to end: deleting a customer who is a platform user removes their Chatwoot contact
// (after Chatwoot refuses while the contact is online), the mirror rows and the WhatsApp archive (an
// archive erasure of its own), through the stack's worker; the audit entries name what was erased, not
// the data.

import assert from "node:assert/strict";
import { connect } from "../platform/db.ts";
import { testStack, waitFor } from "../../../../scripts/testing/env.ts";
import { createSandboxWhatsAppInbox, sandboxCall } from "../../../../scripts/testing/chatwoot.ts";
import { unlimited } from "../chatwoot/rate_limit.ts";
import { syncCustomer } from "./sync.ts";
import { insertCustomer, linkedSandboxStore } from "../../../../scripts/testing/contact_sync.ts";

const stack = testStack();
const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "erasing a customer deletes the contact (retrying while online), its mirror rows and archive",
  opts,
  async () => {
    const sql = connect(stack.dbUrl);
    try {
      const { store, env, cw, api, accountRef } = await linkedSandboxStore(sql);
      const inboxId = await createSandboxWhatsAppInbox(env, cw.accountId, cw.token);
      const phone = `+55119876${String(Date.now() % 100000).padStart(5, "0")}`;
      const userId = crypto.randomUUID();
      await sql`insert into auth.users (id, email, raw_user_meta_data)
              values (${userId}, ${`${userId}@erase.test`}, ${sql.json({ phone_e164: phone })})`;
      const sent = await sandboxCall(env, "POST", "/_control/traffic/whatsapp", {
        body: { inbox_id: inboxId, from: phone, kind: "text", text: "Oi, meu pedido?" },
      });
      assert.equal(sent.status, 200, JSON.stringify(sent.body));
      const archived = await waitFor(
        async () => {
          const [r] = await sql`select bucket from public.archived_messages where user_id = ${userId}`;
          return r;
        },
        "the WhatsApp message archived in the user's bucket",
        30_000,
      );

      const customerId = await insertCustomer(sql, store.id, { name: "Gil", phone, user_id: userId });
      const synced = await syncCustomer({ sql, limiter: unlimited }, customerId);
      assert.equal(synced.outcome, "linked", "the WhatsApp contact is the customer's (same phone)");
      const contactId = synced.contactId!;
      assert.ok(
        (await sql`select 1 from public.chatwoot_contacts where contact_id = ${contactId}
                         and account_ref = ${accountRef}`).length,
      );

      await sandboxCall(env, "POST", `/_control/contacts/${contactId}/presence`, { body: { online: true } });
      await sql`delete from public.customers where id = ${customerId}`;
      const refused = await waitFor(async () => {
        const [j] = await sql`select attempts, last_error, status from private.jobs
                            where idempotency_key = ${`contact_erase:${customerId}`}`;
        return j && j.attempts >= 1 && j.last_error ? j : null;
      }, "Chatwoot's refusal while the contact is online");
      assert.match(refused.last_error, /Online/);
      assert.equal((await api("GET", `/contacts/${contactId}`)).status, 200, "still there while online");

      await sandboxCall(env, "POST", `/_control/contacts/${contactId}/presence`, { body: { online: false } });
      await waitFor(
        async () => {
          const [j] =
            await sql`select status from private.jobs where idempotency_key = ${`contact_erase:${customerId}`}`;
          return j.status === "completed";
        },
        "the erasure to complete on retry",
        30_000,
      );

      assert.equal((await api("GET", `/contacts/${contactId}`)).status, 404, "the contact is gone from Chatwoot");
      const [mirror] = await sql`
      select (select count(*) from public.chatwoot_contacts where account_ref = ${accountRef} and contact_id = ${contactId})::int as contacts,
             (select count(*) from public.chatwoot_conversations where account_ref = ${accountRef} and contact_id = ${contactId})::int as conversations,
             (select count(*) from public.chatwoot_messages where account_ref = ${accountRef})::int as messages`;
      assert.deepEqual({ ...mirror }, { contacts: 0, conversations: 0, messages: 0 });
      // The archive is erased by its own resumable job, which the customer's erasure started.
      const [audit] = await sql`select detail from private.audit_log where action = 'customer.erase'
                              and target = ${`customer:${customerId}`}`;
      const erasureId = audit.detail.archive_erasure_id;
      assert.match(erasureId, /^[0-9a-f-]{36}$/, "the customer's audit entry names the archive's erasure");
      await waitFor(
        async () => {
          const [e] = await sql`select status from public.archive_erasures where id = ${erasureId}`;
          return e?.status === "completed";
        },
        "the archive erasure to complete",
        30_000,
      );
      const [left] =
        await sql`select (select count(*) from public.archived_messages where user_id = ${userId})::int as m,
                                    (select count(*) from public.archive_buckets where owner_user_id = ${userId})::int as b`;
      assert.deepEqual({ ...left }, { m: 0, b: 0 });
      const res = await fetch(`${Deno.env.get("GCS_ENDPOINT")}/storage/v1/b/${archived.bucket}`);
      assert.equal(res.status, 404, "the user's bucket is deleted");
      await res.body?.cancel();

      assert.equal(audit.detail.chatwoot_contact_deleted, contactId);
      assert.equal(audit.detail.mirror.contacts, 1);
      const [archiveAudit] = await sql`select actor, detail from private.audit_log where action = 'archive.erase_user'
                                       and target = ${`user:${userId}`}`;
      assert.equal(archiveAudit.actor, `contact-sync:erase:${customerId}`);
      assert.ok(archiveAudit.detail.messages >= 1);
      const text = JSON.stringify([audit.detail, archiveAudit.detail]);
      assert.equal(text.includes(phone) || text.includes("Gil"), false, "the audit holds no personal data");
    } finally {
      await sql.end();
    }
  },
);

// The archive review API through the gateway: platform administrators only; the queue filters
// and pages; map and ignore change the contact, enqueue the move and leave an audit entry.

import assert from "node:assert/strict";
import { connect } from "../_shared/platform/db.ts";
import { testStack } from "../../../scripts/testing/env.ts";
import { signUserToken } from "../../../scripts/local/supabase/keys.ts";

const stack = testStack();
const opts = { sanitizeOps: false, sanitizeResources: false };
const url = `${stack.apiUrl}/functions/v1/archive-admin`;

async function tokens() {
  return {
    admin: await signUserToken(stack.signer, {
      id: "00000000-0000-4000-8000-000000000001",
      app_metadata: { platform_admin: true },
    }),
    member: await signUserToken(stack.signer, { id: "00000000-0000-4000-8000-00000000a001" }),
  };
}

async function storeWithQueue(n: number) {
  const sql = connect(stack.dbUrl, { max: 1 });
  try {
    const slug = `q-${crypto.randomUUID().slice(0, 10)}`;
    const [store] =
      await sql`insert into public.stores (slug, name, chatwoot_provisioning) values (${slug}, 'Queue', 'manual')
                              returning id`;
    for (let i = 0; i < n; i++) {
      await sql`insert into public.archive_contacts (store_id, phone_e164, status, contact_name, messages, media, last_message_at)
                values (${store.id}, ${`+1415555${String(1000 + i)}`}, 'unmapped', ${`Caller ${i}`}, 1, ${i % 2},
                        now() - make_interval(mins => ${i}))`;
    }
    return store.id as string;
  } finally {
    await sql.end();
  }
}

Deno.test("only platform administrators reach the archive review", opts, async () => {
  const t = await tokens();
  const member = await fetch(`${url}/queue`, { headers: { authorization: `Bearer ${t.member}` } });
  assert.equal(member.status, 403);
  assert.match((await member.json()).error.message, /platform administrators/);
  const anon = await fetch(`${url}/queue`, { headers: { authorization: `Bearer ${stack.anonKey}` } });
  assert.equal(anon.status, 403);
  await anon.body?.cancel();
  const none = await fetch(`${url}/queue`);
  assert.equal(none.status, 401, "a request without credentials is refused (by the function: verify_jwt is off)");
  await none.body?.cancel();
});

Deno.test("the queue filters by store, search and media, and pages with a cursor", opts, async () => {
  const t = await tokens();
  const storeId = await storeWithQueue(7);
  const get = async (q: string) => {
    const res = await fetch(`${url}/queue?${q}`, { headers: { authorization: `Bearer ${t.admin}` } });
    assert.equal(res.status, 200, q);
    return await res.json();
  };
  const first = await get(`store_id=${storeId}&limit=3`);
  assert.equal(first.contacts.length, 3);
  assert.equal(first.contacts[0].contact_name, "Caller 0", "most recent first");
  const second = await get(`store_id=${storeId}&limit=3&after=${encodeURIComponent(first.next)}`);
  const third = await get(`store_id=${storeId}&limit=3&after=${encodeURIComponent(second.next)}`);
  const all = [...first.contacts, ...second.contacts, ...third.contacts].map((c: { phone_e164: string }) =>
    c.phone_e164
  );
  assert.equal(new Set(all).size, 7, "pages neither repeat nor skip");
  assert.equal(third.next, null);
  assert.equal((await get(`store_id=${storeId}&has_media=true`)).contacts.length, 3);
  assert.deepEqual(
    (await get(`store_id=${storeId}&q=Caller%205`)).contacts.map((c: { contact_name: string }) => c.contact_name),
    [
      "Caller 5",
    ],
  );
  const bad = await fetch(`${url}/queue?limit=0`, { headers: { authorization: `Bearer ${t.admin}` } });
  assert.equal(bad.status, 400);
  await bad.body?.cancel();
});

Deno.test("map and ignore change the contact, enqueue the move, and are audited", opts, async () => {
  const t = await tokens();
  const storeId = await storeWithQueue(2);
  const sql = connect(stack.dbUrl, { max: 1 });
  try {
    const map = await fetch(`${url}/contacts/${storeId}/${encodeURIComponent("+14155551000")}/map`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.admin}`, "content-type": "application/json" },
      body: JSON.stringify({ user_id: "00000000-0000-4000-8000-00000000b001" }),
    });
    assert.equal(map.status, 202);
    const { job_id: jobId } = await map.json();
    const [job] = await sql`select kind, payload from private.jobs where id = ${jobId}`;
    assert.deepEqual({ ...job }, {
      kind: "archive.map_contact",
      payload: { store_id: storeId, phone_e164: "+14155551000" },
    });
    const [mapped] = await sql`select status, user_id, mapped_by from public.archive_contacts
                               where store_id = ${storeId} and phone_e164 = '+14155551000'`;
    assert.deepEqual({ ...mapped }, {
      status: "mapped",
      user_id: "00000000-0000-4000-8000-00000000b001",
      mapped_by: "admin",
    });

    const ignore = await fetch(`${url}/contacts/${storeId}/${encodeURIComponent("+14155551001")}/ignore`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.admin}` },
    });
    assert.equal(ignore.status, 200);
    await ignore.body?.cancel();
    const audit =
      await sql`select action, actor from private.audit_log where target like ${`contact:${storeId}:%`} order by id`;
    assert.deepEqual(audit.map((a) => a.action), ["archive.map_contact", "archive.ignore_contact"]);
    assert.equal(audit[0].actor, "user:00000000-0000-4000-8000-000000000001");

    const unknownUser = await fetch(`${url}/contacts/${storeId}/${encodeURIComponent("+14155551001")}/map`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.admin}`, "content-type": "application/json" },
      body: JSON.stringify({ user_id: crypto.randomUUID() }),
    });
    assert.equal(unknownUser.status, 404);
    await unknownUser.body?.cancel();
    const badPhone = await fetch(`${url}/contacts/${storeId}/12345/ignore`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.admin}` },
    });
    assert.equal(badPhone.status, 400);
    await badPhone.body?.cancel();
  } finally {
    await sql.end();
  }
});

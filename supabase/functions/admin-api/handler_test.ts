// admin-api through the gateway with real user tokens: a platform administrator sees every
// store, a store administrator only theirs (RLS, whatever they call), changes are checked and
// audited, dead jobs replay, media downloads through a short-lived signed URL.

import assert from "node:assert/strict";
import { connect } from "../_shared/platform/db.ts";
import { testStack, waitFor } from "../../../scripts/testing/env.ts";
import { fixture } from "../../../scripts/testing/chatwoot.ts";
import { parseChatwootEvent } from "../_shared/chatwoot/events.ts";
import { normalizeChatwootEvent } from "../_shared/chatwoot/normalize.ts";
import { ingestDelivery, mirrorRows } from "../_shared/chatwoot/ingest.ts";
import { archiveMessage } from "../_shared/archive/archiver.ts";
import { createStorage } from "../_shared/archive/storage.ts";
import { signUserToken } from "../../../scripts/local/supabase/keys.ts";
import { testBucketPolicy } from "../../../scripts/testing/archive.ts";

const stack = testStack();
const opts = { sanitizeOps: false, sanitizeResources: false };
const base = `${stack.apiUrl}/functions/v1/admin-api`;
const PLATFORM = "00000000-0000-4000-8000-000000000001";
const ACME_OWNER = "00000000-0000-4000-8000-00000000a001"; // owner of acme, nothing else

async function as(id: string, admin = false) {
  const token = await signUserToken(stack.signer, { id, app_metadata: admin ? { platform_admin: true } : {} });
  return async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  };
}

async function queueIn(slug: string, phone: string) {
  const sql = connect(stack.dbUrl, { max: 1 });
  try {
    const [s] = await sql`select id from public.stores where slug = ${slug}`;
    await sql`insert into public.archive_contacts (store_id, phone_e164, status, contact_name, messages, last_message_at)
              values (${s.id}, ${phone}, 'unmapped', 'Queued', 1, now()) on conflict do nothing`;
    return s.id as string;
  } finally {
    await sql.end();
  }
}

Deno.test("who am I, and which stores: everything for a platform admin, one store for its owner", opts, async () => {
  const admin = await as(PLATFORM, true);
  const owner = await as(ACME_OWNER);
  const me = await owner("GET", "/me");
  assert.equal(me.status, 200);
  const roles = new Map(me.body.stores.map((s: { slug: string; role: string }) => [s.slug, s.role]));
  assert.equal(roles.get("acme"), "owner");
  assert.ok(!roles.has("globex"), "a store they do not belong to is not listed");
  assert.equal(me.body.platform_admin, false);
  const all = (await admin("GET", "/stores")).body.stores.map((s: { slug: string }) => s.slug);
  assert.ok(all.includes("acme") && all.includes("globex"));
  const mine = (await owner("GET", "/stores")).body.stores.map((s: { slug: string }) => s.slug);
  assert.ok(mine.includes("acme") && !mine.includes("globex"));
  const noUser = await fetch(`${base}/me`, { headers: { authorization: `Bearer ${stack.anonKey}` } });
  assert.equal(noUser.status, 401);
  await noUser.body?.cancel();
});

Deno.test("a store administrator never sees another store's unmapped contacts, whatever they call", opts, async () => {
  const globex = await queueIn("globex", "+14155550901");
  const acme = await queueIn("acme", "+14155550902");
  const owner = await as(ACME_OWNER);
  const admin = await as(PLATFORM, true);
  const mine = await owner("GET", "/unmapped?limit=200");
  const phones = mine.body.contacts.map((c: { phone_e164: string }) => c.phone_e164);
  assert.ok(phones.includes("+14155550902"));
  assert.ok(!phones.includes("+14155550901"), "globex's contact is not listed");
  assert.equal((await owner("GET", `/unmapped?store_id=${globex}`)).body.contacts.length, 0);
  assert.equal((await owner("GET", `/unmapped/${globex}/${encodeURIComponent("+14155550901")}`)).status, 404);
  const ignore = await owner("POST", `/unmapped/${globex}/${encodeURIComponent("+14155550901")}/ignore`);
  assert.equal(ignore.status, 403, "and cannot act on it");
  const all = (await admin("GET", "/unmapped?limit=200")).body.contacts.map((c: { phone_e164: string }) =>
    c.phone_e164
  );
  assert.ok(all.includes("+14155550901") && all.includes("+14155550902"));
  assert.equal((await owner("POST", `/unmapped/${acme}/${encodeURIComponent("+14155550902")}/ignore`)).status, 200);
});

Deno.test("mapping through the API enqueues the move, is audited, and the job is visible", opts, async () => {
  const acme = await queueIn("acme", "+14155550903");
  const owner = await as(ACME_OWNER);
  const r = await owner("POST", `/unmapped/${acme}/${encodeURIComponent("+14155550903")}/map`, {
    user_id: "00000000-0000-4000-8000-00000000a002",
  });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  const job = await owner("GET", `/jobs/${r.body.job_id}`);
  assert.equal(job.status, 200);
  assert.equal(job.body.job.kind, "archive.map_contact");
  const bad = await owner("POST", `/unmapped/${acme}/${encodeURIComponent("+14155550903")}/map`, { user_id: "nope" });
  assert.equal(bad.status, 400);
  assert.match(bad.body.error.details[0], /user_id/);
  const sql = connect(stack.dbUrl, { max: 1 });
  try {
    const [a] = await sql`select actor from private.audit_log where target = ${`contact:${acme}:+14155550903`}`;
    assert.equal(a.actor, `user:${ACME_OWNER}`);
  } finally {
    await sql.end();
  }
});

Deno.test("dead jobs are listed with their reason and replay; other stores' jobs are invisible", opts, async () => {
  const sql = connect(stack.dbUrl, { max: 1 });
  try {
    const kind = `test.admin${crypto.randomUUID().slice(0, 6)}`;
    const [globex] = await sql`select id from public.stores where slug = 'globex'`;
    const [acme] = await sql`select id from public.stores where slug = 'acme'`;
    const ids = [];
    for (const store of [acme.id, globex.id]) {
      const [{ id }] =
        await sql`select private.enqueue_job(${kind}, '{}', ${`${kind}:${store}`}, ${store}, now(), 1)::text as id`;
      const [c] = await sql`select lease::text from private.claim_jobs('t', 1, interval '60 s', array[${kind}])`;
      await sql`select private.fail_job(${id}::bigint, ${c.lease}::uuid, 'Chatwoot said 500')`;
      ids.push(id);
    }
    const owner = await as(ACME_OWNER);
    const dead = (await owner("GET", "/jobs?status=dead&limit=200")).body.jobs.map((j: { id: string }) => String(j.id));
    assert.ok(dead.includes(ids[0]));
    assert.ok(!dead.includes(ids[1]), "globex's dead job is not listed for acme's owner");
    assert.equal((await owner("POST", `/jobs/${ids[1]}/replay`)).status, 404);
    const replay = await owner("POST", `/jobs/${ids[0]}/replay`);
    assert.equal(replay.status, 200);
    const [j] = await sql`select status::text from private.jobs where id = ${ids[0]}`;
    assert.equal(j.status, "queued");
  } finally {
    await sql.end();
  }
});

Deno.test("archived media downloads through a short-lived signed URL checked by the emulator", opts, async () => {
  const sql = connect(stack.dbUrl, { max: 2 });
  const bytes = new Uint8Array(3000).map((_, i) => (i * 7) % 256);
  const media = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    () => new Response(bytes, { headers: { "content-type": "audio/ogg" } }),
  );
  try {
    // A WhatsApp voice note in acme's (provisioned) Chatwoot account, archived for real.
    const account = await waitFor(
      async () => {
        const [a] = await sql`select a.id, a.account_id from public.chatwoot_accounts a
                            join public.stores s on s.id = a.store_id where s.slug = 'acme'`;
        return a ?? null;
      },
      "acme to be provisioned",
      30_000,
    );
    const messageId = 990_000 + Math.floor(Math.random() * 9000);
    const base = fixture("whatsapp-voice-note.message_created.json") as Record<string, unknown> & {
      attachments: Record<string, unknown>[];
    };
    const body = {
      ...base,
      id: messageId,
      attachments: base.attachments.map((x) => ({
        ...x,
        id: messageId,
        message_id: messageId,
        data_url: `http://127.0.0.1:${media.addr.port}/voice.ogg`,
      })),
    };
    const parsed = parseChatwootEvent(body);
    if (!parsed.ok) throw new Error("fixture does not parse");
    await ingestDelivery(sql, {
      accountRef: account.id,
      deliveryId: crypto.randomUUID(),
      event: "message_created",
      rows: mirrorRows(normalizeChatwootEvent(parsed.event, account.account_id)),
    });
    const policy = testBucketPolicy("sbadmin", { labels: {} });
    // A GCS project of this test's own: its one bucket create has the project's quota to itself.
    const project = `admin-test-${crypto.randomUUID().slice(0, 8)}`;
    const storage = createStorage({ apiEndpoint: Deno.env.get("GCS_ENDPOINT")!, projectId: project });
    await archiveMessage(
      {
        sql,
        storage,
        policy,
        mediaMaxBytes: 1 << 20,
        mediaTimeoutMs: 5000,
        bucketQuota: { project, intervalMs: 2100 },
      },
      account.id,
      messageId,
    );
    const [row] = await sql`select account_ref, attachment_id, size from public.archived_media
                            where account_ref = ${account.id} and message_id = ${messageId}`;
    assert.equal(Number(row.size), 3000);

    const owner = await as(ACME_OWNER);
    const r = await owner("GET", `/archive/media/${row.account_ref}/${row.attachment_id}/url`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.match(r.body.url, /X-Goog-Signature=/);
    assert.ok(Date.parse(r.body.expires_at) - Date.now() <= 300_000, "the URL lives five minutes at most");
    const download = await fetch(r.body.url);
    assert.equal(download.status, 200);
    assert.deepEqual(new Uint8Array(await download.arrayBuffer()), bytes, "the downloaded bytes are the archived ones");
    const tampered = await fetch(
      r.body.url.replace(
        /X-Goog-Signature=([0-9a-f])/,
        (_m: string, c: string) => `X-Goog-Signature=${c === "0" ? "1" : "0"}`,
      ),
    );
    assert.equal(tampered.status, 403, "a tampered signature is refused");
    await tampered.body?.cancel();
    const globexOwner = await as("00000000-0000-4000-8000-00000000b001");
    const foreign = await globexOwner("GET", `/archive/media/${row.account_ref}/${row.attachment_id}/url`);
    assert.equal(foreign.status, 404, "another store's admin gets no URL for it");
  } finally {
    await media.shutdown();
    await sql.end();
  }
});

Deno.test("suspend and reactivate through the API: store admins of that store only, audited", opts, async () => {
  const sql = connect(stack.dbUrl, { max: 1 });
  try {
    const slug = `s-${crypto.randomUUID().slice(0, 8)}`;
    const [store] =
      await sql`insert into public.stores (slug, name, chatwoot_provisioning) values (${slug}, 'Suspendable', 'manual')
                              returning id`;
    await sql`insert into public.store_members (store_id, user_id, role) values (${store.id}, ${ACME_OWNER}, 'admin')`;
    const owner = await as(ACME_OWNER);
    const globexOwner = await as("00000000-0000-4000-8000-00000000b001");
    assert.equal(
      (await globexOwner("POST", `/stores/${slug}/suspend`)).status,
      404,
      "another store's admin cannot even see it",
    );
    const r = await owner("POST", `/stores/${slug}/suspend`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const [s1] = await sql`select status from public.stores where id = ${store.id}`;
    assert.equal(s1.status, "suspended");
    assert.equal((await owner("POST", `/stores/${slug}/reactivate`)).status, 200);
    const [s2] = await sql`select status from public.stores where id = ${store.id}`;
    assert.equal(s2.status, "active");
    const audit = await sql`select action from private.audit_log where target = ${`store:${store.id}`} order by id`;
    assert.deepEqual(audit.map((a) => a.action), ["store.suspend", "store.reactivate"]);
  } finally {
    await sql.end();
  }
});

Deno.test(
  "erasing an archive through the API: platform admins follow its progress, store admins see nothing",
  opts,
  async () => {
    const sql = connect(stack.dbUrl, { max: 1 });
    const userId = crypto.randomUUID();
    try {
      await sql`insert into auth.users (id, email) values (${userId}, ${`${userId}@api-erase.test`})`;
      const admin = await as(PLATFORM, true);
      const owner = await as(ACME_OWNER);
      const refused = await owner("POST", `/archive/users/${userId}/erase`);
      assert.equal(refused.status, 403, JSON.stringify(refused.body));
      const started = await admin("POST", `/archive/users/${userId}/erase`);
      assert.equal(started.status, 202, JSON.stringify(started.body));
      assert.equal(started.body.status, "erasing");
      const id = started.body.erasure_id;
      assert.match(id, /^[0-9a-f-]{36}$/);
      // Nothing to erase: the stack's worker completes it in one run.
      const done = await waitFor(
        async () => {
          const r = await admin("GET", `/archive/erasures/${id}`);
          return r.body.status === "completed" ? r.body : null;
        },
        "the erasure to complete",
        30_000,
      );
      assert.equal(done.user_id, userId);
      assert.equal(done.email, `${userId}@api-erase.test`);
      assert.equal(done.percent, 100);
      assert.equal(done.objects_deleted, 0);
      assert.equal(done.requested_by, `user:${PLATFORM}`);
      const list = await admin("GET", `/archive/erasures?user_id=${userId}`);
      assert.deepEqual(list.body.erasures.map((e: { id: string }) => e.id), [id]);
      assert.equal((await owner("GET", `/archive/erasures/${id}`)).status, 404, "a store admin cannot see it");
      assert.deepEqual((await owner("GET", "/archive/erasures")).body.erasures, [], "nor list any");
      assert.equal((await admin("GET", "/archive/erasures/nope")).status, 400);
    } finally {
      await sql`delete from auth.users where id = ${userId}`;
      await sql.end();
    }
  },
);

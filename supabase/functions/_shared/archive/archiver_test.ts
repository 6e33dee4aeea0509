// The WhatsApp archive against the GCS emulator, through the real @google-cloud/storage SDK:
// the right bucket, one object per message and per medium with matching checksums, one bucket
// however many jobs race, retries through GCS 503s and stalled media links, no partial object
// after a crash mid-upload, the review queue and mapping that moves everything (erasure: erasure_test.ts).

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { connect, type Sql, type TransactionSql, withRls } from "../platform/db.ts";
import { testStack } from "../../../../scripts/testing/env.ts";
import { fixture, insertLinkedAccount, type TestAccount } from "../../../../scripts/testing/chatwoot.ts";
import { parseChatwootEvent } from "../chatwoot/events.ts";
import { normalizeChatwootEvent } from "../chatwoot/normalize.ts";
import { ingestDelivery, mirrorRows } from "../chatwoot/ingest.ts";
import { type ArchiveDeps, archiveJobHandlers, archiveMessage, moveContactArchive } from "./archiver.ts";
import { cpuMeter, Deferred, enqueueJob, runJobBatch } from "../jobs/queue.ts";
import { createMemoryLogger } from "../platform/log.ts";
import { type BucketPolicy, holdingBucketName, userBucketName } from "./buckets.ts";
import { createStorage } from "./storage.ts";
import { listReviewQueue, mapContact } from "./review.ts";
import { DEFAULT_BUCKET_OPS_INTERVAL_MS } from "./bucket_quota.ts";
import { testBucketPolicy } from "../../../../scripts/testing/archive.ts";

/** The review as an operator does it: the service role, through the checked SQL functions. */
const asOperator = <T>(sql: Sql, fn: (tx: TransactionSql) => Promise<T>) =>
  withRls(sql, { role: "service_role", actor: "test" }, fn);

const stack = testStack();
const gcsEndpoint = Deno.env.get("GCS_ENDPOINT");
if (!gcsEndpoint) throw new Error("GCS_ENDPOINT is not set: run through `npm test`");
const opts = { sanitizeOps: false, sanitizeResources: false };
const storage = createStorage({ apiEndpoint: gcsEndpoint });

/** Runs an archive step as the queue would: one that must wait for its bucket's slot in the
 * project's bucket quota (Deferred) runs again after the wait it asked for. */
async function asQueued<T>(step: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await step();
    } catch (err) {
      if (!(err instanceof Deferred)) throw err;
      await new Promise((r) => setTimeout(r, err.delayMs));
    }
  }
}
const archive = (d: ArchiveDeps, accountRef: string, messageId: number, cpu?: ReturnType<typeof cpuMeter>) =>
  asQueued(() => archiveMessage(d, accountRef, messageId, cpu));

// ── a media server standing in for Chatwoot's ActiveStorage redirect target ─────────────────
const served = new Map<string, number>();
function bytesFor(key: string, size: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(new ArrayBuffer(size));
  let x = [...key].reduce((a, c) => a * 31 + c.charCodeAt(0), 7) >>> 0;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}
const media = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, (req) => {
  const url = new URL(req.url);
  const [, , mode, key] = url.pathname.split("/");
  const size = Number(url.searchParams.get("size") ?? 2048);
  served.set(`${mode}/${key}`, (served.get(`${mode}/${key}`) ?? 0) + 1);
  const body = bytesFor(key, size);
  if (mode === "ok") return new Response(body, { headers: { "content-type": "audio/ogg" } });
  if (mode === "flaky" && served.get(`${mode}/${key}`)! <= 1) return new Response("busy", { status: 503 });
  if (mode === "flaky") return new Response(body, { headers: { "content-type": "image/jpeg" } });
  if (mode === "stall" || mode === "drop") {
    const first = served.get(`${mode}/${key}`)! <= 1;
    if (!first) return new Response(body, { headers: { "content-type": "video/mp4" } });
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(body.slice(0, size / 2));
        if (mode === "drop") setTimeout(() => c.error(new Error("connection reset")), 20);
        // stall: never enqueue the rest, never close
      },
    });
    return new Response(stream, { headers: { "content-type": "video/mp4", "content-length": String(size) } });
  }
  if (mode === "gone") return new Response("gone", { status: 404 });
  return new Response("?", { status: 400 });
});
const mediaBase = `http://127.0.0.1:${media.addr.port}/media`;

function deps(sql: Sql, extra: Partial<ArchiveDeps> = {}): ArchiveDeps {
  const policy: BucketPolicy = testBucketPolicy("sbtest");
  // Each test is a GCS project of its own, with GCS's bucket quota (the emulator's default) and the
  // product's limiter in front of it: only a test's own bucket creates wait for each other.
  const project = `archiver-test-${crypto.randomUUID().slice(0, 8)}`;
  return {
    sql,
    storage: createStorage({ apiEndpoint: gcsEndpoint, projectId: project }),
    bucketStorage: createStorage({ apiEndpoint: gcsEndpoint, projectId: project, retries: false }),
    bucketQuota: { project, intervalMs: DEFAULT_BUCKET_OPS_INTERVAL_MS },
    policy,
    mediaMaxBytes: 1024 * 1024,
    mediaTimeoutMs: 1500,
    ...extra,
  };
}

const usersByPhone = new Map<string, string>();
function userBucketNameFor(d: ArchiveDeps, phone: string): string {
  return userBucketName(d.policy, usersByPhone.get(phone)!);
}

async function newUser(sql: Sql, phone: string): Promise<string> {
  const id = crypto.randomUUID();
  usersByPhone.set(phone, id);
  await sql`insert into auth.users (id, email, raw_user_meta_data)
            values (${id}, ${`${id}@archive.test`}, ${sql.json({ full_name: "Archive User", phone_e164: phone })})`;
  return id;
}

/** Ingests a WhatsApp message (voice-note fixture, with our own ids, phone and media URL) and
 * drops the archive job the trigger queued, so the test runs the archiver itself. */
async function whatsappMessage(
  sql: Sql,
  account: TestAccount,
  o: { messageId: number; phone: string; mediaUrl?: string | null; conversationId?: number; contactId?: number },
) {
  const base = fixture("whatsapp-voice-note.message_created.json") as Record<string, unknown> & {
    conversation: Record<string, unknown> & { meta: Record<string, unknown> };
    sender: Record<string, unknown>;
    attachments: Record<string, unknown>[];
  };
  const contactId = o.contactId ?? o.messageId;
  const sender = { ...base.sender, id: contactId, phone_number: o.phone };
  const body = {
    ...base,
    id: o.messageId,
    sender,
    conversation: {
      ...base.conversation,
      id: o.conversationId ?? 700,
      contact_inbox: { ...(base.conversation.contact_inbox as object), source_id: o.phone.slice(1) },
      meta: { ...base.conversation.meta, sender: { ...sender, type: "contact" } },
    },
    attachments: o.mediaUrl === null ? [] : base.attachments.map((a) => ({
      ...a,
      id: o.messageId * 10,
      message_id: o.messageId,
      data_url: o.mediaUrl ?? `${mediaBase}/ok/m${o.messageId}?size=4096`,
    })),
  };
  const parsed = parseChatwootEvent(body);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed));
  await sql.begin(async (tx) => {
    await ingestDelivery(tx, {
      accountRef: account.accountRef,
      deliveryId: crypto.randomUUID(),
      event: "message_created",
      rows: mirrorRows(normalizeChatwootEvent(parsed.event, account.accountId)),
    });
    await tx`delete from private.jobs where kind = 'archive.message' and payload ->> 'account_ref' = ${account.accountRef}`;
  });
}

/** Counts the SDK's object downloads (GET …/o/…?alt=media) from now on: a fault rule that only
 * delays by 0 ms, whose `applied` the emulator keeps. */
async function countDownloads(): Promise<{ count(): Promise<number>; stop(): Promise<void> }> {
  const res = await fetch(`${gcsEndpoint}/_control/faults`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ mode: "slow", ms: 0, method: "GET", path: "/storage/v1/b/*?*alt=media*" }),
  });
  const [rule] = (await res.json()).faults;
  return {
    async count() {
      const { faults } = await (await fetch(`${gcsEndpoint}/_control/faults`)).json();
      return faults.find((f: { id: string }) => f.id === rule.id).applied;
    },
    stop: () => fetch(`${gcsEndpoint}/_control/faults/${rule.id}`, { method: "DELETE" }).then((r) => r.body?.cancel()),
  };
}

async function objectBytes(bucket: string, name: string): Promise<Uint8Array> {
  const [buf] = await storage.bucket(bucket).file(name).download();
  return new Uint8Array(buf);
}

Deno.test("a WhatsApp voice note ends as one JSON object and one media object in its user's bucket", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const d = deps(sql);
    const account = await insertLinkedAccount(sql);
    const user = await newUser(sql, "+5511987650001");
    await whatsappMessage(sql, account, { messageId: 810001, phone: "+5511987650001" });
    assert.equal(await archive(d, account.accountRef, 810001), "archived");
    assert.equal(await archive(d, account.accountRef, 810001), "unchanged", "a second run writes nothing");

    const bucket = userBucketName(d.policy, user);
    const [msg] = await sql`select * from public.archived_messages where account_ref = ${account.accountRef}`;
    const files = await sql`select * from public.archived_media where account_ref = ${account.accountRef}`;
    assert.equal(msg.bucket, bucket);
    assert.equal(msg.user_id, user);
    assert.equal(files.length, 1);
    const [objects] = await storage.bucket(bucket).getFiles();
    assert.equal(objects.length, 2, "one JSON document, one medium");

    const doc = JSON.parse(new TextDecoder().decode(await objectBytes(bucket, msg.object_name)));
    assert.equal(doc.chatwoot.message_id, 810001);
    assert.equal(doc.contact.phone_e164, "+5511987650001");
    assert.equal(doc.store_id, account.storeId);
    assert.equal(doc.attachments[0].object.name, files[0].object_name);

    const bytes = await objectBytes(bucket, files[0].object_name);
    assert.deepEqual(bytes, bytesFor("m810001", 4096), "the medium's bytes are the link's bytes");
    assert.equal(files[0].sha256, createHash("sha256").update(bytes).digest("hex"));
    assert.equal(Number(files[0].size), 4096);
    const [meta] = await storage.bucket(bucket).file(files[0].object_name).getMetadata();
    assert.equal(files[0].crc32c, meta.crc32c);
    assert.equal(meta.contentType, "audio/ogg");
  } finally {
    await sql.end();
  }
});

Deno.test("two jobs for a new user's first messages create one bucket, with its lifecycle rules", opts, async () => {
  const sql = connect(stack.dbUrl, { max: 6 });
  try {
    const d = deps(sql);
    const account = await insertLinkedAccount(sql);
    const user = await newUser(sql, "+14155550177");
    await whatsappMessage(sql, account, { messageId: 820001, phone: "+14155550177", mediaUrl: null });
    await whatsappMessage(sql, account, { messageId: 820002, phone: "+14155550177", mediaUrl: null });
    const results = await Promise.all([
      archive(d, account.accountRef, 820001),
      archive(d, account.accountRef, 820002),
    ]);
    assert.deepEqual(results, ["archived", "archived"]);
    const bucket = userBucketName(d.policy, user);
    const [buckets] = await storage.getBuckets({ prefix: bucket });
    assert.equal(buckets.length, 1);
    const [meta] = await storage.bucket(bucket).getMetadata();
    assert.deepEqual(
      meta.lifecycle?.rule?.map((r: { action: { storageClass?: string }; condition: { age?: number } }) => [
        r.action.storageClass,
        r.condition.age,
      ]),
      [["NEARLINE", 30], ["COLDLINE", 90], ["ARCHIVE", 365]],
    );
    assert.equal(meta.iamConfiguration?.uniformBucketLevelAccess?.enabled, true);
    assert.equal(meta.labels?.app, "switchboard");
    const rows = await sql`select * from public.archive_buckets where owner_user_id = ${user}`;
    assert.equal(rows.length, 1);
  } finally {
    await sql.end();
  }
});

Deno.test(
  "a stalled media link fails the attempt; the retry archives it; no partial object is ever left",
  opts,
  async () => {
    const sql = connect(stack.dbUrl);
    try {
      const d = deps(sql);
      const account = await insertLinkedAccount(sql);
      const user = await newUser(sql, "+525512340001");
      const bucket = userBucketName(d.policy, user);
      for (const [i, mode] of [[1, "stall"], [2, "drop"], [3, "flaky"]] as const) {
        const id = 830000 + i;
        await whatsappMessage(sql, account, {
          messageId: id,
          phone: "+525512340001",
          mediaUrl: `${mediaBase}/${mode}/k${id}?size=65536`,
        });
        await assert.rejects(archive(d, account.accountRef, id), Error, `${mode}: the first attempt fails`);
        const [files] = await storage.bucket(bucket).getFiles({ prefix: `stores/${account.storeId}` });
        assert.ok(!files.some((f) => f.name.includes(`/media/${id}-`)), `${mode}: no partial object`);
        assert.equal(await archive(d, account.accountRef, id), "archived", `${mode}: the retry archives`);
        const [m] =
          await sql`select size, sha256 from public.archived_media where account_ref = ${account.accountRef} and message_id = ${id}`;
        assert.equal(Number(m.size), 65536);
        assert.equal(m.sha256, createHash("sha256").update(bytesFor(`k${id}`, 65536)).digest("hex"));
      }
    } finally {
      await sql.end();
    }
  },
);

Deno.test("an unknown number is held for review; mapping moves every object and record", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const d = deps(sql);
    const account = await insertLinkedAccount(sql);
    const phone = "+5511912340002";
    await whatsappMessage(sql, account, { messageId: 840001, phone });
    await whatsappMessage(sql, account, { messageId: 840002, phone, mediaUrl: null });
    for (const id of [840001, 840002]) assert.equal(await archive(d, account.accountRef, id), "archived");
    const holding = holdingBucketName(d.policy);
    const held =
      await sql`select bucket, user_id from public.archived_messages where account_ref = ${account.accountRef}`;
    assert.deepEqual(held.map((r) => [r.bucket, r.user_id]), [[holding, null], [holding, null]]);
    const queue = await asOperator(sql, (tx) => listReviewQueue(tx, { store_id: account.storeId, limit: 10 }));
    assert.deepEqual(queue.contacts.map((c) => [c.phone_e164, c.messages, c.media]), [[phone, 2, 1]]);

    const user = await newUser(sql, "+14155550999"); // a number that does not match: an admin decides
    await asOperator(sql, (tx) => mapContact(tx, { storeId: account.storeId, phone, userId: user }));
    await sql`delete from private.jobs where kind = 'archive.map_contact' and store_id = ${account.storeId}`;
    const downloads = await countDownloads();
    try {
      assert.equal(await asQueued(() => moveContactArchive(d, account.storeId, phone)), 2);
      assert.equal(await downloads.count(), 0, "the copied medium is confirmed by its metadata, not downloaded");
    } finally {
      await downloads.stop();
    }
    const bucket = userBucketName(d.policy, user);
    const moved =
      await sql`select bucket, user_id from public.archived_messages where account_ref = ${account.accountRef}`;
    assert.deepEqual(moved.map((r) => [r.bucket, r.user_id]), [[bucket, user], [bucket, user]]);
    const [mediaRow] = await sql`select bucket from public.archived_media where account_ref = ${account.accountRef}`;
    assert.equal(mediaRow.bucket, bucket);
    const [left] = await storage.bucket(holding).getFiles({ prefix: `stores/${account.storeId}/` });
    assert.equal(left.length, 0, "nothing of the contact is left in the holding bucket");
    const [there] = await storage.bucket(bucket).getFiles({ prefix: `stores/${account.storeId}/` });
    assert.equal(there.length, 3);
    const doc = JSON.parse(
      new TextDecoder().decode(await objectBytes(bucket, there.find((f) => f.name.endsWith("840001.json"))!.name)),
    );
    assert.equal(doc.contact.mapped_user_id, user);
    assert.equal(
      (await asOperator(sql, (tx) => listReviewQueue(tx, { store_id: account.storeId, limit: 10 }))).contacts.length,
      0,
    );
    // An admin's mapping is final: a later message stays with that user even though it matches no profile.
    await whatsappMessage(sql, account, { messageId: 840003, phone, mediaUrl: null });
    await archive(d, account.accountRef, 840003);
    const [later] =
      await sql`select user_id from public.archived_messages where account_ref = ${account.accountRef} and message_id = 840003`;
    assert.equal(later.user_id, user);
  } finally {
    await sql.end();
  }
});

Deno.test("the Brazilian and Mexican variants of one number map to the same user", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const d = deps(sql);
    const account = await insertLinkedAccount(sql);
    const br = await newUser(sql, "+5511987650003");
    const mx = await newUser(sql, "+525512340003");
    await whatsappMessage(sql, account, {
      messageId: 850001,
      phone: "+551187650003",
      mediaUrl: null,
      conversationId: 851,
    });
    await whatsappMessage(sql, account, {
      messageId: 850002,
      phone: "+5215512340003",
      mediaUrl: null,
      conversationId: 852,
    });
    await archive(d, account.accountRef, 850001);
    await archive(d, account.accountRef, 850002);
    const rows = await sql`select message_id, user_id, phone_e164 from public.archived_messages
                           where account_ref = ${account.accountRef} order by message_id`;
    assert.deepEqual(rows.map((r) => [Number(r.message_id), r.user_id, r.phone_e164]), [
      [850001, br, "+5511987650003"],
      [850002, mx, "+525512340003"],
    ]);
  } finally {
    await sql.end();
  }
});

Deno.test("GCS 503s fail the attempt, the job is retried, and the message is archived exactly once", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const d = deps(sql);
    const account = await insertLinkedAccount(sql);
    await newUser(sql, "+5511987650005");
    // The bucket exists first, so the faults hit object uploads only.
    await whatsappMessage(sql, account, { messageId: 870000, phone: "+5511987650005", mediaUrl: null });
    await archive(d, account.accountRef, 870000);
    await whatsappMessage(sql, account, { messageId: 870001, phone: "+5511987650005" });
    const fault = await fetch(`${gcsEndpoint}/_control/faults`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ mode: "503", method: "POST", path: "/upload/storage/v1/b/*", count: 6 }),
    });
    assert.ok(fault.ok, await fault.text());
    // The archive handler under a kind of this test's own, through the real queue.
    const kind = `test.archive_${crypto.randomUUID().slice(0, 8)}`;
    const jobId = await enqueueJob(sql, {
      kind,
      payload: { account_ref: account.accountRef, message_id: 870001 },
      idempotencyKey: `${kind}:870001`,
    });
    const registry = { [kind]: archiveJobHandlers(d)["archive.message"] };
    let runs = 0;
    for (; runs < 8; runs++) {
      await sql`update private.jobs set run_at = now() where id = ${jobId}`;
      await runJobBatch({ sql, registry, log: createMemoryLogger(), worker: "test", limit: 1 });
      const [job] = await sql`select status::text from private.jobs where id = ${jobId}`;
      if (job.status === "completed") break;
      assert.equal(job.status, "queued", "a 503 re-queues the job with backoff");
    }
    assert.ok(runs >= 1, "at least one attempt failed on the injected 503s");
    const [job] = await sql`select status::text, attempts, last_error from private.jobs where id = ${jobId}`;
    assert.equal(job.status, "completed");
    const rows = await sql`select object_name from public.archived_media where account_ref = ${account.accountRef}`;
    assert.equal(rows.length, 1);
    const [files] = await storage.bucket(userBucketNameFor(d, "+5511987650005")).getFiles({
      prefix: `stores/${account.storeId}/`,
    });
    assert.equal(files.length, 3, "two documents and one medium: nothing duplicated by the retries");
  } finally {
    await fetch(`${gcsEndpoint}/_control/faults`, { method: "DELETE" }).then((r) => r.body?.cancel());
    await sql.end();
  }
});

Deno.test(
  "a 429 on bucket creation defers the job to a later slot without using an attempt, and makes one bucket",
  opts,
  async () => {
    const sql = connect(stack.dbUrl);
    try {
      const d = deps(sql);
      const account = await insertLinkedAccount(sql);
      const user = await newUser(sql, "+5511987650007");
      await whatsappMessage(sql, account, { messageId: 880001, phone: "+5511987650007", mediaUrl: null });
      // GCS throttles the project anyway (another client of it, say): the one request gets a 429.
      const fault = await fetch(`${gcsEndpoint}/_control/faults`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ mode: "429", method: "POST", path: "/storage/v1/b", count: 1 }),
      });
      assert.ok(fault.ok, await fault.text());
      const kind = `test.archive_${crypto.randomUUID().slice(0, 8)}`;
      const jobId = await enqueueJob(sql, {
        kind,
        payload: { account_ref: account.accountRef, message_id: 880001 },
        idempotencyKey: `${kind}:880001`,
      });
      const registry = { [kind]: archiveJobHandlers(d)["archive.message"] };
      const run = () => runJobBatch({ sql, registry, log: createMemoryLogger(), worker: "test", limit: 1 });

      assert.equal((await run()).deferred, 1, "the 429 defers the job");
      const [waiting] = await sql`select status::text, attempts, deferrals, last_error,
                                       extract(epoch from run_at - now()) * 1000 as wait_ms
                                from private.jobs where id = ${jobId}`;
      assert.deepEqual([waiting.status, waiting.attempts, waiting.deferrals], ["queued", 0, 1]);
      assert.match(waiting.last_error, /GCS throttled the create \(429/);
      assert.ok(Number(waiting.wait_ms) >= 1500, `it waits for a later slot (${waiting.wait_ms} ms)`);
      const bucket = userBucketName(d.policy, user);
      const [op] = await sql`select throttled from private.gcs_bucket_operations where bucket = ${bucket}`;
      assert.equal(op.throttled, 1);

      for (let i = 0; i < 5; i++) {
        const [job] = await sql`select status::text, extract(epoch from run_at - now()) * 1000 as wait_ms
                              from private.jobs where id = ${jobId}`;
        if (job.status === "completed") break;
        await new Promise((r) => setTimeout(r, Math.max(0, Number(job.wait_ms)) + 20));
        await run();
      }
      const [done] = await sql`select status::text, attempts from private.jobs where id = ${jobId}`;
      assert.deepEqual([done.status, done.attempts], ["completed", 1], "archived, on its first counted attempt");
      assert.equal((await storage.getBuckets({ prefix: bucket }))[0].length, 1);
      const left = await sql`select 1 from private.gcs_bucket_operations where bucket = ${bucket}`;
      assert.equal(left.length, 0, "the bucket's slot is released once it exists");
    } finally {
      await fetch(`${gcsEndpoint}/_control/faults`, { method: "DELETE" }).then((r) => r.body?.cancel());
      await sql.end();
    }
  },
);

Deno.test(
  "re-archiving a message whose medium is stored (a transcript arrives) reuses its hashes and downloads nothing",
  opts,
  async () => {
    const sql = connect(stack.dbUrl);
    const downloads = await countDownloads();
    try {
      const d = deps(sql);
      const account = await insertLinkedAccount(sql);
      await newUser(sql, "+5511987650010");
      await whatsappMessage(sql, account, { messageId: 890001, phone: "+5511987650010" });
      assert.equal(await archive(d, account.accountRef, 890001), "archived");
      const [before] = await sql`select object_name, generation::text, sha256 from public.archived_media
                               where account_ref = ${account.accountRef} and message_id = 890001`;
      const fetched = served.get("ok/m890001");
      await sql`update public.chatwoot_attachments set transcribed_text = 'Bom dia'
              where account_ref = ${account.accountRef} and message_id = 890001`;
      assert.equal(await archive(d, account.accountRef, 890001), "archived", "the transcript re-archives the message");
      const [after] = await sql`select object_name, generation::text, sha256 from public.archived_media
                              where account_ref = ${account.accountRef} and message_id = 890001`;
      assert.deepEqual(after, before, "the same medium, generation and SHA-256");
      assert.equal(await downloads.count(), 0, "no medium read back from GCS (the SDK's download path)");
      assert.equal(served.get("ok/m890001"), fetched, "nor fetched again from Chatwoot");
    } finally {
      await downloads.stop();
      await sql.end();
    }
  },
);

Deno.test(
  "a user's bucket name owned by another GCS project dead-letters the job at once, saying what to change",
  opts,
  async () => {
    const sql = connect(stack.dbUrl);
    const d = deps(sql);
    const account = await insertLinkedAccount(sql);
    const user = await newUser(sql, "+5511987650011");
    const bucket = userBucketName(d.policy, user);
    const foreign = (method: string, path = "") =>
      fetch(`${gcsEndpoint}/_control/foreign-buckets${path}`, {
        method,
        headers: { "content-type": "application/json" },
        body: method === "POST" ? JSON.stringify({ name: bucket }) : undefined,
      }).then((r) => r.body?.cancel());
    try {
      await foreign("POST");
      await whatsappMessage(sql, account, { messageId: 890101, phone: "+5511987650011", mediaUrl: null });
      const kind = `test.archive_${crypto.randomUUID().slice(0, 8)}`;
      const jobId = await enqueueJob(sql, {
        kind,
        payload: { account_ref: account.accountRef, message_id: 890101 },
        idempotencyKey: `${kind}:890101`,
      });
      const registry = { [kind]: archiveJobHandlers(d)["archive.message"] };
      const summary = await runJobBatch({ sql, registry, log: createMemoryLogger(), worker: "test", limit: 1 });
      assert.equal(summary.dead, 1, "a name that is not ours never will be: no retries");
      const [job] = await sql`select status::text, attempts, last_error from private.jobs where id = ${jobId}`;
      assert.equal(job.status, "dead");
      assert.match(job.last_error, new RegExp(`bucket ${bucket} exists but belongs to another project`));
      assert.match(job.last_error, /does not have storage\.buckets\.get access/, "GCS's 403, as it said it");
      assert.match(job.last_error, /change ARCHIVE_BUCKET_SALT/);
      const [op] = await sql`select started_at from private.gcs_bucket_operations where bucket = ${bucket}`;
      assert.equal(op.started_at, null, "no worker holds its slot");
    } finally {
      await foreign("DELETE", `/${bucket}`);
      await sql.end();
    }
  },
);

Deno.test(
  "hashing a medium is charged to the worker run's CPU budget, and its checksum still checked",
  opts,
  async () => {
    const sql = connect(stack.dbUrl);
    try {
      const size = 4 * 1024 * 1024;
      const d = deps(sql, { mediaMaxBytes: 2 * size, mediaTimeoutMs: 15_000 });
      const account = await insertLinkedAccount(sql);
      await newUser(sql, "+5511987650099");
      await whatsappMessage(sql, account, {
        messageId: 880001,
        phone: "+5511987650099",
        mediaUrl: `${mediaBase}/ok/cpu-charged?size=${size}`,
      });
      const cpu = cpuMeter();
      assert.equal(await archive(d, account.accountRef, 880001, cpu), "archived");
      assert.ok(cpu.spentMs() > 0, "SHA-256 and CRC32C of 4 MiB take measurable time, charged to the run");
      const [file] = await sql`select bucket, object_name, sha256, crc32c from public.archived_media
                             where account_ref = ${account.accountRef}`;
      const bytes = await objectBytes(file.bucket, file.object_name);
      assert.equal(bytes.length, size);
      assert.equal(file.sha256, createHash("sha256").update(bytes).digest("hex"));
      const [meta] = await storage.bucket(file.bucket).file(file.object_name).getMetadata();
      assert.equal(file.crc32c, meta.crc32c, "the recorded CRC32C is the one GCS computed, checked against ours");
    } finally {
      await sql.end();
    }
  },
);

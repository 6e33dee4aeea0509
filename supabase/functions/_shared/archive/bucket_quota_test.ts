// The project's bucket quota against the GCS emulator (which holds GCS's one create or delete per 2 s
// per project, as GCS does): several workers and a burst of new users make one create per interval,
// never a 429, and use no attempt on waiting; an archive without GCS waits, saying why, and never
// calls anyone.

import assert from "node:assert/strict";
import { connect, type Sql } from "../platform/db.ts";
import { testStack } from "../../../../scripts/testing/env.ts";
import { fixture, insertLinkedAccount, type TestAccount } from "../../../../scripts/testing/chatwoot.ts";
import { parseChatwootEvent } from "../chatwoot/events.ts";
import { normalizeChatwootEvent } from "../chatwoot/normalize.ts";
import { ingestDelivery, mirrorRows } from "../chatwoot/ingest.ts";
import { type ArchiveDeps, archiveJobHandlers, unconfiguredWaitMs } from "./archiver.ts";
import { drainQueue, enqueueJob, runJobBatch } from "../jobs/queue.ts";
import { createMemoryLogger } from "../platform/log.ts";
import { type BucketPolicy, userBucketName } from "./buckets.ts";
import { ArchiveNotConfigured, archiveStorage, createStorage, unconfiguredStorage } from "./storage.ts";
import { DEFAULT_BUCKET_OPS_INTERVAL_MS } from "./bucket_quota.ts";
import { DEFAULT_ERASE_OPTIONS, erasureJobHandlers } from "./erasure.ts";
import { ARCHIVE_NOT_CONFIGURED } from "./config.ts";
import { testBucketPolicy } from "../../../../scripts/testing/archive.ts";

const stack = testStack();
const gcsEndpoint = Deno.env.get("GCS_ENDPOINT")!;
const opts = { sanitizeOps: false, sanitizeResources: false };

const policy = (): BucketPolicy => (testBucketPolicy("sbquota"));

/** A WhatsApp text from `phone`, mirrored, its trigger's archive job dropped (the test enqueues its own). */
async function whatsappText(sql: Sql, account: TestAccount, messageId: number, phone: string) {
  const base = fixture("whatsapp-text.message_created.json") as Record<string, unknown> & {
    conversation: Record<string, unknown> & { meta: Record<string, unknown> };
    sender: Record<string, unknown>;
  };
  const sender = { ...base.sender, id: messageId, phone_number: phone };
  const parsed = parseChatwootEvent({
    ...base,
    id: messageId,
    sender,
    conversation: { ...base.conversation, id: messageId, meta: { ...base.conversation.meta, sender } },
  });
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

Deno.test(
  "six new users at once, four workers: one bucket create per interval, no 429, no attempt spent waiting",
  opts,
  async () => {
    const sql = connect(stack.dbUrl, { max: 10 });
    try {
      // A GCS project of this test's own, so the emulator's quota and the product's are this test's alone.
      const project = `quota-test-${crypto.randomUUID().slice(0, 8)}`;
      const d: ArchiveDeps = {
        sql,
        storage: createStorage({ apiEndpoint: gcsEndpoint, projectId: project }),
        bucketStorage: createStorage({ apiEndpoint: gcsEndpoint, projectId: project, retries: false }),
        bucketQuota: { project, intervalMs: DEFAULT_BUCKET_OPS_INTERVAL_MS },
        policy: policy(),
        mediaMaxBytes: 1024,
        mediaTimeoutMs: 1000,
      };
      const account = await insertLinkedAccount(sql);
      const kind = `test.archive_${crypto.randomUUID().slice(0, 8)}`;
      const users: string[] = [];
      for (let i = 0; i < 6; i++) {
        const phone = `+55119876${String(70000 + i).padStart(5, "0")}`;
        const id = crypto.randomUUID();
        users.push(id);
        await sql`insert into auth.users (id, email, raw_user_meta_data)
                  values (${id}, ${`${id}@quota.test`}, ${sql.json({ phone_e164: phone })})`;
        await whatsappText(sql, account, 891000 + i, phone);
        await enqueueJob(sql, {
          kind,
          payload: { account_ref: account.accountRef, message_id: 891000 + i },
          idempotencyKey: `${kind}:${i}`,
        });
      }
      const registry = { [kind]: archiveJobHandlers(d)["archive.message"] };
      const remaining = async () =>
        (await sql`select count(*)::int as n from private.jobs where kind = ${kind} and status <> 'completed'`)[0].n;
      let left = 6;
      const poll = setInterval(async () => left = await remaining(), 100);
      const t0 = performance.now();
      try {
        await Promise.all(Array.from({ length: 4 }, (_, w) =>
          drainQueue({
            sql,
            registry,
            log: createMemoryLogger(),
            worker: `quota-test-${w}`,
            limit: 2,
            timeBudgetMs: 60_000,
            lingerMs: 50,
            exitWhenIdle: false,
            shouldStop: () => left === 0,
          })));
      } finally {
        clearInterval(poll);
      }
      const seconds = (performance.now() - t0) / 1000;

      const jobs = await sql`select status::text, attempts, deferrals from private.jobs where kind = ${kind}`;
      assert.deepEqual(jobs.map((j) => [j.status, j.attempts]), Array(6).fill(["completed", 1]), "no attempt spent");
      assert.ok(
        jobs.reduce((n, j) => n + j.deferrals, 0) >= 1,
        "slots a few seconds off are waited for in the job, the further ones on the queue",
      );
      const state = await (await fetch(`${gcsEndpoint}/_control/state`)).json();
      assert.equal(state.bucketOps.refused[project] ?? 0, 0, "GCS never had to refuse one");
      assert.equal(state.bucketOps.granted[project], 6, "one create per bucket");
      const created = await Promise.all(
        users.map(async (u) => {
          const [meta] = await d.storage.bucket(userBucketName(d.policy, u)).getMetadata();
          return Date.parse(meta.timeCreated!);
        }),
      );
      created.sort((a, b) => a - b);
      for (let i = 1; i < created.length; i++) {
        assert.ok(
          created[i] - created[i - 1] >= 2000,
          `creates ${i - 1} and ${i} are ${created[i] - created[i - 1]} ms apart`,
        );
      }
      assert.ok(seconds >= 5 * 2, `bound by the quota: ${seconds.toFixed(1)} s for 6 buckets`);
    } finally {
      await sql.end();
    }
  },
);

Deno.test(
  "without GCS configured, archive jobs wait with the reason recorded and keep their attempts",
  opts,
  async () => {
    const sql = connect(stack.dbUrl);
    try {
      assert.throws(() => createStorage({}), ArchiveNotConfigured, "no endpoint, no key: no client at all");
      assert.throws(() => unconfiguredStorage("why").bucket("any"), (e) => e instanceof ArchiveNotConfigured);

      const connection = { mode: "unconfigured" as const, reason: ARCHIVE_NOT_CONFIGURED };
      const d: ArchiveDeps = {
        sql,
        ...archiveStorage(connection),
        bucketQuota: { project: "unconfigured", intervalMs: DEFAULT_BUCKET_OPS_INTERVAL_MS },
        unavailable: connection.reason,
        policy: policy(),
        mediaMaxBytes: 1024,
        mediaTimeoutMs: 1000,
      };
      const account = await insertLinkedAccount(sql);
      await whatsappText(sql, account, 892001, "+5511987650090");
      const handlers = archiveJobHandlers(d);
      const prefix = `test.unconfigured_${crypto.randomUUID().slice(0, 8)}`;
      const registry = {
        [`${prefix}.message`]: handlers["archive.message"],
        [`${prefix}.erase`]: erasureJobHandlers({ ...d, erase: DEFAULT_ERASE_OPTIONS })["archive.erase_user"],
      };
      const messageJob = await enqueueJob(sql, {
        kind: `${prefix}.message`,
        payload: { account_ref: account.accountRef, message_id: 892001 },
        idempotencyKey: `${prefix}:message`,
      });
      // Erasing a user with nothing archived needs no GCS: it completes, configured or not.
      const eraseJob = await enqueueJob(sql, {
        kind: `${prefix}.erase`,
        payload: { user_id: crypto.randomUUID(), actor: "test" },
        idempotencyKey: `${prefix}:erase`,
      });
      const summary = await runJobBatch({ sql, registry, log: createMemoryLogger(), worker: "test", limit: 5 });
      assert.equal(summary.deferred, 1);
      assert.equal(summary.completed, 1);
      const [waiting] = await sql`select status::text, attempts, deferrals, last_error,
                                       extract(epoch from run_at - now()) as wait_s
                                from private.jobs where id = ${messageJob}`;
      assert.deepEqual([waiting.status, waiting.attempts, waiting.deferrals], ["queued", 0, 1]);
      assert.equal(waiting.last_error, ARCHIVE_NOT_CONFIGURED, "the reason a person can act on");
      assert.ok(Number(waiting.wait_s) >= 55, "a young job looks again after a minute");
      const [erased] = await sql`select status::text from private.jobs where id = ${eraseJob}`;
      assert.equal(erased.status, "completed");
      const archived = await sql`select 1 from public.archived_messages where account_ref = ${account.accountRef}`;
      assert.equal(archived.length, 0);

      // An old backlog is looked at rarely: half its age, at most an hour.
      const now = Date.parse("2026-12-08T12:00:00Z");
      assert.equal(unconfiguredWaitMs({ created_at: new Date(now - 10_000) }, now), 60_000);
      assert.equal(unconfiguredWaitMs({ created_at: new Date(now - 20 * 60_000) }, now), 10 * 60_000);
      assert.equal(unconfiguredWaitMs({ created_at: new Date(now - 3 * 86_400_000) }, now), 3_600_000);
    } finally {
      await sql.end();
    }
  },
);

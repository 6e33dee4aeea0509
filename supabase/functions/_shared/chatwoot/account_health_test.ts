// What a linked account can tell us that a person must act on, against the stack's Chatwoot sandbox: Chatwoot
// Cloud's free plan (403 on every token call, no webhooks) stops the link and every job with that reason, a
// webhook URL SafeFetch would refuse is warned about and recorded, and a rate-limit window longer than a run
// defers the job without spending its attempts.

import assert from "node:assert/strict";
import { connect } from "../platform/db.ts";
import { testStack, uniqueKind } from "../../../../scripts/testing/env.ts";
import {
  newStore,
  provisionSandboxAccount,
  sandboxCall,
  sandboxEnv,
  sandboxLinkedStore,
} from "../../../../scripts/testing/chatwoot.ts";
import { insertCustomer } from "../../../../scripts/testing/contact_sync.ts";
import { cpuMeter, enqueueJob, type Job, jobKind, PermanentFailure, runJobBatch } from "../jobs/queue.ts";
import { createMemoryLogger } from "../platform/log.ts";
import { ChatwootClient } from "./client.ts";
import { linkChatwootAccount, LinkError } from "./accounts.ts";
import { reconcileAccount, reconcileJobHandlers } from "./reconcile.ts";
import { unlimited } from "./rate_limit.ts";
import { contactSyncJobHandlers, syncCustomer } from "../contact_sync/sync.ts";

const stack = testStack();
const env = sandboxEnv();
const opts = { sanitizeOps: false, sanitizeResources: false };
const functionsUrl = `${stack.apiUrl}/functions/v1`;
const publicDns = () => Promise.resolve(["93.184.216.34"]);

const setFreePlan = (accountId: number, on: boolean) =>
  sandboxCall(env, "PATCH", `/_control/accounts/${accountId}`, { body: { cloud_free_plan: on } });

Deno.test(
  "linking a Cloud free-plan account stops with the plain reason, not 'not an administrator'",
  opts,
  async () => {
    const sql = connect(stack.dbUrl);
    const cw = await provisionSandboxAccount(env);
    const client = new ChatwootClient({ baseUrl: env.url, token: cw.token });
    try {
      await setFreePlan(cw.accountId, true);
      const store = await newStore(sql);
      const err = await linkChatwootAccount(sql, client, {
        storeSlug: store.slug,
        chatwootUrl: env.url,
        accountId: cw.accountId,
        apiToken: cw.token,
        functionsUrl,
        resolve: publicDns,
      }).catch((e) => e);
      assert.ok(err instanceof LinkError, String(err));
      assert.match(err.message, /^this Chatwoot Cloud account \(\d+\) is on the free plan: its API is closed/);
      const rows = await sql`select 1 from public.chatwoot_accounts where store_id = ${store.id}`;
      assert.equal(rows.length, 0, "nothing is linked");
    } finally {
      client.close();
      await sql.end();
    }
  },
);

Deno.test(
  "an account moved to the free plan: jobs die with the reason, the account is marked, runs stop calling",
  opts,
  async () => {
    const sql = connect(stack.dbUrl);
    try {
      const { cw, store, accountRef } = await sandboxLinkedStore(sql, functionsUrl);
      await sql`update public.chatwoot_sync_cursors set next_run_at = now() + interval '1 day' where account_ref = ${accountRef}`;
      await setFreePlan(cw.accountId, true);
      const reconcile = reconcileJobHandlers({ sql, limiter: unlimited })["chatwoot.reconcile"];
      const ctx = { sql, log: createMemoryLogger(), signal: new AbortController().signal, cpu: cpuMeter() };
      const job = { payload: { account_ref: accountRef } } as unknown as Job<unknown>;
      const died = await reconcile.run(job, ctx).catch((e) => e);
      assert.ok(died instanceof PermanentFailure, String(died));
      assert.match(died.message, /is on the free plan: its API is closed to access tokens and it sends no webhooks/);
      const [account] =
        await sql`select api_closed_reason, api_closed_at from public.chatwoot_accounts where id = ${accountRef}`;
      assert.equal(account.api_closed_reason, died.message);
      assert.ok(account.api_closed_at instanceof Date);

      const again = await reconcileAccount({ sql, limiter: unlimited }, accountRef);
      assert.equal(again.closed, died.message, "a later run reads nothing");

      const customer = await insertCustomer(sql, store.id, { name: "Eva", email: "eva@h.test" });
      const sync = await syncCustomer({ sql, limiter: unlimited }, customer).catch((e) => e);
      assert.ok(sync instanceof PermanentFailure, "the contact sync stops too");
      assert.equal(sync.message, died.message);

      await setFreePlan(cw.accountId, false);
      const client = new ChatwootClient({ baseUrl: env.url, token: cw.token });
      try {
        await linkChatwootAccount(sql, client, {
          storeSlug: store.slug,
          chatwootUrl: env.url,
          accountId: cw.accountId,
          apiToken: cw.token,
          functionsUrl,
          resolve: publicDns,
        });
      } finally {
        client.close();
      }
      const [relinked] = await sql`select api_closed_reason from public.chatwoot_accounts where id = ${accountRef}`;
      assert.equal(relinked.api_closed_reason, null, "linking again after an upgrade clears it");
    } finally {
      await sql.end();
    }
  },
);

Deno.test("a webhook URL on a private address is warned about and recorded; a public one is not", opts, async () => {
  const sql = connect(stack.dbUrl);
  const cw = await provisionSandboxAccount(env);
  const client = new ChatwootClient({ baseUrl: env.url, token: cw.token });
  try {
    const store = await newStore(sql);
    const link = (url: string, resolve?: () => Promise<string[]>) =>
      linkChatwootAccount(sql, client, {
        storeSlug: store.slug,
        chatwootUrl: env.url,
        accountId: cw.accountId,
        apiToken: cw.token,
        functionsUrl: url,
        resolve,
      });
    const local = await link("http://127.0.0.1:54321/functions/v1");
    assert.match(local.webhookTargetWarning ?? "", /resolves only to private addresses \(127\.0\.0\.1\)/);
    assert.match(local.webhookTargetWarning ?? "", /SAFE_FETCH_ALLOW_PRIVATE_NETWORK=true/);
    const [row] = await sql`select webhook_target_warning from public.chatwoot_accounts where id = ${local.accountRef}`;
    assert.equal(row.webhook_target_warning, local.webhookTargetWarning);

    const lan = await link("https://functions.internal/functions/v1", () => Promise.resolve(["10.0.4.2", "fd00::2"]));
    assert.match(lan.webhookTargetWarning ?? "", /\(10\.0\.4\.2, fd00::2\)/);

    const pub = await link("https://abc.supabase.co/functions/v1", publicDns);
    assert.equal(pub.webhookTargetWarning, null);
    const [cleared] =
      await sql`select webhook_target_warning from public.chatwoot_accounts where id = ${pub.accountRef}`;
    assert.equal(cleared.webhook_target_warning, null);
  } finally {
    client.close();
    await sql.end();
  }
});

Deno.test(
  "a 429 whose window outlasts the run defers the contact sync job: attempts kept, run_at past the window",
  opts,
  async () => {
    const sql = connect(stack.dbUrl);
    try {
      const { store } = await sandboxLinkedStore(sql, functionsUrl);
      const customer = await insertCustomer(sql, store.id, { name: "Fia", email: "fia@h.test" });
      // A proxy's Retry-After of 2 minutes: longer than any run may sleep.
      await sandboxCall(env, "POST", "/_control/faults", {
        body: { mode: "429", path: "/api/v1/accounts/*/contacts/filter", count: 1, retry_after: 120 },
      });
      const kind = uniqueKind();
      const handler = contactSyncJobHandlers({ sql, limiter: unlimited })["chatwoot.contact_sync"];
      const id = await enqueueJob(sql, {
        kind,
        idempotencyKey: `${kind}:1`,
        payload: { customer_id: customer },
        maxAttempts: 1,
      });
      const registry = { [kind]: jobKind(handler.payload, (job, ctx) => handler.run(job, ctx)) };
      const s = await runJobBatch({ sql, log: createMemoryLogger(), worker: "t", registry });
      assert.deepEqual([s.deferred, s.retried, s.dead], [1, 0, 0]);
      const [row] = await sql`select status::text, attempts, deferrals, last_error,
                                   extract(epoch from run_at - now()) as wait_s from private.jobs where id = ${id}`;
      assert.equal(row.status, "queued");
      assert.equal(row.attempts, 0, "a job allowed one attempt still has it");
      assert.equal(row.deferrals, 1);
      assert.match(row.last_error, /rate-limited .*429/);
      assert.ok(Number(row.wait_s) > 110 && Number(row.wait_s) <= 122, `run_at in ${row.wait_s} s`);
    } finally {
      await sql.end();
    }
  },
);

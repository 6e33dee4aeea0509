// Provisioning against the Chatwoot sandbox: a new store ends active with exactly one of
// everything, whatever step the worker dies after, whatever answer gets lost, through 429s and
// 500s; Chatwoot without a Platform API fails clearly; the store's lifecycle follows through.

import assert from "node:assert/strict";
import { connect, type Sql } from "../platform/db.ts";
import { enqueueJob, replayJob, runJobBatch } from "../jobs/queue.ts";
import { createMemoryLogger } from "../platform/log.ts";
import { testStack, waitFor } from "../../../../scripts/testing/env.ts";
import { type Json, sandboxCall, sandboxEnv } from "../../../../scripts/testing/chatwoot.ts";
import { memoryRateLimiter } from "./rate_limit.ts";
import { PermanentFailure } from "../jobs/queue.ts";
import { startSandbox } from "../../../../scripts/local/chatwoot/server.ts";
import { freePort } from "../../../../scripts/local/kit/ports.ts";
import { PROVISION_STEPS, type ProvisionerDeps, provisioningJobHandlers, provisionStore } from "./provisioner.ts";

const stack = testStack();
const env = sandboxEnv();
const opts = { sanitizeOps: false, sanitizeResources: false };

function deps(sql: Sql, extra: Partial<ProvisionerDeps> = {}): ProvisionerDeps {
  return {
    sql,
    chatwootUrl: env.url,
    platformToken: env.platformToken,
    functionsUrl: `${stack.apiUrl}/functions/v1`,
    limiter: memoryRateLimiter({ perMinute: 3000 }),
    ...extra,
  };
}

/** A store the stack's own worker will not provision: the test drives the provisioner itself. */
async function quietStore(sql: Sql, opts: { supportEmail?: string } = {}) {
  const slug = `p-${crypto.randomUUID().slice(0, 10)}`;
  return await sql.begin(async (tx) => {
    const [store] = await tx`insert into public.stores (slug, name, domain, support_email)
      values (${slug}, ${`Store ${slug}`}, ${`${slug}.test`}, ${opts.supportEmail ?? null}) returning id`;
    await tx`delete from private.jobs where idempotency_key = ${`chatwoot.provision:${store.id}`}`;
    return { id: store.id as string, slug };
  });
}

/** Everything Chatwoot holds for a store: accounts tagged with it, and in the first one its
 * administrators, inboxes and webhooks. */
async function chatwootState(storeId: string) {
  const accounts = (await sandboxCall(env, "GET", "/platform/api/v1/accounts")).body
    .filter((a: Json) => a.custom_attributes?.switchboard_store_id === storeId);
  if (accounts.length === 0) return { accounts: 0, admins: 0, inboxes: [] as string[], webhooks: 0, status: null };
  const id = accounts[0].id;
  const users = (await sandboxCall(env, "GET", `/platform/api/v1/accounts/${id}/account_users`)).body;
  const [p] =
    await stackSql`select s.admin_api_token from private.chatwoot_provisioning_secrets s where s.store_id = ${storeId}`;
  const token = p?.admin_api_token;
  const inboxes = token
    ? (await sandboxCall(env, "GET", `/api/v1/accounts/${id}/inboxes`, { token })).body.payload
    : [];
  const hookBody = token
    ? (await sandboxCall(env, "GET", `/api/v1/accounts/${id}/webhooks`, { token })).body.payload
    : [];
  const hooks = Array.isArray(hookBody) ? hookBody : hookBody.webhooks;
  return {
    accounts: accounts.length,
    admins: users.filter((u: Json) => u.role === "administrator").length,
    inboxes: inboxes.map((i: Json) => i.channel_type).sort(),
    webhooks: hooks.length,
    status: accounts[0].status,
  };
}

const stackSql = connect(stack.dbUrl, { max: 2 });

Deno.test(
  "a store insert ends active: one account, one admin, its inboxes, one webhook that verifies",
  opts,
  async () => {
    const sql = connect(stack.dbUrl);
    try {
      const slug = `p-${crypto.randomUUID().slice(0, 10)}`;
      // Store and owner in one transaction, as a platform creates them: the provisioning job is
      // visible to the worker only on commit, and then the owner is there to become the admin.
      const store = await sql.begin(async (tx) => {
        const [s] = await tx`insert into public.stores (slug, name, domain, support_email)
        values (${slug}, 'Full store', ${`${slug}.test`}, ${`help@${slug}.test`}) returning id`;
        await tx`insert into public.store_members (store_id, user_id, role)
                values (${s.id}, '00000000-0000-4000-8000-00000000a001', 'owner')`;
        return s;
      });
      const row = await waitFor(
        async () => {
          const [r] = await sql`select * from public.chatwoot_provisioning where store_id = ${store.id}`;
          return r?.state === "active" || r?.state === "failed" ? r : null;
        },
        "the stack's worker to provision the store",
        30_000,
      );
      assert.equal(row.state, "active", row.failure_reason);
      assert.ok(row.website_token, "the widget's website_token is kept");
      const [secrets] = await sql`select * from private.chatwoot_provisioning_secrets where store_id = ${store.id}`;
      assert.ok(secrets.widget_hmac_token && secrets.admin_api_token);

      const cw = await chatwootState(store.id);
      assert.deepEqual(cw, {
        accounts: 1,
        admins: 1,
        inboxes: ["Channel::Api", "Channel::Email", "Channel::WebWidget"],
        webhooks: 1,
        status: "active",
      });
      const users = (await sandboxCall(env, "GET", `/platform/api/v1/accounts/${row.account_id}/account_users`)).body;
      const admin = (await sandboxCall(env, "GET", `/platform/api/v1/users/${users[0].user_id}`)).body;
      assert.equal(admin.email, "ana@acme.test", "the store owner is the administrator");

      // The webhook's secret verifies a real delivery from the sandbox.
      const replay = await sandboxCall(env, "POST", "/_control/fixtures/whatsapp-text.message_created.json/replay", {
        body: { account_id: row.account_id },
      });
      assert.equal(replay.status, 200, JSON.stringify(replay.body));
      await sandboxCall(env, "POST", "/_control/settle");
      const [ledger] = await sql`select d.outcome from private.chatwoot_deliveries d
      join public.chatwoot_accounts a on a.id = d.account_ref where a.store_id = ${store.id}`;
      assert.equal(ledger?.outcome, "applied");
    } finally {
      await sql.end();
    }
  },
);

for (const step of PROVISION_STEPS) {
  Deno.test(`a worker killed after the ${step} step still ends with exactly one of everything`, opts, async () => {
    const sql = connect(stack.dbUrl);
    try {
      const store = await quietStore(sql, { supportEmail: `help-${crypto.randomUUID().slice(0, 6)}@kill.test` });
      const crash = new Error(`worker killed after ${step}`);
      await assert.rejects(
        provisionStore(
          deps(sql, {
            afterStep: (s) => {
              if (s === step) throw crash;
            },
          }),
          store.id,
        ),
        (e) => e === crash,
      );
      assert.equal(await provisionStore(deps(sql), store.id), "active");
      assert.equal(await provisionStore(deps(sql), store.id), "active", "running again is harmless");
      const cw = await chatwootState(store.id);
      assert.deepEqual(cw, {
        accounts: 1,
        admins: 1,
        inboxes: ["Channel::Api", "Channel::Email", "Channel::WebWidget"],
        webhooks: 1,
        status: "active",
      });
    } finally {
      await sql.end();
    }
  });
}

Deno.test("work done, connection dropped: no second account, no second inbox", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const store = await quietStore(sql);
    await sandboxCall(env, "POST", "/_control/faults", {
      body: { mode: "work_then_drop", method: "POST", path: "/platform/api/v1/accounts", count: 1 },
    });
    await assert.rejects(provisionStore(deps(sql), store.id), /failed|network|connection|closed/i);
    assert.equal((await chatwootState(store.id)).accounts, 1, "Chatwoot did create the account");
    await sandboxCall(env, "POST", "/_control/faults", {
      body: { mode: "work_then_drop", method: "POST", path: "/api/v1/accounts/*/inboxes", count: 1 },
    });
    await assert.rejects(provisionStore(deps(sql), store.id));
    assert.equal(await provisionStore(deps(sql), store.id), "active");
    const cw = await chatwootState(store.id);
    assert.equal(cw.accounts, 1, "the lost answer was reconciled, not repeated");
    assert.deepEqual(cw.inboxes, ["Channel::Api", "Channel::WebWidget"]);
  } finally {
    await sandboxCall(env, "DELETE", "/_control/faults");
    await sql.end();
  }
});

Deno.test("a 429 storm is waited out within the rate limit", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const store = await quietStore(sql);
    await sandboxCall(env, "POST", "/_control/faults", {
      body: { mode: "429", path: "/platform/api/v1/*", count: 3, retry_after: 1 },
    });
    const t0 = Date.now();
    assert.equal(await provisionStore(deps(sql), store.id), "active");
    assert.ok(Date.now() - t0 >= 1000, "Retry-After was honoured");
    assert.equal((await chatwootState(store.id)).accounts, 1);
  } finally {
    await sandboxCall(env, "DELETE", "/_control/faults");
    await sql.end();
  }
});

Deno.test(
  "persistent 500s dead-letter with Chatwoot's reason; replay succeeds once Chatwoot recovers",
  opts,
  async () => {
    const sql = connect(stack.dbUrl);
    try {
      const store = await quietStore(sql);
      // The provision handler under a kind of this test's own, so the stack's worker leaves it be.
      const kind = `test.provision_${crypto.randomUUID().slice(0, 8)}`;
      const jobId = await enqueueJob(sql, {
        kind,
        payload: { store_id: store.id },
        idempotencyKey: `test-provision:${store.id}`,
        storeId: store.id,
        maxAttempts: 2,
      });
      const only = { [kind]: provisioningJobHandlers(deps(sql))["chatwoot.provision"] };
      await sandboxCall(env, "POST", "/_control/faults", {
        body: { mode: "500", path: "/platform/api/v1/*", count: 1000 },
      });
      for (let attempt = 0; attempt < 2; attempt++) {
        await sql`update private.jobs set run_at = now() where id = ${jobId}`;
        await runJobBatch({ sql, registry: only, log: createMemoryLogger(), worker: "test", limit: 1 });
      }
      const [dead] = await sql`select status::text, last_error from private.jobs where id = ${jobId}`;
      assert.equal(dead.status, "dead");
      assert.match(dead.last_error, /500/);
      const [failed] =
        await sql`select state, failure_reason from public.chatwoot_provisioning where store_id = ${store.id}`;
      assert.equal(failed.state, "failed");
      assert.match(failed.failure_reason, /500/);

      await sandboxCall(env, "DELETE", "/_control/faults");
      assert.equal(await replayJob(sql, jobId), true);
      await runJobBatch({ sql, registry: only, log: createMemoryLogger(), worker: "test", limit: 1 });
      const [done] = await sql`select status::text from private.jobs where id = ${jobId}`;
      assert.equal(done.status, "completed");
      const [active] =
        await sql`select state, failure_reason from public.chatwoot_provisioning where store_id = ${store.id}`;
      assert.deepEqual({ ...active }, { state: "active", failure_reason: null });
    } finally {
      await sandboxCall(env, "DELETE", "/_control/faults");
      await sql.end();
    }
  },
);

Deno.test("a Chatwoot without the Platform API fails clearly and points to accounts link", opts, async () => {
  const sql = connect(stack.dbUrl);
  const port = freePort();
  const cloud = await startSandbox({ port, platformApi: false });
  try {
    const store = await quietStore(sql);
    await assert.rejects(
      provisionStore(deps(sql, { chatwootUrl: cloud.url, platformToken: cloud.sandbox.platformToken }), store.id),
      (e) => e instanceof PermanentFailure && /accounts link/.test(e.message),
    );
    await assert.rejects(
      provisionStore(deps(sql, { chatwootUrl: null, platformToken: null }), store.id),
      (e) => e instanceof PermanentFailure && /CHATWOOT_PLATFORM_TOKEN.*accounts link/s.test(e.message),
    );
  } finally {
    await cloud.close();
    await sql.end();
  }
});

Deno.test("suspend, reactivate and delete follow through to Chatwoot", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const store = await quietStore(sql);
    assert.equal(await provisionStore(deps(sql), store.id), "active");
    const [{ account_id: accountId }] =
      await sql`select account_id from public.chatwoot_provisioning where store_id = ${store.id}`;
    const state = (want: string) =>
      waitFor(
        async () => {
          const [r] = await sql`select state from public.chatwoot_provisioning where store_id = ${store.id}`;
          return r.state === want ? r : null;
        },
        `state ${want}`,
        20_000,
      );
    const chatwootStatus = async () =>
      (await sandboxCall(env, "GET", `/platform/api/v1/accounts/${accountId}`)).body.status;

    await sql`update public.stores set status = 'suspended' where id = ${store.id}`;
    await state("suspended");
    assert.equal(await chatwootStatus(), "suspended");
    await sql`update public.stores set status = 'active' where id = ${store.id}`;
    await state("active");
    assert.equal(await chatwootStatus(), "active");
    await sql`delete from public.stores where id = ${store.id}`;
    await state("deleted");
    const gone = await sandboxCall(env, "GET", `/platform/api/v1/accounts/${accountId}`);
    assert.ok(gone.status === 404 || gone.status === 401, `the account is gone (${gone.status})`);
    const secrets = await sql`select 1 from private.chatwoot_provisioning_secrets where store_id = ${store.id}`;
    assert.equal(secrets.length, 0, "its tokens are forgotten");
  } finally {
    await sql.end();
  }
});

Deno.test("members read their store's provisioning state, never its secrets", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const store = await quietStore(sql);
    const rows = await sql.begin(async (tx) => {
      await tx`select set_config('role', 'authenticated', true),
               set_config('request.jwt.claims', '{"sub":"00000000-0000-4000-8000-00000000b001","role":"authenticated"}', true)`;
      return await tx`select store_id from public.chatwoot_provisioning where store_id = ${store.id}`;
    });
    assert.equal(rows.length, 0, "globex's owner sees nothing of another store");
    await assert.rejects(
      sql.begin(async (tx) => {
        await tx`select set_config('role', 'authenticated', true)`;
        await tx`select * from private.chatwoot_provisioning_secrets`;
      }),
      /permission denied/,
    );
  } finally {
    await sql.end();
  }
});

addEventListener("unload", () => void stackSql.end());

// Against the Chatwoot sandbox of the test stack: linking registers a signed webhook whose
// deliveries our function verifies; a webhook that never arrived is recovered by
// reconciliation, which is idempotent and respects Retry-After.

import assert from "node:assert/strict";
import { connect } from "../platform/db.ts";
import { testStack, waitFor } from "../../../../scripts/testing/env.ts";
import {
  addSandboxMember,
  createSandboxWhatsAppInbox,
  newStore,
  provisionSandboxAccount,
  sandboxCall,
  sandboxEnv,
} from "../../../../scripts/testing/chatwoot.ts";
import { ChatwootClient, listWebhooks } from "./client.ts";
import { linkChatwootAccount, LinkError } from "./accounts.ts";
import { reconcileAccount } from "./reconcile.ts";
import { memoryRateLimiter } from "./rate_limit.ts";

const stack = testStack();
const env = sandboxEnv();
const opts = { sanitizeOps: false, sanitizeResources: false };
const functionsUrl = `${stack.apiUrl}/functions/v1`;

function clientFor(token: string) {
  return new ChatwootClient({ baseUrl: env.url, token });
}

async function linkedSandboxAccount(sql: ReturnType<typeof connect>) {
  const cw = await provisionSandboxAccount(env);
  const inboxId = await createSandboxWhatsAppInbox(env, cw.accountId, cw.token);
  const store = await newStore(sql);
  const link = await linkChatwootAccount(sql, clientFor(cw.token), {
    storeSlug: store.slug,
    chatwootUrl: env.url,
    accountId: cw.accountId,
    apiToken: cw.token,
    functionsUrl,
  });
  await holdBackgroundReconciliation(sql, link.accountRef);
  return { cw, inboxId, store, link };
}

/** Linking schedules an immediate reconciliation on the stack's worker; these tests run it
 * themselves, so park the schedule and wait out any run already claimed. */
async function holdBackgroundReconciliation(sql: ReturnType<typeof connect>, accountRef: string) {
  await sql`update public.chatwoot_sync_cursors set next_run_at = now() + interval '1 day' where account_ref = ${accountRef}`;
  await sql`delete from private.jobs where kind = 'chatwoot.reconcile' and status = 'queued'
            and payload ->> 'account_ref' = ${accountRef}`;
  await waitFor(async () => {
    const [r] = await sql`select count(*)::int as n from private.jobs where kind = 'chatwoot.reconcile'
                          and status = 'running' and payload ->> 'account_ref' = ${accountRef}`;
    return r.n === 0;
  }, "a running reconciliation to finish");
}

Deno.test("linking with an administrator token registers one signed webhook; re-linking updates it", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const { cw, store, link } = await linkedSandboxAccount(sql);
    assert.equal(link.registration, "created");
    assert.equal(link.signed, true);
    assert.match(link.webhookUrl, new RegExp(`^${functionsUrl}/chatwoot-webhook/[A-Za-z0-9_-]{43}$`));
    const [secrets] = await sql`select webhook_secret, api_token, encode(route_token_hash, 'hex') as hash
                                from private.chatwoot_account_secrets where account_ref = ${link.accountRef}`;
    const hooks = await listWebhooks(clientFor(cw.token), cw.accountId);
    assert.equal(hooks.length, 1);
    assert.equal(hooks[0].secret, secrets.webhook_secret, "Chatwoot's secret is what we stored");
    assert.ok(!link.webhookUrl.includes(secrets.hash), "only the hash of the route token is stored");

    const again = await linkChatwootAccount(sql, clientFor(cw.token), {
      storeSlug: store.slug,
      chatwootUrl: env.url,
      accountId: cw.accountId,
      apiToken: cw.token,
      functionsUrl,
    });
    assert.equal(again.registration, "updated");
    const after = await listWebhooks(clientFor(cw.token), cw.accountId);
    assert.equal(after.length, 1, "still exactly one webhook");
    assert.equal(after[0].url, again.webhookUrl, "pointing at the new route token");
  } finally {
    await sql.end();
  }
});

Deno.test(
  "an agent's token cannot register webhooks: the link is manual; a foreign account is refused",
  opts,
  async () => {
    const sql = connect(stack.dbUrl);
    try {
      const cw = await provisionSandboxAccount(env);
      const agent = await addSandboxMember(env, cw.accountId, "agent");
      const store = await newStore(sql);
      const link = await linkChatwootAccount(sql, clientFor(agent.token), {
        storeSlug: store.slug,
        chatwootUrl: env.url,
        accountId: cw.accountId,
        apiToken: agent.token,
        functionsUrl,
      });
      assert.equal(link.registration, "manual");
      assert.equal(link.signed, false);
      await assert.rejects(
        linkChatwootAccount(sql, clientFor(cw.token), {
          storeSlug: "no-such-store",
          chatwootUrl: env.url,
          accountId: cw.accountId,
          apiToken: cw.token,
          functionsUrl,
        }),
        LinkError,
      );
    } finally {
      await sql.end();
    }
  },
);

Deno.test(
  "sandbox traffic arrives signed and is mirrored; a dropped webhook is recovered by reconciliation",
  opts,
  async () => {
    const sql = connect(stack.dbUrl);
    try {
      const { cw, inboxId, link } = await linkedSandboxAccount(sql);
      const fault = await sandboxCall(env, "POST", "/_control/faults", {
        body: { mode: "drop", event: "message_created", count: 1 },
      });
      assert.equal(fault.status, 201);
      const sent = await sandboxCall(env, "POST", "/_control/traffic/whatsapp", {
        body: {
          inbox_id: inboxId,
          from: "+5215512345678",
          name: "María López",
          kind: "text",
          text: "¿Abren el sábado?",
        },
      });
      assert.equal(sent.status, 200, JSON.stringify(sent.body));
      const messageId = sent.body.message.id as number;
      await sandboxCall(env, "POST", "/_control/settle");

      const deliveries =
        (await sandboxCall(env, "GET", `/_control/deliveries?account_id=${cw.accountId}`)).body.deliveries;
      const delivered = deliveries.filter((d: { state: string }) => d.state !== "dropped");
      assert.ok(
        delivered.length >= 2,
        `deliveries: ${JSON.stringify(deliveries.map((d: { event: string }) => d.event))}`,
      );
      for (const d of delivered) assert.equal(d.status, 200, `${d.event} was accepted (${d.error ?? ""})`);
      assert.ok(
        deliveries.some((d: { event: string; state: string }) =>
          d.event === "message_created" && d.state === "dropped"
        ),
      );

      const missing =
        await sql`select 1 from public.chatwoot_messages where account_ref = ${link.accountRef} and message_id = ${messageId}`;
      assert.equal(missing.length, 0, "the dropped webhook's message is not mirrored yet");
      const [conv] =
        await sql`select status, channel from public.chatwoot_conversations where account_ref = ${link.accountRef}`;
      assert.equal(conv.channel, "Channel::Whatsapp", "the conversation came with conversation_created");

      const limiter = memoryRateLimiter({ perMinute: 3000 });
      const first = await reconcileAccount({ sql, limiter }, link.accountRef);
      assert.ok(first.applied >= 1, JSON.stringify(first));
      const [m] = await sql`select content, message_type, is_whatsapp from public.chatwoot_messages
                          where account_ref = ${link.accountRef} and message_id = ${messageId}`;
      assert.deepEqual({ ...m }, { content: "¿Abren el sábado?", message_type: "incoming", is_whatsapp: true });

      const second = await reconcileAccount({ sql, limiter }, link.accountRef);
      assert.equal(second.applied, 0, `nothing changed, nothing applied: ${JSON.stringify(second)}`);
      const [cursor] =
        await sql`select synced_until, last_error from public.chatwoot_sync_cursors where account_ref = ${link.accountRef}`;
      assert.ok(cursor.synced_until instanceof Date);
      assert.equal(cursor.last_error, null);
    } finally {
      await sql.end();
    }
  },
);

Deno.test("reconciliation waits out a 429 with Retry-After and still completes", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const { inboxId, link } = await linkedSandboxAccount(sql);
    await sandboxCall(env, "POST", "/_control/traffic/whatsapp", {
      body: { inbox_id: inboxId, from: "+5511987654321", kind: "text", text: "Olá" },
    });
    await sandboxCall(env, "POST", "/_control/settle");
    await sandboxCall(env, "POST", "/_control/faults", {
      body: { mode: "429", path: "/api/v1/accounts/*/conversations", count: 1, retry_after: 1 },
    });
    const t0 = Date.now();
    const r = await reconcileAccount({ sql, limiter: memoryRateLimiter({ perMinute: 3000 }) }, link.accountRef);
    assert.ok(Date.now() - t0 >= 1000, "it waited for Retry-After");
    assert.ok(r.conversations >= 1, JSON.stringify(r));
  } finally {
    await sql.end();
  }
});

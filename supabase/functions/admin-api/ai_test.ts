// admin-api's AI and knowledge routes with real user tokens: a store's owner adds documents and
// FAQ entries, enables the agent bot and tunes it; an agent reads and searches but changes
// nothing; another store's owner sees none of it; bad input gets a clear 4xx.

import assert from "node:assert/strict";
import { connect } from "../_shared/platform/db.ts";
import { testStack, waitFor } from "../../../scripts/testing/env.ts";
import { sandboxCall, sandboxEnv } from "../../../scripts/testing/chatwoot.ts";
import { signUserToken } from "../../../scripts/local/supabase/keys.ts";

const stack = testStack();
const opts = { sanitizeOps: false, sanitizeResources: false };
const base = `${stack.apiUrl}/functions/v1/admin-api`;
const ACME_OWNER = "00000000-0000-4000-8000-00000000a001";
const ACME_AGENT = "00000000-0000-4000-8000-00000000a002";
const GLOBEX_OWNER = "00000000-0000-4000-8000-00000000b001";

async function as(id: string) {
  const token = await signUserToken(stack.signer, { id, app_metadata: {} });
  return async (method: string, path: string, body?: unknown, type = "application/json") => {
    const raw = body instanceof Uint8Array || typeof body === "string";
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": type }),
      },
      body: body === undefined ? undefined : raw ? (body as BodyInit) : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  };
}

Deno.test("knowledge and AI settings through admin-api, per role and per store", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const owner = await as(ACME_OWNER);
    const agent = await as(ACME_AGENT);
    const other = await as(GLOBEX_OWNER);

    const faq = { question: "Do you offer gift wrapping?", answer: "Yes, gift wrapping is free on every order." };
    assert.equal((await owner("POST", "/stores/acme/kb/faqs", faq)).status, 201);
    assert.equal((await agent("POST", "/stores/acme/kb/faqs", faq)).status, 403, "agents do not edit knowledge");
    assert.equal(
      (await other("POST", "/stores/acme/kb/faqs", faq)).status,
      404,
      "another store's owner cannot see acme",
    );
    const bad = await owner("POST", "/stores/acme/kb/faqs", { question: "" });
    assert.equal(bad.status, 400);
    assert.ok(bad.body.error.details.length > 0);

    const md = "# Care\n\n## Washing\nMachine wash cold, hang to dry. Never use bleach on technical fabrics.\n";
    // The file's own bytes are the body (no base64 in JSON: decoding 20 MiB of it costs 2.4 s of CPU).
    const doc = await owner("POST", "/stores/acme/kb/documents?source_name=care.md", md, "text/markdown");
    assert.equal(doc.status, 201, JSON.stringify(doc.body));
    assert.ok(doc.body.chunks >= 1);
    const exe = await owner(
      "POST",
      "/stores/acme/kb/documents?source_name=setup.exe",
      new Uint8Array([0x4d, 0x5a]),
      "application/octet-stream",
    );
    assert.equal(exe.status, 400);
    assert.equal(exe.body.error.code, "unsupported_type");
    const huge = await owner(
      "POST",
      "/stores/acme/kb/documents?source_name=huge.txt",
      new Uint8Array(5 * 1024 * 1024 + 1).fill(0x61),
      "text/plain",
    );
    assert.equal(huge.status, 413, "a file over the 5 MiB upload cap is refused");
    assert.equal(huge.body.error.code, "too_large");
    const unnamed = await owner("POST", "/stores/acme/kb/documents", md, "text/markdown");
    assert.equal(unnamed.status, 400, "the file must be named");

    const listed = await agent("GET", "/stores/acme/kb");
    assert.equal(listed.status, 200);
    assert.ok(listed.body.documents.some((d: { title: string }) => /care/i.test(d.title)));
    assert.equal((await other("GET", "/stores/acme/kb")).status, 404);
    await waitFor(async () => {
      const [r] = await sql`select count(*) filter (where embedding is null)::int as n from public.kb_chunks c
                            join public.stores s on s.id = c.store_id where s.slug = 'acme'`;
      return r.n === 0;
    }, "acme's knowledge embedded");
    const found = await agent(
      "GET",
      `/stores/acme/kb/search?q=${encodeURIComponent("can I use bleach when washing?")}`,
    );
    assert.equal(found.status, 200);
    assert.match(found.body.hits[0].content, /bleach/);

    // The bot goes on a fresh inbox of acme's provisioned account (the seeded inboxes stay human).
    const [acct] = await waitFor(
      async () => {
        const rows = await sql`select a.id, a.account_id, s.api_token from public.chatwoot_accounts a
                             join private.chatwoot_account_secrets s on s.account_ref = a.id
                             join public.stores st on st.id = a.store_id where st.slug = 'acme' and s.api_token is not null`;
        return rows.length ? rows : null;
      },
      "acme provisioned",
      60_000,
    );
    const inbox = await sandboxCall(sandboxEnv(), "POST", `/api/v1/accounts/${acct.account_id}/inboxes`, {
      token: acct.api_token,
      body: { name: "AI test", channel: { type: "api" } },
    });
    assert.equal((await agent("POST", "/stores/acme/ai/enable", { inbox_ids: [inbox.body.id] })).status, 403);
    assert.equal((await other("POST", "/stores/acme/ai/enable", { inbox_ids: [inbox.body.id] })).status, 404);
    const unknownInbox = await owner("POST", "/stores/acme/ai/enable", { inbox_ids: [999999] });
    assert.equal(unknownInbox.status, 409);
    assert.match(unknownInbox.body.error.message, /no inbox 999999/);
    const enabled = await owner("POST", "/stores/acme/ai/enable", { inbox_ids: [inbox.body.id], mode: "assist" });
    assert.equal(enabled.status, 200, JSON.stringify(enabled.body));
    const attached = await sandboxCall(
      sandboxEnv(),
      "GET",
      `/api/v1/accounts/${acct.account_id}/inboxes/${inbox.body.id}/agent_bot`,
      {
        token: acct.api_token,
      },
    );
    assert.equal(attached.body.agent_bot.id, enabled.body.agent_bot_id);

    const read = await agent("GET", "/stores/acme/ai");
    assert.equal(read.status, 200);
    assert.equal(read.body.settings.mode, "assist");
    assert.equal((await other("GET", "/stores/acme/ai")).status, 404);
    assert.equal((await agent("POST", "/stores/acme/ai/settings", { mode: "auto" })).status, 404, "agents cannot tune");
    const tuned = await owner("POST", "/stores/acme/ai/settings", { mode: "auto", daily_token_budget: 5000 });
    assert.equal(tuned.status, 200);
    assert.equal(tuned.body.settings.daily_token_budget, 5000);
    assert.equal((await owner("POST", "/stores/acme/ai/settings", { enabled: false })).status, 400, "not a setting");

    const refused = await other("POST", `/conversations/${acct.id}/1/return-to-bot`);
    assert.equal(refused.status, 403);
    const [audit] = await sql`select count(*)::int as n from private.audit_log where action = 'ai.enable'
                              and target = ${`store:${
      (await sql`select id from public.stores where slug = 'acme'`)[0].id
    }`}`;
    assert.ok(audit.n >= 1);

    assert.equal((await owner("POST", "/stores/acme/ai/disable")).status, 200);
    const detached = await sandboxCall(
      sandboxEnv(),
      "GET",
      `/api/v1/accounts/${acct.account_id}/inboxes/${inbox.body.id}/agent_bot`,
      {
        token: acct.api_token,
      },
    );
    assert.equal(detached.body.agent_bot, null);
  } finally {
    await sql.end();
  }
});

Deno.test(
  "the AI page's overview carries the quota pause; only a platform administrator resumes it",
  opts,
  async () => {
    const sql = connect(stack.dbUrl);
    try {
      const owner = await as(ACME_OWNER);
      const admin = async (method: string, path: string) => {
        const token = await signUserToken(stack.signer, { id: ACME_AGENT, app_metadata: { platform_admin: true } });
        const res = await fetch(`${base}${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: method === "POST" ? "{}" : undefined,
        });
        return { status: res.status, body: await res.json() };
      };
      assert.equal((await owner("GET", "/stores/acme/ai")).body.ai_pause, null, "running: no pause");
      await sql`select private.pause_ai('insufficient_quota', 'embeddings', 'You exceeded your current quota',
                                     interval '10 minutes')`;
      const overview = await owner("GET", "/stores/acme/ai");
      assert.equal(overview.body.ai_pause.code, "insufficient_quota");
      assert.equal(overview.body.ai_pause.reason, "You exceeded your current quota");
      const refused = await owner("POST", "/ai/resume", {});
      assert.equal(refused.status, 403, "a store owner cannot resume the deployment's AI");
      assert.match(refused.body.error.message, /only platform administrators/);
      const resumed = await admin("POST", "/ai/resume");
      assert.deepEqual([resumed.status, resumed.body], [200, { resumed: true }]);
      assert.equal((await owner("GET", "/stores/acme/ai")).body.ai_pause, null);
    } finally {
      await sql`select private.resume_ai('test', 'cleanup')`;
      await sql.end();
    }
  },
);

// `switchboard ai …` as an operator types it, against the test stack and its Chatwoot sandbox.

import assert from "node:assert/strict";
import { main } from "./main.ts";
import { connect } from "../../supabase/functions/_shared/platform/db.ts";
import { testStack, waitFor } from "../testing/env.ts";
import { sandboxCall } from "../testing/chatwoot.ts";
import { linkedSandboxStore } from "../testing/contact_sync.ts";

const stack = testStack();
const opts = { sanitizeOps: false, sanitizeResources: false };

async function cli(...args: string[]) {
  const lines: string[] = [];
  const code = await main(args, (l) => lines.push(l));
  return { code, out: lines.join("\n") };
}

Deno.test("ai enable, status, return-to-bot and disable from the command line", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const { store, api, env, cw, accountRef } = await linkedSandboxStore(sql);
    const inbox = await api("POST", "/inboxes", { name: "CLI bot", channel: { type: "api" } });

    assert.equal((await cli("ai", "enable", "--store", store.slug, "--mode", "chatty")).code, 2, "bad mode");
    assert.equal((await cli("ai", "enable", "--store", store.slug, "--inbox", "x")).code, 2, "bad inbox id");
    assert.equal((await cli("ai", "enable", "--store", "no-such-store")).code, 1);
    const enabled = await cli(
      "ai",
      "enable",
      "--store",
      store.slug,
      "--mode",
      "assist",
      "--inbox",
      String(inbox.body.id),
    );
    assert.equal(enabled.code, 0, enabled.out);
    assert.match(
      enabled.out,
      new RegExp(`AI replies on for ${store.slug}: agent bot \\d+ \\(created\\), inboxes ${inbox.body.id}`),
    );
    const again = await cli("ai", "enable", "--store", store.slug, "--inbox", String(inbox.body.id));
    assert.match(again.out, /re-pointed/, "enabling twice re-points the same bot");

    const status = await cli("ai", "status", "--store", store.slug);
    assert.equal(status.code, 0);
    assert.match(status.out, /true\s+assist/);

    // A conversation the bot owns; a person takes it over; the operator gives it back.
    const started = await sandboxCall(env, "POST", "/_control/traffic/incoming", {
      body: { inbox_id: inbox.body.id, content: "hello?" },
    });
    const conversationId = started.body.conversation.id;
    await sandboxCall(env, "POST", "/_control/traffic/agent_reply", {
      body: { account_id: cw.accountId, conversation_id: conversationId, content: "Hi, a person here." },
    });
    await waitFor(async () => {
      const [c] = await sql`select bot_paused from public.ai_conversations
                            where account_ref = ${accountRef} and conversation_display_id = ${conversationId}`;
      return c?.bot_paused === true;
    }, "the bot paused by the person's reply");
    assert.equal((await cli("ai", "return-to-bot", "--store", store.slug)).code, 2, "needs --conversation");
    const back = await cli("ai", "return-to-bot", "--store", store.slug, "--conversation", String(conversationId));
    assert.equal(back.code, 0, back.out);
    const [c] = await sql`select bot_paused from public.ai_conversations
                          where account_ref = ${accountRef} and conversation_display_id = ${conversationId}`;
    assert.equal(c.bot_paused, false);
    await waitFor(async () => {
      const r = await sandboxCall(env, "GET", `/_control/accounts/${cw.accountId}/conversations/${conversationId}`);
      return r.body.conversation.status === "pending";
    }, "the conversation pending again");

    const off = await cli("ai", "disable", "--store", store.slug);
    assert.equal(off.code, 0, off.out);
    const attached = await api("GET", `/inboxes/${inbox.body.id}/agent_bot`);
    assert.equal(attached.body.agent_bot, null);
    assert.match((await cli("ai", "status", "--store", store.slug)).out, /false\s+assist/);
  } finally {
    await sql.end();
  }
});

Deno.test("ai status says the AI is paused for quota, since when and why; ai resume ends it", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    assert.match((await cli("ai", "status")).out, /^AI: running$/m);
    await sql`select private.pause_ai('insufficient_quota', 'embeddings',
                'You exceeded your current quota, please check your plan and billing details.', interval '10 minutes')`;
    const paused = await cli("ai", "status");
    assert.equal(paused.code, 0, paused.out);
    assert.match(paused.out, /AI: PAUSED since \d{4}-\d\d-\d\dT[\d:]+Z: the OpenAI account is out of quota/);
    assert.match(paused.out, /first met on embeddings/);
    assert.match(paused.out, /OpenAI said: You exceeded your current quota/);
    assert.match(paused.out, /then `switchboard ai resume`/);

    const resumed = await cli("ai", "resume");
    assert.equal(resumed.code, 0, resumed.out);
    assert.match(resumed.out, /AI resumed/);
    assert.match((await cli("ai", "status")).out, /^AI: running$/m);
    assert.match((await cli("ai", "resume")).out, /AI was not paused/);
    const [audit] = await sql`select actor, detail from private.audit_log where action = 'ai.resumed'
                              order by id desc limit 1`;
    assert.equal(audit.detail.how, "operator");
    assert.match(audit.actor, /^cli:/, "the operator is named in the audit log");
  } finally {
    await sql`select private.resume_ai('test', 'cleanup')`;
    await sql.end();
  }
});

// Real Chatwoot shapes, end to end: the sandbox (behaving as Chatwoot does) delivers to the
// deployed chatwoot-webhook of the test stack, and the mirror follows — label changes named
// cached_label_list / label_list, a snoozed conversation reopened by an incoming message, a bot's
// typing, and develop's conversation payloads whose top-level account is cross-checked.

import assert from "node:assert/strict";
import { connect, type Sql } from "../_shared/platform/db.ts";
import { testStack, waitFor } from "../../../scripts/testing/env.ts";
import {
  createSandboxAgentBot,
  createSandboxWhatsAppInbox,
  type Json,
  sandboxCall,
  sandboxLinkedStore,
} from "../../../scripts/testing/chatwoot.ts";

const stack = testStack();
const opts = { sanitizeOps: false, sanitizeResources: false };

async function linked(sql: Sql) {
  const s = await sandboxLinkedStore(sql, `${stack.apiUrl}/functions/v1`);
  const inboxId = await createSandboxWhatsAppInbox(s.env, s.cw.accountId, s.cw.token);
  const control = (path: string, body: unknown) => sandboxCall(s.env, "POST", `/_control${path}`, { body });
  const first = await control("/traffic/whatsapp", { inbox_id: inboxId, from: "+5215512340001", text: "Hola" });
  const conversationId = first.body.conversation.id as number;
  const mirrored = () =>
    sql`select status, labels, snoozed_until from public.chatwoot_conversations
        where account_ref = ${s.accountRef} and display_id = ${conversationId}`.then((r) => r[0]);
  await waitFor(mirrored, "the conversation mirrored");
  return { ...s, inboxId, control, conversationId, mirrored };
}

async function ledger(sql: Sql, accountRef: string, event: string) {
  return await sql`select outcome from private.chatwoot_deliveries
                   where account_ref = ${accountRef} and event = ${event} order by received_at`;
}

Deno.test("a label change in Chatwoot reaches the mirror's labels", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const s = await linked(sql);
    const r = await s.control("/traffic/labels", {
      account_id: s.cw.accountId,
      conversation_id: s.conversationId,
      labels: ["billing", "vip"],
    });
    assert.equal(r.status, 200);
    await waitFor(async () => (await s.mirrored()).labels.length === 2, "the labels mirrored");
    assert.deepEqual((await s.mirrored()).labels, ["billing", "vip"]);
    await s.control("/traffic/labels", { account_id: s.cw.accountId, conversation_id: s.conversationId, labels: [] });
    await waitFor(async () => (await s.mirrored()).labels.length === 0, "the labels removed");
  } finally {
    await sql.end();
  }
});

Deno.test("an incoming message reopens a snoozed conversation in Chatwoot and in the mirror", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const s = await linked(sql);
    await s.control("/traffic/status", {
      account_id: s.cw.accountId,
      conversation_id: s.conversationId,
      status: "snoozed",
    });
    await waitFor(async () => (await s.mirrored()).status === "snoozed", "snoozed in the mirror");
    await s.control("/traffic/whatsapp", { inbox_id: s.inboxId, from: "+5215512340001", text: "¿Siguen ahí?" });
    await waitFor(async () => (await s.mirrored()).status === "open", "reopened in the mirror");
    assert.equal((await s.mirrored()).snoozed_until, null);
  } finally {
    await sql.end();
  }
});

Deno.test("a bot's typing is accepted with the bot as its actor", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const s = await linked(sql);
    const bot = await createSandboxAgentBot(s.env, s.cw.accountId, s.cw.token, "https://bots.example/hook");
    const typing = await sandboxCall(
      s.env,
      "POST",
      `/api/v1/accounts/${s.cw.accountId}/conversations/${s.conversationId}/toggle_typing_status`,
      { token: bot.token, body: { typing_status: "on" } },
    );
    assert.equal(typing.status, 200);
    const [row] = await waitFor(async () => {
      const rows = await ledger(sql, s.accountRef, "conversation_typing_on");
      return rows.length ? rows : null;
    }, "the typing delivery");
    assert.ok(["applied", "stale"].includes(row.outcome), `typing from a bot: ${row.outcome}`);
    const log = (await sandboxCall(s.env, "GET", "/_control/deliveries?kind=account_webhook")).body
      .deliveries as Json[];
    const sent = log.find((d) => d.event === "conversation_typing_on" && d.account_id === s.cw.accountId);
    assert.deepEqual(JSON.parse(sent.body).user, { id: bot.id, name: "AI replies", type: "agent_bot" });
  } finally {
    await sql.end();
  }
});

Deno.test("develop's conversation payloads name their account, and it is the route's", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const s = await linked(sql);
    await sandboxCall(s.env, "PATCH", `/_control/accounts/${s.cw.accountId}`, { body: { develop_payloads: true } });
    await s.control("/traffic/status", {
      account_id: s.cw.accountId,
      conversation_id: s.conversationId,
      status: "resolved",
    });
    await waitFor(async () => (await s.mirrored()).status === "resolved", "resolved in the mirror");
    const rows = await ledger(sql, s.accountRef, "conversation_status_changed");
    assert.ok(rows.every((r) => r.outcome !== "rejected"), JSON.stringify(rows));
    const log = (await sandboxCall(s.env, "GET", "/_control/deliveries?kind=account_webhook")).body
      .deliveries as Json[];
    const sent = JSON.parse(
      log.find((d) => d.event === "conversation_status_changed" && d.account_id === s.cw.accountId).body,
    );
    assert.equal(sent.account.id, s.cw.accountId, "the payload carried its account");
  } finally {
    await sql.end();
  }
});

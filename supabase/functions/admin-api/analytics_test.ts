// What the figures rest on, fed the way Chatwoot sends it: a CSAT survey created and then answered
// (message_updated) keeps its rating and comment, and a conversation_status_changed to resolved
// stamps resolved_at with Chatwoot's updated_at.
// admin-api's store analytics with real user tokens on a small fixed dataset in acme's mirror (in
// 2020, away from the stack's own conversations): the owner and a platform administrator get the
// known figures, the store's agent is refused, globex's owner cannot see acme at all, and a range
// that is backwards, too long or not a date is a 400 that says why.

import assert from "node:assert/strict";
import { connect } from "../_shared/platform/db.ts";
import { testStack, waitFor } from "../../../scripts/testing/env.ts";
import { signUserToken } from "../../../scripts/local/supabase/keys.ts";
import { analyticsRange } from "./routes/analytics.ts";
import { fixture } from "../../../scripts/testing/chatwoot.ts";
import { parseChatwootEvent } from "../_shared/chatwoot/events.ts";
import { normalizeChatwootEvent } from "../_shared/chatwoot/normalize.ts";
import { ingestDelivery, mirrorRows } from "../_shared/chatwoot/ingest.ts";
import type { Sql } from "../_shared/platform/db.ts";

const stack = testStack();
const opts = { sanitizeOps: false, sanitizeResources: false };
const base = `${stack.apiUrl}/functions/v1/admin-api`;
const PLATFORM = "00000000-0000-4000-8000-000000000001";
const ACME_OWNER = "00000000-0000-4000-8000-00000000a001";
const ACME_AGENT = "00000000-0000-4000-8000-00000000a002";
const GLOBEX_OWNER = "00000000-0000-4000-8000-00000000b001";
const FIRST_ID = 810_001;

async function as(id: string, admin = false) {
  const token = await signUserToken(stack.signer, { id, app_metadata: admin ? { platform_admin: true } : {} });
  return async (path: string) => {
    const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: await res.json() };
  };
}

Deno.test("analyticsRange: last 30 days by default, half-open, bounded", () => {
  const now = new Date("2026-03-31T00:00:00Z");
  const r = analyticsRange(new URLSearchParams(), now);
  assert.equal(r.from.toISOString(), "2026-03-01T00:00:00.000Z");
  assert.equal(r.to.toISOString(), now.toISOString());
  assert.throws(() => analyticsRange(new URLSearchParams({ from: "yesterday" }), now), /Invalid range/);
  assert.throws(
    () => analyticsRange(new URLSearchParams({ from: "2026-03-02T00:00:00Z", to: "2026-03-01T00:00:00Z" }), now),
    /end after it starts/,
  );
  assert.throws(
    () => analyticsRange(new URLSearchParams({ from: "2020-01-01T00:00:00Z", to: "2026-01-01T00:00:00Z" }), now),
    /at most 400 days/,
  );
});

Deno.test("store analytics through admin-api: the owner's figures, nobody else's", opts, async () => {
  const sql = connect(stack.dbUrl, { max: 1 });
  const [acct] = await waitFor(
    async () => {
      const rows = await sql`select a.id, a.store_id from public.chatwoot_accounts a
                           join public.stores s on s.id = a.store_id where s.slug = 'acme'`;
      return rows.length ? rows : null;
    },
    "acme's Chatwoot account linked",
    60_000,
  );
  const conv = (n: number, channel: string, created: string, status: string, changed?: string) =>
    sql`insert into public.chatwoot_conversations (account_ref, display_id, store_id, inbox_id, channel, status,
                                                   created_at, version)
        values (${acct.id}, ${FIRST_ID + n}, ${acct.store_id}, 1, ${channel}, ${status}, ${created},
                ${Date.parse(changed ?? created)})`;
  const msg = (n: number, id: number, type: string, at: string, sender: string | null, extra: object = {}) =>
    sql`insert into public.chatwoot_messages (account_ref, message_id, store_id, conversation_display_id, inbox_id,
                                              message_type, sender_type, content_type, content_attributes, created_at,
                                              version_fingerprint)
        values (${acct.id}, ${FIRST_ID * 100 + id}, ${acct.store_id}, ${FIRST_ID + n}, 1, ${type}, ${sender},
                ${"survey" in extra ? "input_csat" : "text"}, ${sql.json(extra as Record<string, never>)}, ${at},
                ${`analytics-test-${id}`})`;
  const cleanup = async () => {
    await sql`delete from public.chatwoot_messages where account_ref = ${acct.id} and message_id >= ${FIRST_ID * 100}
              and message_id < ${(FIRST_ID + 1000) * 100}`;
    await sql`delete from public.chatwoot_conversations where account_ref = ${acct.id}
              and display_id between ${FIRST_ID} and ${FIRST_ID + 999}`;
  };
  try {
    await cleanup();
    // Two conversations on 2 June 2020 (UTC; acme has no time zone): a WhatsApp one the bot answers
    // in 20 s and is resolved after 10 min, with a CSAT 4; a widget one a person answers in 100 s.
    await conv(1, "Channel::Whatsapp", "2020-06-02T10:00:00Z", "resolved", "2020-06-02T10:10:00Z");
    await msg(1, 1, "incoming", "2020-06-02T10:00:00Z", "contact");
    await msg(1, 2, "outgoing", "2020-06-02T10:00:20Z", "agent_bot");
    await msg(1, 3, "template", "2020-06-02T10:10:00Z", null, {
      survey: true,
      submitted_values: { csat_survey_response: { rating: 4, feedback_message: "Quick, thanks" } },
    });
    await conv(2, "Channel::WebWidget", "2020-06-02T14:00:00Z", "open");
    await msg(2, 4, "incoming", "2020-06-02T14:00:00Z", "contact");
    await msg(2, 5, "outgoing", "2020-06-02T14:01:40Z", "user");

    const range = "?from=2020-06-01T00:00:00Z&to=2020-06-08T00:00:00Z";
    const owner = await as(ACME_OWNER);
    const got = await owner(`/stores/acme/analytics${range}`);
    assert.equal(got.status, 200, JSON.stringify(got.body));
    assert.equal(got.body.time_zone, "UTC");
    assert.deepEqual(got.body.range, { from: "2020-06-01T00:00:00.000Z", to: "2020-06-08T00:00:00.000Z" });
    assert.deepEqual(got.body.conversations_per_day, [
      { day: "2020-06-02", channel: "WebWidget", conversations: 1 },
      { day: "2020-06-02", channel: "Whatsapp", conversations: 1 },
    ]);
    assert.deepEqual(got.body.response_times, [
      { measure: "first_response", conversations: 2, waiting: 0, p50_seconds: 60, p90_seconds: 92 },
      { measure: "resolution", conversations: 1, waiting: 1, p50_seconds: 600, p90_seconds: 600 },
    ]);
    assert.deepEqual(got.body.answer_share.map((r: { outcome: string; share: number }) => [r.outcome, r.share]), [
      ["bot", 0.5],
      ["handed_off", 0],
      ["people", 0.5],
      ["unanswered", 0],
    ]);
    assert.deepEqual(got.body.busiest_hours, [
      { weekday: 2, hour: 10, incoming_messages: 1 },
      { weekday: 2, hour: 14, incoming_messages: 1 },
    ]);
    assert.deepEqual(got.body.csat, [{
      conversation_display_id: FIRST_ID + 1,
      rating: 4,
      feedback: "Quick, thanks",
      sent_at: "2020-06-02T10:10:00.000Z",
    }]);

    const platform = await as(PLATFORM, true);
    const asPlatform = await platform(`/stores/acme/analytics${range}`);
    assert.equal(asPlatform.status, 200);
    assert.deepEqual(asPlatform.body.conversations_per_day, got.body.conversations_per_day);

    const agent = await as(ACME_AGENT);
    const refused = await agent(`/stores/acme/analytics${range}`);
    assert.equal(refused.status, 403, "a member who is no administrator is refused");
    assert.match(refused.body.error.message, /owners and admins/);
    const other = await as(GLOBEX_OWNER);
    assert.equal((await other(`/stores/acme/analytics${range}`)).status, 404, "globex's owner cannot see acme");
    const globex = await other(`/stores/globex/analytics${range}`);
    assert.equal(globex.status, 200);
    assert.equal(globex.body.csat.length, 0, "and globex's own figures hold none of acme's");

    const backwards = await owner("/stores/acme/analytics?from=2020-06-08T00:00:00Z&to=2020-06-01T00:00:00Z");
    assert.equal(backwards.status, 400);
    assert.match(backwards.body.error.message, /end after it starts/);
    assert.equal((await owner("/stores/acme/analytics?from=soon")).status, 400);
  } finally {
    await cleanup();
    await sql.end();
  }
});

/** Parses, normalises and ingests one Chatwoot payload into the account, as the webhook receiver does. */
async function ingest(sql: Sql, account: { id: string; account_id: number }, body: Record<string, unknown>) {
  const parsed = parseChatwootEvent(body);
  if (!parsed.ok) throw new Error(`payload does not parse: ${JSON.stringify(parsed)}`);
  return await ingestDelivery(sql, {
    accountRef: account.id,
    deliveryId: crypto.randomUUID(),
    event: String(body.event),
    rows: mirrorRows(normalizeChatwootEvent(parsed.event, account.account_id)),
  });
}

Deno.test("a CSAT answer and a resolution, as Chatwoot's webhooks carry them, reach the figures", opts, async () => {
  const sql = connect(stack.dbUrl, { max: 1 });
  const display = FIRST_ID + 500;
  const [acct] = await waitFor(
    async () => {
      const rows = await sql<{ id: string; account_id: number; store_id: string }[]>`
      select a.id, a.account_id, a.store_id from public.chatwoot_accounts a
                           join public.stores s on s.id = a.store_id where s.slug = 'acme'`;
      return rows.length ? rows : null;
    },
    "acme's Chatwoot account linked",
    60_000,
  );
  const cleanup = async () => {
    await sql`delete from public.chatwoot_messages where account_ref = ${acct.id} and conversation_display_id = ${display}`;
    await sql`delete from public.chatwoot_conversations where account_ref = ${acct.id} and display_id = ${display}`;
  };
  try {
    await cleanup();
    // Chatwoot's survey: a template message with content_type input_csat and no sender, then the same
    // message updated with the customer's answer in content_attributes.submitted_values.
    const text = fixture("whatsapp-text.message_created.json");
    const conversation = { ...(text.conversation as Record<string, unknown>), id: display, messages: [] };
    const survey = {
      ...text,
      id: 880_000_001,
      message_type: "template",
      content_type: "input_csat",
      content: "Please rate the conversation",
      content_attributes: { display_type: "star" },
      sender: null,
      source_id: null,
      conversation,
    };
    assert.equal(await ingest(sql, acct, { ...survey, event: "message_created" }), "applied");
    const answer = {
      display_type: "star",
      submitted_values: { csat_survey_response: { rating: 3, feedback_message: "Fine, a bit slow" } },
    };
    assert.equal(
      await ingest(sql, acct, { ...survey, content_attributes: answer, event: "message_updated" }),
      "applied",
    );
    const [kept] = await sql`select content_attributes from public.chatwoot_messages
                             where account_ref = ${acct.id} and message_id = 880000001`;
    assert.deepEqual(kept.content_attributes, answer, "the mirror keeps the answer verbatim");

    // Chatwoot's own conversation_status_changed (resolved), moved to this conversation.
    const resolved = { ...fixture("conversation_status_changed.resolved.json"), id: display, messages: [] };
    assert.equal(await ingest(sql, acct, resolved), "applied");
    const [conv] = await sql`select resolved_at from public.chatwoot_conversations
                             where account_ref = ${acct.id} and display_id = ${display}`;
    assert.equal(new Date(conv.resolved_at).toISOString(), "2026-04-20T14:24:00.330Z", "Chatwoot's updated_at");

    const owner = await as(ACME_OWNER);
    const got = await owner("/stores/acme/analytics?from=2026-04-01T00:00:00Z&to=2026-05-01T00:00:00Z");
    assert.equal(got.status, 200, JSON.stringify(got.body));
    assert.deepEqual(
      got.body.csat.filter((r: { conversation_display_id: number }) => r.conversation_display_id === display)
        .map((r: { rating: number; feedback: string }) => [r.rating, r.feedback]),
      [[3, "Fine, a bit slow"]],
    );
    const resolution = got.body.response_times.find((r: { measure: string }) => r.measure === "resolution");
    assert.ok(resolution.conversations >= 1, "the resolved conversation is measured");
  } finally {
    await cleanup();
    await sql.end();
  }
});

// AI replies end to end: a customer writes in the Chatwoot sandbox → signed agent-bot webhook →
// chatwoot-bot (mirror + job, same transaction) → the stack's worker → retrieval + the OpenAI
// stand-in → the bot's reply, note or handoff back in Chatwoot.

import assert from "node:assert/strict";
import { connect } from "../platform/db.ts";
import { testStack, waitFor } from "../../../../scripts/testing/env.ts";
import { sandboxCall } from "../../../../scripts/testing/chatwoot.ts";
import { signChatwootPayload } from "../chatwoot/signature.ts";
import { unlimited } from "../chatwoot/rate_limit.ts";
import { returnToBot } from "./reply.ts";
import {
  agentSays,
  type BotStore,
  botStore,
  conversation,
  customerSays,
  decisionFor,
  modelRequests,
  scriptModel,
} from "../../../../scripts/testing/bot.ts";

const stack = testStack();
const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "a question the knowledge base answers gets one bot reply citing its chunk, even delivered three times",
  opts,
  async () => {
    const sql = connect(stack.dbUrl);
    try {
      const s = await botStore(sql);
      // Every bot delivery of the next message arrives three times: a retry (same id) and a
      // second dispatch (new id, Chatwoot #11901).
      await sandboxCall(s.env, "POST", "/_control/faults", {
        body: { mode: "duplicate", path: "*chatwoot-bot*", event: "message_created", count: 1, same_delivery_id: true },
      });
      await sandboxCall(s.env, "POST", "/_control/faults", {
        body: { mode: "duplicate", path: "*chatwoot-bot*", event: "message_created", count: 1 },
      });
      const { conversationId, messageId } = await customerSays(s, "How long does international shipping take?");
      const d = await decisionFor(sql, s.accountRef, messageId);
      assert.equal(d.action, "reply", d.reason);
      const [chunk] = await sql`select id::text, content from public.kb_chunks where id = any(${d.cited_chunk_ids})`;
      assert.match(chunk.content, /International delivery takes 7 to 12 business days/);
      await sandboxCall(s.env, "POST", "/_control/settle");
      const botDeliveries = (await sandboxCall(s.env, "GET", "/_control/deliveries?kind=agent_bot")).body.deliveries
        .filter((x: { event: string }) => x.event === "message_created");
      assert.ok(botDeliveries.length >= 3, `three deliveries of the customer's message (${botDeliveries.length})`);
      const c = await conversation(s, conversationId);
      assert.equal(c.botReplies.length, 1, "one reply");
      assert.match(c.botReplies[0].content, /7 to 12 business days/);
      assert.equal(c.status, "pending", "the bot still owns the conversation");
      const [jobs] = await sql`select count(*)::int as n from private.jobs where kind = 'ai.reply'
                             and payload ->> 'message_id' = ${String(messageId)}`;
      assert.equal(jobs.n, 1);
      assert.ok(d.latency_ms >= 0 && d.model === "switchboard-test-chat" && d.prompt_tokens > 0);
      assert.ok(d.chunks.some((x: { id: string; relevant: boolean }) => x.id === chunk.id && x.relevant));
    } finally {
      await sql.end();
    }
  },
);

for (
  const [name, setup, question, reason] of [
    [
      "an unknown question",
      async () => {},
      "Do you sell gift cards for birthdays?",
      /nothing in the knowledge base|not in the knowledge base/,
    ],
    ["a request for a person", async () => {}, "I want to talk to a person please", /asked for a person/],
    [
      "a model error",
      async () => {
        await scriptModel({ endpoint: "chat", match: "broken zipper", times: 2, respond: { status: 500 } });
      },
      "My order has a broken zipper, how long does shipping take for a replacement?",
      /model failed/,
    ],
  ] as const
) {
  Deno.test(`${name} hands off: open, private note with the reason, no bot reply afterwards`, opts, async () => {
    const sql = connect(stack.dbUrl);
    try {
      const s = await botStore(sql);
      await setup();
      const first = await customerSays(s, question);
      const d = await decisionFor(sql, s.accountRef, first.messageId);
      assert.equal(d.action, "handoff");
      assert.match(d.reason, reason);
      await waitFor(async () => (await conversation(s, first.conversationId)).status === "open", "the handoff");
      const c = await conversation(s, first.conversationId);
      assert.equal(c.botNotes.length, 1);
      assert.match(c.botNotes[0].content, reason);
      assert.deepEqual(c.botReplies.map((m) => m.content), [
        "Let me bring in a member of our team to help you with this.",
      ]);

      const again = await customerSays(s, "How long does international shipping take?", {
        conversationId: first.conversationId,
      });
      const d2 = await decisionFor(sql, s.accountRef, again.messageId);
      assert.equal(d2.action, "skip");
      assert.equal((await conversation(s, first.conversationId)).botReplies.length, 1, "silent after the handoff");
    } finally {
      await sql.end();
    }
  });
}

Deno.test("an exhausted daily budget hands off without calling the model", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const s = await botStore(sql);
    await sql`update public.ai_bot_settings set daily_token_budget = 100 where store_id = ${s.store.id}`;
    await sql`insert into public.ai_usage_daily (store_id, day, tokens, requests)
              values (${s.store.id}, (now() at time zone 'utc')::date, 100, 3)`;
    const { conversationId, messageId } = await customerSays(s, "How long does international shipping take? (budget)");
    const d = await decisionFor(sql, s.accountRef, messageId);
    assert.equal(d.action, "handoff");
    assert.match(d.reason, /budget/);
    assert.equal(d.prompt_tokens, 0);
    assert.equal((await modelRequests()).filter((r) => JSON.stringify(r.summary ?? {}).includes("(budget)")).length, 0);
    await waitFor(async () => (await conversation(s, conversationId)).status === "open", "the handoff");
  } finally {
    await sql.end();
  }
});

Deno.test("a person replying in between silences the bot; return to bot resumes it", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const s = await botStore(sql);
    // The model takes a while on this one: long enough for an agent to answer first.
    await scriptModel({ endpoint: "chat", match: "slow question", respond: { delay_ms: 2500 } });
    const first = await customerSays(s, "slow question: how long does standard delivery take?");
    await waitFor(
      async () => (await modelRequests()).some((r) => JSON.stringify(r.summary ?? {}).includes("slow question")),
      "the model call",
    );
    await agentSays(s, first.conversationId, "Hi, Sam here — 3 to 5 business days!");
    const d = await decisionFor(sql, s.accountRef, first.messageId);
    assert.equal(d.action, "skip");
    assert.match(d.reason, /person replied|paused/);
    let c = await conversation(s, first.conversationId);
    assert.equal(c.botReplies.length, 0, "the bot stayed silent");
    await waitFor(async () => (await conversation(s, first.conversationId)).status === "open", "opened for the person");

    const second = await customerSays(s, "And to Mexico?", { conversationId: first.conversationId });
    assert.equal((await decisionFor(sql, s.accountRef, second.messageId)).action, "skip");

    await returnToBot({ sql, limiter: unlimited }, {
      account_ref: s.accountRef,
      conversation_display_id: first.conversationId,
    });
    await waitFor(async () => (await conversation(s, first.conversationId)).status === "pending", "pending again");
    const third = await customerSays(s, "How long does international shipping take?", {
      conversationId: first.conversationId,
    });
    assert.equal((await decisionFor(sql, s.accountRef, third.messageId)).action, "reply");
    c = await conversation(s, first.conversationId);
    assert.equal(c.botReplies.length, 1);
    const [audit] = await sql`select 1 from private.audit_log where action = 'ai.return_to_bot'
                              and target = ${`conversation:${s.accountRef}:${first.conversationId}`}`;
    assert.ok(audit);
  } finally {
    await sql.end();
  }
});

Deno.test("two quick messages: the second waits for the first one's handoff and stays unanswered", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const s = await botStore(sql);
    const handoff = JSON.stringify({
      action: "handoff",
      text: "",
      reason: "scripted: needs a person",
      cited_chunk_ids: [],
    });
    await scriptModel({ endpoint: "chat", match: "first of two", respond: { content: handoff, delay_ms: 1500 } });
    const first = await customerSays(s, "first of two: how long does international shipping take?");
    const second = await customerSays(s, "How long does international shipping take?", {
      conversationId: first.conversationId,
    });
    const d1 = await decisionFor(sql, s.accountRef, first.messageId);
    assert.equal(d1.action, "handoff", d1.reason);
    const d2 = await decisionFor(sql, s.accountRef, second.messageId);
    assert.equal(d2.action, "skip", d2.reason);
    const c = await conversation(s, first.conversationId);
    assert.equal(c.botReplies.length, 1, "only the handoff message, no answer after it");
    assert.equal(c.botNotes.length, 1);
  } finally {
    await sql.end();
  }
});

Deno.test("store A's bot never answers from store B's knowledge", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const a = await botStore(sql);
    const b = await botStore(sql, {
      doc: "# Warranty\n\nEvery Falcon tent carries a lifetime warranty against manufacturing defects.\n",
    });
    const q = await customerSays(a, "What warranty does the Falcon tent carry?");
    const d = await decisionFor(sql, a.accountRef, q.messageId);
    const bChunks = (await sql`select id::text from public.kb_chunks where store_id = ${b.store.id}`).map((r) => r.id);
    const seen = (d.chunks as { id: string }[]).map((x) => x.id);
    assert.equal(seen.filter((id) => bChunks.includes(id)).length, 0, "no chunk of store B retrieved");
    assert.equal(d.action, "handoff");
    const c = await conversation(a, q.conversationId);
    assert.ok(!c.messages.some((m) => /lifetime warranty/.test(m.content ?? "")));
  } finally {
    await sql.end();
  }
});

Deno.test("assist mode posts only private notes", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const s = await botStore(sql, { mode: "assist" });
    const { conversationId, messageId } = await customerSays(s, "How long does international shipping take?");
    const d = await decisionFor(sql, s.accountRef, messageId);
    assert.equal(d.action, "assist");
    const c = await conversation(s, conversationId);
    assert.equal(c.botReplies.length, 0, "nothing public");
    assert.equal(c.botNotes.length, 1);
    assert.match(c.botNotes[0].content, /Suggested reply:[\s\S]*7 to 12 business days/);
  } finally {
    await sql.end();
  }
});

Deno.test(
  "a WhatsApp voice note without a transcript is transcribed, archived with the message and answered",
  opts,
  async () => {
    const sql = connect(stack.dbUrl);
    try {
      const s = await botStore(sql, { whatsapp: true });
      // The stand-in "hears" what follows TRANSCRIPT: in the audio bytes.
      const audio = btoa("OggS\u0000fake-opus TRANSCRIPT:How long does international shipping take?");
      const sent = await sandboxCall(s.env, "POST", "/_control/traffic/whatsapp", {
        body: {
          inbox_id: s.inboxId,
          from: "+5511976540001",
          kind: "voice",
          media: { base64: audio, content_type: "audio/ogg" },
        },
      });
      assert.equal(sent.status, 200, JSON.stringify(sent.body));
      const messageId = sent.body.message.id as number;
      const conversationId = sent.body.conversation.id as number;
      const d = await decisionFor(sql, s.accountRef, messageId);
      assert.equal(d.question, "How long does international shipping take?");
      assert.equal(d.action, "reply");
      const [att] = await sql`select transcribed_text from public.chatwoot_attachments
                            where account_ref = ${s.accountRef} and message_id = ${messageId}`;
      assert.equal(att.transcribed_text, "How long does international shipping take?");
      assert.equal((await conversation(s, conversationId)).botReplies.length, 1);
      // The archived document carries the transcript.
      const doc = await waitFor(
        async () => {
          const [m] = await sql`select bucket, object_name from public.archived_messages
                            where account_ref = ${s.accountRef} and message_id = ${messageId}`;
          if (!m) return null;
          const res = await fetch(
            `${Deno.env.get("GCS_ENDPOINT")}/storage/v1/b/${m.bucket}/o/${encodeURIComponent(m.object_name)}?alt=media`,
          );
          const text = await res.text();
          return text.includes("How long does international shipping take?") ? text : null;
        },
        "the archived document with the transcript",
        20_000,
      );
      assert.ok(doc);
    } finally {
      await sql.end();
    }
  },
);

Deno.test("the bot receiver acknowledges before any model call, and refuses a forged signature", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const s = await botStore(sql);
    await scriptModel({ endpoint: "chat", match: "ack-probe", respond: { delay_ms: 3000 } });
    const { messageId } = await customerSays(s, "ack-probe: how long does standard delivery take?");
    const delivered = await waitFor(async () => {
      const log = (await sandboxCall(s.env, "GET", "/_control/deliveries?kind=agent_bot")).body.deliveries;
      return log.find((x: { event: string; status: number | null; body?: string; payload?: { id?: number } }) =>
        x.event === "message_created" && x.status === 200 && JSON.stringify(x).includes(String(messageId))
      );
    }, "the acknowledged bot delivery");
    assert.ok(delivered);
    const chat = (await modelRequests()).filter((r) => JSON.stringify(r.summary ?? {}).includes("ack-probe"));
    assert.ok(chat.every((r) => r.status === null), "the model had not answered when the delivery was acknowledged");
    assert.equal((await decisionFor(sql, s.accountRef, messageId)).action, "reply");

    const url = s.bot.url;
    const body = JSON.stringify({ event: "message_created", id: 1 });
    const ts = Math.floor(Date.now() / 1000);
    const forged = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-chatwoot-timestamp": String(ts),
        "x-chatwoot-signature": signChatwootPayload("not-the-bot-secret", ts, body),
        "x-chatwoot-delivery": crypto.randomUUID(),
      },
      body,
    });
    assert.equal(forged.status, 401);
    await forged.body?.cancel();
  } finally {
    await sql.end();
  }
});

/** The ai.reply job of a message: how it ended and after how many attempts. */
async function replyJob(sql: ReturnType<typeof connect>, messageId: number) {
  return await waitFor(async () => {
    const [j] = await sql`select status, attempts from private.jobs where kind = 'ai.reply'
                          and payload ->> 'message_id' = ${String(messageId)} and status in ('completed', 'dead')`;
    return j;
  }, `the ai.reply job of message ${messageId}`);
}

async function whatsAppVoice(
  s: BotStore,
  from: string,
  media: { base64: string; content_type: string; filename: string },
) {
  const sent = await sandboxCall(s.env, "POST", "/_control/traffic/whatsapp", {
    body: { inbox_id: s.inboxId, from, kind: "voice", media },
  });
  assert.equal(sent.status, 200, JSON.stringify(sent.body));
  return { messageId: sent.body.message.id as number, conversationId: sent.body.conversation.id as number };
}

Deno.test(
  "an AMR voice note goes to a person with the reason, is never sent to the API, and holds up nothing after it",
  opts,
  async () => {
    const sql = connect(stack.dbUrl);
    try {
      const s = await botStore(sql, { whatsapp: true });
      // WhatsApp's AMR: the API refuses it (by name and by content) and the edge runtime has no ffmpeg to convert it.
      const voice = await whatsAppVoice(s, "+5511976540002", {
        base64: btoa("#!AMR\n\u0000 TRANSCRIPT:How long does international shipping take?"),
        content_type: "audio/amr",
        filename: "voice.amr",
      });
      const d = await decisionFor(sql, s.accountRef, voice.messageId);
      assert.equal(d.action, "handoff");
      assert.match(d.reason, /voice note is AMR audio, which the transcription API does not take/);
      assert.deepEqual(await replyJob(sql, voice.messageId), { status: "completed", attempts: 1 });
      const sentToApi = (await modelRequests()).filter((r) =>
        r.endpoint === "transcriptions" && String(r.summary?.filename ?? "").startsWith(`voice-${voice.messageId}.`)
      );
      assert.equal(sentToApi.length, 0, "nothing the API would refuse is uploaded");
      await waitFor(async () => (await conversation(s, voice.conversationId)).status === "open", "the handoff");
      const c = await conversation(s, voice.conversationId);
      assert.match(
        c.botNotes[0].content,
        /Reason: the voice note is AMR audio[\s\S]*Customer asked: "\(a voice note\)"/,
      );

      // The next message of the conversation is decided at once (a person has it now), not stuck behind the note…
      const next = await customerSays(s, "Hello? How long does international shipping take?", {
        conversationId: voice.conversationId,
      });
      assert.equal((await decisionFor(sql, s.accountRef, next.messageId)).action, "skip");
      // …and once the conversation is the bot's again, the bot answers.
      await returnToBot({ sql, limiter: unlimited }, {
        account_ref: s.accountRef,
        conversation_display_id: voice.conversationId,
      });
      await waitFor(async () => (await conversation(s, voice.conversationId)).status === "pending", "pending again");
      const later = await customerSays(s, "How long does international shipping take?", {
        conversationId: voice.conversationId,
      });
      const answered = await decisionFor(sql, s.accountRef, later.messageId);
      assert.equal(answered.action, "reply", answered.reason);
    } finally {
      await sql.end();
    }
  },
);

Deno.test("a voice note the transcription API refuses (400) is handed off at once, never retried", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const s = await botStore(sql, { whatsapp: true });
    await scriptModel({
      endpoint: "transcriptions",
      match: "refused-voice",
      times: 5,
      respond: {
        status: 400,
        body: {
          error: {
            message: "Invalid file format. Supported formats: ['flac', 'm4a', 'mp3', 'mp4', 'mpeg', 'mpga', 'oga', " +
              "'ogg', 'wav', 'webm']",
            type: "invalid_request_error",
            param: null,
            code: null,
          },
        },
      },
    });
    const voice = await whatsAppVoice(s, "+5511976540003", {
      base64: btoa("OggS\u0000refused-voice TRANSCRIPT:How long does international shipping take?"),
      content_type: "audio/ogg",
      filename: "voice.ogg",
    });
    const d = await decisionFor(sql, s.accountRef, voice.messageId);
    assert.equal(d.action, "handoff");
    assert.match(d.reason, /transcription API refused the voice note \(400 Invalid file format/);
    assert.deepEqual(await replyJob(sql, voice.messageId), { status: "completed", attempts: 1 });
    const calls = (await modelRequests()).filter((r) => r.endpoint === "transcriptions" && r.scriptId !== null)
      .filter((r) => String(r.summary?.filename ?? "") === `voice-${voice.messageId}.ogg`);
    assert.equal(calls.length, 1, "asked once, as voice-<id>.ogg");
  } finally {
    await sql.end();
  }
});

Deno.test("a rate-limited model call waits for the reset the API names, then answers", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const s = await botStore(sql);
    // Two 429s: the SDK's own retry, then the job waits x-ratelimit-reset-requests (1.5 s) and asks again.
    await scriptModel({
      endpoint: "chat",
      match: "rate-limited question",
      times: 2,
      respond: { error: "rate_limit_exceeded", reset_ms: 1500 },
    });
    const q = await customerSays(s, "rate-limited question: how long does international shipping take?");
    const d = await decisionFor(sql, s.accountRef, q.messageId);
    assert.equal(d.action, "reply", d.reason);
    assert.deepEqual(await replyJob(sql, q.messageId), { status: "completed", attempts: 2 });
    const chat = (await modelRequests()).filter((r) =>
      r.endpoint === "chat" && JSON.stringify(r.summary ?? {}).includes("rate-limited question")
    );
    assert.deepEqual(chat.map((r) => r.status), [429, 429, 200]);
  } finally {
    await sql.end();
  }
});

Deno.test(
  "insufficient_quota: asked once, the AI paused and alerted, conversations handed off, embeddings wait; a probe resumes it",
  opts,
  async () => {
    const sql = connect(stack.dbUrl);
    try {
      const s = await botStore(sql);
      await scriptModel({ endpoint: "chat", match: "quota-gone", times: 20, respond: { error: "insufficient_quota" } });
      const first = await customerSays(s, "quota-gone: how long does international shipping take?");
      const d = await decisionFor(sql, s.accountRef, first.messageId);
      assert.equal(d.action, "handoff");
      assert.match(d.reason, /AI replies are paused: the OpenAI account is out of quota \(insufficient_quota\) since/);
      assert.deepEqual(await replyJob(sql, first.messageId), { status: "completed", attempts: 1 });
      const chat = (await modelRequests()).filter((r) =>
        r.endpoint === "chat" && JSON.stringify(r.summary ?? {}).includes("quota-gone")
      );
      assert.deepEqual(chat.map((r) => r.status), [429], "no retry by the SDK, none by the job");

      // Stopped and alerted: the pause, the audit trail, health.
      const [pause] = await sql`select code, endpoint, reason, handoffs from private.ai_pause`;
      assert.deepEqual({ ...pause, reason: undefined }, {
        code: "insufficient_quota",
        endpoint: "chat",
        reason: undefined,
        handoffs: 1,
      });
      assert.match(pause.reason, /You exceeded your current quota/);
      const [audited] = await sql`select actor, detail from private.audit_log where action = 'ai.paused'
                                  order by id desc limit 1`;
      assert.equal(audited.detail.code, "insufficient_quota");
      const health = await (await fetch(`${stack.apiUrl}/functions/v1/health`)).json();
      assert.equal(health.status, "degraded");
      assert.equal(health.ai.status, "paused");
      assert.equal(health.ai.paused.code, "insufficient_quota");
      await waitFor(async () => (await conversation(s, first.conversationId)).status === "open", "the handoff");
      assert.match((await conversation(s, first.conversationId)).botNotes[0].content, /AI replies are paused/);

      // While paused nothing is asked of the API: another customer goes straight to a person…
      const second = await customerSays(s, "How long does international shipping take? (while paused)");
      const d2 = await decisionFor(sql, s.accountRef, second.messageId);
      assert.equal(d2.action, "handoff");
      assert.match(d2.reason, /AI replies are paused/);
      assert.equal(
        (await modelRequests()).filter((r) => JSON.stringify(r.summary ?? {}).includes("(while paused)")).length,
        0,
      );
      // …and a new document waits to be embedded, its attempts kept.
      const { ingestDocument } = await import("../knowledge/ingest.ts");
      const doc = await ingestDocument(sql, {
        storeId: s.store.id,
        sourceName: "returns.md",
        bytes: new TextEncoder().encode("# Returns\n\nReturns are free within 30 days of delivery (paused-doc).\n"),
      });
      await waitFor(async () => {
        const [j] = await sql`select status, attempts, last_error from private.jobs where kind = 'kb.embed_document'
                              and payload ->> 'document_id' = ${doc.documentId}`;
        return j?.status === "queued" && /^AI paused/.test(j.last_error ?? "") && j.attempts === 0;
      }, "the embedding job waiting for the resume");

      // The probe: its one-word embedding succeeds (the quota is back), so the AI resumes by itself.
      await sql`update private.jobs set run_at = now() where kind = 'ai.quota_probe' and status = 'queued'`;
      await waitFor(async () => (await sql`select 1 from private.ai_pause`).length === 0, "the probe's resume", 20_000);
      const [resumed] = await sql`select detail from private.audit_log where action = 'ai.resumed'
                                  order by id desc limit 1`;
      assert.equal(resumed.detail.how, "a quota probe succeeded");
      assert.equal(resumed.detail.handoffs, 2);
      await waitFor(
        async () => {
          const [r] = await sql`select count(*) filter (where embedding is null)::int as pending from public.kb_chunks
                              where document_id = ${doc.documentId}`;
          return r.pending === 0;
        },
        "the waiting document embedded after the resume",
        20_000,
      );
      const third = await customerSays(s, "How long does international shipping take?");
      assert.equal((await decisionFor(sql, s.accountRef, third.messageId)).action, "reply");
      assert.equal((await (await fetch(`${stack.apiUrl}/functions/v1/health`)).json()).ai.status, "running");
    } finally {
      await sql`select private.resume_ai('test', 'cleanup')`;
      await sql.end();
    }
  },
);

Deno.test(
  "a rate limit that outlasts every attempt hands the message off on the last one, never dead",
  opts,
  async () => {
    const sql = connect(stack.dbUrl);
    try {
      const s = await botStore(sql);
      // Every call of this question is rate-limited (two per attempt: the SDK's retry), resetting in 50 ms.
      await scriptModel({
        endpoint: "chat",
        match: "always limited",
        times: 40,
        respond: { error: "rate_limit_exceeded", reset_ms: 50 },
      });
      const q = await customerSays(s, "always limited: how long does international shipping take?");
      const d = await waitFor(
        async () => {
          const [row] = await sql`select * from public.ai_decisions where account_ref = ${s.accountRef}
                              and message_id = ${q.messageId} and status in ('posted', 'skipped')`;
          return row;
        },
        "the decision after the last attempt",
        60_000,
      );
      assert.equal(d.action, "handoff");
      assert.match(d.reason, /the AI could not answer in time: OpenAI rate limit on chat: Rate limit reached/);
      const job = await replyJob(sql, q.messageId);
      assert.equal(job.status, "completed");
      assert.equal(job.attempts, 8, "every attempt used, the last one handing off");
      await waitFor(async () => (await conversation(s, q.conversationId)).status === "open", "the handoff");
    } finally {
      await sql.end();
    }
  },
);

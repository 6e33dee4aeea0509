// The bot's jobs. ai.reply answers one incoming customer message: checks the bot still owns the
// conversation, transcribes a voice note when it can, decides (retrieval + model, or FAQ offline),
// re-checks, then posts as the bot (auto), as a private note (assist), or hands off. One decision
// row per message (its primary key) makes the reply exactly-once across retries and duplicates.
// What the AI cannot do for a message (audio it cannot hear, an API that refuses it, an account out
// of quota, retries run out) hands that message to a person instead of failing the job, so the
// conversation's later messages never wait on a dead one.
// ai.human_reply opens a pending conversation a person answered; returnToBot gives it back.

import OpenAI, { toFile } from "openai";
import { z } from "zod";
import type { Sql } from "../platform/db.ts";
import type { Logger } from "../platform/log.ts";
import type { Fetched, PrivateRow, Row } from "../platform/rows.ts";
import { earlierJobInConversation, jobKind, type JobRegistry, PermanentFailure, RetryLater } from "../jobs/queue.ts";
import { ChatwootClient, ChatwootError } from "../chatwoot/client.ts";
import type { RateLimiter } from "../chatwoot/rate_limit.ts";
import { BotActions } from "./agent_bot.ts";
import { decide, type Decision, type HistoryTurn } from "./decide.ts";
import type { EmbeddingConfig } from "./embeddings.ts";
import { embedderForStore } from "../knowledge/embed_job.ts";
import { transcriptionFileFor } from "./audio_format.ts";
import { AiQuotaExhausted, classifyOpenAiError, describeApiError, isTransient } from "./openai_errors.ts";
import { countPausedHandoff, currentAiPause, pauseAiForQuota, pausedReason } from "./pause.ts";

export interface ReplyDeps {
  sql: Sql;
  limiter: RateLimiter;
  fetch?: typeof fetch;
  embedding: EmbeddingConfig | null;
  chat: { client: OpenAI; model: string; temperature?: number | null } | null;
  transcription: { client: OpenAI; model: string } | null;
  /** Largest voice note sent for transcription (the API takes 25 MB). */
  maxAudioBytes?: number;
  /** Wait between quota probes once the AI is paused for quota (pause.ts). */
  quotaProbeMs?: number;
  /** How long a reply waits while another message of its conversation is being answered. */
  busyRetryMs?: number;
}

/** A conversation of a linked account: what ai.human_reply and returnToBot act on. */
const conversationPayload = z.object({ account_ref: z.guid(), conversation_display_id: z.number().int() });
/** A message of such a conversation: what ai.reply answers. */
const messagePayload = conversationPayload.extend({ message_id: z.number().int() });
export type ConversationRef = z.output<typeof conversationPayload>;
export type MessageRef = z.output<typeof messagePayload>;

type Nullable<T> = { [K in keyof T]: T[K] | null };

/** What a reply knows about its message, read in one statement (loadFacts): the account, its
 * store and tokens, the bot's settings (defaults where the store saved none), the message, and
 * today's token use. Left-joined columns are null when their row is missing. */
type ReplyFacts =
  & Pick<Row<"chatwoot_accounts">, "store_id" | "account_id" | "chatwoot_url">
  & { store_name: Row<"stores">["name"] }
  & { bot_token: PrivateRow<"ai_bot_secrets">["access_token"] | null }
  & { admin_token: PrivateRow<"chatwoot_account_secrets">["api_token"] }
  & Nullable<Pick<Row<"ai_bot_settings">, "enabled" | "handoff_team_id">>
  & Pick<
    Row<"ai_bot_settings">,
    | "mode"
    | "handoff_message"
    | "min_similarity"
    | "min_text_score"
    | "top_k"
    | "daily_token_budget"
    | "history_messages"
  >
  & Nullable<
    Fetched<Pick<Row<"chatwoot_messages">, "content" | "message_type" | "private" | "created_at">, "created_at">
  >
  & { tokens_today: Row<"ai_usage_daily">["tokens"] };

async function loadFacts(sql: Sql, m: MessageRef): Promise<ReplyFacts | undefined> {
  const [row] = await sql<ReplyFacts[]>`
    select a.store_id, st.name as store_name, a.account_id, a.chatwoot_url, bs.access_token as bot_token,
           sec.api_token as admin_token, s.enabled, coalesce(s.mode, 'auto') as mode,
           coalesce(s.handoff_message, 'Let me bring in a member of our team.') as handoff_message,
           s.handoff_team_id, coalesce(s.min_similarity, 0.35) as min_similarity,
           coalesce(s.min_text_score, 0.5) as min_text_score, coalesce(s.top_k, 5) as top_k,
           coalesce(s.daily_token_budget, 0) as daily_token_budget, coalesce(s.history_messages, 10) as history_messages,
           msg.content, msg.message_type, msg.private, msg.created_at,
           coalesce((select u.tokens from public.ai_usage_daily u
                     where u.store_id = a.store_id and u.day = (now() at time zone 'utc')::date), 0) as tokens_today
    from public.chatwoot_accounts a
    join public.stores st on st.id = a.store_id
    left join private.chatwoot_account_secrets sec on sec.account_ref = a.id
    left join public.ai_bot_settings s on s.store_id = a.store_id
    left join private.ai_bot_secrets bs on bs.store_id = a.store_id
    left join public.chatwoot_messages msg on msg.account_ref = a.id and msg.message_id = ${m.message_id}
    where a.id = ${m.account_ref}`;
  return row;
}

/** The message's decision row (ai_decisions, keyed by message). Claimed first, so a retry or a
 * duplicate finds what an earlier attempt got to; then skipped, or decided and posted. */
function decisionRow(sql: Sql, m: MessageRef, started: number) {
  const latency = () => Math.round(performance.now() - started);
  return {
    async claim(storeId: string, question: string | null) {
      const [claimed] = await sql<Pick<Row<"ai_decisions">, "status" | "answer">[]>`
        insert into public.ai_decisions (account_ref, message_id, store_id, conversation_display_id, question)
        values (${m.account_ref}, ${m.message_id}, ${storeId}, ${m.conversation_display_id}, ${question})
        on conflict (account_ref, message_id) do update set account_ref = excluded.account_ref
        returning status, answer`;
      return claimed;
    },
    async skip(reason: string): Promise<"skipped"> {
      await sql`
        update public.ai_decisions set status = 'skipped', action = 'skip', reason = ${reason}, decided_at = now(),
          latency_ms = ${latency()}
        where account_ref = ${m.account_ref} and message_id = ${m.message_id}`;
      return "skipped";
    },
    /** What was decided, before posting it (status 'posting'), or why it was not posted after all. */
    async decided(d: Decision, o: { action: string; question: string; answer: string; late: string | null }) {
      const status = o.late ? "skipped" : "posting";
      const action = o.late ? "skip" : o.action;
      const reason = o.late ? `${o.late} (decided ${d.action}: ${d.reason})` : d.reason;
      await sql`
        update public.ai_decisions set status = ${status}, action = ${action}, reason = ${reason},
          question = ${o.question}, answer = ${o.answer}, cited_chunk_ids = ${d.citedChunkIds}::bigint[],
          chunks = ${sql.json(d.chunks as never)}, retrieval_mode = ${d.retrievalMode},
          model = ${d.model}, prompt_tokens = ${d.promptTokens},
          completion_tokens = ${d.completionTokens}, decided_at = now(), latency_ms = ${latency()}
        where account_ref = ${m.account_ref} and message_id = ${m.message_id}`;
    },
    async posted(messageIds: number[]) {
      await sql`
        update public.ai_decisions set status = 'posted', posted_message_ids = ${messageIds}
        where account_ref = ${m.account_ref} and message_id = ${m.message_id}`;
    },
    /** An earlier attempt's post, found after it died before recording it. */
    async postedEarlier() {
      await sql`
        update public.ai_decisions set status = 'posted'
        where account_ref = ${m.account_ref} and message_id = ${m.message_id}`;
    },
  };
}

/** One message of a conversation at a time, in order: an earlier message still waiting for its
 * reply goes first, and the lease (ai_conversations.busy_until) makes a second message wait for
 * the first one's reply or handoff, and then see it, instead of both deciding at once. */
async function takeTurn(deps: ReplyDeps, m: MessageRef, storeId: string): Promise<void> {
  if (await earlierJobInConversation(deps.sql, "ai.reply", m)) {
    throw new RetryLater("an earlier message of this conversation is answered first", deps.busyRetryMs ?? 4_000);
  }
  const [lease] = await deps.sql`
    insert into public.ai_conversations as c (account_ref, conversation_display_id, store_id, busy_until)
    values (${m.account_ref}, ${m.conversation_display_id}, ${storeId}, now() + interval '90 seconds')
    on conflict (account_ref, conversation_display_id) do update set busy_until = excluded.busy_until
      where c.busy_until is null or c.busy_until < now()
    returning 1`;
  if (!lease) throw new RetryLater("another message of this conversation is being answered", deps.busyRetryMs ?? 4_000);
}

async function endTurn(sql: Sql, c: ConversationRef): Promise<void> {
  await sql`update public.ai_conversations set busy_until = null
            where account_ref = ${c.account_ref} and conversation_display_id = ${c.conversation_display_id}`;
}

/** Why the bot must stay silent now, or null when it still owns the conversation. */
async function silenceReason(sql: Sql, c: ConversationRef, since: Date | null): Promise<string | null> {
  const [row] = await sql<
    (
      & Nullable<Pick<Row<"chatwoot_conversations">, "status">>
      & Nullable<Pick<Row<"ai_conversations">, "bot_paused" | "paused_reason">>
      & { human_replied: boolean }
    )[]
  >`
    select conv.status, ac.bot_paused, ac.paused_reason,
           exists (select 1 from public.chatwoot_messages h
                   where h.account_ref = ${c.account_ref} and h.conversation_display_id = ${c.conversation_display_id}
                     and h.message_type = 'outgoing' and not h.private
                     -- an agent in Chatwoot, or the WhatsApp Business app (an echo has no sender)
                     and (h.sender_type = 'user' or (h.echo and h.sender_type is null))
                     and h.created_at >= ${since ?? new Date(0)}) as human_replied
    from (select 1) one
    left join public.chatwoot_conversations conv
      on conv.account_ref = ${c.account_ref} and conv.display_id = ${c.conversation_display_id}
    left join public.ai_conversations ac
      on ac.account_ref = ${c.account_ref} and ac.conversation_display_id = ${c.conversation_display_id}`;
  if (row.bot_paused) return `the bot is paused in this conversation (${row.paused_reason ?? "a person took over"})`;
  if (row.human_replied) return "a person replied in this conversation";
  if (row.status && row.status !== "pending") return `the conversation is ${row.status}: a person is in charge`;
  return null;
}

async function history(sql: Sql, c: ConversationRef, before: Date | null, limit: number): Promise<HistoryTurn[]> {
  if (limit === 0) return [];
  const rows = await sql<Pick<Row<"chatwoot_messages">, "message_type" | "sender_type" | "content">[]>`
    select message_type, sender_type, content from public.chatwoot_messages
    where account_ref = ${c.account_ref} and conversation_display_id = ${c.conversation_display_id} and not private
      and message_type in ('incoming', 'outgoing') and content is not null and content <> ''
      and created_at < ${before ?? new Date()}
    order by created_at desc limit ${limit}`;
  return rows.reverse().map((r) => ({
    role: r.message_type === "incoming" ? "customer" : r.sender_type === "agent_bot" ? "bot" : "agent",
    text: String(r.content).slice(0, 2000),
  }));
}

/** What the message says: its text, else its voice note's transcript; or why it cannot be heard. */
type Heard = { text: string } | { unheard: string };

/** The customer's text, else the transcript of the message's voice note (empty when neither). */
async function questionOf(deps: ReplyDeps, m: MessageRef, facts: ReplyFacts): Promise<Heard> {
  const text = (facts.content ?? "").trim();
  if (text) return { text };
  return await transcribeVoiceNote(deps, m.account_ref, m.message_id);
}

/** A voice note without a transcript: transcribed through the OpenAI-compatible audio API, the
 * transcript stored on the mirrored attachment (so the archive document carries it) and used as
 * the message's text. The file is named after what the audio is (the API reads the format from
 * the name and checks the bytes): formats it does not take (AMR, raw AAC) are not sent, and a 4xx
 * refusal is final for that file. Either way the message goes to a person with the reason. An
 * exhausted quota (AiQuotaExhausted) and a rate limit or a passing fault (RetryLater) are thrown. */
async function transcribeVoiceNote(deps: ReplyDeps, accountRef: string, messageId: number): Promise<Heard> {
  const [audio] = await deps.sql<
    Fetched<
      Pick<
        Row<"chatwoot_attachments">,
        "attachment_id" | "data_url" | "transcribed_text" | "content_type" | "extension"
      >,
      never,
      "attachment_id"
    >[]
  >`
    select attachment_id, data_url, transcribed_text, content_type, extension from public.chatwoot_attachments
    where account_ref = ${accountRef} and message_id = ${messageId} and file_type = 'audio'
    order by attachment_id limit 1`;
  if (!audio) return { text: "" };
  if (audio.transcribed_text) return { text: audio.transcribed_text };
  if (!deps.transcription) return { unheard: "the message is a voice note and transcription is off" };
  if (!audio.data_url) return { unheard: "the voice note has no file to download" };
  const res = await (deps.fetch ?? fetch)(audio.data_url, { signal: AbortSignal.timeout(15_000) });
  if (!res.ok) {
    await res.body?.cancel();
    throw new RetryLater(`the voice note could not be downloaded (${res.status})`, 5_000);
  }
  const bytes = new Uint8Array(await res.arrayBuffer());
  const limit = deps.maxAudioBytes ?? 25 * 1024 * 1024;
  if (bytes.byteLength > limit) {
    return {
      unheard: `the voice note is ${(bytes.byteLength / 1048576).toFixed(1)} MB, over the ${
        (limit / 1048576).toFixed(0)
      } MB the transcription API takes`,
    };
  }
  const named = transcriptionFileFor(bytes, {
    contentType: audio.content_type,
    extension: audio.extension ?? audio.data_url.split("?")[0].match(/\.([A-Za-z0-9]{2,5})$/)?.[1],
    base: `voice-${messageId}`,
  });
  if (!named.ok) return { unheard: named.reason };
  let out;
  try {
    const file = await toFile(bytes, named.filename, { type: audio.content_type ?? undefined });
    out = await deps.transcription.client.audio.transcriptions.create({ file, model: deps.transcription.model });
  } catch (err) {
    const classified = classifyOpenAiError(err, "transcriptions");
    if (classified !== err) throw classified;
    if (isTransient(err)) throw new RetryLater(`transcription failed for now: ${describeApiError(err)}`, 5_000);
    // A 4xx is this file's (or this configuration's) answer whatever the retry: a person listens instead.
    if (err instanceof OpenAI.APIError) {
      return { unheard: `the transcription API refused the voice note (${describeApiError(err)})` };
    }
    throw err;
  }
  const text = out.text.trim();
  if (!text) return { unheard: "the voice note's transcript is empty" };
  await deps.sql.begin(async (tx) => {
    await tx`update public.chatwoot_attachments set transcribed_text = ${text}
             where account_ref = ${accountRef} and attachment_id = ${audio.attachment_id} and transcribed_text is null`;
    // The archive follows the mirror: re-archive this message with its transcript.
    await tx`select private.enqueue_job('archive.message',
               jsonb_build_object('account_ref', ${accountRef}::uuid, 'message_id', ${messageId}::bigint),
               ${`archive:${accountRef}:${messageId}:switchboard-transcript`})
             where exists (select 1 from public.chatwoot_messages m where m.account_ref = ${accountRef}
                           and m.message_id = ${messageId} and m.is_whatsapp)`;
  });
  return { text };
}

/** A handoff decided without the model. */
function handoffDecision(reason: string, model: string | null = null): Decision {
  return {
    action: "handoff",
    text: "",
    reason,
    citedChunkIds: [],
    chunks: [],
    retrievalMode: "none",
    model,
    promptTokens: 0,
    completionTokens: 0,
  };
}

export interface ReplyOptions {
  /** The job's last attempt: what would be retried (a rate limit, a passing fault) hands off instead, so the job
   * never dies with the conversation's later messages waiting behind it. */
  finalAttempt?: boolean;
  log?: Logger;
}

/** The question and the decision on it, or a handoff with the reason when the AI cannot take it: the AI paused for
 * quota (nothing is sent to the API), audio it cannot hear, the quota running out now (the AI is paused), or the
 * last attempt failing for a reason that would otherwise be retried. */
async function thinkOrHandOff(
  deps: ReplyDeps,
  m: MessageRef,
  facts: ReplyFacts,
  opts: ReplyOptions,
): Promise<{ question: string; decision: Decision }> {
  const asked = (facts.content ?? "").trim() || "(a voice note)";
  if (deps.chat || deps.transcription) {
    const pause = await currentAiPause(deps.sql);
    if (pause) {
      await countPausedHandoff(deps.sql);
      return { question: asked, decision: handoffDecision(pausedReason(pause)) };
    }
  }
  try {
    const heard = await questionOf(deps, m, facts);
    if ("unheard" in heard) return { question: asked, decision: handoffDecision(heard.unheard) };
    return { question: heard.text, decision: await decideReply(deps, m, facts, heard.text) };
  } catch (err) {
    if (err instanceof AiQuotaExhausted) {
      const pause = await pauseAiForQuota(deps.sql, err, { log: opts.log, probeAfterMs: deps.quotaProbeMs });
      await countPausedHandoff(deps.sql);
      return { question: asked, decision: handoffDecision(pausedReason(pause)) };
    }
    if (opts.finalAttempt && err instanceof RetryLater) {
      return { question: asked, decision: handoffDecision(`the AI could not answer in time: ${err.message}`) };
    }
    throw err;
  }
}

/** The decision on the question: a handoff when the store's daily AI budget is used up (with a
 * model; offline answers cost nothing), else retrieval and the model (or the FAQ offline), whose
 * tokens count against the budget. */
async function decideReply(deps: ReplyDeps, m: MessageRef, facts: ReplyFacts, question: string): Promise<Decision> {
  if (facts.tokens_today >= facts.daily_token_budget && deps.chat) {
    return handoffDecision("the store's daily AI budget is used up");
  }
  const embedder = await embedderForStore(deps.sql, deps.embedding, facts.store_id);
  const decision = await decide(
    { sql: deps.sql, embedder, chat: deps.chat },
    {
      storeName: facts.store_name,
      minSimilarity: facts.min_similarity,
      minTextScore: facts.min_text_score,
      topK: facts.top_k,
    },
    {
      storeId: facts.store_id,
      message: question,
      history: await history(deps.sql, m, facts.created_at, facts.history_messages),
    },
  );
  const tokens = decision.promptTokens + decision.completionTokens;
  if (tokens > 0) await deps.sql`select private.record_ai_usage(${facts.store_id}, ${tokens})`;
  return decision;
}

function handoffNote(d: Decision, question: string): string {
  const cited = d.chunks.filter((c) => c.relevant).map((c) => c.title).slice(0, 3);
  return [
    `🤖 Handed off to the team. Reason: ${d.reason}.`,
    `Customer asked: "${question.slice(0, 500)}"`,
    // Decided before any retrieval (a person asked for, audio not heard, the AI paused): nothing to say of it.
    ...(d.retrievalMode === "none" && !cited.length ? [] : [
      cited.length ? `Closest knowledge: ${cited.join("; ")}` : "Nothing relevant was found in the knowledge base.",
    ]),
  ].join("\n");
}

function assistNote(d: Decision): string {
  const sources = d.chunks.filter((c) => d.citedChunkIds.includes(c.id)).map((c) => c.title);
  return `🤖 Suggested reply:\n${d.text}\n\nSources: ${sources.join("; ") || "—"}`;
}

type ReplyAction = "reply" | "assist" | "handoff";

/** Does what was decided, as the bot: posts the reply; or a private suggestion (assist); or hands
 * off: the handoff message (auto mode) and a private note for the team, the bot paused in the
 * conversation, which opens and goes to the handoff team. The ids of the messages posted. */
async function carryOut(
  deps: ReplyDeps,
  bot: BotActions,
  m: MessageRef,
  facts: ReplyFacts,
  turn: { action: ReplyAction; decision: Decision; question: string },
): Promise<number[]> {
  const { action, decision } = turn;
  const conversation = m.conversation_display_id;
  if (action === "reply") return [await bot.post(conversation, decision.text)];
  if (action === "assist") return [await bot.post(conversation, assistNote(decision), { private: true })];
  const posted: number[] = [];
  if (facts.mode === "auto") posted.push(await bot.post(conversation, facts.handoff_message));
  posted.push(await bot.post(conversation, handoffNote(decision, turn.question), { private: true }));
  await deps.sql`
    insert into public.ai_conversations (account_ref, conversation_display_id, store_id, bot_paused, paused_reason, paused_at)
    values (${m.account_ref}, ${conversation}, ${facts.store_id}, true, ${`handed off: ${decision.reason}`}, now())
    on conflict (account_ref, conversation_display_id) do update
      set bot_paused = true, paused_reason = excluded.paused_reason, paused_at = now()`;
  await bot.setStatus(conversation, "open");
  if (facts.handoff_team_id) await bot.assignTeam(conversation, facts.handoff_team_id);
  return posted;
}

/** Answers one message (the ai.reply job): what it did ("reply", "assist", "handoff") or why not
 * ("skipped", "posted" when an earlier attempt already did). */
export async function replyToMessage(deps: ReplyDeps, m: MessageRef, opts: ReplyOptions = {}): Promise<string> {
  const started = performance.now();
  const facts = await loadFacts(deps.sql, m);
  if (!facts) throw new PermanentFailure(`unknown Chatwoot account ${m.account_ref}`);
  if (!facts.message_type) throw new RetryLater("the message is not in the mirror yet", 1_000);

  const decisions = decisionRow(deps.sql, m, started);
  const claimed = await decisions.claim(facts.store_id, facts.content);
  if (claimed.status === "posted" || claimed.status === "skipped") return claimed.status;
  if (!facts.enabled || !facts.bot_token) return await decisions.skip("AI replies are off for this store");
  if (facts.message_type !== "incoming" || facts.private) return await decisions.skip("not a customer's message");

  await takeTurn(deps, m, facts.store_id);
  const bot = BotActions.open(
    { chatwootUrl: facts.chatwoot_url, accountId: facts.account_id, token: facts.bot_token },
    deps,
  );
  try {
    // An earlier attempt may have posted before it died: look before posting again.
    if (claimed.status === "posting" && await alreadyPosted(deps, facts, m, claimed.answer)) {
      await decisions.postedEarlier();
      return "posted";
    }
    const silence = await silenceReason(deps.sql, m, facts.created_at);
    if (silence) return await decisions.skip(silence);

    const { question, decision } = await thinkOrHandOff(deps, m, facts, opts);
    // Thinking took time: a person may have stepped in meanwhile.
    const late = await silenceReason(deps.sql, m, facts.created_at);
    const action: ReplyAction = decision.action !== "reply" ? "handoff" : facts.mode === "assist" ? "assist" : "reply";
    const answer = decision.action === "reply" ? decision.text : facts.handoff_message;
    await decisions.decided(decision, { action, question, answer, late });
    if (late) return "skipped";

    await decisions.posted(await carryOut(deps, bot, m, facts, { action, decision, question }));
    return action;
  } catch (err) {
    if (err instanceof ChatwootError && err.transient) throw new RetryLater(err.message, err.retryAfterMs ?? 5_000);
    throw err;
  } finally {
    bot.close();
    await endTurn(deps.sql, m);
  }
}

/** After a crash between posting and recording it: does the conversation already hold our post? */
async function alreadyPosted(deps: ReplyDeps, facts: ReplyFacts, m: MessageRef, answer: string | null) {
  if (!answer) return false;
  const [mirrored] = await deps.sql`
    select 1 from public.chatwoot_messages where account_ref = ${m.account_ref}
      and conversation_display_id = ${m.conversation_display_id} and sender_type = 'agent_bot'
      and created_at >= ${facts.created_at ?? new Date(0)} and content = ${answer}`;
  if (mirrored) return true;
  if (!facts.admin_token) return false;
  // The mirror may lag the post: ask Chatwoot (a bot token cannot read messages; the admin token can).
  const admin = new ChatwootClient({
    baseUrl: facts.chatwoot_url,
    token: facts.admin_token,
    limiter: deps.limiter,
    fetch: deps.fetch,
  });
  try {
    const res = await admin.request(
      "GET",
      `/api/v1/accounts/${facts.account_id}/conversations/${m.conversation_display_id}/messages`,
      {
        schema: z.looseObject({
          payload: z.array(z.looseObject({ content: z.string().nullish(), sender: z.unknown() })),
        }),
      },
    );
    return res.payload.some((msg) =>
      msg.content === answer && (msg.sender as { type?: string } | null)?.type === "agent_bot"
    );
  } finally {
    admin.close();
  }
}

/** Sets a conversation's status with the store's bot token (a bot may toggle status). With
 * `onlyIf`, only while the mirror shows that status and the bot is still paused there (a
 * "return to bot" since then wins). False when the store has no bot. */
async function setStatusAsBot(
  deps: Pick<ReplyDeps, "sql" | "limiter" | "fetch">,
  c: ConversationRef,
  status: "open" | "pending",
  onlyIf?: string,
): Promise<boolean> {
  const [row] = await deps.sql<
    (
      & Pick<Row<"chatwoot_accounts">, "account_id" | "chatwoot_url">
      & Pick<PrivateRow<"ai_bot_secrets">, "access_token">
      & Nullable<Pick<Row<"chatwoot_conversations">, "status">>
      & Pick<Row<"ai_conversations">, "bot_paused">
    )[]
  >`
    select a.account_id, a.chatwoot_url, bs.access_token, conv.status, coalesce(ac.bot_paused, false) as bot_paused
    from public.chatwoot_accounts a
    join private.ai_bot_secrets bs on bs.store_id = a.store_id
    left join public.chatwoot_conversations conv
      on conv.account_ref = a.id and conv.display_id = ${c.conversation_display_id}
    left join public.ai_conversations ac
      on ac.account_ref = a.id and ac.conversation_display_id = ${c.conversation_display_id}
    where a.id = ${c.account_ref}`;
  if (!row) return false;
  if (onlyIf && (row.status !== onlyIf || !row.bot_paused)) return true;
  const bot = BotActions.open(
    { chatwootUrl: row.chatwoot_url, accountId: row.account_id, token: row.access_token },
    deps,
  );
  try {
    await bot.setStatus(c.conversation_display_id, status);
  } finally {
    bot.close();
  }
  return true;
}

/** A person answered in a conversation the bot owned: it stays paused (set by the receiver) and
 * the conversation opens for the team (Chatwoot leaves it pending for an external bot). */
export async function openAfterHumanReply(deps: ReplyDeps, c: ConversationRef): Promise<void> {
  await setStatusAsBot(deps, c, "open", "pending");
}

/** "Return to bot": unpauses (checked and audited in SQL; admin-api passes an `authorize` that
 * runs it under the caller's RLS) and sets the conversation pending again so the bot owns it. */
export async function returnToBot(
  deps: Pick<ReplyDeps, "sql" | "limiter" | "fetch">,
  c: ConversationRef,
  authorize: (sql: Sql) => Promise<void> = async (sql) => {
    await sql`select public.return_conversation_to_bot(${c.account_ref}, ${c.conversation_display_id})`;
  },
): Promise<void> {
  await authorize(deps.sql);
  if (!await setStatusAsBot(deps, c, "pending")) {
    throw new PermanentFailure("the store has no agent bot: enable AI replies first");
  }
}

/** The bot's job kinds and their payloads, for the job registry (_shared/jobs/registry.ts). */
export function botJobHandlers(deps: ReplyDeps): JobRegistry {
  return {
    "ai.reply": jobKind(messagePayload, async ({ payload, attempts, max_attempts }, ctx) => {
      const outcome = await replyToMessage(deps, payload, { finalAttempt: attempts >= max_attempts, log: ctx.log });
      ctx.log.info("ai reply", { message_id: payload.message_id, outcome });
    }),
    "ai.human_reply": jobKind(conversationPayload, async ({ payload }) => {
      await openAfterHumanReply(deps, payload);
    }),
  };
}

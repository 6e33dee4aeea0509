// The bot's jobs. ai.reply answers one incoming customer message: checks the bot still owns the
// conversation, transcribes a voice note when it can, decides (retrieval + model, or FAQ offline),
// re-checks, then posts as the bot (auto), as a private note (assist), or hands off. One decision
// row per message (its primary key) makes the reply exactly-once across retries and duplicates.
// ai.human_reply opens a pending conversation a person answered; returnToBot gives it back.

import type OpenAI from "openai";
import { z } from "zod";
import { toFile } from "openai";
import type { Sql } from "../platform/db.ts";
import { type Job, type JobHandler, PermanentFailure, RetryLater } from "../jobs/queue.ts";
import { ChatwootClient, ChatwootError } from "../chatwoot/client.ts";
import type { RateLimiter } from "../chatwoot/rate_limit.ts";
import { BotActions } from "./agent_bot.ts";
import { decide, type Decision, type HistoryTurn } from "./decide.ts";
import type { EmbeddingConfig } from "./embeddings.ts";
import { embedderForStore } from "../knowledge/embed_job.ts";

export interface ReplyDeps {
  sql: Sql;
  limiter: RateLimiter;
  fetch?: typeof fetch;
  embedding: EmbeddingConfig | null;
  chat: { client: OpenAI; model: string } | null;
  transcription: { client: OpenAI; model: string } | null;
  /** Largest voice note sent for transcription. */
  maxAudioBytes?: number;
  /** How long a reply waits while another message of its conversation is being answered. */
  busyRetryMs?: number;
}

interface ReplyContext {
  store_id: string;
  store_name: string;
  account_id: number;
  chatwoot_url: string;
  bot_token: string | null;
  admin_token: string | null;
  enabled: boolean | null;
  mode: "auto" | "assist";
  handoff_message: string;
  handoff_team_id: number | null;
  min_similarity: number;
  min_text_score: number;
  top_k: number;
  daily_token_budget: number;
  history_messages: number;
  status: string | null;
  bot_paused: boolean | null;
  content: string | null;
  message_type: string | null;
  private: boolean | null;
  created_at: Date | null;
  tokens_today: number;
}

async function loadContext(sql: Sql, accountRef: string, conversationId: number, messageId: number) {
  const [row] = await sql`
    select a.store_id, st.name as store_name, a.account_id, a.chatwoot_url, bs.access_token as bot_token,
           sec.api_token as admin_token, s.enabled, coalesce(s.mode, 'auto') as mode,
           coalesce(s.handoff_message, 'Let me bring in a member of our team.') as handoff_message,
           s.handoff_team_id, coalesce(s.min_similarity, 0.35) as min_similarity,
           coalesce(s.min_text_score, 0.5) as min_text_score, coalesce(s.top_k, 5) as top_k,
           coalesce(s.daily_token_budget, 0) as daily_token_budget, coalesce(s.history_messages, 10) as history_messages,
           c.status, ac.bot_paused, m.content, m.message_type, m.private, m.created_at,
           coalesce((select u.tokens from public.ai_usage_daily u
                     where u.store_id = a.store_id and u.day = (now() at time zone 'utc')::date), 0) as tokens_today
    from public.chatwoot_accounts a
    join public.stores st on st.id = a.store_id
    left join private.chatwoot_account_secrets sec on sec.account_ref = a.id
    left join public.ai_bot_settings s on s.store_id = a.store_id
    left join private.ai_bot_secrets bs on bs.store_id = a.store_id
    left join public.chatwoot_conversations c on c.account_ref = a.id and c.display_id = ${conversationId}
    left join public.ai_conversations ac on ac.account_ref = a.id and ac.conversation_display_id = ${conversationId}
    left join public.chatwoot_messages m on m.account_ref = a.id and m.message_id = ${messageId}
    where a.id = ${accountRef}`;
  return row as unknown as ReplyContext | undefined;
}

/** Why the bot must stay silent now, or null when it still owns the conversation. */
async function silenceReason(
  sql: Sql,
  accountRef: string,
  conversationId: number,
  message: { created_at: Date | null },
) {
  const [row] = await sql`
    select c.status, ac.bot_paused, ac.paused_reason,
           exists (select 1 from public.chatwoot_messages h
                   where h.account_ref = ${accountRef} and h.conversation_display_id = ${conversationId}
                     and h.message_type = 'outgoing' and not h.private and h.sender_type = 'user'
                     and h.created_at >= ${message.created_at ?? new Date(0)}) as human_replied
    from (select 1) one
    left join public.chatwoot_conversations c on c.account_ref = ${accountRef} and c.display_id = ${conversationId}
    left join public.ai_conversations ac on ac.account_ref = ${accountRef} and ac.conversation_display_id = ${conversationId}`;
  if (row.bot_paused) return `the bot is paused in this conversation (${row.paused_reason ?? "a person took over"})`;
  if (row.human_replied) return "a person replied in this conversation";
  if (row.status && row.status !== "pending") return `the conversation is ${row.status}: a person is in charge`;
  return null;
}

async function history(sql: Sql, accountRef: string, conversationId: number, before: Date | null, limit: number) {
  if (limit === 0) return [];
  const rows = await sql`
    select message_type, sender_type, content from public.chatwoot_messages
    where account_ref = ${accountRef} and conversation_display_id = ${conversationId} and not private
      and message_type in ('incoming', 'outgoing') and content is not null and content <> ''
      and created_at < ${before ?? new Date()}
    order by created_at desc limit ${limit}`;
  return rows.reverse().map((r): HistoryTurn => ({
    role: r.message_type === "incoming" ? "customer" : r.sender_type === "agent_bot" ? "bot" : "agent",
    text: String(r.content).slice(0, 2000),
  }));
}

/** A voice note without a transcript: transcribed through the OpenAI-compatible audio API, the
 * transcript stored on the mirrored attachment (so the archive document carries it) and used as
 * the message's text. Null when there is no audio, or no transcription configured. */
async function transcribeVoiceNote(deps: ReplyDeps, accountRef: string, messageId: number): Promise<string | null> {
  const [audio] = await deps.sql`
    select attachment_id, data_url, transcribed_text, content_type from public.chatwoot_attachments
    where account_ref = ${accountRef} and message_id = ${messageId} and file_type = 'audio'
    order by attachment_id limit 1`;
  if (!audio) return null;
  if (audio.transcribed_text) return audio.transcribed_text;
  if (!deps.transcription || !audio.data_url) return null;
  const res = await (deps.fetch ?? fetch)(audio.data_url, { signal: AbortSignal.timeout(15_000) });
  if (!res.ok) {
    await res.body?.cancel();
    throw new RetryLater(`the voice note could not be downloaded (${res.status})`, 5_000);
  }
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (bytes.byteLength > (deps.maxAudioBytes ?? 25 * 1024 * 1024)) return null;
  const file = await toFile(bytes, `voice-${messageId}.ogg`, { type: audio.content_type ?? "audio/ogg" });
  const out = await deps.transcription.client.audio.transcriptions.create({ file, model: deps.transcription.model });
  const text = out.text.trim();
  if (!text) return null;
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
  return text;
}

function handoffNote(d: Decision, question: string): string {
  const cited = d.chunks.filter((c) => c.relevant).map((c) => c.title).slice(0, 3);
  return [
    `🤖 Handed off to the team. Reason: ${d.reason}.`,
    `Customer asked: "${question.slice(0, 500)}"`,
    cited.length ? `Closest knowledge: ${cited.join("; ")}` : "Nothing relevant was found in the knowledge base.",
  ].join("\n");
}

function assistNote(d: Decision): string {
  const sources = d.chunks.filter((c) => d.citedChunkIds.includes(c.id)).map((c) => c.title);
  return `🤖 Suggested reply:\n${d.text}\n\nSources: ${sources.join("; ") || "—"}`;
}

export async function replyToMessage(
  deps: ReplyDeps,
  p: { account_ref: string; conversation_display_id: number; message_id: number },
): Promise<string> {
  const t0 = performance.now();
  const ctx = await loadContext(deps.sql, p.account_ref, p.conversation_display_id, p.message_id);
  if (!ctx) throw new PermanentFailure(`unknown Chatwoot account ${p.account_ref}`);
  if (!ctx.message_type) throw new RetryLater("the message is not in the mirror yet", 1_000);

  const [claimed] = await deps.sql`
    insert into public.ai_decisions (account_ref, message_id, store_id, conversation_display_id, question)
    values (${p.account_ref}, ${p.message_id}, ${ctx.store_id}, ${p.conversation_display_id}, ${ctx.content})
    on conflict (account_ref, message_id) do update set account_ref = excluded.account_ref
    returning status, action, answer, posted_message_ids`;
  if (claimed.status === "posted" || claimed.status === "skipped") return claimed.status;

  const skip = async (reason: string) => {
    await deps.sql`update public.ai_decisions set status = 'skipped', action = 'skip', reason = ${reason},
                   decided_at = now(), latency_ms = ${Math.round(performance.now() - t0)}
                   where account_ref = ${p.account_ref} and message_id = ${p.message_id}`;
    return "skipped";
  };
  if (!ctx.enabled || !ctx.bot_token) return await skip("AI replies are off for this store");
  if (ctx.message_type !== "incoming" || ctx.private) return await skip("not a customer's message");

  // One message of a conversation at a time, in order: an earlier message still waiting for its
  // reply goes first, and the lease makes a second message wait for the first one's reply or
  // handoff (and then see it), instead of both deciding at once.
  const [earlier] = await deps.sql`
    select 1 from private.jobs j
    where j.kind = 'ai.reply' and j.status in ('queued', 'running')
      and j.payload ->> 'account_ref' = ${p.account_ref}
      and (j.payload ->> 'conversation_display_id')::int = ${p.conversation_display_id}
      and (j.payload ->> 'message_id')::bigint < ${p.message_id}
    limit 1`;
  if (earlier) {
    throw new RetryLater("an earlier message of this conversation is answered first", deps.busyRetryMs ?? 4_000);
  }
  const [lease] = await deps.sql`
    insert into public.ai_conversations as c (account_ref, conversation_display_id, store_id, busy_until)
    values (${p.account_ref}, ${p.conversation_display_id}, ${ctx.store_id}, now() + interval '90 seconds')
    on conflict (account_ref, conversation_display_id) do update set busy_until = excluded.busy_until
      where c.busy_until is null or c.busy_until < now()
    returning 1`;
  if (!lease) throw new RetryLater("another message of this conversation is being answered", deps.busyRetryMs ?? 4_000);

  const bot = BotActions.open({ chatwootUrl: ctx.chatwoot_url, accountId: ctx.account_id, token: ctx.bot_token }, deps);
  try {
    if (claimed.status === "posting") {
      // An earlier attempt may have posted before it died: look before posting again.
      if (await alreadyPosted(deps, ctx, p, claimed.answer)) {
        await deps
          .sql`update public.ai_decisions set status = 'posted' where account_ref = ${p.account_ref} and message_id = ${p.message_id}`;
        return "posted";
      }
    }
    const silence = await silenceReason(deps.sql, p.account_ref, p.conversation_display_id, ctx);
    if (silence) return await skip(silence);

    let question = (ctx.content ?? "").trim();
    if (!question) question = (await transcribeVoiceNote(deps, p.account_ref, p.message_id)) ?? "";

    let decision: Decision;
    if (ctx.tokens_today >= ctx.daily_token_budget && deps.chat) {
      decision = {
        action: "handoff",
        text: "",
        reason: "the store's daily AI budget is used up",
        citedChunkIds: [],
        chunks: [],
        retrievalMode: "none",
        model: null,
        promptTokens: 0,
        completionTokens: 0,
      };
    } else {
      const embedder = await embedderForStore(deps.sql, deps.embedding, ctx.store_id);
      decision = await decide(
        { sql: deps.sql, embedder, chat: deps.chat },
        {
          storeName: ctx.store_name,
          minSimilarity: ctx.min_similarity,
          minTextScore: ctx.min_text_score,
          topK: ctx.top_k,
        },
        {
          storeId: ctx.store_id,
          message: question,
          history: await history(
            deps.sql,
            p.account_ref,
            p.conversation_display_id,
            ctx.created_at,
            ctx.history_messages,
          ),
        },
      );
      if (decision.promptTokens + decision.completionTokens > 0) {
        await deps.sql`select private.record_ai_usage(${ctx.store_id}, ${
          decision.promptTokens + decision.completionTokens
        })`;
      }
    }

    // Thinking took time: a person may have stepped in meanwhile.
    const late = await silenceReason(deps.sql, p.account_ref, p.conversation_display_id, ctx);
    const action = decision.action === "reply" ? (ctx.mode === "assist" ? "assist" : "reply") : "handoff";
    const outgoing = decision.action === "reply" ? decision.text : ctx.handoff_message;
    await deps.sql`
      update public.ai_decisions set status = ${late ? "skipped" : "posting"}, action = ${late ? "skip" : action},
        reason = ${late ? `${late} (decided ${decision.action}: ${decision.reason})` : decision.reason},
        question = ${question}, answer = ${outgoing}, cited_chunk_ids = ${decision.citedChunkIds}::bigint[],
        chunks = ${deps.sql.json(decision.chunks as never)}, retrieval_mode = ${decision.retrievalMode},
        model = ${decision.model}, prompt_tokens = ${decision.promptTokens},
        completion_tokens = ${decision.completionTokens}, decided_at = now(),
        latency_ms = ${Math.round(performance.now() - t0)}
      where account_ref = ${p.account_ref} and message_id = ${p.message_id}`;
    if (late) return "skipped";

    const posted: number[] = [];
    if (action === "reply") {
      posted.push(await bot.post(p.conversation_display_id, decision.text));
    } else if (action === "assist") {
      posted.push(await bot.post(p.conversation_display_id, assistNote(decision), { private: true }));
    } else {
      if (ctx.mode === "auto") posted.push(await bot.post(p.conversation_display_id, ctx.handoff_message));
      posted.push(await bot.post(p.conversation_display_id, handoffNote(decision, question), { private: true }));
      await deps.sql`
        insert into public.ai_conversations (account_ref, conversation_display_id, store_id, bot_paused, paused_reason, paused_at)
        values (${p.account_ref}, ${p.conversation_display_id}, ${ctx.store_id}, true, ${`handed off: ${decision.reason}`}, now())
        on conflict (account_ref, conversation_display_id) do update
          set bot_paused = true, paused_reason = excluded.paused_reason, paused_at = now()`;
      await bot.setStatus(p.conversation_display_id, "open");
      if (ctx.handoff_team_id) await bot.assignTeam(p.conversation_display_id, ctx.handoff_team_id);
    }
    await deps.sql`update public.ai_decisions set status = 'posted', posted_message_ids = ${posted}
                   where account_ref = ${p.account_ref} and message_id = ${p.message_id}`;
    return action;
  } catch (err) {
    if (err instanceof ChatwootError && err.transient) throw new RetryLater(err.message, err.retryAfterMs ?? 5_000);
    throw err;
  } finally {
    bot.close();
    await deps.sql`update public.ai_conversations set busy_until = null
                   where account_ref = ${p.account_ref} and conversation_display_id = ${p.conversation_display_id}`;
  }
}

/** After a crash between posting and recording it: does the conversation already hold our post? */
async function alreadyPosted(
  deps: ReplyDeps,
  ctx: ReplyContext,
  p: { account_ref: string; conversation_display_id: number; message_id: number },
  answer: string | null,
): Promise<boolean> {
  if (!answer) return false;
  const [mirrored] = await deps.sql`
    select 1 from public.chatwoot_messages where account_ref = ${p.account_ref}
      and conversation_display_id = ${p.conversation_display_id} and sender_type = 'agent_bot'
      and created_at >= ${ctx.created_at ?? new Date(0)} and content = ${answer}`;
  if (mirrored) return true;
  if (!ctx.admin_token) return false;
  // The mirror may lag the post: ask Chatwoot (a bot token cannot read messages; the admin token can).
  const admin = new ChatwootClient({
    baseUrl: ctx.chatwoot_url,
    token: ctx.admin_token,
    limiter: deps.limiter,
    fetch: deps.fetch,
  });
  try {
    const res = await admin.request(
      "GET",
      `/api/v1/accounts/${ctx.account_id}/conversations/${p.conversation_display_id}/messages`,
      {
        schema: z.looseObject({
          payload: z.array(z.looseObject({ content: z.string().nullish(), sender: z.unknown() })),
        }),
      },
    );
    return res.payload.some((m) =>
      m.content === answer && (m.sender as { type?: string } | null)?.type === "agent_bot"
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
  p: { account_ref: string; conversation_display_id: number },
  status: "open" | "pending",
  onlyIf?: string,
): Promise<boolean> {
  const [row] = await deps.sql`
    select a.account_id, a.chatwoot_url, bs.access_token, c.status, coalesce(ac.bot_paused, false) as bot_paused
    from public.chatwoot_accounts a
    join private.ai_bot_secrets bs on bs.store_id = a.store_id
    left join public.chatwoot_conversations c on c.account_ref = a.id and c.display_id = ${p.conversation_display_id}
    left join public.ai_conversations ac on ac.account_ref = a.id and ac.conversation_display_id = ${p.conversation_display_id}
    where a.id = ${p.account_ref}`;
  if (!row) return false;
  if (onlyIf && (row.status !== onlyIf || !row.bot_paused)) return true;
  const bot = BotActions.open(
    { chatwootUrl: row.chatwoot_url, accountId: row.account_id, token: row.access_token },
    deps,
  );
  try {
    await bot.setStatus(p.conversation_display_id, status);
  } finally {
    bot.close();
  }
  return true;
}

/** A person answered in a conversation the bot owned: it stays paused (set by the receiver) and
 * the conversation opens for the team (Chatwoot leaves it pending for an external bot). */
export async function openAfterHumanReply(
  deps: ReplyDeps,
  p: { account_ref: string; conversation_display_id: number },
): Promise<void> {
  await setStatusAsBot(deps, p, "open", "pending");
}

/** "Return to bot": unpauses (checked and audited in SQL; admin-api passes an `authorize` that
 * runs it under the caller's RLS) and sets the conversation pending again so the bot owns it. */
export async function returnToBot(
  deps: Pick<ReplyDeps, "sql" | "limiter" | "fetch">,
  p: { account_ref: string; conversation_display_id: number },
  authorize: (sql: Sql) => Promise<void> = async (sql) => {
    await sql`select public.return_conversation_to_bot(${p.account_ref}, ${p.conversation_display_id})`;
  },
): Promise<void> {
  await authorize(deps.sql);
  if (!await setStatusAsBot(deps, p, "pending")) {
    throw new PermanentFailure("the store has no agent bot: enable AI replies first");
  }
}

export function botJobHandlers(deps: ReplyDeps): Record<string, JobHandler> {
  const ids = (job: Job) => {
    const accountRef = job.payload.account_ref;
    const conversationId = Number(job.payload.conversation_display_id);
    if (typeof accountRef !== "string" || !Number.isInteger(conversationId)) {
      throw new PermanentFailure(`${job.kind} needs account_ref and conversation_display_id`);
    }
    return { account_ref: accountRef, conversation_display_id: conversationId };
  };
  return {
    "ai.reply": async (job, ctx) => {
      const messageId = Number(job.payload.message_id);
      if (!Number.isInteger(messageId)) throw new PermanentFailure("ai.reply needs message_id");
      const outcome = await replyToMessage(deps, { ...ids(job), message_id: messageId });
      ctx.log.info("ai reply", { message_id: messageId, outcome });
    },
    "ai.human_reply": async (job) => {
      await openAfterHumanReply(deps, ids(job));
    },
  };
}

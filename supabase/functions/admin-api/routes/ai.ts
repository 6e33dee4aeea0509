// A store's AI replies: its settings, today's usage and latest decisions; tuning; switching the
// agent bot on and off in Chatwoot; giving a conversation back to the bot. The Chatwoot calls run
// after the rights check's transaction has ended.

import { z } from "zod";
import type { Sql } from "../../_shared/platform/db.ts";
import { ApiError, body, parse } from "../../_shared/platform/http.ts";
import { type RateLimiter, unlimited } from "../../_shared/chatwoot/rate_limit.ts";
import { AgentBotError, disableStoreBot, enableStoreBot } from "../../_shared/ai/agent_bot.ts";
import { returnToBot } from "../../_shared/ai/reply.ts";
import { administeredStore, dbError, route, storeBySlug, uuid } from "../route.ts";

export interface AiRouteDeps {
  sql: Sql;
  /** The agent bot's webhook URL base. */
  functionsUrl?: string;
  limiter?: RateLimiter;
  /** For Chatwoot calls (tests watch them). */
  fetch?: typeof fetch;
}

const settingsPatch = z.object({
  mode: z.enum(["auto", "assist"]).optional(),
  handoff_message: z.string().trim().min(1).max(1000).optional(),
  handoff_team_id: z.number().int().positive().nullable().optional(),
  min_similarity: z.number().min(0).max(1).optional(),
  min_text_score: z.number().min(0).max(100).optional(),
  top_k: z.number().int().min(1).max(20).optional(),
  daily_token_budget: z.number().int().min(0).optional(),
  history_messages: z.number().int().min(0).max(50).optional(),
}).strict();

const enableRequest = z.object({
  mode: z.enum(["auto", "assist"]).optional(),
  inbox_ids: z.array(z.number().int().positive()).min(1).optional(),
});

function botError(err: unknown): never {
  if (err instanceof AgentBotError) throw new ApiError(409, "agent_bot", err.message);
  throw err;
}

export function aiRoutes(deps: AiRouteDeps) {
  const chatwoot = { sql: deps.sql, limiter: deps.limiter, fetch: deps.fetch };
  return [
    route("GET", "/stores/:slug/ai", ({ params, asCaller }) =>
      asCaller(async (tx) => {
        const store = await storeBySlug(tx, params.slug);
        const [settings] = await tx`select * from public.ai_bot_settings where store_id = ${store.id}`;
        const [usage] = await tx`select tokens, requests from public.ai_usage_daily
                                 where store_id = ${store.id} and day = (now() at time zone 'utc')::date`;
        const decisions = await tx`
          select account_ref, message_id, conversation_display_id, status, action, reason, question, answer,
                 cited_chunk_ids, chunks, retrieval_mode, model, prompt_tokens, completion_tokens, latency_ms, created_at
          from public.ai_decisions where store_id = ${store.id} order by created_at desc limit 50`;
        // The deployment's AI paused for quota concerns every store's bot: the page says so above everything.
        const [pause] = await tx`select * from public.ai_pause_status()`;
        return {
          settings: settings ?? null,
          usage_today: usage ?? { tokens: 0, requests: 0 },
          decisions,
          ai_pause: pause ?? null,
        };
      })),

    // An operator's resume after the OpenAI account's billing was fixed (platform administrators; checked and
    // audited in SQL). A probe resumes by itself too.
    route("POST", "/ai/resume", async ({ asCaller }) => {
      const [row] = await asCaller((tx) => tx`select public.resume_ai() as resumed`).catch(dbError);
      return { resumed: row.resumed as boolean };
    }),

    route("POST", "/stores/:slug/ai/settings", async ({ params, req, asCaller }) => {
      const store = await asCaller((tx) => storeBySlug(tx, params.slug));
      const patch = parse(settingsPatch, await body(req), "settings");
      if (!Object.keys(patch).length) throw new ApiError(400, "invalid_input", "Nothing to change.");
      const [row] = await asCaller((tx) =>
        tx`update public.ai_bot_settings set ${tx(patch)} where store_id = ${store.id} returning *`
      ).catch(dbError);
      if (!row) {
        throw new ApiError(404, "not_enabled", "Enable AI replies for this store first (or you cannot change it).");
      }
      return { settings: row };
    }),

    route("POST", "/stores/:slug/ai/:action(enable|disable)", async (ctx) => {
      const { params, req } = ctx;
      const store = await administeredStore(ctx, params.slug);
      if (params.action === "disable") {
        await disableStoreBot(chatwoot, store.id).catch(botError);
        return { enabled: false };
      }
      if (!deps.functionsUrl) throw new ApiError(503, "not_configured", "This deployment has no public functions URL.");
      const b = parse(enableRequest, await body(req), "body");
      const r = await enableStoreBot(chatwoot, {
        storeId: store.id,
        mode: b.mode,
        inboxIds: b.inbox_ids,
        functionsUrl: deps.functionsUrl,
      }).catch(botError);
      return { enabled: true, agent_bot_id: r.agentBotId, inbox_ids: r.inboxIds, created: r.created };
    }),

    route("POST", "/conversations/:ref/:conversation(\\d+)/return-to-bot", async ({ params, asCaller }) => {
      const ref = parse(uuid, params.ref, "account ref");
      const conversationId = Number(params.conversation);
      // Checked and audited in SQL as the caller, committed; then Chatwoot is told.
      await returnToBot({ ...chatwoot, limiter: deps.limiter ?? unlimited }, {
        account_ref: ref,
        conversation_display_id: conversationId,
      }, async () => {
        await asCaller((tx) => tx`select public.return_conversation_to_bot(${ref}, ${conversationId})`).catch(dbError);
      });
      return { status: "returned_to_bot" };
    }),
  ];
}

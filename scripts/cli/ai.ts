// `switchboard ai enable|disable|status|return-to-bot`: a store's AI replies from the command
// line, through the same modules admin-api and the jobs use.

import { parseArgs } from "node:util";
import { asOperator, type CliContext, CliError, table } from "./context.ts";
import { postgresRateLimiter } from "../../supabase/functions/_shared/chatwoot/rate_limit.ts";
import { AgentBotError, disableStoreBot, enableStoreBot } from "../../supabase/functions/_shared/ai/agent_bot.ts";
import { returnToBot } from "../../supabase/functions/_shared/ai/reply.ts";
import { type AiPause, currentAiPause } from "../../supabase/functions/_shared/ai/pause.ts";

const USAGE = `usage: switchboard ai enable --store <slug> [--mode auto|assist] [--inbox <id>…]
       switchboard ai disable --store <slug>
       switchboard ai status [--store <slug>] [--limit n]
       switchboard ai resume            (after the OpenAI account's quota was fixed)
       switchboard ai return-to-bot --store <slug> --conversation <display id>`;

/** The deployment's AI state, first thing `ai status` says: running, or paused for quota since when and why. */
export function describeAiPause(pause: AiPause | null): string {
  if (!pause) return "AI: running";
  const at = (d: Date | null) => d ? d.toISOString().replace(/\.\d+Z$/, "Z") : "—";
  return [
    `AI: PAUSED since ${at(pause.paused_at)}: the OpenAI account is out of quota (${pause.code}, first met on ` +
    `${pause.endpoint}). Every customer message goes to a person until it resumes.`,
    `  OpenAI said: ${pause.reason}`,
    `  handed off while paused: ${pause.handoffs}; probes: ${pause.probes} (last ${at(pause.last_probe_at)}` +
    `${pause.last_probe_error ? `: ${pause.last_probe_error}` : ""}); next probe ${at(pause.next_probe_at)}`,
    "  fix billing (https://platform.openai.com/settings/organization/billing), then `switchboard ai resume`",
  ].join("\n");
}

async function store(ctx: CliContext, slug: string | undefined) {
  if (!slug) throw new CliError(`--store <slug> is required\n${USAGE}`, 2);
  const [s] = await ctx.sql`select s.id, a.id as account_ref from public.stores s
                            left join public.chatwoot_accounts a on a.store_id = s.id where s.slug = ${slug}`;
  if (!s) throw new CliError(`no store with slug "${slug}"`);
  return s as { id: string; account_ref: string | null };
}

function limiter(ctx: CliContext) {
  return postgresRateLimiter(ctx.sql, { perMinute: Number(Deno.env.get("CHATWOOT_REQUESTS_PER_MINUTE") ?? 3000) });
}

export async function aiCommand(ctx: CliContext, args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  const { values } = parseArgs({
    args: rest,
    options: {
      store: { type: "string" },
      mode: { type: "string" },
      inbox: { type: "string", multiple: true },
      conversation: { type: "string" },
      limit: { type: "string", default: "20" },
    },
    strict: true,
  });
  try {
    if (sub === "enable") {
      const s = await store(ctx, values.store);
      if (values.mode && values.mode !== "auto" && values.mode !== "assist") {
        throw new CliError("--mode must be auto or assist", 2);
      }
      const inboxIds = values.inbox?.map((v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n <= 0) throw new CliError(`--inbox must be an inbox id, got "${v}"`, 2);
        return n;
      });
      const r = await enableStoreBot({ sql: ctx.sql, limiter: limiter(ctx) }, {
        storeId: s.id,
        mode: values.mode as "auto" | "assist" | undefined,
        inboxIds,
        functionsUrl: Deno.env.get("SWITCHBOARD_PUBLIC_FUNCTIONS_URL") ?? `${ctx.apiUrl}/functions/v1`,
      });
      ctx.out(
        `AI replies on for ${values.store}: agent bot ${r.agentBotId} (${r.created ? "created" : "re-pointed"}), ` +
          `inboxes ${r.inboxIds.join(", ") || "(none)"}`,
      );
    } else if (sub === "disable") {
      const s = await store(ctx, values.store);
      await disableStoreBot({ sql: ctx.sql, limiter: limiter(ctx) }, s.id);
      ctx.out(`AI replies off for ${values.store}: the bot is detached from its inboxes`);
    } else if (sub === "resume") {
      const resumed = await asOperator(ctx, async (tx) => {
        const [r] = await tx<{ resumed: boolean }[]>`select public.resume_ai() as resumed`;
        return r.resumed;
      });
      ctx.out(resumed ? "AI resumed: replies and embeddings use the model again" : "AI was not paused");
    } else if (sub === "status") {
      ctx.out(describeAiPause(await currentAiPause(ctx.sql)));
      if (!values.store) return;
      const s = await store(ctx, values.store);
      const [settings] = await ctx
        .sql`select enabled, mode, agent_bot_id, inbox_ids, daily_token_budget, min_similarity,
                                              min_text_score, top_k from public.ai_bot_settings where store_id = ${s.id}`;
      if (!settings) {
        ctx.out(`AI replies were never enabled for ${values.store}`);
        return;
      }
      const [usage] = await ctx
        .sql`select coalesce(sum(tokens), 0)::int as tokens, coalesce(sum(requests), 0)::int as requests
                                    from public.ai_usage_daily where store_id = ${s.id}
                                      and day = (now() at time zone 'utc')::date`;
      ctx.out(table([{ ...settings, tokens_today: usage.tokens, model_calls_today: usage.requests }], [
        "enabled",
        "mode",
        "agent_bot_id",
        "inbox_ids",
        "daily_token_budget",
        "tokens_today",
        "model_calls_today",
      ]));
      const decisions = await ctx.sql`
        select created_at, conversation_display_id as conversation, action, reason, model,
               prompt_tokens + completion_tokens as tokens, latency_ms
        from public.ai_decisions where store_id = ${s.id} order by created_at desc limit ${Number(values.limit)}`;
      ctx.out(table(decisions, ["created_at", "conversation", "action", "reason", "model", "tokens", "latency_ms"]));
    } else if (sub === "return-to-bot") {
      const s = await store(ctx, values.store);
      const id = Number(values.conversation);
      if (!Number.isInteger(id) || id <= 0) throw new CliError("--conversation <display id> is required", 2);
      if (!s.account_ref) throw new CliError(`store ${values.store} has no Chatwoot account`);
      // Checked and audited in SQL as the operator (not as the superuser the CLI connects as).
      await returnToBot({ sql: ctx.sql, limiter: limiter(ctx) }, {
        account_ref: s.account_ref,
        conversation_display_id: id,
      }, async () => {
        await asOperator(ctx, (tx) => tx`select public.return_conversation_to_bot(${s.account_ref}, ${id})`);
      });
      ctx.out(`conversation ${id} is the bot's again (pending)`);
    } else {
      throw new CliError(USAGE, 2);
    }
  } catch (err) {
    if (err instanceof AgentBotError) throw new CliError(err.message);
    throw err;
  }
}

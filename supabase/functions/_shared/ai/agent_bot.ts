// A store's Chatwoot agent bot: created in the store's account with the administrator token,
// pointed at this deployment's chatwoot-bot route, attached to the chosen inboxes (conversations
// there start pending, owned by the bot), and its token and signing secret kept private. Also the
// bot's own calls: post a message, a private note, hand off (toggle to open), return to pending.

import { z } from "zod";
import type { Sql } from "../platform/db.ts";
import type { LeftJoined, PrivateRow, Row } from "../platform/rows.ts";
import { ChatwootClient } from "../chatwoot/client.ts";
import type { RateLimiter } from "../chatwoot/rate_limit.ts";
import { newRouteToken, routeTokenHash } from "../chatwoot/accounts.ts";

export class AgentBotError extends Error {}

const botSchema = z.looseObject({
  id: z.number().int(),
  // The account API renders the AccessToken record; the Platform API a plain string.
  access_token: z.union([z.string(), z.looseObject({ token: z.string() })]).nullish(),
  secret: z.string().nullish(),
});
const inboxesSchema = z.looseObject({
  payload: z.array(
    z.looseObject({ id: z.number().int(), name: z.string().nullish(), channel_type: z.string().nullish() }),
  ),
});

export function botUrlFor(functionsUrl: string, routeToken: string): string {
  return `${functionsUrl.replace(/\/+$/, "")}/chatwoot-bot/${routeToken}`;
}

export interface EnableBotInput {
  storeId: string;
  mode?: "auto" | "assist";
  /** Inboxes to attach; default: every inbox of the account. */
  inboxIds?: number[];
  functionsUrl: string;
}

export interface EnableBotResult {
  agentBotId: number;
  inboxIds: number[];
  url: string;
  created: boolean;
}

type StoreAccountRow =
  & LeftJoined<{
    account_ref: Row<"chatwoot_accounts">["id"];
    chatwoot_url: Row<"chatwoot_accounts">["chatwoot_url"];
    account_id: Row<"chatwoot_accounts">["account_id"];
    api_token: PrivateRow<"chatwoot_account_secrets">["api_token"];
    agent_bot_id: Row<"ai_bot_settings">["agent_bot_id"];
  }>
  & { store_name: Row<"stores">["name"] };

async function accountFor(sql: Sql, storeId: string) {
  const [row] = await sql<StoreAccountRow[]>`
    select a.id as account_ref, a.chatwoot_url, a.account_id, s.api_token, st.name as store_name,
           b.agent_bot_id
    from public.stores st
    left join public.chatwoot_accounts a on a.store_id = st.id
    left join private.chatwoot_account_secrets s on s.account_ref = a.id
    left join public.ai_bot_settings b on b.store_id = st.id
    where st.id = ${storeId}`;
  if (!row) throw new AgentBotError(`no store ${storeId}`);
  const { account_ref, chatwoot_url, account_id, api_token } = row;
  // A matched account has all of its columns: account_ref alone tells whether there is one.
  if (!account_ref || chatwoot_url === null || account_id === null) {
    throw new AgentBotError("the store has no Chatwoot account yet (provisioning, or `switchboard accounts link`)");
  }
  if (!api_token) {
    throw new AgentBotError("the store's Chatwoot account has no administrator token to create a bot with");
  }
  return { ...row, account_ref, chatwoot_url, account_id, api_token };
}

/** Creates (or re-points) the store's agent bot and attaches it to inboxes. Idempotent. */
export async function enableStoreBot(
  deps: { sql: Sql; limiter?: RateLimiter; fetch?: typeof fetch },
  input: EnableBotInput,
): Promise<EnableBotResult> {
  const acct = await accountFor(deps.sql, input.storeId);
  const client = new ChatwootClient({
    baseUrl: acct.chatwoot_url,
    token: acct.api_token,
    limiter: deps.limiter,
    fetch: deps.fetch,
  });
  const base = `/api/v1/accounts/${acct.account_id}`;
  try {
    const inboxes = (await client.request("GET", `${base}/inboxes`, { schema: inboxesSchema })).payload;
    const known = new Set(inboxes.map((i) => i.id));
    const inboxIds = input.inboxIds ?? inboxes.map((i) => i.id);
    const missing = inboxIds.filter((id) => !known.has(id));
    if (missing.length) throw new AgentBotError(`no inbox ${missing.join(", ")} in the store's Chatwoot account`);

    // A new route token each time: only its hash is kept, so the URL cannot be rebuilt later.
    const routeToken = newRouteToken();
    const url = botUrlFor(input.functionsUrl, routeToken);
    let bot: z.infer<typeof botSchema> | null = null;
    let created = false;
    if (acct.agent_bot_id) {
      try {
        bot = await client.request("PATCH", `${base}/agent_bots/${acct.agent_bot_id}`, {
          body: { outgoing_url: url },
          schema: botSchema,
          idempotent: true,
        });
      } catch (err) {
        if ((err as { status?: number }).status !== 404) throw err;
      }
    }
    if (!bot) {
      bot = await client.request("POST", `${base}/agent_bots`, {
        body: {
          name: `${acct.store_name} assistant`.slice(0, 255),
          description: "Answers from the store's knowledge base and hands off to the team (Switchboard).",
          outgoing_url: url,
          bot_type: "webhook",
        },
        schema: botSchema,
      });
      created = true;
    }
    const token = typeof bot.access_token === "string" ? bot.access_token : bot.access_token?.token;
    const [previous] = await deps.sql<Pick<PrivateRow<"ai_bot_secrets">, "access_token" | "webhook_secret">[]>`
      select access_token, webhook_secret from private.ai_bot_secrets where store_id = ${input.storeId}`;
    const accessToken = token ?? previous?.access_token;
    if (!accessToken) throw new AgentBotError("Chatwoot returned no access token for the agent bot");
    const secret = bot.secret ?? previous?.webhook_secret ?? null;
    if (!secret) {
      throw new AgentBotError("Chatwoot returned no signing secret for the agent bot (needs Chatwoot ≥ 4.13)");
    }
    for (const id of inboxIds) {
      await client.request("POST", `${base}/inboxes/${id}/set_agent_bot`, {
        body: { agent_bot: bot.id },
        schema: z.unknown(),
        idempotent: true,
      });
    }
    await deps.sql.begin(async (tx) => {
      await tx`
        insert into public.ai_bot_settings (store_id, enabled, mode, agent_bot_id, inbox_ids)
        values (${input.storeId}, true, ${input.mode ?? "auto"}, ${bot!.id}, ${inboxIds})
        on conflict (store_id) do update set enabled = true, agent_bot_id = excluded.agent_bot_id,
          inbox_ids = excluded.inbox_ids, mode = coalesce(${input.mode ?? null}, public.ai_bot_settings.mode)`;
      await tx`
        insert into private.ai_bot_secrets (store_id, access_token, webhook_secret, route_token_hash)
        values (${input.storeId}, ${accessToken}, ${secret}, ${routeTokenHash(routeToken)})
        on conflict (store_id) do update set access_token = excluded.access_token,
          webhook_secret = excluded.webhook_secret, route_token_hash = excluded.route_token_hash, updated_at = now()`;
      await tx`insert into private.audit_log (actor, action, target, detail)
               values ('switchboard', 'ai.enable', ${`store:${input.storeId}`},
                       ${tx.json({ agent_bot_id: bot!.id, inbox_ids: inboxIds, created })})`;
    });
    return { agentBotId: bot.id, inboxIds, url, created };
  } finally {
    client.close();
  }
}

/** Detaches the bot from its inboxes (new conversations open for humans) and turns AI off. */
export async function disableStoreBot(
  deps: { sql: Sql; limiter?: RateLimiter; fetch?: typeof fetch },
  storeId: string,
): Promise<void> {
  const acct = await accountFor(deps.sql, storeId);
  const [settings] = await deps.sql<Pick<Row<"ai_bot_settings">, "inbox_ids">[]>`
    select inbox_ids from public.ai_bot_settings where store_id = ${storeId}`;
  const client = new ChatwootClient({
    baseUrl: acct.chatwoot_url,
    token: acct.api_token,
    limiter: deps.limiter,
    fetch: deps.fetch,
  });
  try {
    for (const id of settings?.inbox_ids ?? []) {
      await client.request("POST", `/api/v1/accounts/${acct.account_id}/inboxes/${id}/set_agent_bot`, {
        body: { agent_bot: null },
        schema: z.unknown(),
        idempotent: true,
      });
    }
  } finally {
    client.close();
  }
  await deps.sql`update public.ai_bot_settings set enabled = false where store_id = ${storeId}`;
  await deps.sql`insert into private.audit_log (actor, action, target, detail)
                 values ('switchboard', 'ai.disable', ${`store:${storeId}`}, '{}')`;
}

/** The bot's own client: only the endpoints Chatwoot lets a bot token call. */
export class BotActions {
  constructor(private readonly client: ChatwootClient, private readonly accountId: number) {}

  /** The bot of an account, with its own token, through the shared limiter. */
  static open(
    bot: { chatwootUrl: string; accountId: number; token: string },
    deps: { limiter?: RateLimiter; fetch?: typeof fetch },
  ): BotActions {
    const client = new ChatwootClient({
      baseUrl: bot.chatwootUrl,
      token: bot.token,
      limiter: deps.limiter,
      fetch: deps.fetch,
    });
    return new BotActions(client, bot.accountId);
  }

  private path(conversationId: number, rest: string): string {
    return `/api/v1/accounts/${this.accountId}/conversations/${conversationId}${rest}`;
  }

  async post(conversationId: number, content: string, opts: { private?: boolean } = {}): Promise<number> {
    const res = await this.client.request("POST", this.path(conversationId, "/messages"), {
      body: { content, message_type: "outgoing", private: opts.private ?? false },
      schema: z.looseObject({ id: z.number().int() }),
    });
    return res.id;
  }

  async setStatus(conversationId: number, status: "open" | "pending"): Promise<void> {
    await this.client.request("POST", this.path(conversationId, "/toggle_status"), {
      body: { status },
      schema: z.unknown(),
      idempotent: true,
    });
  }

  async assignTeam(conversationId: number, teamId: number): Promise<void> {
    await this.client.request("POST", this.path(conversationId, "/assignments"), {
      body: { team_id: teamId },
      schema: z.unknown(),
      idempotent: true,
    });
  }

  close(): void {
    this.client.close();
  }
}

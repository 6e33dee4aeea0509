// Chatwoot's Application API (`/api/v1/accounts/:account_id/…`): token authentication for users and agent
// bots, account membership and suspension, Pundit's admin-only actions, BOT_ACCESSIBLE_ENDPOINTS, and the
// account-configuration routes (inboxes, webhooks, agent bots, custom attribute definitions).

import { contactRoutes } from "./contacts_api.ts";
import { conversationRoutes } from "./conversations_api.ts";
import {
  errorToResponse,
  forbidden,
  headOk,
  json,
  notFound,
  readBody,
  routeNotFound,
  unauthorized,
  unprocessable,
  unwrap,
} from "./http.ts";
import { type Params, Router } from "../kit/router.ts";
import type { AccountSetup } from "./account_setup.ts";
import type { Actor, ChatwootModel } from "./model.ts";
import type { Payloads } from "./payloads.ts";
import type { Account, AccountUser, AgentBot, Inbox, JsonObject, SandboxState } from "./state.ts";
import type { Views } from "./views.ts";

export interface ApiDeps {
  state: SandboxState;
  model: ChatwootModel;
  setup: AccountSetup;
  views: Views;
  payloads: Payloads;
  now: () => number;
}

export interface AppContext {
  deps: ApiDeps;
  account: Account;
  actor: Exclude<Actor, { kind: "system" }>;
  accountUser: AccountUser | null;
  isAdmin: boolean;
  params: Params;
  query: URLSearchParams;
  body: JsonObject;
}

export interface AppRoute {
  run: (ctx: AppContext) => Response | Promise<Response>;
  /** In BOT_ACCESSIBLE_ENDPOINTS: agent-bot tokens may call it. */
  bot?: boolean;
  /** Pundit: administrators only. */
  admin?: boolean;
}

export type AppRouter = Router<AppRoute>;

/**
 * AccessTokenAuthHelper#ensure_access_token reads `request.headers[:api_access_token] ||
 * request.headers[:HTTP_API_ACCESS_TOKEN]`: the underscore header, or `Api-Access-Token`, which Rack stores as
 * HTTP_API_ACCESS_TOKEN. Only the dashed form survives nginx's default `underscores_in_headers off`.
 */
export function accessToken(req: Request): string {
  return req.headers.get("api_access_token") ?? req.headers.get("api-access-token") ?? "";
}

export function findInbox(ctx: AppContext, id: string): Inbox {
  const inbox = ctx.deps.state.inboxes.get(id);
  if (!inbox || inbox.account_id !== ctx.account.id) throw notFound();
  return inbox;
}

function findAccountBot(ctx: AppContext, id: string, writable: boolean): AgentBot {
  const bot = ctx.deps.state.agentBots.get(id);
  const visible = bot && (bot.account_id === ctx.account.id || (!writable && bot.account_id === null));
  if (!visible) throw notFound();
  return bot;
}

function accountRoutes(router: AppRouter): void {
  // ---- inboxes
  router.add("GET", "/inboxes", {
    run: (ctx) =>
      json({ payload: ctx.deps.state.inboxes.by(ctx.account.id).map((i) => ctx.deps.views.inbox(i, ctx.isAdmin)) }),
  });
  router.add("GET", "/inboxes/:id", {
    run: (ctx) => json(ctx.deps.views.inbox(findInbox(ctx, ctx.params.id), ctx.isAdmin)),
  });
  router.add("POST", "/inboxes", {
    admin: true,
    run: (ctx) => json(ctx.deps.views.inbox(ctx.deps.setup.createInbox(ctx.account, ctx.body), true)),
  });
  router.add("PATCH", "/inboxes/:id", {
    admin: true,
    run: (ctx) => {
      const inbox = ctx.deps.setup.updateInbox(findInbox(ctx, ctx.params.id), ctx.body);
      return json(ctx.deps.views.inbox(inbox, true));
    },
  });
  router.add("DELETE", "/inboxes/:id", {
    admin: true,
    run: (ctx) => {
      ctx.deps.setup.deleteInbox(findInbox(ctx, ctx.params.id));
      return json({ message: "Your inbox deletion request will be processed in some time." });
    },
  });
  router.add("POST", "/inboxes/:id/set_agent_bot", {
    admin: true,
    run: (ctx) => {
      ctx.deps.setup.setAgentBot(findInbox(ctx, ctx.params.id), ctx.body.agent_bot);
      return headOk();
    },
  });
  router.add("GET", "/inboxes/:id/agent_bot", {
    run: (ctx) => {
      const inbox = findInbox(ctx, ctx.params.id);
      const bot = ctx.deps.state.agentBots.get(inbox.agent_bot_id);
      return json({ agent_bot: bot ? ctx.deps.views.accountAgentBot(bot, false) : null });
    },
  });
  router.add("POST", "/inboxes/:id/reset_secret", {
    admin: true,
    run: (ctx) => {
      const inbox = findInbox(ctx, ctx.params.id);
      if (inbox.channel_type !== "Channel::Api") throw unprocessable("Secret reset is only supported for API inboxes");
      return json(ctx.deps.views.inbox(ctx.deps.setup.resetInboxSecret(inbox), true));
    },
  });

  // ---- account webhooks (WebhookPolicy: administrators only)
  const findWebhook = (ctx: AppContext) => {
    const webhook = ctx.deps.state.webhooks.get(ctx.params.id);
    if (!webhook || webhook.account_id !== ctx.account.id) throw notFound();
    return webhook;
  };
  router.add("GET", "/webhooks", {
    admin: true,
    run: (ctx) =>
      json({
        payload: { webhooks: ctx.deps.state.webhooks.by(ctx.account.id).map((w) => ctx.deps.views.webhook(w)) },
      }),
  });
  router.add("POST", "/webhooks", {
    admin: true,
    run: (ctx) => {
      const webhook = ctx.deps.setup.createWebhook(ctx.account, unwrap(ctx.body, "webhook"));
      return json({ payload: { webhook: ctx.deps.views.webhook(webhook) } });
    },
  });
  router.add("PATCH", "/webhooks/:id", {
    admin: true,
    run: (ctx) => {
      const webhook = ctx.deps.setup.updateWebhook(ctx.account, findWebhook(ctx), unwrap(ctx.body, "webhook"));
      return json({ payload: { webhook: ctx.deps.views.webhook(webhook) } });
    },
  });
  router.add("DELETE", "/webhooks/:id", {
    admin: true,
    run: (ctx) => {
      ctx.deps.state.webhooks.delete(findWebhook(ctx).id);
      return headOk();
    },
  });

  // ---- agent bots (account scope; the secret is only visible here, to administrators)
  router.add("GET", "/agent_bots", {
    run: (ctx) =>
      json(
        ctx.deps.state.agentBots.filter((b) => b.account_id === ctx.account.id || b.account_id === null)
          .map((b) => ctx.deps.views.accountAgentBot(b, ctx.isAdmin)),
      ),
  });
  router.add("GET", "/agent_bots/:id", {
    run: (ctx) => json(ctx.deps.views.accountAgentBot(findAccountBot(ctx, ctx.params.id, false), ctx.isAdmin)),
  });
  router.add("POST", "/agent_bots", {
    admin: true,
    run: (ctx) => json(ctx.deps.views.accountAgentBot(ctx.deps.setup.createAgentBot(ctx.body, ctx.account.id), true)),
  });
  router.add("PATCH", "/agent_bots/:id", {
    admin: true,
    run: (ctx) => {
      const bot = ctx.deps.setup.updateAgentBot(findAccountBot(ctx, ctx.params.id, true), ctx.body);
      return json(ctx.deps.views.accountAgentBot(bot, true));
    },
  });
  router.add("DELETE", "/agent_bots/:id", {
    admin: true,
    run: (ctx) => {
      ctx.deps.setup.deleteAgentBot(findAccountBot(ctx, ctx.params.id, true));
      return headOk();
    },
  });
  router.add("POST", "/agent_bots/:id/reset_access_token", {
    admin: true,
    run: (ctx) => {
      const bot = ctx.deps.setup.resetAgentBotAccessToken(findAccountBot(ctx, ctx.params.id, true));
      return json(ctx.deps.views.accountAgentBot(bot, true));
    },
  });
  router.add("POST", "/agent_bots/:id/reset_secret", {
    admin: true,
    run: (ctx) => {
      const bot = ctx.deps.setup.resetAgentBotSecret(findAccountBot(ctx, ctx.params.id, true));
      return json(ctx.deps.views.accountAgentBot(bot, true));
    },
  });

  // ---- custom attribute definitions
  router.add("GET", "/custom_attribute_definitions", {
    run: (ctx) => {
      const model = ctx.query.get("attribute_model");
      const defs = ctx.deps.state.customAttributeDefinitions.by(ctx.account.id)
        .filter((d) => !model || d.attribute_model === model);
      return json(defs.map((d) => ctx.deps.views.customAttributeDefinition(d)));
    },
  });
  router.add("POST", "/custom_attribute_definitions", {
    admin: true,
    run: (ctx) => {
      const def = ctx.deps.setup.createCustomAttributeDefinition(
        ctx.account,
        unwrap(ctx.body, "custom_attribute_definition"),
      );
      return json(ctx.deps.views.customAttributeDefinition(def));
    },
  });
}

export function createApplicationRouter(): AppRouter {
  const router: AppRouter = new Router();
  accountRoutes(router);
  contactRoutes(router);
  conversationRoutes(router);
  return router;
}

const ACCOUNT_PREFIX = /^\/api\/v1\/accounts\/([^/]+)(\/.*)?$/;

/** Handles `/api/v1/accounts/:account_id/…`; undefined when the path is not in this API. */
export async function handleApplicationApi(
  deps: ApiDeps,
  router: AppRouter,
  req: Request,
  url: URL,
): Promise<Response | undefined> {
  const m = ACCOUNT_PREFIX.exec(url.pathname);
  if (!m) return undefined;
  const route = router.match(req.method, m[2] ?? "/");
  if (!route) return routeNotFound();
  try {
    const owner = deps.state.tokenOwner(accessToken(req));
    if (!owner) throw unauthorized("Invalid Access Token");
    // Api::BaseController's validate_bot_access_token! runs before the account is even looked up.
    if (owner.kind === "bot" && !route.handler.bot) {
      throw unauthorized("Access to this endpoint is not authorized for bots");
    }
    const account = deps.state.accounts.get(m[1]);
    if (!account) throw notFound();
    let accountUser: AccountUser | null = null;
    if (owner.kind === "user") {
      accountUser = deps.state.accountUsers.by(account.id).find((au) => au.user_id === owner.user.id) ?? null;
      if (!accountUser) throw unauthorized("You are not authorized to access this account");
      if (account.status !== "active") throw unauthorized("Account is suspended");
    } else {
      // EnsureCurrentAccountHelper: suspension first, then the bot's own account or one of its inboxes'.
      if (account.status !== "active") throw unauthorized("Account is suspended");
      const bot = owner.bot;
      const onInbox = deps.state.inboxes.by(account.id).some((i) => i.agent_bot_id === bot.id);
      if (bot.account_id !== account.id && !onInbox) throw unauthorized("Bot is not authorized to access this account");
    }
    // Api::V1::Accounts::BaseController#validate_token_api_access (PR #14973), after current_account: on Chatwoot
    // Cloud an account without `api_and_webhooks` (the free plan) refuses every token-authenticated call, admins'
    // too; invalid tokens and non-members still get the 401s above.
    if (account.cloud_free_plan) throw forbidden("API access is not enabled for this account");
    const isAdmin = accountUser?.role === "administrator";
    if (route.handler.admin && !isAdmin) throw unauthorized("You are not authorized to do this action");
    const ctx: AppContext = {
      deps,
      account,
      actor: owner.kind === "user" ? { kind: "user", user: owner.user } : { kind: "bot", bot: owner.bot },
      accountUser,
      isAdmin,
      params: route.params,
      query: url.searchParams,
      body: await readBody(req),
    };
    return await route.handler.run(ctx);
  } catch (e) {
    return errorToResponse(e);
  }
}

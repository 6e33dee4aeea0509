// Chatwoot's Platform API (`/platform/api/v1`): the platform app token, and the permissible-resource rule —
// an app may only show, change or delete the accounts, users and agent bots it created (or adopted by e-mail).

import { accessToken } from "./application_api.ts";
import { errorToResponse, headOk, json, notFound, readBody, routeNotFound, unauthorized } from "./http.ts";
import { type Params, Router } from "../kit/router.ts";
import type { AccountSetup } from "./account_setup.ts";
import type { Account, AgentBot, JsonObject, SandboxState, User } from "./state.ts";
import type { Views } from "./views.ts";

export interface PlatformDeps {
  state: SandboxState;
  setup: AccountSetup;
  views: Views;
  frontendUrl: () => string;
}

interface PlatformContext {
  deps: PlatformDeps;
  params: Params;
  body: JsonObject;
}

type PlatformHandler = (ctx: PlatformContext) => Response;
export type PlatformRouter = Router<PlatformHandler>;

type PermissibleType = "Account" | "User" | "AgentBot";

/** `Model.find` (404) then `validate_platform_app_permissible` (401). */
function permissible<T>(ctx: PlatformContext, type: PermissibleType, row: T | undefined, id: number): T {
  if (!row) throw notFound();
  if (!ctx.deps.state.isPermitted(type, id)) throw unauthorized("Non permissible resource");
  return row;
}

const account = (ctx: PlatformContext, key = "id"): Account => {
  const row = ctx.deps.state.accounts.get(ctx.params[key]);
  return permissible(ctx, "Account", row, Number(ctx.params[key]));
};
const user = (ctx: PlatformContext): User =>
  permissible(ctx, "User", ctx.deps.state.users.get(ctx.params.id), Number(ctx.params.id));
const agentBot = (ctx: PlatformContext): AgentBot =>
  permissible(ctx, "AgentBot", ctx.deps.state.agentBots.get(ctx.params.id), Number(ctx.params.id));

export function createPlatformRouter(): PlatformRouter {
  const r: PlatformRouter = new Router();
  const v = (ctx: PlatformContext) => ctx.deps.views;

  // ---- accounts
  r.add("GET", "/accounts", (ctx) =>
    json(
      ctx.deps.state.accounts.filter((a) => ctx.deps.state.isPermitted("Account", a.id))
        .map((a) => v(ctx).platformAccount(a)),
    ));
  r.add("POST", "/accounts", (ctx) => {
    const created = ctx.deps.setup.createAccount(ctx.body);
    ctx.deps.state.permit("Account", created.id);
    return json(v(ctx).platformAccount(created));
  });
  r.add("GET", "/accounts/:id", (ctx) => json(v(ctx).platformAccount(account(ctx))));
  r.add(
    "PATCH",
    "/accounts/:id",
    (ctx) => json(v(ctx).platformAccount(ctx.deps.setup.updateAccount(account(ctx), ctx.body))),
  );
  r.add("DELETE", "/accounts/:id", (ctx) => {
    ctx.deps.setup.deleteAccount(account(ctx));
    return headOk();
  });

  // ---- account users
  r.add("GET", "/accounts/:account_id/account_users", (ctx) => {
    const a = account(ctx, "account_id");
    return json(ctx.deps.state.accountUsers.by(a.id).map((au) => v(ctx).accountUserRow(au)));
  });
  r.add("POST", "/accounts/:account_id/account_users", (ctx) => {
    const au = ctx.deps.setup.upsertAccountUser(account(ctx, "account_id"), ctx.body.user_id, ctx.body.role);
    return json(v(ctx).accountUserRow(au));
  });
  r.add("DELETE", "/accounts/:account_id/account_users", (ctx) => {
    ctx.deps.setup.removeAccountUser(account(ctx, "account_id"), ctx.body.user_id);
    return headOk();
  });

  // ---- users
  r.add("POST", "/users", (ctx) => {
    const { user: created } = ctx.deps.setup.findOrCreateUser(ctx.body);
    // An existing e-mail returns that user, and the app may manage it from now on.
    ctx.deps.state.permit("User", created.id);
    return json(v(ctx).platformUser(created));
  });
  r.add("GET", "/users/:id", (ctx) => json(v(ctx).platformUser(user(ctx))));
  r.add("PATCH", "/users/:id", (ctx) => json(v(ctx).platformUser(ctx.deps.setup.updateUser(user(ctx), ctx.body))));
  r.add("DELETE", "/users/:id", (ctx) => {
    ctx.deps.setup.deleteUser(user(ctx));
    return headOk();
  });
  r.add("GET", "/users/:id/login", (ctx) => {
    const u = user(ctx);
    const base = ctx.deps.frontendUrl().replace(/\/$/, "");
    return json({
      url: `${base}/app/login?email=${encodeURIComponent(u.email)}&sso_auth_token=${crypto.randomUUID()}`,
    });
  });
  r.add("POST", "/users/:id/token", (ctx) => {
    const u = user(ctx);
    return json({
      access_token: u.access_token,
      expiry: null,
      user: { id: u.id, name: u.name, display_name: u.display_name, email: u.email, pubsub_token: u.pubsub_token },
    });
  });

  // ---- agent bots
  r.add("GET", "/agent_bots", (ctx) =>
    json(
      ctx.deps.state.agentBots.filter((b) => ctx.deps.state.isPermitted("AgentBot", b.id))
        .map((b) => v(ctx).platformAgentBot(b)),
    ));
  r.add("POST", "/agent_bots", (ctx) => {
    const accountId = ctx.body.account_id === undefined || ctx.body.account_id === null
      ? null
      : Number(ctx.body.account_id);
    if (accountId !== null && !ctx.deps.state.accounts.get(accountId)) throw notFound();
    const bot = ctx.deps.setup.createAgentBot(ctx.body, accountId);
    ctx.deps.state.permit("AgentBot", bot.id);
    return json(v(ctx).platformAgentBot(bot));
  });
  r.add("GET", "/agent_bots/:id", (ctx) => json(v(ctx).platformAgentBot(agentBot(ctx))));
  r.add(
    "PATCH",
    "/agent_bots/:id",
    (ctx) => json(v(ctx).platformAgentBot(ctx.deps.setup.updateAgentBot(agentBot(ctx), ctx.body))),
  );
  r.add("DELETE", "/agent_bots/:id", (ctx) => {
    ctx.deps.setup.deleteAgentBot(agentBot(ctx));
    return headOk();
  });
  return r;
}

const PREFIX = "/platform/api/v1";

/** Handles `/platform/api/v1/…`; undefined when the path is not in this API. */
export async function handlePlatformApi(
  deps: PlatformDeps,
  router: PlatformRouter,
  req: Request,
  url: URL,
): Promise<Response | undefined> {
  if (url.pathname !== PREFIX && !url.pathname.startsWith(PREFIX + "/")) return undefined;
  const route = router.match(req.method, url.pathname.slice(PREFIX.length) || "/");
  if (!route) return routeNotFound();
  try {
    if (!deps.state.platformAppToken || accessToken(req) !== deps.state.platformAppToken) {
      throw unauthorized("Invalid access_token");
    }
    return route.handler({ deps, params: route.params, body: await readBody(req) });
  } catch (e) {
    return errorToResponse(e);
  }
}

// Local stand-in for Supabase Auth (GoTrue) under /auth/v1: the subset of its HTTP API that
// @supabase/supabase-js v2 uses for password sign-in, user lookup and update, session refresh and
// sign-out, plus the admin user endpoints and invites a backend calls with the service_role key. Backed by
// auth.users (bcrypt passwords, cost 10, like GoTrue) and GoTrue's own session tables
// (auth.sql); tokens carry Supabase's claims. Request and response bodies, error codes and
// messages follow GoTrue's (supabase/auth internal/api), including its two error shapes chosen by
// the X-Supabase-Api-Version header. Requests need an `apikey` like hosted Supabase's gateway
// asks for. Never deployed.
//
// This module is the router (GoTrue's api.go); the handlers are split as GoTrue splits them, under auth/:
// token.ts + token_refresh.ts (POST /token), user.ts (GET/PUT /user), logout.ts, admin.ts (/admin/users…), invite.ts,
// settings.ts (/health, /settings); shared: sessions.ts (issuing), jwt.ts (the one place tokens are signed and
// verified), authentication.ts (who is calling), users.ts, password.ts, errors.ts, request.ts, response.ts.

import { adminUserCreate, adminUserDelete, adminUserGet, adminUsers, adminUserUpdate } from "./auth/admin.ts";
import { type AuthConfig, type AuthDeps, resolveConfig } from "./auth/config.ts";
import { errorResponse, unprocessable } from "./auth/errors.ts";
import { invite } from "./auth/invite.ts";
import { logout } from "./auth/logout.ts";
import { json, notFoundText, preflight } from "./auth/response.ts";
import { ensureAuthSchema } from "./auth/schema.ts";
import { healthCheck, settings } from "./auth/settings.ts";
import { token } from "./auth/token.ts";
import { userGet, userUpdate } from "./auth/user.ts";

export type { AuthDeps } from "./auth/config.ts";
export { ensureAuthSchema } from "./auth/schema.ts";
export { createAuthUser, setAuthUserPassword } from "./auth/users.ts";

export type AuthHandler = (req: Request) => Promise<Response>;

/** What hosted Supabase's gateway answers before a request reaches GoTrue. */
function apiKeyRejection(config: AuthConfig, req: Request, url: URL): Response | null {
  const key = req.headers.get("apikey") ?? url.searchParams.get("apikey");
  if (!key) {
    return json(req, 401, {
      message: "No API key found in request",
      hint: "No `apikey` request header or url param was found.",
    });
  }
  if (!config.apiKeys.has(key)) {
    return json(req, 401, {
      message: "Invalid API key",
      hint: "Double check your Supabase `anon` or `service_role` API key.",
    });
  }
  return null;
}

/** Hosted's gateway lets new API keys through to GoTrue as the legacy JWT of the same role: an
 * `sb_secret_…` key (in `apikey`, or as the bearer supabase-js also sends) acts as service_role, an
 * `sb_publishable_…` key as anon. A user's own session token is passed on untouched. */
function withKeyJwt(config: AuthConfig, req: Request, url: URL): Request {
  const key = req.headers.get("apikey") ?? url.searchParams.get("apikey") ?? "";
  const bearer = req.headers.get("authorization")?.match(/^Bearer\s+(\S+)$/i)?.[1] ?? null;
  const stand = config.keyJwts.get(bearer ?? "") ?? (bearer === null ? config.keyJwts.get(key) : undefined);
  if (!stand) return req;
  const headers = new Headers(req.headers);
  headers.set("authorization", `Bearer ${stand}`);
  return new Request(req, { headers });
}

type Routes = Record<string, () => Promise<Response>>;

/** The handlers of one path by method, for a request. */
function routesFor(config: AuthConfig, req: Request, url: URL, path: string): Routes | undefined {
  switch (path) {
    case "/health":
      return { GET: () => Promise.resolve(json(req, 200, healthCheck())) };
    case "/.well-known/jwks.json":
      return { GET: () => Promise.resolve(json(req, 200, config.jwt.jwks())) };
    case "/settings":
      return { GET: () => Promise.resolve(json(req, 200, settings())) };
    case "/token":
      return { POST: () => token(config, req, url) };
    case "/user":
      return { GET: () => userGet(config, req), PUT: () => userUpdate(config, req) };
    case "/logout":
      return { POST: () => logout(config, req, url) };
    case "/invite":
      return { POST: () => invite(config, req) };
    case "/signup":
      return { POST: () => Promise.reject(unprocessable("signup_disabled", "Signups not allowed for this instance")) };
    case "/admin/users":
      return { GET: () => adminUsers(config, req, url), POST: () => adminUserCreate(config, req) };
  }
  const m = path.match(/^\/admin\/users\/([^/]+)$/);
  if (!m) return undefined;
  const id = decodeURIComponent(m[1]);
  return {
    GET: () => adminUserGet(config, req, id),
    PUT: () => adminUserUpdate(config, req, id),
    DELETE: () => adminUserDelete(config, req, id),
  };
}

/** Serves GoTrue's API for supabase-js. Mount at `/auth/v1` (the prefix is stripped here). */
export function createAuthHandler(deps: AuthDeps): AuthHandler {
  const config = resolveConfig(deps);
  return async (incoming: Request): Promise<Response> => {
    const url = new URL(incoming.url);
    if (incoming.method === "OPTIONS") return preflight(incoming);
    // The JWKS is public: functions fetch it without any key.
    const isJwks = url.pathname.endsWith("/.well-known/jwks.json");
    const rejected = isJwks ? null : apiKeyRejection(config, incoming, url);
    if (rejected) return rejected;
    const req = withKeyJwt(config, incoming, url);
    const path = (url.pathname.replace(/^\/auth\/v1(?=\/|$)/, "").replace(/\/+$/, "")) || "/";
    try {
      await ensureAuthSchema(config.sql);
      const routes = routesFor(config, req, url, path);
      if (!routes) return notFoundText(req);
      const handler = routes[req.method];
      return handler ? await handler() : notFoundText(req, 405);
    } catch (err) {
      return errorResponse(req, err);
    }
  };
}

// admin-api (verify_jwt = false; verifies the session itself): everything the admin app reads and
// does, for signed-in users.
// Each route module (routes/) runs its SQL in short transactions under RLS as the caller (role and
// claims set per transaction, as PostgREST does), so a store administrator sees only their store
// whatever they call; changes go through security-definer functions that check the caller and
// write the audit log; calls to Chatwoot and the embedding API happen outside any transaction.

import type { Storage } from "@google-cloud/storage";
import type { CredentialVerifier } from "../_shared/platform/credentials.ts";
import type { Sql } from "../_shared/platform/db.ts";
import { errorResponse, subPath } from "../_shared/platform/http.ts";
import type { Logger } from "../_shared/platform/log.ts";
import type { RateLimiter } from "../_shared/chatwoot/rate_limit.ts";
import type { EmbeddingConfig } from "../_shared/ai/embeddings.ts";
import { dispatch, type Route } from "./route.ts";
import { storeRoutes } from "./routes/stores.ts";
import { unmappedRoutes } from "./routes/unmapped.ts";
import { jobRoutes } from "./routes/jobs.ts";
import { archiveRoutes } from "./routes/archive.ts";
import { aiRoutes } from "./routes/ai.ts";
import { kbRoutes } from "./routes/kb.ts";
import { analyticsRoutes } from "./routes/analytics.ts";

export interface AdminApiDeps {
  sql: Sql;
  /** Verifies the caller's session against the project's signing keys. */
  verifyCaller: CredentialVerifier;
  log: Logger;
  storage: Storage;
  signedUrlTtlSeconds: number;
  /** For enabling a store's agent bot: its webhook URL base, and the shared Chatwoot limiter. */
  functionsUrl?: string;
  limiter?: RateLimiter;
  embedding?: EmbeddingConfig | null;
  /** Outgoing calls to Chatwoot and the embedding API (tests watch them). */
  fetch?: typeof fetch;
}

export function adminApiRoutes(deps: AdminApiDeps): Route[] {
  return [
    ...storeRoutes,
    ...unmappedRoutes,
    ...jobRoutes,
    ...archiveRoutes(deps),
    ...aiRoutes(deps),
    ...kbRoutes(deps),
    ...analyticsRoutes,
  ];
}

const CORS = {
  "access-control-allow-origin": "*",
  "access-control-allow-headers": "authorization, x-client-info, apikey, content-type",
  "access-control-allow-methods": "GET, POST, OPTIONS",
};

function withCors(res: Response): Response {
  for (const [k, v] of Object.entries(CORS)) res.headers.set(k, v);
  return res;
}

export function createHandler(deps: AdminApiDeps): (req: Request) => Promise<Response> {
  const routes = adminApiRoutes(deps);
  return async (req) => {
    if (req.method === "OPTIONS") return new Response(null, { status: 204, headers: CORS });
    const check = await deps.verifyCaller(req);
    if (!check.ok) {
      deps.log.warn("admin-api refused credentials", { reason: check.reason });
      return withCors(errorResponse(401, "invalid_credentials", "Your session is not valid: sign in again."));
    }
    if (check.caller.kind !== "user") {
      return withCors(errorResponse(401, "sign_in_required", "Sign in to use the admin app."));
    }
    const claims = check.caller.claims;
    const path = subPath(req, "admin-api");
    const res = await dispatch(routes, deps, req, path, claims) ??
      errorResponse(404, "not_found", `No route ${req.method} ${path}.`);
    return withCors(res);
  };
}

// Wiring only: configuration, the database pool and the route cache for chatwoot-webhook.
import { z } from "zod";
import { baseConfigSchema, loadConfig } from "../_shared/config.ts";
import { connect } from "../_shared/db.ts";
import { createLogger } from "../_shared/log.ts";
import { cachedRouteResolver, handler } from "./handler.ts";

const config = loadConfig(baseConfigSchema.extend({
  WEBHOOK_MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(50 * 1024 * 1024).default(1024 * 1024),
  WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS: z.coerce.number().int().min(30).max(3600).default(300),
  WEBHOOK_DB_POOL_SIZE: z.coerce.number().int().min(1).max(100).default(10),
}));
const sql = connect(config.SUPABASE_DB_URL, { max: config.WEBHOOK_DB_POOL_SIZE, applicationName: "chatwoot-webhook" });
const log = createLogger({ fn: "chatwoot-webhook" });
const resolveRoute = cachedRouteResolver(sql);

Deno.serve((req) =>
  handler(req, {
    sql,
    resolveRoute,
    maxBodyBytes: config.WEBHOOK_MAX_BODY_BYTES,
    toleranceSeconds: config.WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS,
    log: log.child({ request_id: req.headers.get("x-request-id") ?? crypto.randomUUID() }),
  }).catch((err) => {
    // The transaction did not commit: say so (5xx), so the sender's log shows the loss.
    log.error("webhook failed", { error: err instanceof Error ? err.message : String(err) });
    return new Response(JSON.stringify({ error: { code: "internal", message: "The delivery could not be stored." } }), {
      status: 500,
      headers: { "content-type": "application/json" },
    });
  })
);

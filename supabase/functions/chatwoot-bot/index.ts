// Wiring only: configuration, the database pool and the bot route cache for chatwoot-bot.
import { z } from "zod";
import { baseConfigSchema, loadConfig } from "../_shared/config.ts";
import { connect } from "../_shared/db.ts";
import { createLogger } from "../_shared/log.ts";
import { cachedRouteResolver, handler } from "../chatwoot-webhook/handler.ts";
import { botRoute, ingestAndQueueBotWork } from "./receiver.ts";

const config = loadConfig(baseConfigSchema.extend({
  WEBHOOK_MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(50 * 1024 * 1024).default(1024 * 1024),
  WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS: z.coerce.number().int().min(30).max(3600).default(300),
}));
const sql = connect(config.SUPABASE_DB_URL, { max: config.DB_POOL_SIZE, applicationName: "chatwoot-bot" });
const log = createLogger({ fn: "chatwoot-bot" });
const resolveRoute = cachedRouteResolver(sql, { lookup: botRoute });

Deno.serve((req) =>
  handler(req, {
    sql,
    functionName: "chatwoot-bot",
    resolveRoute,
    ingestApplied: ingestAndQueueBotWork,
    maxBodyBytes: config.WEBHOOK_MAX_BODY_BYTES,
    toleranceSeconds: config.WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS,
    log: log.child({ request_id: req.headers.get("x-request-id") ?? crypto.randomUUID() }),
  }).catch((err) => {
    log.error("bot delivery failed", { error: err instanceof Error ? err.message : String(err) });
    return new Response(JSON.stringify({ error: { code: "internal", message: "The delivery could not be stored." } }), {
      status: 500,
      headers: { "content-type": "application/json" },
    });
  })
);

// Wiring only: configuration, the database pool and the bot route cache for chatwoot-bot.
import { z } from "zod";
import { baseConfigSchema, loadConfig } from "../_shared/platform/config.ts";
import { connect, databaseUrl } from "../_shared/platform/db.ts";
import { serve } from "../_shared/platform/serve.ts";
import { metricsRecorderFromEnv } from "../_shared/metrics/recorder.ts";
import { cachedRouteResolver } from "../_shared/chatwoot/webhook_receiver.ts";
import { botRoute, handler } from "./handler.ts";

const config = loadConfig(baseConfigSchema.extend({
  // An authenticated body up to this is kept and applied (an e-mail carries its HTML more than once).
  WEBHOOK_MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(64 * 1024 * 1024).default(16 * 1024 * 1024),
  // Past the cap a body is still read this far (not kept) to check its signature; past this, refused unread.
  WEBHOOK_VERIFY_LIMIT_BYTES: z.coerce.number().int().min(1024).max(256 * 1024 * 1024).optional(),
  WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS: z.coerce.number().int().min(30).max(3600).default(300),
}));
const sql = connect(databaseUrl(config), { max: config.DB_POOL_SIZE, applicationName: "chatwoot-bot" });
// Outcomes and processing times, flushed every few seconds (SWITCHBOARD_METRICS=off: not measured).
const metrics = metricsRecorderFromEnv(sql, Deno.env.toObject());
const resolveRoute = cachedRouteResolver(sql, { lookup: botRoute });

serve(
  { name: "chatwoot-bot", failureMessage: "The delivery could not be stored.", databaseDownStatus: 500 },
  (req, log) =>
    handler(req, {
      sql,
      resolveRoute,
      maxBodyBytes: config.WEBHOOK_MAX_BODY_BYTES,
      verifyLimitBytes: config.WEBHOOK_VERIFY_LIMIT_BYTES,
      toleranceSeconds: config.WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS,
      log,
      metrics,
    }),
);

// Wiring only: configuration and the database pool for archive-admin.
import { baseConfigSchema, loadConfig } from "../_shared/config.ts";
import { connect } from "../_shared/db.ts";
import { createLogger } from "../_shared/log.ts";
import { handler } from "./handler.ts";

const config = loadConfig(baseConfigSchema);
const sql = connect(config.SUPABASE_DB_URL, { max: config.DB_POOL_SIZE, applicationName: "archive-admin" });
const log = createLogger({ fn: "archive-admin" });

Deno.serve((req) =>
  handler(req, { sql, log: log.child({ request_id: req.headers.get("x-request-id") ?? crypto.randomUUID() }) }).catch(
    (err) => {
      log.error("archive-admin failed", { error: err instanceof Error ? err.message : String(err) });
      return new Response(
        JSON.stringify({ error: { code: "internal", message: "The request failed; nothing was changed." } }),
        {
          status: 500,
          headers: { "content-type": "application/json" },
        },
      );
    },
  )
);

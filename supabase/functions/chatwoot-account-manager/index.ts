// Wiring only: configuration and the database pool for chatwoot-account-manager.
import { baseConfigSchema, loadConfig } from "../_shared/config.ts";
import { connect } from "../_shared/db.ts";
import { createLogger } from "../_shared/log.ts";
import { handler } from "./handler.ts";

const config = loadConfig(baseConfigSchema);
const sql = connect(config.SUPABASE_DB_URL, { max: config.DB_POOL_SIZE, applicationName: "chatwoot-account-manager" });
const log = createLogger({ fn: "chatwoot-account-manager" });

Deno.serve((req) =>
  handler(req, { sql, log: log.child({ request_id: req.headers.get("x-request-id") ?? crypto.randomUUID() }) })
);

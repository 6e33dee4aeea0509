// Wiring only: configuration and the database pool for the health function.
import { z } from "zod";
import { baseConfigSchema, loadConfig } from "../_shared/config.ts";
import { connect } from "../_shared/db.ts";
import { handler } from "./handler.ts";

const config = loadConfig(baseConfigSchema.extend({
  HEALTH_WORKER_STALE_SECONDS: z.coerce.number().int().min(1).default(60),
}));
const sql = connect(config.SUPABASE_DB_URL, { max: 2, applicationName: "health" });

Deno.serve((req) =>
  handler(req, { sql, workerStaleAfterSeconds: config.HEALTH_WORKER_STALE_SECONDS, version: "0.1.0" })
);

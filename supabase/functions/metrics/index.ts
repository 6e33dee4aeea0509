// Wiring only: configuration, the database pool and the credential check for metrics.
import { z } from "zod";
import { baseConfigSchema, loadConfig } from "../_shared/platform/config.ts";
import { connect, databaseUrl } from "../_shared/platform/db.ts";
import { serve } from "../_shared/platform/serve.ts";
import { createCredentialVerifier, credentialOptionsFromEnv } from "../_shared/platform/credentials.ts";
import { handler } from "./handler.ts";

const config = loadConfig(baseConfigSchema.extend({
  METRICS_STORE_LABEL_LIMIT: z.coerce.number().int().min(0).max(100_000).default(500),
}));
const sql = connect(databaseUrl(config), { max: 2, applicationName: "metrics" });
const verifyCaller = createCredentialVerifier(credentialOptionsFromEnv(Deno.env.toObject()));

serve(
  { name: "metrics" },
  (req, log) => handler(req, { sql, verifyCaller, log, storeLabelLimit: config.METRICS_STORE_LABEL_LIMIT }),
);

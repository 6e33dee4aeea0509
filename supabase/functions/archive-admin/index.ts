// Wiring only: configuration and the database pool for archive-admin.
import { baseConfigSchema, loadConfig } from "../_shared/platform/config.ts";
import { connect, databaseUrl } from "../_shared/platform/db.ts";
import { serve } from "../_shared/platform/serve.ts";
import { createCredentialVerifier, credentialOptionsFromEnv } from "../_shared/platform/credentials.ts";
import { handler } from "./handler.ts";

const config = loadConfig(baseConfigSchema);
const verifyCaller = createCredentialVerifier(credentialOptionsFromEnv(Deno.env.toObject()));
const sql = connect(databaseUrl(config), { max: config.DB_POOL_SIZE, applicationName: "archive-admin" });

serve({ name: "archive-admin" }, (req, log) => handler(req, { sql, log, verifyCaller }));

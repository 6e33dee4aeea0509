// Wiring only: configuration, the database pool and storage (for signed URLs) for admin-api.
import { z } from "zod";
import { baseConfigSchema, loadConfig } from "../_shared/platform/config.ts";
import { connect, databaseUrl } from "../_shared/platform/db.ts";
import { createLogger } from "../_shared/platform/log.ts";
import { serve } from "../_shared/platform/serve.ts";
import { createCredentialVerifier, credentialOptionsFromEnv } from "../_shared/platform/credentials.ts";
import { createStorage } from "../_shared/archive/storage.ts";
import { createHandler } from "./handler.ts";
import { postgresRateLimiter } from "../_shared/chatwoot/rate_limit.ts";
import { embeddingConfigFromEnv } from "../_shared/ai/embeddings.ts";

const config = loadConfig(baseConfigSchema.extend({
  GCS_ENDPOINT: z.url().optional(),
  GCS_PROJECT_ID: z.string().min(1).default("switchboard-local"),
  GCS_CREDENTIALS_JSON: z.string().startsWith("{").optional(),
  ARCHIVE_SIGNED_URL_TTL_SECONDS: z.coerce.number().int().min(10).max(3600).default(300),
  SWITCHBOARD_PUBLIC_FUNCTIONS_URL: z.url().optional(),
  CHATWOOT_REQUESTS_PER_MINUTE: z.coerce.number().int().min(1).max(100_000).default(3000),
}));
const sql = connect(databaseUrl(config), { max: config.DB_POOL_SIZE, applicationName: "admin-api" });
const handler = createHandler({
  sql,
  verifyCaller: createCredentialVerifier(credentialOptionsFromEnv(Deno.env.toObject())),
  log: createLogger({ fn: "admin-api" }),
  storage: createStorage({
    apiEndpoint: config.GCS_ENDPOINT,
    projectId: config.GCS_PROJECT_ID,
    credentialsJson: config.GCS_CREDENTIALS_JSON,
  }),
  signedUrlTtlSeconds: config.ARCHIVE_SIGNED_URL_TTL_SECONDS,
  functionsUrl: config.SWITCHBOARD_PUBLIC_FUNCTIONS_URL ?? `${config.SUPABASE_URL.replace(/\/+$/, "")}/functions/v1`,
  limiter: postgresRateLimiter(sql, { perMinute: config.CHATWOOT_REQUESTS_PER_MINUTE }),
  embedding: embeddingConfigFromEnv(Deno.env.toObject()),
});

serve({ name: "admin-api" }, (req) => handler(req));

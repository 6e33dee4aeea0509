// Wiring only: configuration, the database pool and storage (for signed URLs) for admin-api.
import { z } from "zod";
import { baseConfigSchema, loadConfig } from "../_shared/platform/config.ts";
import { connect, databaseUrl } from "../_shared/platform/db.ts";
import { createLogger } from "../_shared/platform/log.ts";
import { serve } from "../_shared/platform/serve.ts";
import { createCredentialVerifier, credentialOptionsFromEnv } from "../_shared/platform/credentials.ts";
import { archiveStorage } from "../_shared/archive/storage.ts";
import { gcsConnection, gcsEnvSchema } from "../_shared/archive/config.ts";
import { createHandler } from "./handler.ts";
import { postgresRateLimiter } from "../_shared/chatwoot/rate_limit.ts";
import { embeddingConfigFromEnv } from "../_shared/ai/embeddings.ts";

const config = loadConfig(baseConfigSchema.extend({
  ...gcsEnvSchema,
  ARCHIVE_SIGNED_URL_TTL_SECONDS: z.coerce.number().int().min(10).max(3600).default(300),
  SWITCHBOARD_PUBLIC_FUNCTIONS_URL: z.url().optional(),
  CHATWOOT_REQUESTS_PER_MINUTE: z.coerce.number().int().min(1).max(100_000).default(3000),
}));
const sql = connect(databaseUrl(config), { max: config.DB_POOL_SIZE, applicationName: "admin-api" });
const handler = createHandler({
  sql,
  verifyCaller: createCredentialVerifier(credentialOptionsFromEnv(Deno.env.toObject())),
  log: createLogger({ fn: "admin-api" }),
  // Signed media URLs; without GCS configured, those routes answer 503 archive_not_configured.
  storage: archiveStorage(gcsConnection(config)).storage,
  signedUrlTtlSeconds: config.ARCHIVE_SIGNED_URL_TTL_SECONDS,
  functionsUrl: config.SWITCHBOARD_PUBLIC_FUNCTIONS_URL ?? `${config.SUPABASE_URL.replace(/\/+$/, "")}/functions/v1`,
  limiter: postgresRateLimiter(sql, { perMinute: config.CHATWOOT_REQUESTS_PER_MINUTE }),
  embedding: embeddingConfigFromEnv(Deno.env.toObject()),
});

serve({ name: "admin-api" }, (req) => handler(req));

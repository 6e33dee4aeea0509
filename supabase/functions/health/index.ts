// Wiring only: configuration and the database pool for the health function.
import { z } from "zod";
import { baseConfigSchema, loadConfig } from "../_shared/platform/config.ts";
import { connect, databaseUrl } from "../_shared/platform/db.ts";
import { serve } from "../_shared/platform/serve.ts";
import { handler } from "./handler.ts";
import { chatConfigFromEnv } from "../_shared/ai/decide.ts";
import { embeddingConfigFromEnv } from "../_shared/ai/embeddings.ts";
import { gcsConnection, gcsEnvSchema } from "../_shared/archive/config.ts";

const config = loadConfig(baseConfigSchema.extend({
  HEALTH_WORKER_STALE_SECONDS: z.coerce.number().int().min(1).default(60),
  HEALTH_SILENT_ACCOUNT_HOURS: z.coerce.number().int().min(1).default(24),
  // Set by the local runtime only (scripts/local/supabase/gateway.ts): its function processes.
  SWITCHBOARD_LOCAL_RUNTIME_URL: z.url().optional(),
  ...gcsEnvSchema,
}));
const runtimeUrl = config.SWITCHBOARD_LOCAL_RUNTIME_URL;
const db = databaseUrl(config);
const sql = connect(db, { max: 2, applicationName: "health" });
const chat = chatConfigFromEnv(Deno.env.toObject());
const embedding = embeddingConfigFromEnv(Deno.env.toObject());
const transcriptionModel = Deno.env.get("OPENAI_TRANSCRIPTION_MODEL") ?? "gpt-4o-mini-transcribe";
// Without OPENAI_API_KEY the bot answers FAQ entries by full-text match and hands off otherwise.
const ai = {
  mode: chat ? "model" as const : "offline" as const,
  chat_model: chat?.model ?? null,
  embedding_model: embedding?.model ?? null,
  transcription: chat !== null && transcriptionModel !== "off",
};
const gcs = gcsConnection(config);
const archive = gcs.mode === "unconfigured"
  ? { configured: false as const, reason: gcs.reason }
  : { configured: true as const, mode: gcs.mode, project: gcs.projectId };

serve(
  { name: "health" },
  (req) =>
    handler(req, {
      sql,
      workerStaleAfterSeconds: config.HEALTH_WORKER_STALE_SECONDS,
      version: "0.1.0",
      ai,
      archive,
      connection: db.pooled ? "pooler" : "direct",
      silentAccountHours: config.HEALTH_SILENT_ACCOUNT_HOURS,
      functionProcesses: runtimeUrl
        ? async () => {
          const res = await fetch(runtimeUrl, { signal: AbortSignal.timeout(1000) });
          return res.ok ? (await res.json()).functions : null;
        }
        : undefined,
    }),
);

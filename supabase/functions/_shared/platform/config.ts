// Environment configuration for every function, validated with zod once at start so a missing
// or malformed variable is named in one clear error instead of failing deep inside a request.

import { z } from "zod";

export const baseConfigSchema = z.object({
  SUPABASE_URL: z.url({ message: "must be the project's API URL, e.g. http://127.0.0.1:54321" }),
  SUPABASE_DB_URL: z.string().regex(/^postgres(ql)?:\/\//, "must be a postgresql:// connection string"),
  // The transaction pooler (Supavisor on port 6543, or pgbouncer in transaction mode): when set,
  // functions connect through it instead of the direct SUPABASE_DB_URL (see platform/db.ts).
  SWITCHBOARD_DB_POOLER_URL: z.string().regex(/^postgres(ql)?:\/\//, "must be a postgresql:// connection string")
    .optional(),
  SUPABASE_SERVICE_ROLE_KEY: z.string().min(20, "must be the project's service_role key"),
  SUPABASE_ANON_KEY: z.string().min(20, "must be the project's anon key").optional(),
  DB_POOL_SIZE: z.coerce.number().int().min(1).max(100).default(5),
});

export type BaseConfig = z.infer<typeof baseConfigSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** Parses `env` with `schema`, naming every missing or malformed variable at once. */
export function loadConfig<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined> = Deno.env.toObject(),
): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => {
    const name = i.path.join(".") || "(environment)";
    return env[name] === undefined ? `${name} is missing` : `${name} ${i.message}`;
  });
  throw new ConfigError(problems);
}

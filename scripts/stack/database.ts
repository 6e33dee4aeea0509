// Bringing a database to this project's schema: the Supabase bootstrap (local stand-in only),
// the migrations through the Supabase CLI, and the seed on first start.

import { log, run } from "./proc.ts";
import { PG_BIN } from "./setup.ts";

const root = new URL("../../", import.meta.url).pathname;

export async function psqlFile(dbUrl: string, file: string): Promise<void> {
  await run(`${PG_BIN}/psql`, ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dbUrl, "-f", file], {
    env: { PGOPTIONS: "--client-min-messages=warning", PATH: Deno.env.get("PATH") ?? "" },
  });
}

export async function psqlQuery(dbUrl: string, sql: string): Promise<string> {
  const r = await run(`${PG_BIN}/psql`, ["-X", "-qAt", "-v", "ON_ERROR_STOP=1", "-d", dbUrl, "-c", sql]);
  return r.stdout.trim();
}

/** What hosted Supabase has before any migration (roles, auth schema, grants). Idempotent. */
export async function applyBootstrap(dbUrl: string): Promise<void> {
  await psqlFile(dbUrl, `${root}scripts/local/supabase/bootstrap.sql`);
}

export const supabaseBin = `${root}node_modules/.bin/supabase`;

/** Applies pending migrations exactly as a developer would against a remote database. */
export async function applyMigrations(dbUrl: string): Promise<void> {
  await run(supabaseBin, ["migration", "up", "--db-url", dbUrl, "--yes"], {
    cwd: root,
    env: { PATH: Deno.env.get("PATH") ?? "", SUPABASE_TELEMETRY_DISABLED: "1", DO_NOT_TRACK: "1" },
  });
}

export async function applySeed(dbUrl: string): Promise<void> {
  log("loading supabase/seed.sql");
  await psqlFile(dbUrl, `${root}supabase/seed.sql`);
}

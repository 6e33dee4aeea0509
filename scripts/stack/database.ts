// Bringing a database to this project's schema: the Supabase bootstrap (local stand-in only, run
// as the superuser), the migrations through the Supabase CLI, and the seed on first start (as postgres).

import { log, run } from "./proc.ts";
import { PG_BIN } from "./setup.ts";

const root = new URL("../../", import.meta.url).pathname;

export async function psqlFile(dbUrl: string, file: string, vars: Record<string, string> = {}): Promise<void> {
  const v = Object.entries(vars).flatMap(([k, value]) => ["-v", `${k}=${value}`]);
  await run(`${PG_BIN}/psql`, ["-X", "-q", "-v", "ON_ERROR_STOP=1", ...v, "-d", dbUrl, "-f", file], {
    env: { PGOPTIONS: "--client-min-messages=warning", PATH: Deno.env.get("PATH") ?? "" },
  });
}

export async function psqlQuery(dbUrl: string, sql: string): Promise<string> {
  const r = await run(`${PG_BIN}/psql`, ["-X", "-qAt", "-v", "ON_ERROR_STOP=1", "-d", dbUrl, "-c", sql]);
  return r.stdout.trim();
}

/** The superuser of a local cluster: supabase_admin, with postgres's password, as the image's
 * migrate.sh sets it. Only the bootstrap connects as it; everything else runs as postgres. */
export function superuserUrl(dbUrl: string): string {
  const url = new URL(dbUrl);
  url.username = "supabase_admin";
  return url.toString();
}

async function connects(dbUrl: string): Promise<boolean> {
  const r = await run(`${PG_BIN}/psql`, ["-X", "-qAt", "-d", dbUrl, "-c", "select 1"], { allowFailure: true });
  return r.code === 0;
}

/** A cluster from before the bootstrap followed the image has postgres as its only superuser (and
 * a supabase_admin without a password): make supabase_admin the superuser it is on hosted, so the
 * bootstrap can then demote postgres. */
async function adoptClusterWithSuperuserPostgres(dbUrl: string): Promise<void> {
  const isSuperuser = await psqlQuery(dbUrl, "select rolsuper from pg_roles where rolname = current_user")
    .catch(() => "");
  if (isSuperuser !== "t") {
    throw new Error(
      `cannot connect as supabase_admin (${superuserUrl(dbUrl).replace(/:[^:@/]*@/, ":***@")}) and postgres is not ` +
        "a superuser: this cluster was not made by the local stack. Remove its data directory (.local/dev/db) to start over.",
    );
  }
  log("this cluster predates the hosted roles: making supabase_admin its superuser and postgres an ordinary owner");
  const password = decodeURIComponent(new URL(dbUrl).password).replaceAll("'", "''");
  await psqlQuery(
    dbUrl,
    `do $$ begin
       if not exists (select from pg_roles where rolname = 'supabase_admin') then create role supabase_admin; end if;
     end $$;
     alter role supabase_admin login superuser createdb createrole replication bypassrls password '${password}';`,
  );
}

/** What hosted Supabase has before any migration (roles, auth schema, grants), applied by the
 * superuser. Idempotent, and it never re-grants what a migration revoked. */
export async function applyBootstrap(dbUrl: string): Promise<void> {
  const admin = superuserUrl(dbUrl);
  if (!(await connects(admin))) await adoptClusterWithSuperuserPostgres(dbUrl);
  await psqlFile(admin, `${root}scripts/local/supabase/bootstrap.sql`, {
    postgres_password: decodeURIComponent(new URL(dbUrl).password),
  });
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

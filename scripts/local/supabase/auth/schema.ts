// GoTrue's own tables the stand-in needs beside auth.users (sessions, refresh tokens, AMR claims, identities; the
// DDL in ../auth.sql), created once per database connection pool.

import type postgres from "postgres";

const schemaApplied = new WeakMap<postgres.Sql, Promise<void>>();

/** Creates GoTrue's session tables (scripts/local/supabase/auth.sql) when missing. Idempotent; safe to
 * call concurrently (serialised with an advisory lock). */
export function ensureAuthSchema(sql: postgres.Sql): Promise<void> {
  let p = schemaApplied.get(sql);
  if (!p) {
    p = (async () => {
      const ddl = await Deno.readTextFile(new URL("../auth.sql", import.meta.url));
      await sql.begin(async (tx) => {
        await tx`select pg_advisory_xact_lock(hashtext('switchboard.local.auth_schema'))`;
        await tx.unsafe(ddl);
      });
    })();
    p.catch(() => schemaApplied.delete(sql));
    schemaApplied.set(sql, p);
  }
  return p;
}

// Database access for functions: postgres.js over SUPABASE_DB_URL (present in every Supabase
// edge function). Work on behalf of a signed-in user runs under RLS exactly as PostgREST does it.

import postgres from "postgres";

export type Sql = postgres.Sql;
export type TransactionSql = postgres.TransactionSql;

/** Prepared statements save a parse per query, but Supabase's transaction pooler (port 6543)
 * cannot keep them: on unless the URL points at the pooler or DB_PREPARE=false. */
function preparedStatementsAllowed(url: string): boolean {
  const flag = Deno.env.get("DB_PREPARE");
  if (flag !== undefined) return flag !== "false";
  try {
    return new URL(url).port !== "6543";
  } catch {
    return false;
  }
}

export function connect(url: string, opts: { max?: number; applicationName?: string } = {}): Sql {
  return postgres(url, {
    max: opts.max ?? 5,
    idle_timeout: 20,
    connect_timeout: 10,
    prepare: preparedStatementsAllowed(url),
    onnotice: () => {},
    connection: { application_name: opts.applicationName ?? "switchboard" },
  });
}

/** Runs `fn` in a transaction as the JWT's role with its claims, so RLS applies. */
export async function withRls<T>(
  sql: Sql,
  claims: Record<string, unknown> & { role?: string },
  fn: (tx: TransactionSql) => Promise<T>,
): Promise<T> {
  const role = claims.role === "service_role"
    ? "service_role"
    : claims.role === "authenticated"
    ? "authenticated"
    : "anon";
  return await sql.begin(async (tx) => {
    await tx`select set_config('role', ${role}, true), set_config('request.jwt.claims', ${
      JSON.stringify(claims)
    }, true)`;
    return await fn(tx);
  }) as T;
}

// What every CLI command needs: where the database and the API are, and a way to fail with a
// message a person can act on.

import postgres from "postgres";
import { withRls } from "../../supabase/functions/_shared/platform/db.ts";

const root = new URL("../../", import.meta.url).pathname;

export interface CliContext {
  dbUrl: string;
  apiUrl: string;
  sql: postgres.Sql;
  out: (line: string) => void;
}

export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

interface StackFile {
  dbUrl?: string;
  apiUrl?: string;
}

function readStackFile(): StackFile {
  try {
    return JSON.parse(Deno.readTextFileSync(Deno.env.get("SWITCHBOARD_STACK_INFO") ?? `${root}.local/stack.json`));
  } catch {
    return {};
  }
}

/** Environment first (a hosted project), then the running local stack, then its defaults. */
export function createContext(out: (line: string) => void = console.log): CliContext {
  const stack = readStackFile();
  const dbUrl = Deno.env.get("SUPABASE_DB_URL") ?? stack.dbUrl ??
    "postgresql://postgres:postgres@127.0.0.1:54322/postgres";
  const apiUrl = Deno.env.get("SUPABASE_URL") ?? stack.apiUrl ?? "http://127.0.0.1:54321";
  const sql = postgres(dbUrl, {
    max: 2,
    onnotice: () => {},
    connect_timeout: 5,
    connection: { application_name: "switchboard-cli" },
  });
  return { dbUrl, apiUrl, sql, out };
}

/** Who the audit log says did it: the operator's login. */
export const OPERATOR = `cli:${Deno.env.get("USER") ?? "operator"}`;

/** Runs `fn` as the operator the checked SQL functions see: the service role (a platform
 * administrator to them), named OPERATOR in the audit log. Never as the unchecked superuser. */
export function asOperator<T>(ctx: CliContext, fn: (tx: postgres.TransactionSql) => Promise<T>): Promise<T> {
  return withRls(ctx.sql, { role: "service_role", actor: OPERATOR }, fn);
}

/** Renders rows as an aligned plain-text table. */
export function table(rows: Record<string, unknown>[], columns: string[]): string {
  if (rows.length === 0) return "(none)";
  const cell = (v: unknown) => {
    if (v === null || v === undefined) return "";
    if (v instanceof Date) return v.toISOString().replace(/\.\d+Z$/, "Z");
    const s = typeof v === "object" ? JSON.stringify(v) : String(v);
    return s.length > 60 ? `${s.slice(0, 57)}...` : s.replaceAll("\n", " ");
  };
  const cells = rows.map((r) => columns.map((c) => cell(r[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i])).join("  ").trimEnd();
  return [line(columns), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n");
}

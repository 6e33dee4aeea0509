// What every CLI command needs: where the database and the API are, and a way to fail with a
// message a person can act on.

import postgres from "postgres";
import { withRls } from "../../supabase/functions/_shared/platform/db.ts";
import type { StackInfo } from "../stack/stack.ts";

const root = new URL("../../", import.meta.url).pathname;

export interface CliContext {
  dbUrl: string;
  apiUrl: string;
  /** The project's secret key (the Auth admin API's credential), when known. */
  secretKey: string | null;
  /** The OPENAI_* settings to embed queries with: the CLI's own environment, else the ones the running
   * stack gave its functions (its OpenAI stand-in), so a search embeds as the stack's documents were. */
  openaiEnv: Record<string, string>;
  sql: postgres.Sql;
  out: (line: string) => void;
  /** Asks the operator a yes/no question; null when nobody can answer (stdin is not a terminal). */
  confirm: ((question: string) => Promise<boolean>) | null;
}

/** What a caller (a test) may set instead of the environment, the stack file and the terminal. */
export interface ContextOptions {
  /** The running stack's file (default SWITCHBOARD_STACK_INFO, else .local/stack.json, written by `npm start`). */
  stackFile?: string;
  confirm?: CliContext["confirm"];
}

export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

/** What `npm start` writes for its running stack (scripts/stack/stack.ts writeStackInfo). */
type StackFile = Partial<Pick<StackInfo, "dbUrl" | "apiUrl" | "secretKey" | "openaiEnv">>;

function readStackFile(path: string): StackFile {
  try {
    return JSON.parse(Deno.readTextFileSync(path));
  } catch {
    return {};
  }
}

/** The OPENAI_* variables of the CLI's environment when it has a key; else those of the stack it talks to. */
function openaiEnvOf(env: Record<string, string>, stack: StackFile | null): Record<string, string> {
  const own = Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith("OPENAI_")));
  if (own.OPENAI_API_KEY?.trim()) return own;
  return stack?.openaiEnv ?? own;
}

/** Deno's confirm(): prints the question with "[y/N]" and reads the answer from the terminal. */
const askOnTerminal = (question: string) => Promise.resolve(globalThis.confirm(question));

/** Environment first (a hosted project), then the running local stack, then its defaults. */
export function createContext(out: (line: string) => void = console.log, opts: ContextOptions = {}): CliContext {
  const stack = readStackFile(opts.stackFile ?? Deno.env.get("SWITCHBOARD_STACK_INFO") ?? `${root}.local/stack.json`);
  const env = Deno.env.toObject();
  const dbUrl = env.SUPABASE_DB_URL ?? stack.dbUrl ?? "postgresql://postgres:postgres@127.0.0.1:54322/postgres";
  const apiUrl = env.SUPABASE_URL ?? stack.apiUrl ?? "http://127.0.0.1:54321";
  // The stack file's keys and AI settings only for the stack it describes, never for another project.
  const db = dbUrl === stack.dbUrl ? stack : null;
  const api = db && apiUrl === stack.apiUrl ? stack : null;
  // The legacy service_role JWT is the same credential on a project that has not moved to the new keys.
  const secretKey = env.SUPABASE_SECRET_KEY ?? env.SUPABASE_SERVICE_ROLE_KEY ?? api?.secretKey ?? null;
  const sql = postgres(dbUrl, {
    max: 2,
    onnotice: () => {},
    connect_timeout: 5,
    connection: { application_name: "switchboard-cli" },
  });
  const ask = opts.confirm !== undefined ? opts.confirm : Deno.stdin.isTerminal() ? askOnTerminal : null;
  return { dbUrl, apiUrl, secretKey, openaiEnv: openaiEnvOf(env, db), sql, out, confirm: ask };
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

// Database access for functions: postgres.js over SUPABASE_DB_URL (present in every Supabase
// edge function), or over a transaction pooler when one is configured. Work on behalf of a
// signed-in user runs under RLS exactly as PostgREST does it.

import net from "node:net";
import { setImmediate } from "node:timers";
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

/** Where a function connects: the transaction pooler when SWITCHBOARD_DB_POOLER_URL is set (a
 * name of our own: secret names starting with SUPABASE_ are reserved on hosted projects), else the
 * direct SUPABASE_DB_URL. Hosted gives a direct connection about 60 slots on small computes, which
 * webhook bursts and overlapping worker runs use up; the pooler shares a few among them all. */
export function databaseUrl(config: { SUPABASE_DB_URL: string; SWITCHBOARD_DB_POOLER_URL?: string }): {
  url: string;
  pooled: boolean;
} {
  return config.SWITCHBOARD_DB_POOLER_URL
    ? { url: config.SWITCHBOARD_DB_POOLER_URL, pooled: true }
    : { url: config.SUPABASE_DB_URL, pooled: false };
}

/** postgres.js gathers small writes and flushes them from a setImmediate, or at once when a write
 * is large; under the edge runtime's Deno 2.1 the cleared immediate can still fire after such a
 * flush, and postgres.js then writes null: "May not write null values to stream", and the whole
 * function process dies (reproduced under load in db_test.ts; not seen on Deno 2.9). Over plain TCP
 * (a pooler or direct connection without TLS) the socket ignores a write of nothing.
 *
 * Its failure is told one turn later. postgres.js treats a socket it is given as open and queues
 * its startup message at once, for a flush on the next immediate; when the server refuses the
 * connection (it is down) the refusal arrived first, postgres.js cleared that immediate but never
 * reset its handle, and that connection never wrote again: after Postgres came back every query
 * timed out ("write CONNECT_TIMEOUT") until the function was restarted (or, where the cleared
 * immediate fired anyway, it wrote to a socket already dropped and killed the process). Emitted
 * from an immediate of its own, the error and the close come after the pending flush, which then
 * completes (into a dead socket) and resets its state, so the next attempt starts clean. */
export function nullTolerantSocket(o: { host: string[]; port: number[]; path?: string }): net.Socket {
  const socket = o.path ? net.connect(o.path) : net.connect(o.port[0], o.host[0]);
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  Reflect.set(socket, "write", (chunk: unknown, ...rest: unknown[]) => chunk == null ? true : write(chunk, ...rest));
  const emit = socket.emit.bind(socket) as (event: string | symbol, ...args: unknown[]) => boolean;
  Reflect.set(socket, "emit", (event: string | symbol, ...args: unknown[]) => {
    if (event !== "error" && event !== "close") return emit(event, ...args);
    setImmediate(() => emit(event, ...args));
    return true;
  });
  return socket;
}

/** The same Deno 2.1 quirk once the connection is gone: when Postgres goes away, postgres.js clears
 * its pending write immediate and drops the socket, the immediate fires anyway, and `socket.write`
 * on null throws from a timer, an uncaught error that ends the whole function process (seen with
 * Postgres stopped under `npm start`: every function that had a connection died). Keeping the
 * process alive is not enough: the throw skips postgres.js's own bookkeeping (its write timer is
 * never reset), so that connection buffers every later query until it times out, and the pool
 * never recovers. So exactly that error is kept from ending the process, and every pool of the
 * process is replaced by a fresh one (their connections were all lost with the server anyway). */
const replaceablePools = new Set<() => void>();
let lateWriteGuard = false;
function guardAgainstLateWrites() {
  if (lateWriteGuard) return;
  lateWriteGuard = true;
  globalThis.addEventListener("error", (event) => {
    const err = (event as ErrorEvent).error;
    if (
      err instanceof TypeError && /reading 'write'/.test(err.message) &&
      /postgres\/[^/]+\/src\/connection\.js/.test(err.stack ?? "") && /nextWrite/.test(err.stack ?? "")
    ) {
      event.preventDefault();
      for (const replace of replaceablePools) replace();
      console.warn(JSON.stringify({
        level: "warn",
        msg: "a database connection broke as Postgres went away; the pools were replaced",
      }));
    }
  });
}

export function connect(
  target: string | { url: string; pooled: boolean },
  opts: { max?: number; applicationName?: string } = {},
): Sql {
  const { url, pooled } = typeof target === "string" ? { url: target, pooled: false } : target;
  const tls = /[?&]sslmode=(require|verify-ca|verify-full|prefer)/.test(url);
  guardAgainstLateWrites();
  const open = () =>
    postgres(url, {
      max: opts.max ?? 5,
      idle_timeout: 20,
      // While Postgres is unreachable every query waits for a connection attempt: keep that short,
      // so a caller (Chatwoot gives up at 5 s) gets a 503 at once instead of a hang.
      connect_timeout: 2,
      // postgres.js waits (0.5–1) × min(3^retries / 100, 20) s before reconnecting after failures:
      // after a few seconds of outage each request waited 7–20 s just to fail. Retry within 250 ms
      // instead: a refused connection fails in a millisecond, and recovery is found as soon as
      // Postgres is back.
      backoff: (retries: number) => Math.min(0.25, 0.01 * 2 ** retries),
      // A transaction pooler hands each transaction to any server connection: no prepared statements.
      prepare: !pooled && preparedStatementsAllowed(url),
      onnotice: () => {},
      connection: { application_name: opts.applicationName ?? "switchboard" },
      ...(tls ? {} : { socket: nullTolerantSocket as never }),
    });
  let current = open();
  let ended = false;
  const replace = () => {
    if (ended) return;
    const broken = current;
    current = open();
    broken.end({ timeout: 0 }).catch(() => {});
  };
  replaceablePools.add(replace);
  // What callers hold forwards to the current pool, so a replacement is invisible to them.
  return new Proxy(function () {} as unknown as Sql, {
    apply: (_target, thisArg, args) => Reflect.apply(current as unknown as (...a: unknown[]) => unknown, thisArg, args),
    get: (_target, prop) => {
      if (prop === "end") {
        return (o?: { timeout?: number }) => {
          ended = true;
          replaceablePools.delete(replace);
          return current.end(o);
        };
      }
      const value = Reflect.get(current, prop);
      return typeof value === "function" ? value.bind(current) : value;
    },
  });
}

/** Connection-level failures, from postgres.js or the server/pooler, that say "the database cannot
 * be reached right now" rather than "this query is wrong": callers get a 503 to come back later. */
const UNAVAILABLE_CODES = new Set([
  // postgres.js and the socket
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENOTFOUND",
  "EPIPE",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  // Postgres: admin_shutdown, crash_shutdown, cannot_connect_now, connection failures, too many
  // connections (https://www.postgresql.org/docs/current/errcodes-appendix.html)
  "57P01",
  "57P02",
  "57P03",
  "08000",
  "08001",
  "08003",
  "08004",
  "08006",
  "53300",
]);

export function isDatabaseUnavailable(err: unknown): boolean {
  if (!err || typeof err !== "object") return false;
  const code = String((err as { code?: unknown }).code ?? "");
  if (UNAVAILABLE_CODES.has(code)) return true;
  // pgbouncer answers a login it cannot serve with protocol_violation and a message of its own.
  const message = String((err as { message?: unknown }).message ?? "");
  return code === "08P01" && /server login has been failing|no more connections allowed|pgbouncer cannot connect/i
    .test(message);
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

// What every function's index.ts does around its handler: a request id carried into the logs, and
// one JSON 500 when the handler throws, so a crash is logged with its request and the caller gets
// an answer it can read instead of the runtime's bare error page.

import { errorResponse, requestId } from "./http.ts";
import { isDatabaseUnavailable } from "./db.ts";
import { createLogger, type Logger } from "./log.ts";

export interface ServeOptions {
  /** The function's name, in every log line. */
  name: string;
  /** What the caller is told when the handler throws (nothing is claimed beyond it). */
  failureMessage?: string;
  /** The status when the database cannot be reached: 503 by default; the agent bot's receiver
   * says 500, the one failure Chatwoot answers by keeping the bot in the conversation. */
  databaseDownStatus?: number;
}

/** Serves `handle` with Deno.serve; `handle` gets a logger that carries the request id. */
export function serve(
  opts: ServeOptions,
  handle: (req: Request, log: Logger) => Promise<Response>,
): void {
  const log = createLogger({ fn: opts.name });
  Deno.serve(async (req) => {
    const requestLog = log.child({ request_id: requestId(req) });
    try {
      return await handle(req, requestLog);
    } catch (err) {
      if (isDatabaseUnavailable(err)) {
        requestLog.error("database unavailable", { error: err instanceof Error ? err.message : String(err) });
        const res = errorResponse(
          opts.databaseDownStatus ?? 503,
          "database_unavailable",
          "The database cannot be reached right now; nothing was changed. Try again shortly.",
        );
        res.headers.set("retry-after", "1");
        return res;
      }
      requestLog.error(`${opts.name} failed`, { error: err instanceof Error ? err.message : String(err) });
      return errorResponse(500, "internal", opts.failureMessage ?? "The request failed; nothing was changed.");
    }
  });
}

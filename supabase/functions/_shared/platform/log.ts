// Structured JSON logging with a request id, so one delivery or job can be followed across
// the gateway, the function and the worker.

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createLogger(base: Record<string, unknown> = {}, minLevel?: LogLevel): Logger {
  const min = minLevel ?? ((Deno.env.get("LOG_LEVEL") as LogLevel | undefined) ?? "info");
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (order[level] < order[min]) return;
    const line = JSON.stringify({ ts: new Date().toISOString(), level, msg, ...base, ...fields });
    if (level === "error" || level === "warn") console.error(line);
    else console.log(line);
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (fields) => createLogger({ ...base, ...fields }, min),
  };
}

/** A logger that records lines instead of printing them, for tests. */
export function createMemoryLogger(): Logger & { lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const make = (base: Record<string, unknown>): Logger => ({
    debug: (msg, f) => lines.push({ level: "debug", msg, ...base, ...f }),
    info: (msg, f) => lines.push({ level: "info", msg, ...base, ...f }),
    warn: (msg, f) => lines.push({ level: "warn", msg, ...base, ...f }),
    error: (msg, f) => lines.push({ level: "error", msg, ...base, ...f }),
    child: (fields) => make({ ...base, ...fields }),
  });
  return Object.assign(make({}), { lines });
}

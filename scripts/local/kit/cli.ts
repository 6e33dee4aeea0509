// What every stand-in's `main.ts` does the same way: the shared flags (--port, --hostname, --quiet, --help), one
// JSON log line per entry, and stopping cleanly on SIGINT/SIGTERM.

import { parseArgs, type ParseArgsOptionsConfig } from "node:util";

const SHARED_OPTIONS = {
  hostname: { type: "string", default: "127.0.0.1" },
  quiet: { type: "boolean", default: false },
  help: { type: "boolean", default: false },
} as const satisfies ParseArgsOptionsConfig;

type OwnValues<O extends ParseArgsOptionsConfig> = ReturnType<typeof parseArgs<{ options: O }>>["values"];

/** The shared flags, parsed. */
export interface StandinFlags {
  port: number;
  hostname: string;
  quiet: boolean;
}

/**
 * Parses `Deno.args` with the shared flags and the stand-in's own; `--help` prints `usage` and exits 0, a bad
 * `--port` prints it and exits 2.
 */
export function parseStandinArgs<O extends ParseArgsOptionsConfig>(
  usage: string,
  defaultPort: number,
  options: O,
): OwnValues<O> & StandinFlags {
  const { values } = parseArgs({
    args: Deno.args,
    options: { ...SHARED_OPTIONS, port: { type: "string", default: String(defaultPort) }, ...options },
  });
  const shared = values as unknown as { port: string; hostname: string; quiet: boolean; help: boolean };
  if (shared.help) {
    console.log(usage);
    Deno.exit(0);
  }
  const port = Number(shared.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`invalid --port ${shared.port}\n${usage}`);
    Deno.exit(2);
  }
  return { ...(values as OwnValues<O>), port, hostname: shared.hostname, quiet: shared.quiet };
}

/** A log sink writing one JSON line per entry, tagged with the service, or none when quiet. */
export function jsonLines(service: string, quiet = false): ((entry: Record<string, unknown>) => void) | undefined {
  return quiet ? undefined : (entry) => console.log(JSON.stringify({ service, ...entry }));
}

/** Closes the running stand-in once, then exits, on SIGINT or SIGTERM. */
export function stopOnSignal(running: { close(): Promise<void> }): void {
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await running.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}

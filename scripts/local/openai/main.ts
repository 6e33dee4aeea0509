// CLI entry point: serves the OpenAI stand-in on a port for the local demo and manual poking.
//   deno run -A scripts/local/openai/main.ts --port 54330 [--hostname 127.0.0.1] [--api-key KEY] [--quiet]

import { parseStandinArgs, stopOnSignal } from "../kit/cli.ts";
import { startOpenAiStandin } from "./server.ts";

const USAGE = `usage: main.ts [--port 54330] [--hostname 127.0.0.1] [--api-key KEY] [--quiet]

  --api-key KEY   the bearer key clients must send (default: $OPENAI_STANDIN_API_KEY, else a fresh random key,
                  printed at start so the demo can pass it on as OPENAI_API_KEY)
  --quiet         no per-request JSON log lines`;

const flags = parseStandinArgs(USAGE, 54330, { "api-key": { type: "string" } });

const running = await startOpenAiStandin({
  port: flags.port,
  hostname: flags.hostname,
  log: !flags.quiet,
  apiKey: flags["api-key"] ?? Deno.env.get("OPENAI_STANDIN_API_KEY") ?? undefined,
});
console.log(`OpenAI stand-in listening on ${running.url}`);
// The key only opens this local process, so showing it is what makes the stand-in usable from another shell.
console.log(`OPENAI_BASE_URL=${running.baseURL}`);
console.log(`OPENAI_API_KEY=${running.apiKey}`);
stopOnSignal(running);

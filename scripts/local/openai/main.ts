// CLI entry point: serves the OpenAI stand-in on a port for the local demo and manual poking.
//   deno run -A scripts/local/openai/main.ts --port 54330 [--hostname 127.0.0.1] [--api-key KEY] [--quiet]

import { parseArgs } from "node:util";
import { startOpenAiStandin } from "./server.ts";

const USAGE = `usage: main.ts [--port 54330] [--hostname 127.0.0.1] [--api-key KEY] [--quiet]

  --api-key KEY   the bearer key clients must send (default: $OPENAI_STANDIN_API_KEY, else a fresh random key,
                  printed at start so the demo can pass it on as OPENAI_API_KEY)
  --quiet         no per-request JSON log lines`;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    port: { type: "string", default: "54330" },
    hostname: { type: "string", default: "127.0.0.1" },
    "api-key": { type: "string" },
    quiet: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  Deno.exit(0);
}
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`invalid --port ${values.port}\n${USAGE}`);
  Deno.exit(2);
}

const running = await startOpenAiStandin({
  port,
  hostname: values.hostname,
  log: !values.quiet,
  apiKey: values["api-key"] ?? Deno.env.get("OPENAI_STANDIN_API_KEY") ?? undefined,
});
console.log(`OpenAI stand-in listening on ${running.url}`);
// The key only opens this local process, so showing it is what makes the stand-in usable from another shell.
console.log(`OPENAI_BASE_URL=${running.baseURL}`);
console.log(`OPENAI_API_KEY=${running.apiKey}`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await running.close();
  Deno.exit(0);
};
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);

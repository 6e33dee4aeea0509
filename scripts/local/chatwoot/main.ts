// CLI entry point: serves the Chatwoot sandbox and prints its URL and platform app token.
//   deno run -A scripts/local/chatwoot/main.ts --port 3000 [--state .local/chatwoot-sandbox.json]

import { parseArgs } from "node:util";
import { startSandbox } from "./server.ts";

const USAGE = `usage: main.ts [--port 3000] [--hostname 127.0.0.1] [--state FILE] [--platform-token TOKEN]
                [--no-platform-api] [--frontend-url URL] [--fixtures DIR] [--quiet]`;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    port: { type: "string", default: "3000" },
    hostname: { type: "string", default: "127.0.0.1" },
    state: { type: "string" },
    "platform-token": { type: "string" },
    "no-platform-api": { type: "boolean", default: false },
    "frontend-url": { type: "string" },
    fixtures: { type: "string" },
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

const running = await startSandbox({
  port,
  hostname: values.hostname,
  persistPath: values.state,
  platformToken: values["platform-token"] ?? Deno.env.get("CHATWOOT_SANDBOX_PLATFORM_TOKEN") ?? undefined,
  platformApi: !values["no-platform-api"],
  frontendUrl: values["frontend-url"],
  fixturesDir: values.fixtures,
  log: values.quiet ? undefined : (entry) => console.log(JSON.stringify({ service: "chatwoot-sandbox", ...entry })),
});

console.log(`Chatwoot sandbox listening on ${running.url}`);
console.log(`Platform app token (api_access_token): ${running.sandbox.platformToken}`);
if (values.state) console.log(`State file: ${values.state}`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await running.close();
  Deno.exit(0);
};
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);

// CLI entry point: serves the Chatwoot sandbox and prints its URL and platform app token.
//   deno run -A scripts/local/chatwoot/main.ts --port 3000 [--state .local/chatwoot-sandbox.json]

import { jsonLines, parseStandinArgs, stopOnSignal } from "../kit/cli.ts";
import { startSandbox } from "./server.ts";

const USAGE = `usage: main.ts [--port 3000] [--hostname 127.0.0.1] [--state FILE] [--platform-token TOKEN]
                [--no-platform-api] [--frontend-url URL] [--fixtures DIR] [--quiet]`;

const flags = parseStandinArgs(USAGE, 3000, {
  state: { type: "string" },
  "platform-token": { type: "string" },
  "no-platform-api": { type: "boolean", default: false },
  "frontend-url": { type: "string" },
  fixtures: { type: "string" },
});

const running = await startSandbox({
  port: flags.port,
  hostname: flags.hostname,
  persistPath: flags.state,
  platformToken: flags["platform-token"] ?? Deno.env.get("CHATWOOT_SANDBOX_PLATFORM_TOKEN") ?? undefined,
  platformApi: !flags["no-platform-api"],
  frontendUrl: flags["frontend-url"],
  fixturesDir: flags.fixtures,
  log: jsonLines("chatwoot-sandbox", flags.quiet),
});

console.log(`Chatwoot sandbox listening on ${running.url}`);
console.log(`Platform app token (api_access_token): ${running.sandbox.platformToken}`);
if (flags.state) console.log(`State file: ${flags.state}`);
stopOnSignal(running);

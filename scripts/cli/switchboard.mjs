#!/usr/bin/env node
// The `switchboard` command (package bin, `npx switchboard …`): the CLI under Deno.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
process.argv.splice(2, 0, "cli");
await import(join(dirname(fileURLToPath(import.meta.url)), "..", "run.mjs"));

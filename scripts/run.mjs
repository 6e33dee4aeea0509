#!/usr/bin/env node
// Entry point for npm scripts and the `switchboard` bin: makes sure the npm dependencies
// (Deno and the Supabase CLI ship as npm packages) are installed, then runs the TypeScript
// tool under Deno. Usage: node scripts/run.mjs <stack|bench|cli|eval> [args…]
import { spawn, spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const deno = join(root, "node_modules", ".bin", "deno");
const marker = join(root, "node_modules", ".package-lock.json");
const lock = join(root, "package-lock.json");

function npmInstallNeeded() {
  if (!existsSync(deno) || !existsSync(marker)) return true;
  return existsSync(lock) && statSync(lock).mtimeMs > statSync(marker).mtimeMs;
}

if (npmInstallNeeded()) {
  console.error("[switchboard] installing npm dependencies (once)");
  // `npm install`, not `npm ci`: npm 11 writes lock files without the other platforms' optional
  // binaries (deno, supabase), which `npm ci` then refuses as out of sync.
  const r = spawnSync("npm", ["install", "--no-audit", "--no-fund"], { cwd: root, stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const scripts = {
  stack: "scripts/stack/main.ts",
  bench: "scripts/bench/main.ts",
  cli: "scripts/cli/main.ts",
  eval: "scripts/eval/main.ts",
};
const [tool, ...rest] = process.argv.slice(2);
if (!scripts[tool]) {
  console.error(`usage: run.mjs <${Object.keys(scripts).join("|")}> [args…]`);
  process.exit(2);
}
const child = spawn(deno, [
  "run",
  "--allow-all",
  "--no-prompt",
  `--config=${join(root, "deno.json")}`,
  join(root, scripts[tool]),
  ...rest,
], {
  cwd: process.cwd(),
  stdio: "inherit",
  env: { ...process.env, SWITCHBOARD_ROOT: root },
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 130 : 1)));

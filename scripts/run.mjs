#!/usr/bin/env node
// Entry point for npm scripts and the `switchboard` bin: makes sure the npm dependencies
// (Deno and the Supabase CLI ship as npm packages) are installed, then runs the TypeScript
// tool under Deno. Usage: node scripts/run.mjs <stack|bench|cli|eval> [args…]
import { spawn, spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const marker = join(root, "node_modules", ".package-lock.json");
const lock = join(root, "package-lock.json");

/** The tools' Deno (package.json's `deno`). Not node_modules/.bin/deno: the edge runtime's Deno
 * (`edge-runtime-deno`, an alias of the same package) may own that link. Its postinstall puts the
 * binary beside package.json; without install scripts it stays in the platform package. */
function toolsDeno() {
  const beside = join(root, "node_modules", "deno", "deno");
  if (existsSync(beside)) return beside;
  const platform = `${process.platform}-${process.arch}${process.platform === "linux" ? "-glibc" : ""}`;
  try {
    // Resolved from the deno package itself, so the edge alias's copy is never picked up.
    return createRequire(join(root, "node_modules", "deno", "package.json")).resolve(`@deno/${platform}/deno`);
  } catch {
    return beside;
  }
}

function npmInstallNeeded() {
  if (!existsSync(toolsDeno()) || !existsSync(marker)) return true;
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
  deploy: "scripts/deploy/main.ts",
};
const [tool, ...rest] = process.argv.slice(2);
if (!scripts[tool]) {
  console.error(`usage: run.mjs <${Object.keys(scripts).join("|")}> [args…]`);
  process.exit(2);
}
const child = spawn(toolsDeno(), [
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

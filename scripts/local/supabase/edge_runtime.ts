// The Deno that Supabase's Edge Runtime embeds, and the sandbox it gives user code: the local
// gateway runs every function process with it, and `npm test` runs the function-level tests on it.
//
// Version: hosted Edge Functions run Deno 2.1 (supabase/edge-runtime#592 "release deno 2.1
// compatible version"; supabase/cli#4065 "hosted environment is fully migrated to Deno 2.1"), and
// the runtime released in 2026 embeds 2.1.4. It is pinned once, as the `edge-runtime-deno` npm
// alias in package.json (`npm:deno@2.1.4`); the tools and the CLI use the newer `deno` beside it.
// What that Deno lacks matters: user code there has no `Buffer` global (only npm packages see
// Node's globals), and its lockfile reader stops at version 4.

import { existsSync } from "node:fs";

const root = new URL("../../../", import.meta.url).pathname.replace(/\/$/, "");

/** The package.json alias that pins the edge runtime's Deno. */
export const EDGE_DENO_PACKAGE = "edge-runtime-deno";

/** The version package.json pins (the single source of truth). */
export function edgeDenoVersion(repoRoot = root): string {
  const pkg = JSON.parse(Deno.readTextFileSync(`${repoRoot}/package.json`));
  const spec: string | undefined = pkg.devDependencies?.[EDGE_DENO_PACKAGE];
  const m = spec?.match(/^npm:deno@(\d+\.\d+\.\d+)$/);
  if (!m) throw new Error(`package.json must pin ${EDGE_DENO_PACKAGE} as "npm:deno@<x.y.z>" (found ${spec})`);
  return m[1];
}

/** Path of the edge runtime's Deno binary installed by `npm install`. The package's postinstall
 * links `deno` beside its package.json; without install scripts it stays in the platform package. */
export function edgeDenoBin(repoRoot = root): string {
  const pkgDir = `${repoRoot}/node_modules/${EDGE_DENO_PACKAGE}`;
  const platform = `${Deno.build.os === "darwin" ? "darwin" : "linux"}-${
    Deno.build.arch === "aarch64" ? "arm64" : "x64"
  }${Deno.build.os === "linux" ? "-glibc" : ""}`;
  for (const candidate of [`${pkgDir}/deno`, `${pkgDir}/node_modules/@deno/${platform}/deno`]) {
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`the edge runtime's Deno is not installed (${pkgDir}); run npm install`);
}

/** Permission flags that give a function process what the hosted sandbox gives user code:
 * network and environment, reads of its own code and dependencies, writes only under /tmp
 * (https://supabase.com/docs/guides/functions/ephemeral-storage) and no subprocesses or FFI
 * (the runtime has no Deno.Command; Web Workers and `node:vm` are unavailable too, see
 * https://supabase.com/docs/guides/functions/limits). */
export function edgeSandboxFlags(opts: { functionsDir: string; denoDir: string }): string[] {
  return [
    "--allow-net",
    "--allow-env",
    "--allow-sys",
    `--allow-read=${[opts.functionsDir, opts.denoDir, "/tmp"].join(",")}`,
    "--allow-write=/tmp",
    "--no-prompt",
  ];
}

/** Where Deno keeps its cache (npm packages are read from there at run time). */
export async function denoCacheDir(denoBin: string): Promise<string> {
  const out = await new Deno.Command(denoBin, { args: ["info", "--json"], stdout: "piped", stderr: "null" }).output();
  return JSON.parse(new TextDecoder().decode(out.stdout)).denoDir as string;
}

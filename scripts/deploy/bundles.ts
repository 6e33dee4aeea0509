// How big each function is once bundled, against hosted Edge Functions' 20 MB limit
// (https://supabase.com/docs/guides/functions/limits: "Maximum Function Size: 20MB (After bundling
// using CLI)"). Two measures of each index.ts: `deno bundle` (esbuild, unminified: every module the
// function loads, npm code included, which is what the limit counts), and an upper bound from the
// module graph the edge runtime's Deno resolves: own code plus every file of every npm package it
// reaches (tests, types and docs included), which no bundler would ship.

import { edgeDenoBin } from "../local/supabase/edge_runtime.ts";

export const BUNDLE_LIMIT_BYTES = 20 * 1024 * 1024;

export interface BundleSize {
  name: string;
  /** `deno bundle` output: the measure held against the limit. */
  bundledBytes: number;
  localBytes: number;
  npmBytes: number;
  npmPackages: number;
  totalBytes: number;
}

async function dirBytes(path: string): Promise<number> {
  let total = 0;
  try {
    for await (const e of Deno.readDir(path)) {
      const p = `${path}/${e.name}`;
      if (e.isDirectory) total += await dirBytes(p);
      else if (e.isFile) total += (await Deno.stat(p)).size;
    }
  } catch {
    // a package not in the cache counts as 0; `deno info` would have failed before that
  }
  return total;
}

async function denoInfo(root: string, args: string[]): Promise<Record<string, unknown>> {
  const out = await new Deno.Command(edgeDenoBin(root), {
    args: ["info", "--json", `--config=${root}/deno.json`, ...args],
    cwd: root,
    env: { DENO_TLS_CA_STORE: Deno.env.get("DENO_TLS_CA_STORE") ?? "system" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (out.code !== 0) throw new Error(`deno info ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

export async function measureBundle(root: string, name: string): Promise<BundleSize> {
  const denoDir = (await denoInfo(root, [])).denoDir as string;
  const info = await denoInfo(root, [`./supabase/functions/${name}/index.ts`]) as {
    modules: { kind: string; size?: number; npmPackage?: string }[];
    npmPackages: Record<string, { name: string; version: string; dependencies: string[] }>;
  };
  const localBytes = info.modules.filter((m) => m.kind === "esm").reduce((a, m) => a + (m.size ?? 0), 0);
  // `npmPackages` lists every package the configuration knows; keep those this graph reaches.
  const reached = new Set<string>();
  const visit = (id: string) => {
    if (reached.has(id) || !info.npmPackages[id]) return;
    reached.add(id);
    for (const dep of info.npmPackages[id].dependencies) visit(dep);
  };
  for (const m of info.modules) if (m.kind === "npm" && m.npmPackage) visit(m.npmPackage);
  const packages = [...reached].map((id) => info.npmPackages[id]);
  const sizes = await Promise.all(
    packages.map((p) => dirBytes(`${denoDir}/npm/registry.npmjs.org/${p.name}/${p.version}`)),
  );
  const npmBytes = sizes.reduce((a, b) => a + b, 0);
  return {
    name,
    bundledBytes: await bundledBytes(root, name),
    localBytes,
    npmBytes,
    npmPackages: packages.length,
    totalBytes: localBytes + npmBytes,
  };
}

/** Bundles with the tools' Deno (2.1 has no `deno bundle`) into a temporary file and measures it. */
async function bundledBytes(root: string, name: string): Promise<number> {
  const out = await Deno.makeTempFile({ suffix: ".js" });
  try {
    const r = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--quiet",
        `--config=${root}/deno.json`,
        "--platform",
        "deno",
        "-o",
        out,
        `${root}/supabase/functions/${name}/index.ts`,
      ],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (r.code !== 0) throw new Error(`deno bundle ${name} failed: ${new TextDecoder().decode(r.stderr)}`);
    return (await Deno.stat(out)).size;
  } finally {
    await Deno.remove(out).catch(() => {});
  }
}

export function formatBundleSizes(sizes: BundleSize[]): string {
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
  const head = `  ${"function".padEnd(26)} ${"bundled".padStart(8)} ${
    "of 20 MB".padStart(9)
  }   upper bound (own code + whole npm packages)`;
  const rows = sizes.map((s) =>
    `  ${s.name.padEnd(26)} ${mb(s.bundledBytes).padStart(8)} ${
      `${Math.round((s.bundledBytes / BUNDLE_LIMIT_BYTES) * 100)}%`.padStart(9)
    }   ${mb(s.totalBytes)} (${(s.localBytes / 1024).toFixed(0)} kB + ${s.npmPackages} packages)${
      s.bundledBytes > BUNDLE_LIMIT_BYTES ? "  OVER THE LIMIT" : ""
    }`
  );
  return [head, ...rows].join("\n");
}

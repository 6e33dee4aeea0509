// What hosted Edge Functions give user code, checked against this project: the pinned Deno is
// the one that runs, the lockfile is one it can read, function code leans on no Node global it
// did not import, and a function process can neither spawn a subprocess nor write outside /tmp.

import assert from "node:assert/strict";
import { startGateway } from "./gateway.ts";
import { freePort } from "../kit/ports.ts";
import { edgeDenoBin, edgeDenoVersion } from "./edge_runtime.ts";

const root = new URL("../../../", import.meta.url).pathname;
const opts = { sanitizeOps: false, sanitizeResources: false };

async function output(cmd: string, args: string[], cwd = root) {
  const r = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr) };
}

Deno.test("the edge runtime's Deno is the version package.json pins, and it reads deno.lock", async () => {
  const bin = edgeDenoBin();
  const version = await output(bin, ["--version"]);
  assert.match(version.stdout, new RegExp(`^deno ${edgeDenoVersion().replaceAll(".", "\\.")} `));
  // Deno 2.1 reads lockfile versions up to 4; a newer Deno would silently upgrade it to 5.
  const lock = JSON.parse(await Deno.readTextFile(`${root}deno.lock`));
  assert.equal(lock.version, "4", "deno.lock must stay at version 4 (regenerate it with the edge runtime's Deno)");
});

/** Node globals that exist only when imported (`node:buffer`, `node:process`, …) under the edge runtime. */
async function nodeGlobalFindings(paths: string[]): Promise<string[]> {
  const r = await output(Deno.execPath(), [
    "lint",
    "--json",
    "--rules-tags=",
    "--rules-include=no-node-globals,no-process-global",
    ...paths,
  ]);
  const report = JSON.parse(r.stdout) as { diagnostics: { filename: string; range: { start: { line: number } } }[] };
  return report.diagnostics.map((d) => `${d.filename.replace(`file://${root}`, "")}:${d.range.start.line}`);
}

Deno.test("function code uses no Node global without importing it (the edge runtime has none)", async () => {
  const functionsDir = `${root}supabase/functions`;
  const sources: string[] = [];
  for await (const f of walk(functionsDir)) if (f.endsWith(".ts") && !f.endsWith("_test.ts")) sources.push(f);
  assert.deepEqual(await nodeGlobalFindings(sources), []);

  // The check itself must be able to fail: a bare Buffer is found, an imported one is not.
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/bare.ts`, 'export const b = Buffer.from("x");\n');
    await Deno.writeTextFile(
      `${dir}/imported.ts`,
      'import { Buffer } from "node:buffer";\nexport const b = Buffer.from("x");\n',
    );
    const found = await nodeGlobalFindings([`${dir}/bare.ts`, `${dir}/imported.ts`]);
    assert.equal(found.length, 1);
    assert.match(found[0], /bare\.ts:1$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function* walk(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory) yield* walk(`${dir}/${e.name}`);
    else if (e.isFile) yield `${dir}/${e.name}`;
  }
}

Deno.test(
  "a function process runs on the edge Deno and can write /tmp, but not spawn or write elsewhere",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "edge-sandbox-test-" });
    // Outside /tmp whatever the checkout's path (a clone under mktemp -d lives in /tmp, which the sandbox allows).
    const outside = `/var/tmp/edge-sandbox-${crypto.randomUUID()}`;
    try {
      await Deno.mkdir(`${dir}/supabase/functions/probe`, { recursive: true });
      await Deno.copyFile(`${root}deno.json`, `${dir}/deno.json`);
      await Deno.writeTextFile(`${dir}/supabase/config.toml`, `[functions.probe]\nverify_jwt = false\n`);
      await Deno.writeTextFile(
        `${dir}/supabase/functions/probe/index.ts`,
        `const attempt = async (fn: () => Promise<unknown>) => {
        try { await fn(); return "ok"; } catch (e) { return (e as Error).name; }
      };
      Deno.serve(async () => Response.json({
        deno: Deno.version.deno,
        buffer: typeof (globalThis as Record<string, unknown>).Buffer,
        spawn: await attempt(() => new Deno.Command("true").output()),
        tmp: await attempt(() => Deno.writeTextFile("/tmp/edge-sandbox-probe.txt", "x")),
        elsewhere: await attempt(() => Deno.writeTextFile(${JSON.stringify(outside)}, "x")),
      }));`,
      );
      const gw = await startGateway({
        port: freePort(),
        root: dir,
        jwtSecret: "x".repeat(40),
        functionEnv: {},
        log: () => {},
      });
      try {
        const res = await fetch(`${gw.url}/functions/v1/probe`);
        const probe = await res.json();
        assert.equal(probe.deno, edgeDenoVersion());
        assert.equal(probe.buffer, "undefined", "user code on the edge runtime has no Buffer global");
        assert.notEqual(probe.spawn, "ok", "subprocesses are refused");
        assert.equal(probe.tmp, "ok", "/tmp is writable");
        assert.notEqual(probe.elsewhere, "ok", "writes outside /tmp are refused");
      } finally {
        await gw.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(outside).catch(() => {});
    }
  },
);

// Every test suite of the project, run against one throwaway stack: database lint and advisors, pgTAP,
// Deno lint/fmt/check, Deno tests (unit and integration over HTTP), and a check that everything they
// use is committed (what a clean clone would miss).
// Prints a summary and a final "N passed, M failed" line; returns the exit code.

import { clientKey, root, startStack } from "./stack.ts";
import { freePort, log, run } from "./proc.ts";
import { supabaseBin } from "./database.ts";
import { ensureWebBuilt, serveWebApp } from "./webapp.ts";
import { checkWithRenamedColumn, generateTypes, RENAMED_COLUMN, TYPES_FILE } from "./types.ts";
import { ensureChromium } from "./setup.ts";
import { edgeDenoBin, edgeDenoVersion } from "../local/supabase/edge_runtime.ts";
import { z } from "zod";

interface StepResult {
  name: string;
  passed: number;
  failed: number;
  seconds: number;
  note?: string;
}

const deno = Deno.execPath();
const edgeDeno = edgeDenoBin();
/** The edge runtime's Deno (2.1) trusts only its bundled roots unless told to use the system's. */
const EDGE_ENV = { DENO_TLS_CA_STORE: Deno.env.get("DENO_TLS_CA_STORE") ?? "system" };

function functionEntryPoints(): string[] {
  return [...Deno.readDirSync(`${root}/supabase/functions`)]
    .filter((e) => e.isDirectory && !e.name.startsWith("_"))
    .map((e) => `supabase/functions/${e.name}/index.ts`)
    .filter((p) => {
      try {
        return Deno.statSync(`${root}/${p}`).isFile;
      } catch {
        return false;
      }
    });
}

async function timed(name: string, fn: () => Promise<Omit<StepResult, "name" | "seconds">>): Promise<StepResult> {
  const t0 = performance.now();
  log(`── ${name}`);
  try {
    const r = await fn();
    return { name, ...r, seconds: (performance.now() - t0) / 1000 };
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    return { name, passed: 0, failed: 1, seconds: (performance.now() - t0) / 1000, note: "crashed" };
  }
}

/** A check that either passes or fails as a whole (lint, fmt, type check). */
async function check(cmd: string, args: string[], env?: Record<string, string>) {
  const r = await run(cmd, args, { cwd: root, allowFailure: true, env: { ...Deno.env.toObject(), ...env } });
  const out = (r.stdout + r.stderr).trim();
  if (r.code !== 0) console.error(out.split("\n").slice(-60).join("\n"));
  return { passed: r.code === 0 ? 1 : 0, failed: r.code === 0 ? 0 : 1 };
}

/** Streams a test runner's output and returns it for counting. */
async function stream(
  cmd: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; out: string }> {
  const child = new Deno.Command(cmd, {
    args,
    cwd: root,
    env: { ...Deno.env.toObject(), ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  const dec = new TextDecoder();
  const pump = async (s: ReadableStream<Uint8Array>, w: typeof Deno.stdout) => {
    for await (const chunk of s) {
      out += dec.decode(chunk, { stream: true });
      await w.write(chunk);
    }
  };
  await Promise.all([pump(child.stdout, Deno.stdout), pump(child.stderr, Deno.stderr)]);
  const { code } = await child.status;
  return { code, out };
}

function tsFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(`${root}/${dir}`)) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory && !["node_modules", ".local", "dist"].includes(e.name)) walk(p);
      else if (e.isFile && e.name.endsWith(".ts")) out.push(p);
    }
  };
  walk("supabase");
  walk("scripts");
  return out;
}

export async function runAllSuites(filters: string[]): Promise<number> {
  const stateDir = `${root}/.local/test-${Date.now()}-${Deno.pid}`;
  const apiPort = freePort();
  const results: StepResult[] = [];
  const wanted = (name: string) =>
    filters.length === 0 || filters.some((f) => name.toLowerCase().includes(f.toLowerCase()));

  log(`starting a throwaway stack in ${stateDir}`);
  const stack = await startStack({
    stateDir,
    dbPort: freePort(),
    apiPort,
    fast: true,
    seed: true,
    // Every function connects through a transaction pooler, as a hosted deploy should.
    pooler: true,
    chatwoot: { port: freePort() },
    gcs: { port: freePort(), noSync: true },
    openai: { port: freePort() },
    // Tests wait for an erasure Chatwoot first refuses (contact online): retry it soon.
    // and see the receivers' measurements without waiting 5 s for a flush.
    functionEnv: { CONTACT_ERASE_RETRY_MS: "500", METRICS_FLUSH_MS: "200" },
  });
  const dbUrl = new URL(stack.dbUrl);
  const env = {
    SUPABASE_URL: stack.apiUrl,
    SUPABASE_DB_URL: stack.dbUrl,
    ...(stack.poolerUrl ? { SWITCHBOARD_DB_POOLER_URL: stack.poolerUrl } : {}),
    SUPABASE_ANON_KEY: stack.anonKey,
    SUPABASE_SERVICE_ROLE_KEY: stack.serviceRoleKey,
    SUPABASE_JWT_SECRET: stack.jwtSecret,
    SUPABASE_PUBLISHABLE_KEY: stack.publishableKey,
    SUPABASE_SECRET_KEY: stack.secretKey,
    ...(stack.jwtMode === "legacy" ? { SWITCHBOARD_LEGACY_JWT_SECRET: stack.jwtSecret } : {}),
    // Tests sign user tokens as the stack's Auth does (a local, throwaway key).
    SWITCHBOARD_TEST_SIGNER: JSON.stringify(stack.signer),
    CHATWOOT_URL: stack.chatwootUrl!,
    CHATWOOT_PLATFORM_TOKEN: stack.chatwootPlatformToken!,
    GCS_ENDPOINT: stack.gcsUrl!,
    ...(stack.openai
      ? {
        OPENAI_STANDIN_URL: stack.openai.url,
        OPENAI_STANDIN_KEY: stack.openai.apiKey,
        OPENAI_BASE_URL: stack.openai.baseURL,
      }
      : {}),
    ...Object.fromEntries(
      Object.entries(stack.demoCredentials ?? {}).flatMap(([email, password]) =>
        email.startsWith("admin@")
          ? [["ADMIN_EMAIL", email], ["ADMIN_PASSWORD", password]]
          : [["STORE_ADMIN_EMAIL", email], ["STORE_ADMIN_PASSWORD", password]]
      ),
    ),
    METADATA_SERVER_DETECTION: "none",
    SWITCHBOARD_TEST: "1",
  };

  try {
    if (wanted("db lint")) {
      results.push(
        await timed(
          "db lint (supabase db lint, plpgsql_check)",
          () =>
            check(supabaseBin, [
              "db",
              "lint",
              "--db-url",
              stack.dbUrl,
              "--schema",
              "public,private",
              "--fail-on",
              "warning",
            ]),
        ),
      );
    }
    if (wanted("db advisors")) {
      results.push(await timed("db advisors (Security and Performance Advisors)", () => advisors(stack.dbUrl)));
    }
    if (wanted("pgtap")) {
      results.push(
        await timed("pgTAP (pg_prove supabase/tests)", async () => {
          const r = await stream("pg_prove", ["--ext", ".sql", "-r", "supabase/tests"], {
            PGHOST: dbUrl.hostname,
            PGPORT: dbUrl.port,
            PGUSER: "postgres",
            PGPASSWORD: decodeURIComponent(dbUrl.password),
            PGDATABASE: "postgres",
          });
          // pg_prove prints its totals whatever happens; a crash before them counts as a failure.
          const total = Number(r.out.match(/Tests=(\d+)/)?.[1] ?? 0);
          const failed = [...r.out.matchAll(/Failed (\d+)\/\d+ subtests/g)].reduce((a, m) => a + Number(m[1]), 0);
          const failedAll = r.code !== 0 && failed === 0 ? 1 : failed;
          return { passed: total - failed, failed: failedAll };
        }),
      );
    }
    if (wanted("types")) {
      results.push(
        await timed("generated database types are current", async () => {
          const fresh = await generateTypes(stack.dbUrl);
          const committed = await Deno.readTextFile(TYPES_FILE).catch(() => "");
          if (fresh === committed) return { passed: 1, failed: 0 };
          console.error(`${TYPES_FILE} does not match the migrations: run \`npm run gen:types\` and commit it`);
          return { passed: 0, failed: 1 };
        }),
      );
    }
    if (wanted("types: a renamed column")) {
      results.push(
        await timed("types: a renamed column fails deno check", async () => {
          const { column } = RENAMED_COLUMN;
          const r = await checkWithRenamedColumn(stack.dbUrl);
          // Every error must be the rename's: one about anything else means the probe itself is broken.
          const unrelated = r.errors.filter((e) => !e.includes(column));
          const ok = r.code !== 0 && r.errors.length > 0 && unrelated.length === 0;
          const note = `${r.errors.length} errors naming ${column} in ${r.files} product files`;
          for (const e of r.errors) {
            const lines = e.trim().split("\n");
            log(`  ${lines[0]}\n    ${lines.find((l) => l.trim().startsWith("at "))?.trim() ?? ""}`);
          }
          if (!ok) {
            console.error(
              r.code === 0
                ? `deno check passed with ${column} renamed: the product code does not read it through the generated types`
                : `expected only errors naming ${column}, got:\n${
                  (unrelated.length ? unrelated : r.errors).join("\n")
                }`,
            );
          }
          return { passed: ok ? 1 : 0, failed: ok ? 0 : 1, note };
        }),
      );
    }
    if (wanted("deno lint")) results.push(await timed("deno lint", () => check(deno, ["lint", "--quiet"])));
    if (wanted("deno fmt")) {
      results.push(await timed("deno fmt --check", () => check(deno, ["fmt", "--check", "--quiet"])));
    }
    if (wanted("deno check")) {
      results.push(await timed("deno check", () => check(deno, ["check", "--quiet", ...tsFiles()])));
      // What deploys must also type-check on the edge runtime's Deno and its older TypeScript.
      results.push(
        await timed(
          `deno check on the edge runtime's Deno ${edgeDenoVersion()} (each function's index.ts)`,
          () => check(edgeDeno, ["check", "--quiet", ...functionEntryPoints()], EDGE_ENV),
        ),
      );
    }
    if (wanted("deno test")) {
      results.push(
        await timed("deno test", async () => {
          // SWITCHBOARD_TEST_PATHS narrows the run while working on one module (`npm test -- "deno test"`).
          const paths = Deno.env.get("SWITCHBOARD_TEST_PATHS")?.split(/\s+/).filter(Boolean) ??
            ["supabase/", "scripts/"];
          // Function-level tests run on the Deno the edge runtime embeds (their types are checked by
          // the check steps above); the tools' and stand-ins' own tests on the tools' Deno.
          const functionPaths = paths.filter((p) => p.startsWith("supabase"));
          const toolPaths = paths.filter((p) => !p.startsWith("supabase"));
          let passed = 0;
          let failed = 0;
          for (
            const [bin, group, extra] of [
              [edgeDeno, functionPaths, ["--no-check"]],
              [deno, toolPaths, []],
            ] as const
          ) {
            if (group.length === 0) continue;
            const r = await stream(bin, ["test", "--allow-all", "--no-prompt", ...extra, ...group], {
              ...env,
              ...EDGE_ENV,
              NO_COLOR: "1",
            });
            const m = r.out.match(/(?:ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed/);
            const f = Number(m?.[2] ?? 0);
            passed += Number(m?.[1] ?? 0);
            failed += r.code !== 0 && f === 0 ? 1 : f;
          }
          return { passed, failed };
        }),
      );
    }
    if (wanted("browser")) {
      results.push(
        await timed("browser tests (playwright-core + Debian chromium)", async () => {
          const chromium = await ensureChromium();
          const app = serveWebApp({
            port: freePort(),
            dist: await ensureWebBuilt(),
            config: { supabaseUrl: stack.apiUrl, supabaseAnonKey: clientKey(stack) },
          });
          try {
            // The app's own tests carry their npm: imports (web/ is its own package, outside the root config).
            const r = await stream(deno, ["test", "--allow-all", "--no-prompt", "--no-config", "web/e2e/"], {
              ...env,
              NO_COLOR: "1",
              ADMIN_APP_URL: app.url,
              CHROMIUM_PATH: chromium,
            });
            const m = r.out.match(/(?:ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed/);
            const failed = Number(m?.[2] ?? 0);
            return { passed: Number(m?.[1] ?? 0), failed: r.code !== 0 && failed === 0 ? 1 : failed };
          } finally {
            await app.close();
          }
        }),
      );
    }
  } finally {
    await stack.close();
    await Deno.remove(stateDir, { recursive: true }).catch(() => {});
  }

  if (wanted("committed")) {
    results.push(await timed("committed: nothing used is left out of git", () => committedFilesCheck()));
  }

  const passed = results.reduce((a, r) => a + r.passed, 0);
  const failed = results.reduce((a, r) => a + r.failed, 0);
  console.log("\nsuite                                          passed  failed   seconds");
  for (const r of results) {
    console.log(
      `${r.name.padEnd(46)} ${String(r.passed).padStart(6)}  ${String(r.failed).padStart(6)}  ${
        r.seconds.toFixed(1).padStart(8)
      }${r.note ? `  (${r.note})` : ""}`,
    );
  }
  console.log(`\n${passed} passed, ${failed} failed`);
  return failed === 0 && passed > 0 ? 0 : 1;
}

const AdvisorFindings = z.object({
  results: z.array(z.object({ level: z.string(), name: z.string(), detail: z.string() })),
});

/** `supabase db advisors`: splinter, the SQL behind the dashboard's Security and Performance
 * Advisors, over the test cluster. Any WARN or ERROR fails the step, one failure per finding. */
async function advisors(dbUrl: string) {
  const r = await run(supabaseBin, [
    "db",
    "advisors",
    `--remote=${dbUrl}`,
    "--type",
    "all",
    "--level",
    "warn",
    "--fail-on",
    "warn",
    "--output-format",
    "json",
    "--yes",
  ], {
    cwd: root,
    allowFailure: true,
    env: { PATH: Deno.env.get("PATH") ?? "", SUPABASE_TELEMETRY_DISABLED: "1", DO_NOT_TRACK: "1" },
  });
  let output: unknown = null;
  try {
    output = JSON.parse(r.stdout);
  } catch {
    // not JSON (a connection error, say): reported below with the whole output
  }
  const findings = AdvisorFindings.safeParse(output);
  if (!findings.success) {
    console.error(`supabase db advisors gave no findings to read (exit ${r.code}):\n${(r.stdout + r.stderr).trim()}`);
    return { passed: 0, failed: 1 };
  }
  for (const f of findings.data.results) console.error(`${f.level} ${f.name}: ${f.detail}`);
  const failed = findings.data.results.length || (r.code === 0 ? 0 : 1);
  return { passed: failed === 0 ? 1 : 0, failed };
}

/** What a clean clone (CI) would miss, found without a second run: every module the product and
 * its tools import, and every file in the folders they read at run time (migrations, fixtures,
 * the eval set, the app), must be committed. An untracked file there passes here and fails in CI. */
async function committedFilesCheck() {
  const tracked = new Set(
    (await run("git", ["ls-files", "-z"], { cwd: root })).stdout.split("\0").filter(Boolean),
  );
  if (tracked.size === 0) return { passed: 0, failed: 1, note: "no commit to check" };
  const problems: string[] = [];
  const untracked = (await run("git", ["ls-files", "-z", "--others", "--exclude-standard", "--", ...READ_AT_RUN_TIME], {
    cwd: root,
  })).stdout.split("\0").filter(Boolean);
  for (const f of untracked) problems.push(`untracked: ${f}`);

  // The module graph of every tracked TypeScript file, ignored files included: a module that
  // .gitignore hides but something imports is the other way to pass here and fail in CI.
  const entries = [...tracked].filter((f) => /^(supabase|scripts)\/.*\.ts$/.test(f));
  const graphEntry = `${root}/.local/committed-files-graph.ts`;
  await Deno.mkdir(`${root}/.local`, { recursive: true });
  await Deno.writeTextFile(graphEntry, entries.map((f) => `import "../${f}";`).join("\n") + "\n");
  try {
    const r = await run(deno, ["info", "--json", `--config=${root}/deno.json`, graphEntry], { cwd: root });
    const graph = JSON.parse(r.stdout) as { modules: { specifier: string }[] };
    for (const m of graph.modules) {
      if (!m.specifier.startsWith(`file://${root}/`)) continue;
      const rel = decodeURIComponent(m.specifier.slice(`file://${root}/`.length));
      if (rel.startsWith(".local/")) continue;
      if (!tracked.has(rel)) problems.push(`imported but not committed: ${rel}`);
    }
    for (const p of problems) console.error(p);
    return {
      passed: problems.length === 0 ? 1 : 0,
      failed: problems.length,
      note: `${graph.modules.length} modules, ${untracked.length} untracked files`,
    };
  } finally {
    await Deno.remove(graphEntry).catch(() => {});
  }
}

/** Folders whose files are read at run time (not imported), so only git can tell they are missing. */
const READ_AT_RUN_TIME = [
  "supabase",
  "scripts",
  "fixtures",
  "eval",
  "web/src",
  "web/e2e",
  "web/public",
  "web/index.html",
];

// `npm run deploy -- --project-ref <ref> --env-file <file> [--dry-run]`: the one documented way to put
// Switchboard on a hosted Supabase project. Checks the env file and the bundle sizes first, then
// pushes the migrations, deploys every function folder (so none is forgotten), sets the secrets,
// and prints what to store in Vault for pg_cron to drive the worker.

import { parseArgs } from "node:util";
import { listFunctions } from "../local/supabase/gateway.ts";
import { BUNDLE_LIMIT_BYTES, formatBundleSizes, measureBundle } from "./bundles.ts";
import { checkDeploySecrets, parseEnvFile } from "./env_file.ts";

const root = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const supabase = `${root}/node_modules/.bin/supabase`;

export interface DeployPlan {
  functions: string[];
  commands: string[][];
  /** Only the names the functions read, written for `supabase secrets set --env-file`. */
  secretsFile: string;
}

/** The commands a deploy runs, in order (pure: tests and --dry-run print it). */
export function deployPlan(opts: { projectRef: string; secretsFile: string; functions: string[] }): DeployPlan {
  const remote = `--remote=${opts.projectRef}`;
  return {
    functions: opts.functions,
    secretsFile: opts.secretsFile,
    commands: [
      // Migrations first: functions deployed against an older schema would fail their first request.
      [supabase, "db", "push", remote, "--yes"],
      // verify_jwt comes from supabase/config.toml; --use-api bundles on Supabase's side (no Docker).
      [supabase, "functions", "deploy", ...opts.functions, remote, "--use-api", "--yes"],
      [supabase, "secrets", "set", "--env-file", opts.secretsFile, remote, "--yes"],
    ],
  };
}

export function vaultInstructions(projectRef: string): string {
  return `Store these in Vault (Dashboard → SQL editor) so pg_cron can drive the worker, then schedule it:

  select vault.create_secret('https://${projectRef}.supabase.co/functions/v1', 'switchboard_functions_url');
  select vault.create_secret('<a secret key, sb_secret_…, from Settings → API Keys>', 'switchboard_secret_key');
  select private.schedule_jobs_worker();   -- needs the pg_cron and pg_net extensions enabled

The worker refuses any caller without that secret key (apikey header); rotate it in Vault when you rotate the key.`;
}

async function main() {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      "project-ref": { type: "string" },
      "env-file": { type: "string" },
      "dry-run": { type: "boolean" },
    },
    strict: true,
  });
  const projectRef = values["project-ref"];
  const envFile = values["env-file"];
  if (!projectRef || !/^[a-z]{20}$/.test(projectRef) || !envFile) {
    console.error("usage: npm run deploy -- --project-ref <20-letter ref> --env-file <file> [--dry-run]");
    console.error("(the env file's names and format: scripts/deploy/deploy.env.example)");
    Deno.exit(2);
  }
  const checked = checkDeploySecrets(parseEnvFile(await Deno.readTextFile(envFile)));
  if (!checked.ok) {
    console.error(`${envFile} cannot be deployed:\n${checked.problems.map((p) => `  - ${p}`).join("\n")}`);
    Deno.exit(1);
  }
  const functions = listFunctions(`${root}/supabase/functions`);
  console.log("Bundle sizes (the hosted limit is 20 MB per function):");
  // The first `deno bundle` on a machine installs esbuild into Deno's cache; several at once race
  // on that copy ("failed to copy esbuild binary"), so one goes first and the rest follow together.
  const [first, ...rest] = functions;
  const sizes = first
    ? [await measureBundle(root, first), ...await Promise.all(rest.map((f) => measureBundle(root, f)))]
    : [];
  console.log(formatBundleSizes(sizes));
  const over = sizes.filter((s) => s.bundledBytes > BUNDLE_LIMIT_BYTES);
  if (over.length) {
    console.error(`over the limit: ${over.map((s) => s.name).join(", ")}`);
    Deno.exit(1);
  }
  const secretsFile = await Deno.makeTempFile({ prefix: "switchboard-secrets-", suffix: ".env" });
  try {
    await Deno.writeTextFile(
      secretsFile,
      Object.entries(checked.secrets).map(([k, v]) => `${k}=${JSON.stringify(String(v))}`).join("\n") + "\n",
      { mode: 0o600 },
    );
    const plan = deployPlan({ projectRef, secretsFile, functions });
    for (const cmd of plan.commands) {
      console.log(`\n$ ${cmd.map((a) => a.replace(root + "/", "")).join(" ")}`);
      if (values["dry-run"]) continue;
      const status = await new Deno.Command(cmd[0], { args: cmd.slice(1), cwd: root, stdin: "inherit" }).spawn()
        .status;
      if (!status.success) {
        console.error(`stopped: that command failed (exit ${status.code}); fix it and run the deploy again`);
        Deno.exit(status.code || 1);
      }
    }
    console.log(`\n${vaultInstructions(projectRef)}`);
    if (values["dry-run"]) console.log("\n(dry run: nothing was changed)");
  } finally {
    await Deno.remove(secretsFile).catch(() => {});
  }
}

if (import.meta.main) await main();

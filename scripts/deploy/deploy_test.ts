// The deploy path as a platform team follows it: the env file is refused while anything is missing
// or left as a placeholder, every function folder is deployed (the agent bot's too), migrations go
// first, and every function bundles under hosted's 20 MB limit.

import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { listFunctions } from "../local/supabase/gateway.ts";
import { BUNDLE_LIMIT_BYTES, measureBundle } from "./bundles.ts";
import { checkDeploySecrets, parseEnvFile } from "./env_file.ts";
import { deployPlan } from "./main.ts";

const root = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

function goodEnv(): Record<string, string> {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 1024 });
  return {
    SWITCHBOARD_DB_POOLER_URL:
      "postgresql://postgres.abcdefghijklmnopqrst:pw@aws-0-eu-west-1.pooler.supabase.com:6543/postgres",
    GCS_PROJECT_ID: "acme-archive",
    GCS_CREDENTIALS_JSON: JSON.stringify({
      type: "service_account",
      client_email: "sb@acme-archive.iam.gserviceaccount.com",
      private_key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    }),
    ARCHIVE_BUCKET_SALT: "k3j4h5g6f7d8s9a0q1w2",
    CHATWOOT_URL: "https://chat.acme.test",
    CHATWOOT_PLATFORM_TOKEN: "platformtoken123",
  };
}

Deno.test("a complete env file passes; the example as shipped is refused for every placeholder", async () => {
  assert.equal(checkDeploySecrets(goodEnv()).ok, true);
  const example = parseEnvFile(await Deno.readTextFile(`${root}/scripts/deploy/deploy.env.example`));
  const r = checkDeploySecrets(example);
  assert.equal(r.ok, false);
  const problems = r.ok ? [] : r.problems.join("\n");
  for (const name of ["SWITCHBOARD_DB_POOLER_URL", "GCS_PROJECT_ID", "GCS_CREDENTIALS_JSON", "ARCHIVE_BUCKET_SALT"]) {
    assert.match(problems as string, new RegExp(`${name} still holds a placeholder`));
  }
});

Deno.test("missing, malformed, reserved and unknown names are each named", () => {
  const env = goodEnv();
  delete (env as Record<string, string>).GCS_PROJECT_ID;
  const r = checkDeploySecrets({
    ...env,
    SWITCHBOARD_DB_POOLER_URL: "postgresql://postgres:pw@db.abcdefghijklmnopqrst.supabase.co:5432/postgres",
    SUPABASE_SERVICE_ROLE_KEY: "eyJ-anything",
    ARCHIVE_BUCKT_SALT: "typo-of-a-name-000",
    CHATWOOT_PLATFORM_TOKEN: "",
    ARCHIVE_LABELS: "app=switchboard,Team=core",
  });
  assert.equal(r.ok, false);
  const p = r.ok ? "" : r.problems.join("\n");
  assert.match(p, /GCS_PROJECT_ID is missing/);
  assert.match(p, /SWITCHBOARD_DB_POOLER_URL must be the project's transaction pooler \(port 6543\)/);
  assert.match(p, /SUPABASE_SERVICE_ROLE_KEY: names starting with SUPABASE_ are reserved/);
  assert.match(p, /unknown names: ARCHIVE_BUCKT_SALT/);
  assert.match(p, /CHATWOOT_PLATFORM_TOKEN is empty/);
  assert.match(
    p,
    /ARCHIVE_LABELS key "Team" must start with a lowercase letter/,
    "GCS's label rules, before deploying",
  );
});

Deno.test("the deploy pushes migrations first, then deploys every function folder, then sets secrets", () => {
  const functions = listFunctions(`${root}/supabase/functions`);
  assert.ok(functions.includes("chatwoot-bot"), "the agent bot's receiver must be deployed");
  const plan = deployPlan({ projectRef: "abcdefghijklmnopqrst", secretsFile: "/tmp/x.env", functions });
  const [push, deploy, secrets] = plan.commands.map((c) => c.slice(1).join(" "));
  assert.match(push, /^db push --remote=abcdefghijklmnopqrst/);
  for (const f of functions) assert.ok(deploy.split(" ").includes(f), `${f} is deployed`);
  assert.match(secrets, /^secrets set --env-file \/tmp\/x\.env/);
});

Deno.test("npm run deploy -- --dry-run checks the env file, measures bundles and prints the plan", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/deploy.env`;
    await Deno.writeTextFile(file, Object.entries(goodEnv()).map(([k, v]) => `${k}='${v}'`).join("\n"));
    const run = (envFile: string) =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          `--config=${root}/deno.json`,
          `${root}/scripts/deploy/main.ts`,
          "--project-ref",
          "abcdefghijklmnopqrst",
          "--env-file",
          envFile,
          "--dry-run",
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
    const ok = await run(file);
    const out = new TextDecoder().decode(ok.stdout);
    assert.equal(ok.code, 0, new TextDecoder().decode(ok.stderr));
    assert.match(out, /functions deploy .*chatwoot-bot/);
    assert.match(out, /switchboard_secret_key/);
    assert.match(out, /dry run: nothing was changed/);
    await Deno.writeTextFile(`${dir}/bad.env`, "GCS_PROJECT_ID=<google-cloud-project-id>\n");
    const bad = await run(`${dir}/bad.env`);
    assert.equal(bad.code, 1);
    assert.match(new TextDecoder().decode(bad.stderr), /cannot be deployed/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("every function bundles under hosted's 20 MB limit", async () => {
  for (const name of listFunctions(`${root}/supabase/functions`)) {
    const size = await measureBundle(root, name);
    assert.ok(size.bundledBytes > 10_000, `${name} bundled to something real`);
    assert.ok(size.bundledBytes < BUNDLE_LIMIT_BYTES, `${name} bundles to ${size.bundledBytes} bytes`);
  }
});

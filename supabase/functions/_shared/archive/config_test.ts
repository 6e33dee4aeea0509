// The archive's configuration as a function reads it at start: labels held to GCS's label rules,
// a clear error naming the variable, and where GCS is (or that it is not configured).

import assert from "node:assert/strict";
import { z } from "zod";
import { ConfigError, loadConfig } from "../platform/config.ts";
import { archiveEnvSchema, gcsConnection, parseArchiveLabels } from "./config.ts";

const KEY = JSON.stringify({
  type: "service_account",
  project_id: "acme-archive",
  client_email: "archiver@acme-archive.iam.gserviceaccount.com",
  private_key: "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n",
});

const load = (env: Record<string, string>) => loadConfig(z.object(archiveEnvSchema), env);

Deno.test("labels that GCS accepts are taken as they are", () => {
  assert.deepEqual(parseArchiveLabels("app=switchboard,env=prod-eu,team_2=,ñandú=sí"), {
    labels: { app: "switchboard", env: "prod-eu", team_2: "", "ñandú": "sí" },
    problems: [],
  });
  assert.deepEqual(parseArchiveLabels(""), { labels: {}, problems: [] });
  assert.deepEqual(parseArchiveLabels(`${"k".repeat(63)}=${"v".repeat(63)}`).problems, []);
});

Deno.test("labels GCS would refuse are named, each with the rule it breaks", () => {
  const cases: [string, RegExp][] = [
    ["Env=prod", /key "Env" must start with a lowercase letter/],
    ["1st=x", /key "1st" must start with a lowercase letter/],
    ["_x=1", /key "_x" must start with a lowercase letter/],
    [`${"k".repeat(64)}=v`, /must be 1–63 characters/],
    ["=v", /key "" must be 1–63 characters/],
    ["env=Prod", /the value of "env" may hold only lowercase letters/],
    ["env=a.b", /the value of "env" may hold only lowercase letters/],
    [`env=${"v".repeat(64)}`, /the value of "env" must be at most 63 characters/],
    ["env", /"env" is not key=value/],
    ["env=a,env=b", /key "env" appears twice/],
    ["switchboard=x", /key "switchboard" is the archive's own label/],
    [Array.from({ length: 64 }, (_, i) => `k${i}=v`).join(","), /64 labels: a bucket has at most 64/],
  ];
  for (const [raw, problem] of cases) {
    const { problems } = parseArchiveLabels(raw);
    assert.ok(problems.some((p) => problem.test(p)), `${raw.slice(0, 40)}: ${problems.join("; ")}`);
  }
});

Deno.test("a bad ARCHIVE_LABELS or GCS_CREDENTIALS_JSON stops the start with the variable named", () => {
  assert.throws(
    () => load({ ARCHIVE_LABELS: "Team=Core" }),
    (e) =>
      e instanceof ConfigError &&
      e.problems.some((p) => p.startsWith('ARCHIVE_LABELS key "Team" must start with a lowercase letter')) &&
      e.problems.some((p) => p.startsWith('ARCHIVE_LABELS the value of "Team"')),
  );
  assert.throws(
    () => load({ GCS_CREDENTIALS_JSON: "not json" }),
    (e) =>
      e instanceof ConfigError &&
      e.problems.some((p) => p.startsWith("GCS_CREDENTIALS_JSON must be a service-account key")),
  );
  assert.throws(
    () => load({ GCS_CREDENTIALS_JSON: JSON.stringify({ type: "authorized_user" }) }),
    (e) =>
      e instanceof ConfigError &&
      e.problems.some((p) => /GCS_CREDENTIALS_JSON type must be a service-account key/.test(p)),
  );
  assert.deepEqual(load({}).ARCHIVE_LABELS, { app: "switchboard" }, "the default");
  assert.equal(load({}).ARCHIVE_BUCKET_OPS_INTERVAL_MS, 2100);
});

Deno.test("GCS is real only with a key, an emulator only at GCS_ENDPOINT, and otherwise not configured", () => {
  const none = gcsConnection(load({}));
  assert.equal(none.mode, "unconfigured");
  assert.match(none.mode === "unconfigured" ? none.reason : "", /set GCS_CREDENTIALS_JSON/);

  const real = gcsConnection(load({ GCS_CREDENTIALS_JSON: KEY }));
  assert.equal(real.mode, "gcs");
  assert.equal(real.mode === "gcs" && real.projectId, "acme-archive", "the key's project when GCS_PROJECT_ID is unset");
  const named = gcsConnection(load({ GCS_CREDENTIALS_JSON: KEY, GCS_PROJECT_ID: "other-project" }));
  assert.equal(named.mode === "gcs" && named.projectId, "other-project");

  const emulator = gcsConnection(load({ GCS_ENDPOINT: "http://127.0.0.1:4443" }));
  assert.deepEqual(emulator, {
    mode: "emulator",
    endpoint: "http://127.0.0.1:4443",
    projectId: "switchboard-local",
    key: null,
  });
});

// CLI entry point: serves the GCS emulator on a port with state under a data directory.
//   deno run -A scripts/local/gcs/main.ts --port 4443 --data .local/gcs [--bucket media] [--service-account sa.json]

import { jsonLines, parseStandinArgs, stopOnSignal } from "../kit/cli.ts";
import { bucketNameProblem } from "./names.ts";
import { bucketFromInsert } from "./resources.ts";
import { startGcsEmulator } from "./server.ts";
import type { SigningKeys } from "./signed_urls.ts";

const USAGE = `usage: main.ts [--port 4443] [--hostname 127.0.0.1] [--data .local/gcs] [--bucket NAME]...
               [--service-account FILE]... [--strict-signatures] [--no-sync] [--quiet]
               [--bucket-ops-interval-ms 2000] [--foreign-bucket NAME]...

  --bucket NAME            create this bucket at start if it does not exist (repeatable)
  --service-account FILE   a service-account JSON whose key verifies signed URLs it signed (repeatable)
  --strict-signatures      refuse signed URLs from signers without a known key
  --no-sync                skip fsync before renames (faster; still safe against a process crash)
  --bucket-ops-interval-ms one bucket create or delete per this many ms per project, as GCS allows
                           (default 2000; 0 turns the limit off)
  --foreign-bucket NAME    a bucket name another project owns: insert is 409, anything else 403 (repeatable)`;

const values = parseStandinArgs(USAGE, 4443, {
  data: { type: "string", default: ".local/gcs" },
  bucket: { type: "string", multiple: true, default: [] },
  "service-account": { type: "string", multiple: true, default: [] },
  "strict-signatures": { type: "boolean", default: false },
  "no-sync": { type: "boolean", default: false },
  "bucket-ops-interval-ms": { type: "string", default: "2000" },
  "foreign-bucket": { type: "string", multiple: true, default: [] },
});

const bucketOpsIntervalMs = Number(values["bucket-ops-interval-ms"]);
if (!Number.isInteger(bucketOpsIntervalMs) || bucketOpsIntervalMs < 0) {
  console.error(
    `--bucket-ops-interval-ms ${values["bucket-ops-interval-ms"]}: expected a whole number of ms, 0 or more`,
  );
  Deno.exit(2);
}

for (const name of values.bucket) {
  const problem = bucketNameProblem(name);
  if (problem) {
    console.error(`--bucket ${name}: invalid bucket name (${problem})`);
    Deno.exit(2);
  }
}

const signingKeys: SigningKeys = {};
for (const file of values["service-account"]) {
  const account = JSON.parse(await Deno.readTextFile(file));
  if (typeof account.client_email !== "string" || typeof account.private_key !== "string") {
    console.error(`${file}: not a service-account key (client_email and private_key are required)`);
    Deno.exit(2);
  }
  signingKeys[account.client_email] = account.private_key;
}

const running = await startGcsEmulator({
  port: values.port,
  hostname: values.hostname,
  dataDir: values.data,
  signingKeys,
  strictSignatures: values["strict-signatures"],
  noSync: values["no-sync"],
  bucketOps: { intervalMs: bucketOpsIntervalMs },
  foreignBuckets: values["foreign-bucket"],
  log: jsonLines("gcs-emulator", values.quiet),
});

for (const name of values.bucket) {
  const { store, clock } = running.emulator;
  if (!store.hasBucket(name)) await store.createBucket(bucketFromInsert(name, {}, clock.now()));
}

const state = running.emulator.state();
console.log(
  `GCS emulator listening on ${running.url} (data: ${values.data}; ${state.buckets} buckets, ${state.objects} objects)`,
);
console.log(
  `SDK: new Storage({ apiEndpoint: "${running.url}", projectId: "local" }) with METADATA_SERVER_DETECTION=none`,
);

stopOnSignal(running);

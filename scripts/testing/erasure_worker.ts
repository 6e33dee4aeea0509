// A worker in a process of its own that runs one batch of erasure jobs of a test's kind, so a test can
// kill it with SIGKILL in the middle of a batch (erasure_test.ts). Arguments: one JSON object with the
// kind, the bucket policy and the erase options; the database and GCS come from the test environment.

import { connect } from "../../supabase/functions/_shared/platform/db.ts";
import { runJobBatch } from "../../supabase/functions/_shared/jobs/queue.ts";
import { createMemoryLogger } from "../../supabase/functions/_shared/platform/log.ts";
import { createStorage } from "../../supabase/functions/_shared/archive/storage.ts";
import { type EraseOptions, erasureJobHandlers } from "../../supabase/functions/_shared/archive/erasure.ts";
import type { BucketPolicy } from "../../supabase/functions/_shared/archive/buckets.ts";
import { DEFAULT_BUCKET_OPS_INTERVAL_MS } from "../../supabase/functions/_shared/archive/bucket_quota.ts";

const { kind, policy, erase, project } = JSON.parse(Deno.args[0]) as {
  kind: string;
  policy: BucketPolicy;
  erase: EraseOptions;
  project: string;
};
const sql = connect(Deno.env.get("SUPABASE_DB_URL")!, { max: 2 });
const storage = createStorage({ apiEndpoint: Deno.env.get("GCS_ENDPOINT")!, projectId: project });
const handler = erasureJobHandlers({
  sql,
  storage,
  policy,
  erase,
  bucketStorage: createStorage({ apiEndpoint: Deno.env.get("GCS_ENDPOINT")!, projectId: project, retries: false }),
  bucketQuota: { project, intervalMs: DEFAULT_BUCKET_OPS_INTERVAL_MS },
  mediaMaxBytes: 1024,
  mediaTimeoutMs: 1000,
})["archive.erase_user"];
console.log("ready");
const summary = await runJobBatch({
  sql,
  registry: { [kind]: handler },
  log: createMemoryLogger(),
  worker: `erasure-child-${Deno.pid}`,
  limit: 1,
});
console.log(JSON.stringify(summary));
await sql.end();

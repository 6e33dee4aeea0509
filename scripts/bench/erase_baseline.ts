// bench:erase's baseline in a process of its own on the edge runtime's Deno, as the jobs-worker runs:
// deletes the named objects through the SDK, `concurrency` at a time, and prints how long that took
// (start-up excluded). Arguments: one JSON object {endpoint, bucket, count, concurrency, credentialsJson?}.

import { createStorage } from "../../supabase/functions/_shared/archive/storage.ts";

const { endpoint, bucket, count, concurrency, credentialsJson } = JSON.parse(Deno.args[0]) as {
  endpoint: string;
  bucket: string;
  count: number;
  concurrency: number;
  credentialsJson?: string;
};
const storage = createStorage({ apiEndpoint: endpoint, credentialsJson });
const names = Array.from({ length: count }, (_, i) => `raw/${String(i).padStart(6, "0")}.json`);
let next = 0;
const started = performance.now();
await Promise.all(Array.from({ length: concurrency }, async () => {
  while (next < names.length) await storage.bucket(bucket).file(names[next++]).delete();
}));
console.log(JSON.stringify({ seconds: (performance.now() - started) / 1000 }));

// `npm run bench:<name>`: benchmarks, apart from tests. Each prints ratios against a baseline
// measured in the same run and saves its figures under .local/bench/.

import { benchProvisioning } from "./provisioning.ts";
import { benchContacts } from "./contacts.ts";
import { benchAdmin } from "./admin.ts";
import { benchArchive } from "./archive.ts";
import { benchBuckets } from "./buckets.ts";
import { benchErase } from "./erase.ts";
import { benchQueue } from "./queue.ts";
import { benchRetrieval } from "./retrieval.ts";
import { benchWebhooks } from "./webhooks.ts";
import { benchCpu } from "./cpu.ts";
import { benchWebhookMemory } from "./webhook_memory.ts";
import { benchAnalytics } from "./analytics.ts";

const benches: Record<string, () => Promise<void>> = {
  provisioning: benchProvisioning,
  contacts: benchContacts,
  admin: benchAdmin,
  archive: benchArchive,
  buckets: benchBuckets,
  erase: benchErase,
  queue: benchQueue,
  retrieval: benchRetrieval,
  webhooks: benchWebhooks,
  cpu: benchCpu,
  "webhook-memory": benchWebhookMemory,
  analytics: benchAnalytics,
};

const name = Deno.args[0];
if (!benches[name]) {
  console.error(`usage: bench.ts <${Object.keys(benches).join("|")}>`);
  Deno.exit(2);
}
await benches[name]();

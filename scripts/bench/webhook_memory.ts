// bench:webhook-memory — what keeping a large authenticated delivery costs the chatwoot-webhook
// process (hosted Edge Functions allow 256 MB per function: https://supabase.com/docs/guides/functions/limits).
// The function runs in its own process on the edge runtime's Deno behind the local gateway; before
// each delivery its peak RSS is reset (/proc/<pid>/clear_refs "5") and afterwards VmHWM − VmRSS
// before is the memory that delivery made the process take. Deliveries are incoming e-mails in
// Chatwoot's shape (the HTML in content_attributes.email.html_content three times, and again in
// conversation.messages[0]); the baseline is the small WhatsApp text fixture, in the same run.

import { connect } from "../../supabase/functions/_shared/platform/db.ts";
import { deliver, fixture, insertLinkedAccount, type Json } from "../testing/chatwoot.ts";
import { root, startStack } from "../stack/stack.ts";
import { printTable, saveResult } from "./harness.ts";
import { freePort } from "../stack/proc.ts";

const REPEAT = Number(Deno.env.get("BENCH_MEMORY_REPEAT") ?? 3);
const CAP = 16 * 1024 * 1024;

async function statusKb(pid: number, key: "VmRSS" | "VmHWM"): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)![1]);
}

async function cpuMs(pid: number): Promise<number> {
  let ns = 0;
  for await (const t of Deno.readDir(`/proc/${pid}/task`)) {
    const stat = await Deno.readTextFile(`/proc/${pid}/task/${t.name}/schedstat`).catch(() => "0");
    ns += Number(stat.split(" ")[0]);
  }
  return ns / 1e6;
}

/** An incoming e-mail delivery of about `bytes` bytes (its HTML six times over, as Chatwoot sends it). */
function emailOf(bytes: number, id: number): string {
  const body: Json = structuredClone(fixture("email-html.message_created.json"));
  body.id = id; // a new message each time, so every delivery is applied, not found stale
  body.conversation.messages[0].id = id;
  const targets = [body.content_attributes.email, body.conversation.messages[0].content_attributes.email];
  const rest = JSON.stringify(body).length;
  const line = "<tr><td>Linea</td><td>pedido 4411</td><td>danado</td></tr>"; // ASCII: chars = bytes
  const html = `<table>${line.repeat(Math.max(1, Math.floor((bytes - rest) / 6 / (line.length + 1))))}</table>`;
  for (const t of targets) t.html_content = { full: html, reply: html, quoted: html };
  return JSON.stringify(body);
}

export async function benchWebhookMemory() {
  const stack = await startStack({
    stateDir: `${root}/.local/bench-memory-${Date.now()}`,
    dbPort: freePort(),
    apiPort: freePort(),
    seed: false,
    jobDriver: false,
    gcs: { port: freePort() },
    openai: { port: freePort() },
  });
  const sql = connect(stack.dbUrl, { max: 2 });
  try {
    const account = await insertLinkedAccount(sql);
    const pid = stack.gateway.functionPid("chatwoot-webhook")!;
    const text = (id: number) => JSON.stringify({ ...fixture("whatsapp-text.message_created.json"), id });
    const workloads: [string, (id: number) => string][] = [
      ["WhatsApp text (baseline)", text],
      ["e-mail, 1 MiB", (id) => emailOf(1024 * 1024, id)],
      ["e-mail, 4 MiB", (id) => emailOf(4 * 1024 * 1024, id)],
      ["e-mail, 16 MiB (the cap)", (id) => emailOf(CAP - 64 * 1024, id)],
    ];
    // Warm the process (module load, pool) so the first workload is not charged for it.
    await deliver(stack.apiUrl, account, fixture("whatsapp-text.message_created.json"));
    const warmRss = await statusKb(pid, "VmRSS");
    const rows: Record<string, string | number>[] = [];
    const results: Record<string, unknown>[] = [];
    let baselinePeak = 0;
    for (const [what, build] of workloads) {
      const peaks: number[] = [];
      const cpus: number[] = [];
      const walls: number[] = [];
      let size = 0;
      const rssBeforeRun = await statusKb(pid, "VmRSS");
      for (let i = 0; i < REPEAT; i++) {
        const raw = build(500_000 + rows.length * 100 + i);
        size = new TextEncoder().encode(raw).byteLength;
        await Deno.writeTextFile(`/proc/${pid}/clear_refs`, "5");
        const rssBefore = await statusKb(pid, "VmRSS");
        const cpuBefore = await cpuMs(pid);
        const started = performance.now();
        const r = await deliver(stack.apiUrl, account, null, { rawBody: raw });
        walls.push(performance.now() - started);
        if (r.status !== 200 || !["applied", "stale"].includes(String(r.body.status))) {
          throw new Error(`${what}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
        }
        await new Promise((res) => setTimeout(res, 50));
        cpus.push((await cpuMs(pid)) - cpuBefore);
        peaks.push((await statusKb(pid, "VmHWM")) - rssBefore);
      }
      const peakMb = Math.max(...peaks) / 1024;
      if (!baselinePeak) baselinePeak = Math.max(peakMb, 0.1);
      const row = {
        delivery: what,
        "body MiB": (size / 1024 / 1024).toFixed(2),
        "peak RSS +MB (max)": peakMb.toFixed(1),
        "× body": size > 1024 * 1024 ? (peakMb / (size / 1024 / 1024)).toFixed(1) : "—",
        "RSS before MB": (rssBeforeRun / 1024).toFixed(0),
        "CPU ms (max)": Math.round(Math.max(...cpus)),
        "wall ms (max)": Math.round(Math.max(...walls)),
      };
      rows.push(row);
      results.push({ ...row, peaks_kb: peaks, cpu_ms: cpus, wall_ms: walls });
    }
    printTable(rows);
    console.log(
      `process RSS warm: ${(warmRss / 1024).toFixed(0)} MB; after the run: ${
        ((await statusKb(pid, "VmRSS")) / 1024).toFixed(0)
      } MB`,
    );
    console.log(`saved ${await saveResult("webhook-memory", { repeat: REPEAT, results })}`);
  } finally {
    await sql.end();
    await stack.close();
  }
}

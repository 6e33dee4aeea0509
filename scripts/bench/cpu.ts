// bench:cpu — the CPU each function spends per request, against hosted Edge Functions' 2 s limit
// (https://supabase.com/docs/guides/functions/limits: "Maximum CPU Time: 2s … per request";
// over it the request fails with 546). Every function runs in its own process on the edge
// runtime's Deno behind the local gateway; requests go one at a time, and the process's CPU time
// is read from /proc (all its threads) before and after each, so the figure includes GC and
// everything the runtime does for that request. The baseline is the same process answering a
// request that does nothing (a 404 route), measured in the same run.

import { connect } from "../../supabase/functions/_shared/platform/db.ts";
import { signChatwootPayload } from "../../supabase/functions/_shared/chatwoot/signature.ts";
import { newRouteToken, routeTokenHash } from "../../supabase/functions/_shared/chatwoot/accounts.ts";
import { parseChatwootEvent } from "../../supabase/functions/_shared/chatwoot/events.ts";
import { normalizeChatwootEvent } from "../../supabase/functions/_shared/chatwoot/normalize.ts";
import { ingestDelivery, mirrorRows } from "../../supabase/functions/_shared/chatwoot/ingest.ts";
import { signUserToken } from "../local/supabase/keys.ts";
import { fixture, insertLinkedAccount } from "../testing/chatwoot.ts";
import { root, type Stack, startStack } from "../stack/stack.ts";
import { percentile, printTable, saveResult } from "./harness.ts";
import { freePort } from "../stack/proc.ts";

const LIMIT_MS = 2000;
const REPEAT = Number(Deno.env.get("BENCH_CPU_REPEAT") ?? 5);
const MEDIA_BYTES = Number(Deno.env.get("BENCH_CPU_MEDIA_BYTES") ?? 25 * 1024 * 1024);
const ARCHIVE_JOBS = Number(Deno.env.get("BENCH_CPU_ARCHIVE_JOBS") ?? 30);
const ACME_OWNER = "00000000-0000-4000-8000-00000000a001";
const PLATFORM_ADMIN = "00000000-0000-4000-8000-00000000f001";

/** CPU time of a process and all its threads so far, in ms (schedstat: ns on CPU). */
async function processCpuMs(pid: number): Promise<number> {
  let ns = 0;
  for await (const t of Deno.readDir(`/proc/${pid}/task`)) {
    const stat = await Deno.readTextFile(`/proc/${pid}/task/${t.name}/schedstat`).catch(() => "0");
    ns += Number(stat.split(" ")[0]);
  }
  return ns / 1e6;
}

interface Workload {
  fn: string;
  what: string;
  /** One request; resolves when its answer is fully read. */
  request: () => Promise<number>;
  repeat?: number;
  /** The status a successful request gets (a refused request would measure the wrong work). */
  expect?: number[];
}

async function measure(stack: Stack, w: Workload): Promise<number[]> {
  const pid = stack.gateway.functionPid(w.fn)!;
  const out: number[] = [];
  for (let i = 0; i < (w.repeat ?? REPEAT); i++) {
    const before = await processCpuMs(pid);
    const status = await w.request();
    // The process may still be finishing its answer's bookkeeping: let it settle.
    await new Promise((r) => setTimeout(r, 30));
    out.push((await processCpuMs(pid)) - before);
    if (!(w.expect ?? [200]).includes(status)) throw new Error(`${w.fn} ${w.what}: HTTP ${status}`);
  }
  return out;
}

const done = (res: Response) => res.arrayBuffer().then(() => res.status);

function markdownOf(bytes: number): string {
  const section = (i: number) =>
    `## Section ${i}\n\nOrders ship within one business day. Returns are free for thirty days; ` +
    `exchanges take five to seven days. Item ${i} is covered by a two-year warranty.\n\n`;
  let s = "# Handbook\n\n";
  for (let i = 0; s.length < bytes; i++) s += section(i);
  return s;
}

export async function benchCpu() {
  const stateDir = `${root}/.local/bench-cpu-${Date.now()}`;
  const stack = await startStack({
    stateDir,
    dbPort: freePort(),
    apiPort: freePort(),
    seed: true,
    jobDriver: false,
    pooler: true,
    gcs: { port: freePort() },
    openai: { port: freePort() },
    functionEnv: { WEBHOOK_MAX_BODY_BYTES: String(16 * 1024 * 1024) },
  });
  const sql = connect(stack.dbUrl, { max: 4 });
  const media = new Uint8Array(MEDIA_BYTES);
  for (let i = 0; i < MEDIA_BYTES; i += 65536) {
    crypto.getRandomValues(media.subarray(i, Math.min(MEDIA_BYTES, i + 65536)));
  }
  const mediaServer = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    () => new Response(media, { headers: { "content-type": "audio/ogg" } }),
  );
  const mediaUrl = `http://127.0.0.1:${mediaServer.addr.port}/voice.ogg`;
  const f = (fn: string, path = "") => `${stack.functionsUrl}/${fn}${path}`;
  try {
    const account = await insertLinkedAccount(sql);
    // The agent bot's route for the same store (what enabling the bot writes).
    const botToken = newRouteToken();
    await sql`insert into private.ai_bot_secrets (store_id, access_token, route_token_hash, webhook_secret)
              values (${account.storeId}, 'bench', ${routeTokenHash(botToken)}, ${account.secret})`;
    const admin = await signUserToken(stack.signer, { id: PLATFORM_ADMIN, app_metadata: { platform_admin: true } });
    const owner = await signUserToken(stack.signer, { id: ACME_OWNER, app_metadata: {} });
    const user = (token: string) => ({ authorization: `Bearer ${token}`, apikey: stack.publishableKey });
    let n = 0;
    const message = (extra: Record<string, unknown> = {}) => {
      const t = fixture("whatsapp-text.message_created.json") as Record<string, unknown> & {
        conversation: Record<string, unknown>;
      };
      n++;
      return JSON.stringify({
        ...t,
        id: 7_000_000 + n,
        source_id: `wamid.cpu${n}`,
        created_at: new Date().toISOString(),
        conversation: { ...t.conversation, id: 3000 + n, updated_at: Date.now() / 1000, messages: [] },
        ...extra,
      });
    };
    const signed = (fn: string, token: string, body: string) => {
      const ts = Math.floor(Date.now() / 1000);
      return fetch(f(fn, `/${token}`), {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-chatwoot-delivery": crypto.randomUUID(),
          "x-chatwoot-timestamp": String(ts),
          "x-chatwoot-signature": signChatwootPayload(account.secret, ts, body),
        },
        body,
      }).then(done);
    };
    // An e-mail with long HTML, which Chatwoot puts in content_attributes twice.
    const html = `<html><body>${"<p>Hello, I have a question about my order.</p>".repeat(9000)}</body></html>`;
    const email = () =>
      message({
        content: html.slice(0, 150_000),
        content_attributes: { email: { html_content: { full: html, reply: html } } },
      });
    const doc = markdownOf(Number(Deno.env.get("BENCH_CPU_DOC_BYTES") ?? 4.5 * 1024 * 1024));

    const workloads: Workload[] = [
      { fn: "health", what: "GET /health", request: () => fetch(f("health")).then(done) },
      {
        fn: "chatwoot-webhook",
        what: "WhatsApp message",
        request: () => signed("chatwoot-webhook", account.routeToken, message()),
      },
      {
        fn: "chatwoot-webhook",
        what: `e-mail, ${(email().length / 1024 / 1024).toFixed(1)} MiB`,
        request: () => signed("chatwoot-webhook", account.routeToken, email()),
      },
      { fn: "chatwoot-bot", what: "customer message", request: () => signed("chatwoot-bot", botToken, message()) },
      {
        fn: "admin-api",
        what: "GET /me",
        request: () => fetch(f("admin-api", "/me"), { headers: user(admin) }).then(done),
      },
      {
        fn: "admin-api",
        what: "GET /unmapped",
        request: () => fetch(f("admin-api", "/unmapped"), { headers: user(admin) }).then(done),
      },
      {
        fn: "admin-api",
        what: `knowledge upload, ${(doc.length / 1024 / 1024).toFixed(0)} MiB Markdown`,
        repeat: 2,
        request: () =>
          fetch(f("admin-api", `/stores/acme/kb/documents?source_name=handbook-${crypto.randomUUID()}.md`), {
            method: "POST",
            headers: { ...user(owner), "content-type": "text/markdown" },
            body: doc.replace("# Handbook", `# Handbook ${crypto.randomUUID()}`),
          }).then(done),
        expect: [201],
      },
      {
        fn: "chatwoot-account-manager",
        what: "GET /widget",
        request: () => fetch(f("chatwoot-account-manager", "/widget?store=acme"), { headers: user(owner) }).then(done),
        // acme is not provisioned while the bench runs without a job driver: the store lookup is the work.
        expect: [200, 404],
      },
      {
        fn: "archive-admin",
        what: "GET /queue",
        request: () => fetch(f("archive-admin", "/queue"), { headers: user(admin) }).then(done),
      },
    ];
    const rows: Record<string, string | number>[] = [];
    const baselines = new Map<string, number>();
    for (const fn of new Set([...workloads.map((w) => w.fn), "jobs-worker"])) {
      const nothing: Workload = {
        fn,
        what: "a refused request",
        request: () => fetch(f(fn, "/__nothing__"), { method: "DELETE" }).then(done),
        expect: [400, 401, 404, 405],
      };
      await measure(stack, { ...nothing, repeat: 3 }); // warm-up
      baselines.set(fn, percentile((await measure(stack, nothing)).sort((a, b) => a - b), 50));
    }
    for (const w of workloads) {
      await measure(stack, { ...w, repeat: 1 }); // warm-up: JIT, pools, caches
      const cpu = (await measure(stack, w)).sort((a, b) => a - b);
      rows.push(row(w.fn, w.what, cpu, baselines.get(w.fn)!));
    }

    // The worker: archive jobs with a 25 MiB medium each (CRC32C and SHA-256 of every byte), one
    // invocation at a time as pg_cron makes them, until the queue is empty.
    const voice = fixture("whatsapp-voice-note.message_created.json") as Record<string, unknown> & {
      attachments: Record<string, unknown>[];
      conversation: Record<string, unknown>;
    };
    for (let i = 0; i < ARCHIVE_JOBS; i++) {
      const id = 8_000_000 + i;
      const event = parseChatwootEvent({
        ...voice,
        id,
        source_id: `wamid.cpuarchive${i}`,
        attachments: voice.attachments.map((a) => ({
          ...a,
          id: 900_000 + i,
          message_id: id,
          data_url: mediaUrl,
          file_size: MEDIA_BYTES,
        })),
        conversation: { ...voice.conversation, id: 9000 + i, messages: [] },
      });
      if (!event.ok) throw new Error("fixture no longer parses");
      await ingestDelivery(sql, {
        accountRef: account.accountRef,
        deliveryId: `cpu-archive-${i}`,
        event: "message_created",
        rows: mirrorRows(normalizeChatwootEvent(event.event, account.accountId)),
      });
    }
    const worker: Workload = {
      fn: "jobs-worker",
      what: `archive jobs, ${(MEDIA_BYTES / 1024 / 1024).toFixed(0)} MiB medium each`,
      request: () =>
        fetch(f("jobs-worker"), { method: "POST", headers: { apikey: stack.secretKey }, body: "{}" }).then(done),
      repeat: 1,
      expect: [200],
    };
    const perRun: number[] = [];
    const claimedPerRun: number[] = [];
    for (let i = 0; i < 200; i++) {
      const [r] =
        await sql`select count(*)::int as n from private.jobs where kind = 'archive.message' and status <> 'completed' and status <> 'dead'`;
      if (r.n === 0) break;
      const before =
        (await sql`select count(*)::int as n from private.jobs where kind = 'archive.message' and status = 'completed'`)[
          0
        ].n;
      perRun.push(...(await measure(stack, worker)));
      const after =
        (await sql`select count(*)::int as n from private.jobs where kind = 'archive.message' and status = 'completed'`)[
          0
        ].n;
      claimedPerRun.push(after - before);
    }
    const [dead] =
      await sql`select count(*)::int as n from private.jobs where kind = 'archive.message' and status = 'dead'`;
    rows.push(
      row(
        "jobs-worker",
        `${worker.what}: ${perRun.length} runs, ≤ ${Math.max(...claimedPerRun)} jobs per run, ${dead.n} dead`,
        [...perRun].sort((a, b) => a - b),
        baselines.get("jobs-worker")!,
      ),
    );
    printTable(rows);
    const path = await saveResult("cpu", { at: new Date().toISOString(), limit_ms: LIMIT_MS, rows });
    console.log(`\nsaved ${path}`);
  } finally {
    await mediaServer.shutdown();
    await sql.end();
    await stack.close();
    await Deno.remove(stateDir, { recursive: true }).catch(() => {});
  }
}

function row(fn: string, what: string, sorted: number[], baseline: number) {
  const worst = sorted.at(-1)!;
  return {
    function: fn,
    request: what,
    "CPU p50 ms": Math.round(percentile(sorted, 50)),
    "CPU worst ms": Math.round(worst),
    "of 2 s limit": `${Math.round((worst / LIMIT_MS) * 100)}%`,
    "× baseline": Math.round((worst / Math.max(baseline, 0.1)) * 10) / 10,
    "baseline ms": Math.round(baseline * 10) / 10,
  };
}

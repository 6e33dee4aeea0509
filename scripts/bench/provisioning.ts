// bench:provisioning — 200 stores created at once in one statement ('auto': the insert trigger
// enqueues 200 chatwoot.provision jobs), provisioned by 4 in-process workers running the
// jobs-worker's own loop (drainQueue) and handlers (provisioningJobHandlers) with the shared
// Postgres rate limiter at Chatwoot's default 3,000 requests/min, against the Chatwoot sandbox
// with 5% of its API requests faulty (429 with Retry-After 1, 500 and work_then_drop in equal
// shares). Reports time to all-active, Chatwoot requests per store, duplicates in Chatwoot (must
// be 0) and the share of job time spent waiting on the rate limiter, next to a fault-free run of
// 50 stores measured in the same run. Failed jobs are retried with the queue's real backoff
// (5 s base, doubling per attempt, jittered): nothing is fast-forwarded, the time to all-active
// includes it.

import { connect, type Sql } from "../../supabase/functions/_shared/platform/db.ts";
import { ChatwootError } from "../../supabase/functions/_shared/chatwoot/client.ts";
import { postgresRateLimiter, type RateLimiter } from "../../supabase/functions/_shared/chatwoot/rate_limit.ts";
import { drainQueue, type DrainSummary, type JobKind } from "../../supabase/functions/_shared/jobs/queue.ts";
import { createMemoryLogger } from "../../supabase/functions/_shared/platform/log.ts";
import { provisioningJobHandlers } from "../../supabase/functions/_shared/chatwoot/provisioner.ts";
import { type RunningSandbox, startSandbox } from "../local/chatwoot/server.ts";
import { root, type Stack, startStack } from "../stack/stack.ts";
import { percentile, printTable, saveResult } from "./harness.ts";
import { freePort } from "../stack/proc.ts";

const STORES = Number(Deno.env.get("BENCH_STORES") ?? 200);
const BASELINE_STORES = Number(Deno.env.get("BENCH_BASELINE_STORES") ?? 50);
const FAULT_RATE = Number(Deno.env.get("BENCH_FAULT_RATE") ?? 0.05);
const WORKERS = Number(Deno.env.get("BENCH_WORKERS") ?? 4);
const PHASE_TIMEOUT_MS = Number(Deno.env.get("BENCH_PHASE_TIMEOUT_S") ?? 120) * 1000;
// The jobs-worker's defaults (JOBS_BATCH_SIZE, JOBS_VISIBILITY_SECONDS, JOBS_LINGER_MS,
// DB_POOL_SIZE, CHATWOOT_REQUESTS_PER_MINUTE).
const BATCH = 20;
const VISIBILITY_SECONDS = 60;
const LINGER_MS = 20;
const POOL = 5;
const PER_MINUTE = 3000;
const FAULT_MODES = ["429", "500", "work_then_drop"] as const;
const FAULTY = `${Math.round(FAULT_RATE * 1000) / 10}% faults`;
/** Chatwoot calls a store needs when nothing goes wrong: account, user, membership, token, web
 * widget and API inboxes (+ e-mail inbox with a support address), list webhooks, create webhook. */
const minRequests = (supportEmail: string | null) => 8 + (supportEmail ? 1 : 0);

/** What one run observed: requests as Chatwoot received them, attempts as the clients sent them
 * (one limiter acquisition each), limiter waiting, job time and job errors. */
interface Meter {
  received: number;
  faulty: number;
  faultsByMode: Map<string, number>;
  byRoute: Map<string, number>;
  acquired: number;
  limiterWaitMs: number;
  limiterMs: number;
  jobMs: number;
  jobRuns: number;
  errorsByKind: Map<string, number>;
  errorsByStore: Map<string, string[]>;
}

function newMeter(): Meter {
  return {
    received: 0,
    faulty: 0,
    faultsByMode: new Map(),
    byRoute: new Map(),
    acquired: 0,
    limiterWaitMs: 0,
    limiterMs: 0,
    jobMs: 0,
    jobRuns: 0,
    errorsByKind: new Map(),
    errorsByStore: new Map(),
  };
}

const bump = (m: Map<string, number>, k: string, n = 1) => m.set(k, (m.get(k) ?? 0) + n);

/** Counts every Chatwoot API request at the sandbox, and which fault (if any) it got. The
 * sandbox picks a request's faults synchronously before its first await, so comparing the rules'
 * applied counters around the call attributes the fault to this request. */
function meterSandbox(cw: RunningSandbox, current: () => Meter | null) {
  const inner = cw.sandbox.handler;
  const applied = () => new Map(cw.sandbox.faults.list().map((r) => [r.id, r.applied]));
  cw.sandbox.handler = (req: Request) => {
    const path = new URL(req.url).pathname;
    const meter = current();
    if (!meter || (!path.startsWith("/api/") && !path.startsWith("/platform/"))) return inner(req);
    meter.received++;
    bump(meter.byRoute, `${req.method} ${path.replace(/\/\d+(?=\/|$)/g, "/:id")}`);
    const before = applied();
    const response = inner(req);
    const fired = cw.sandbox.faults.list().find((r) => r.applied > (before.get(r.id) ?? 0));
    if (fired) {
      meter.faulty++;
      bump(meter.faultsByMode, fired.mode);
    }
    return response;
  };
}

function meteredLimiter(limiter: RateLimiter, meter: Meter): RateLimiter {
  return {
    async acquire(key) {
      const t = performance.now();
      const waited = await limiter.acquire(key);
      meter.limiterMs += performance.now() - t;
      meter.limiterWaitMs += waited;
      meter.acquired++;
      return waited;
    },
  };
}

function describeError(err: unknown): string {
  if (err instanceof ChatwootError) return `${err.kind}${err.status ? ` ${err.status}` : ""}`;
  return err instanceof Error ? err.name : "error";
}

function timed(kind: JobKind, meter: Meter): JobKind {
  return {
    payload: kind.payload,
    async run(job, ctx) {
      const t = performance.now();
      try {
        await kind.run(job, ctx);
      } catch (err) {
        bump(meter.errorsByKind, describeError(err));
        // Provisioning jobs carry their store (the stores trigger enqueues them with it).
        const storeId = String(job.store_id);
        const list = meter.errorsByStore.get(storeId) ?? [];
        list.push(`attempt ${job.attempts}: ${err instanceof Error ? err.message : String(err)}`);
        meter.errorsByStore.set(storeId, list);
        throw err;
      } finally {
        meter.jobMs += performance.now() - t;
        meter.jobRuns++;
      }
    },
  };
}

interface BenchStore {
  id: string;
  slug: string;
  supportEmail: string | null;
}

/** `count` realistic stores in one transaction, the stores themselves in one statement: two in
 * three with a support address, every other one with an owner (some owners have two stores). */
async function insertStores(sql: Sql, label: string, count: number): Promise<BenchStore[]> {
  const run = `${label}-${Date.now().toString(36)}`;
  const n = (i: number) => String(i + 1).padStart(3, "0");
  const slugs = Array.from({ length: count }, (_, i) => `bench-${run}-${n(i)}`);
  const names = slugs.map((_, i) => `Tienda ${label} ${n(i)}`);
  const domains = slugs.map((s) => `${s}.test`);
  const emails = slugs.map((s, i) => (i % 3 === 2 ? null : `help@${s}.test`));
  const ownerCount = Math.ceil(Math.ceil(count / 2) * 0.75);
  const ownerIds = Array.from({ length: ownerCount }, () => crypto.randomUUID());
  return await sql.begin(async (tx) => {
    await tx`
      insert into auth.users (id, email, raw_app_meta_data, raw_user_meta_data, email_confirmed_at)
      select id, format('owner-%s-%s@bench.test', ${run}::text, ord), '{"provider":"email","providers":["email"]}',
             jsonb_build_object('full_name', format('Owner %s', ord)), now()
      from unnest(${ownerIds}::uuid[]) with ordinality as u(id, ord)`;
    const rows = await tx`
      insert into public.stores (slug, name, domain, support_email, chatwoot_provisioning)
      select slug, name, domain, support_email, 'auto'
      from unnest(${slugs}::text[], ${names}::text[], ${domains}::text[], ${emails}::text[])
        as s(slug, name, domain, support_email)
      returning id, slug, support_email`;
    const bySlug = new Map(rows.map((r) => [r.slug as string, r]));
    const owned = slugs.map((s, i) => ({ store: bySlug.get(s)!.id as string, i })).filter(({ i }) => i % 2 === 0);
    await tx`
      insert into public.store_members (store_id, user_id, role)
      select store_id, user_id, 'owner'
      from unnest(${owned.map((o) => o.store)}::uuid[], ${
      owned.map((_, k) => ownerIds[k % ownerCount])
    }::uuid[]) as m(store_id, user_id)`;
    return slugs.map((s) => {
      const r = bySlug.get(s)!;
      return { id: r.id as string, slug: s, supportEmail: r.support_email as string | null };
    });
  });
}

interface RunResult {
  stores: BenchStore[];
  meter: Meter;
  summary: DrainSummary;
  wallS: number;
  timedOut: boolean;
}

/** Inserts the stores, runs WORKERS workers (each with its own pool and limiter instance, as
 * separate jobs-worker invocations would) until every store is active or failed. */
async function provisionRun(stack: Stack, cw: RunningSandbox, label: string, count: number, meter: Meter) {
  const monitor = connect(stack.dbUrl, { max: 2 });
  const pools = Array.from(
    { length: WORKERS },
    (_, w) => connect(stack.dbUrl, { max: POOL, applicationName: `bench-provisioning-${w}` }),
  );
  let done = false;
  let timedOut = false;
  const t0 = performance.now();
  const working = Promise.all(pools.map((sql, w) =>
    drainQueue({
      sql,
      registry: {
        "chatwoot.provision": timed(
          provisioningJobHandlers({
            sql,
            chatwootUrl: cw.url,
            platformToken: cw.sandbox.platformToken,
            functionsUrl: stack.functionsUrl,
            limiter: meteredLimiter(postgresRateLimiter(sql, { perMinute: PER_MINUTE }), meter),
          })["chatwoot.provision"],
          meter,
        ),
      },
      log: createMemoryLogger(),
      worker: `bench-${label}-${w}`,
      limit: BATCH,
      visibilitySeconds: VISIBILITY_SECONDS,
      timeBudgetMs: PHASE_TIMEOUT_MS + 10_000,
      lingerMs: LINGER_MS,
      exitWhenIdle: false,
      shouldStop: () => done,
    })
  ));
  const stores = await insertStores(monitor, label, count);
  const storeIds = stores.map((s) => s.id);
  while (!done) {
    await new Promise((r) => setTimeout(r, 100));
    const [row] = await monitor`
      select count(*) filter (where state in ('active', 'failed'))::int as finished
      from public.chatwoot_provisioning where store_id = any(${storeIds}::uuid[])`;
    if (row.finished === storeIds.length) done = true;
    else if (performance.now() - t0 > PHASE_TIMEOUT_MS) done = timedOut = true;
  }
  const summaries = await working;
  const wallS = (performance.now() - t0) / 1000;
  await monitor.end();
  await Promise.all(pools.map((p) => p.end()));
  const summary = summaries.reduce((a, s) => ({
    claimed: a.claimed + s.claimed,
    completed: a.completed + s.completed,
    retried: a.retried + s.retried,
    dead: a.dead + s.dead,
    lost: a.lost + s.lost,
    released: a.released + s.released,
    deferred: a.deferred + s.deferred,
    batches: a.batches + s.batches,
    cpu_ms: a.cpu_ms + s.cpu_ms,
  }));
  return { stores, meter, summary, wallS, timedOut } satisfies RunResult;
}

interface StoreCheck {
  store: BenchStore;
  accounts: number[];
  admins: number;
  inboxes: Record<string, number[]>;
  webhooks: number[];
  recorded: Record<string, unknown>;
  duplicate: boolean;
  complete: boolean;
}

/** What Chatwoot holds per store, through its own APIs: accounts tagged with the store (Platform
 * API), and in the store's account its administrators, inboxes by kind and webhooks. */
async function checkChatwoot(sql: Sql, cw: RunningSandbox, stores: BenchStore[]): Promise<StoreCheck[]> {
  const call = async (path: string, token: string) => {
    const res = await fetch(`${cw.url}${path}`, { headers: { "Api-Access-Token": token, accept: "application/json" } });
    if (!res.ok) throw new Error(`GET ${path} → ${res.status}: ${await res.text()}`);
    return await res.json();
  };
  const platformToken = cw.sandbox.platformToken;
  const tagged = new Map<string, number[]>();
  for (const a of await call("/platform/api/v1/accounts", platformToken)) {
    const storeId = a.custom_attributes?.switchboard_store_id;
    if (typeof storeId === "string") tagged.set(storeId, [...(tagged.get(storeId) ?? []), a.id]);
  }
  const rows = await sql`
    select p.store_id, p.state, p.account_id, p.admin_user_id, p.widget_inbox_id, p.api_inbox_id, p.email_inbox_id,
           p.webhook_id, p.attempts, s.admin_api_token
    from public.chatwoot_provisioning p
    left join private.chatwoot_provisioning_secrets s on s.store_id = p.store_id
    where p.store_id = any(${stores.map((s) => s.id)}::uuid[])`;
  const byStore = new Map(rows.map((r) => [r.store_id as string, r]));
  const checks: StoreCheck[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < stores.length) {
      const store = stores[next++];
      const row = byStore.get(store.id)!;
      const accounts = (tagged.get(store.id) ?? []).sort((a, b) => a - b);
      const inboxes: Record<string, number[]> = {};
      let webhooks: number[] = [];
      let admins = 0;
      if (row.account_id !== null && row.admin_api_token) {
        const users = await call(`/platform/api/v1/accounts/${row.account_id}/account_users`, platformToken);
        admins = users.filter((u: { role: string }) => u.role === "administrator").length;
        const ib = await call(`/api/v1/accounts/${row.account_id}/inboxes`, row.admin_api_token);
        for (const i of ib.payload) inboxes[i.channel_type] = [...(inboxes[i.channel_type] ?? []), i.id];
        const wh = (await call(`/api/v1/accounts/${row.account_id}/webhooks`, row.admin_api_token)).payload;
        webhooks = (Array.isArray(wh) ? wh : wh.webhooks).map((w: { id: number }) => w.id);
      }
      const expected = ["Channel::WebWidget", "Channel::Api", ...(store.supportEmail ? ["Channel::Email"] : [])];
      const duplicate = accounts.length > 1 || admins > 1 || webhooks.length > 1 ||
        Object.values(inboxes).some((ids) => ids.length > 1);
      const complete = accounts.length === 1 && accounts[0] === row.account_id && admins === 1 &&
        webhooks.length === 1 && webhooks[0] === row.webhook_id &&
        expected.every((k) => inboxes[k]?.length === 1) && Object.keys(inboxes).length === expected.length &&
        inboxes["Channel::WebWidget"]?.[0] === row.widget_inbox_id &&
        inboxes["Channel::Api"]?.[0] === row.api_inbox_id &&
        (!store.supportEmail || inboxes["Channel::Email"]?.[0] === row.email_inbox_id);
      const { admin_api_token: _token, ...recorded } = row;
      checks.push({ store, accounts, admins, inboxes, webhooks, recorded, duplicate, complete });
    }
  }));
  return checks;
}

async function report(sql: Sql, cw: RunningSandbox, label: string, faults: string, r: RunResult) {
  const ids = r.stores.map((s) => s.id);
  const [t] = await sql`
    select count(*) filter (where state = 'active')::int as active,
           count(*) filter (where state = 'failed')::int as failed,
           extract(epoch from max(activated_at) - min(created_at))::float8 as all_active_s,
           array_agg(extract(epoch from activated_at - created_at)::float8 order by activated_at)
             filter (where activated_at is not null) as times
    from public.chatwoot_provisioning where store_id = any(${ids}::uuid[])`;
  const [jobs] = await sql`
    select coalesce(sum(attempts), 0)::int as attempts,
           count(*) filter (where attempts > 1)::int as retried_stores,
           coalesce(max(attempts), 0)::int as max_attempts,
           count(*) filter (where last_error like '%timed out%')::int as timeouts
    from private.jobs where kind = 'chatwoot.provision' and store_id = any(${ids}::uuid[])`;
  const checks = await checkChatwoot(sql, cw, r.stores);
  const times = (t.times ?? []) as number[];
  times.sort((a, b) => a - b);
  const min = r.stores.reduce((n, s) => n + minRequests(s.supportEmail), 0) / r.stores.length;
  const m = r.meter;
  const row = {
    run: label,
    stores: r.stores.length,
    faults,
    active: t.active as number,
    failed: t.failed as number,
    "all-active s": Math.round(((t.all_active_s as number | null) ?? NaN) * 10) / 10,
    "p50 s": Math.round(percentile(times, 50) * 10) / 10,
    "p95 s": Math.round(percentile(times, 95) * 10) / 10,
    "stores/s": Math.round((r.stores.length / (t.all_active_s as number)) * 10) / 10,
    requests: m.received,
    "req/store": Math.round((m.received / r.stores.length) * 100) / 100,
    "min req/store": Math.round(min * 100) / 100,
    "job runs": m.jobRuns,
    "retried stores": jobs.retried_stores as number,
    "limiter wait %": Math.round((m.limiterWaitMs / m.jobMs) * 1000) / 10,
    "in limiter %": Math.round((m.limiterMs / m.jobMs) * 1000) / 10,
    duplicates: checks.filter((c) => c.duplicate).length,
    incomplete: checks.filter((c) => !c.complete).length,
  };
  return { row, checks, jobs, times, min };
}

export async function benchProvisioning() {
  const stateDir = `${root}/.local/bench-provisioning-${Date.now()}`;
  const stack = await startStack({
    stateDir,
    dbPort: freePort(),
    apiPort: freePort(),
    seed: false,
    jobDriver: false, // the benchmark's own, instrumented workers run the jobs
  });
  const cw = await startSandbox({ port: freePort(), log: undefined });
  // The run being measured; null while the benchmark itself reads Chatwoot (the checks).
  let meter: Meter | null = newMeter();
  meterSandbox(cw, () => meter);
  const sql = connect(stack.dbUrl, { max: 4 });
  try {
    console.log(
      `bench:provisioning — ${STORES} stores inserted at once, ${WORKERS} workers (batch ${BATCH}), ` +
        `rate limiter ${PER_MINUTE}/min shared through Postgres, Chatwoot sandbox with ${FAULT_RATE * 100}% ` +
        `faulty API requests (${FAULT_MODES.join(", ")}); baseline: ${BASELINE_STORES} stores, no faults.\n` +
        `Failed jobs wait out the queue's real retry backoff (5 s base, doubling, jittered): not fast-forwarded.\n`,
    );

    // Fault-free baseline first, on the same stack, sandbox and limiter bucket.
    const baseline = await provisionRun(stack, cw, "base", BASELINE_STORES, meter);
    meter = null;
    const base = await report(sql, cw, "baseline", "none", baseline);
    await new Promise((r) => setTimeout(r, 1500)); // let the limiter's bucket refill its burst

    // Every Chatwoot API request (Platform and Application API, any method) may fail, each mode
    // with an equal share of FAULT_RATE; a 429 says Retry-After: 1 like Rack::Attack would.
    meter = newMeter();
    for (const mode of FAULT_MODES) {
      cw.sandbox.faults.add({
        mode,
        probability: FAULT_RATE / FAULT_MODES.length,
        ...(mode === "429" ? { retry_after: 1 } : {}),
      });
    }
    const faulty = await provisionRun(stack, cw, "faults", STORES, meter);
    meter = null;
    const rules = cw.sandbox.faults.list();
    cw.sandbox.faults.clear(); // the checks below read Chatwoot without faults
    const injected = `${faulty.meter.faulty} (${(faulty.meter.faulty / faulty.meter.received * 100).toFixed(1)}%)`;
    const main = await report(sql, cw, FAULTY, injected, faulty);

    printTable([base.row, main.row]);

    const perStore = (r: RunResult, s: number) => s / r.stores.length;
    const timeRatio = perStore(faulty, main.row["all-active s"]) / perStore(baseline, base.row["all-active s"]);
    const requestRatio = main.row["req/store"] / base.row["req/store"];
    console.log(
      `\nwith faults vs baseline: time per store ×${timeRatio.toFixed(2)}, requests per store ×${
        requestRatio.toFixed(2)
      }`,
    );
    console.log(
      `faults injected: ${rules.map((r) => `${r.mode} ${r.applied} (p=${r.probability?.toFixed(4)})`).join(", ")} — ${
        rules.reduce((n, r) => n + r.applied, 0)
      } firings on ${faulty.meter.faulty} of ${faulty.meter.received} ` +
        `requests (${(faulty.meter.faulty / faulty.meter.received * 100).toFixed(1)}%; a request drawing two ` +
        `faults gets the first)`,
    );
    for (const [label, r, rep] of [["baseline", baseline, base], [FAULTY, faulty, main]] as const) {
      const m = r.meter;
      console.log(
        `${label}: client attempts ${m.acquired} (Chatwoot received ${m.received}); job runs ${m.jobRuns}, ` +
          `max attempts per store ${rep.jobs.max_attempts}, handler timeouts ${rep.jobs.timeouts}; ` +
          `job time ${(m.jobMs / 1000).toFixed(1)} s, of it limiter sleep ${(m.limiterWaitMs / 1000).toFixed(1)} s ` +
          `(${rep.row["limiter wait %"]}%), in the limiter incl. its queries ${(m.limiterMs / 1000).toFixed(1)} s; ` +
          `wall ${r.wallS.toFixed(1)} s${r.timedOut ? " (TIMED OUT)" : ""}; drain ${JSON.stringify(r.summary)}`,
      );
      if (m.errorsByKind.size) {
        console.log(`  job errors: ${[...m.errorsByKind].map(([k, n]) => `${k} ×${n}`).join(", ")}`);
      }
    }
    const routes = [...new Set([...baseline.meter.byRoute.keys(), ...faulty.meter.byRoute.keys()])].sort();
    console.log("\nChatwoot requests per store, by route:");
    printTable(routes.map((route) => ({
      route,
      baseline: Math.round(perStore(baseline, baseline.meter.byRoute.get(route) ?? 0) * 100) / 100,
      [FAULTY]: Math.round(perStore(faulty, faulty.meter.byRoute.get(route) ?? 0) * 100) / 100,
    })));

    for (const [label, rep, r] of [["baseline", base, baseline], [FAULTY, main, faulty]] as const) {
      for (const c of rep.checks.filter((c) => c.duplicate || !c.complete)) {
        console.log(
          `\n${label}: ${c.duplicate ? "DUPLICATE" : "incomplete"} store ${c.store.slug} (${c.store.id}): ` +
            JSON.stringify({ accounts: c.accounts, admins: c.admins, inboxes: c.inboxes, webhooks: c.webhooks }) +
            `\n  recorded ${JSON.stringify(c.recorded)}\n  job errors: ${
              (r.meter.errorsByStore.get(c.store.id) ?? []).join(" | ") || "none"
            }`,
        );
      }
    }

    const path = await saveResult("provisioning", {
      at: new Date().toISOString(),
      workers: WORKERS,
      batch: BATCH,
      requests_per_minute: PER_MINUTE,
      backoff: "real (5 s base, doubling, jittered)",
      rows: [base.row, main.row],
      time_per_store_ratio: timeRatio,
      requests_per_store_ratio: requestRatio,
      faults: rules.map((r) => ({ mode: r.mode, probability: r.probability, applied: r.applied })),
      runs: Object.fromEntries(
        ([["baseline", baseline, base], ["faults", faulty, main]] as const).map(([k, r, rep]) => [k, {
          client_attempts: r.meter.acquired,
          received: r.meter.received,
          faulty_requests: r.meter.faulty,
          faulty_requests_by_mode: Object.fromEntries(r.meter.faultsByMode),
          job_runs: r.meter.jobRuns,
          job_ms: Math.round(r.meter.jobMs),
          limiter_wait_ms: r.meter.limiterWaitMs,
          limiter_ms: Math.round(r.meter.limiterMs),
          job_errors: Object.fromEntries(r.meter.errorsByKind),
          drain: r.summary,
          by_route: Object.fromEntries(r.meter.byRoute),
          duplicates: rep.checks.filter((c) => c.duplicate).map((c) => ({ ...c, store: c.store.id })),
        }]),
      ),
    });
    console.log(`\nsaved ${path}`);
  } finally {
    await sql.end();
    await cw.close();
    await stack.close();
    await Deno.remove(stateDir, { recursive: true }).catch(() => {});
  }
}

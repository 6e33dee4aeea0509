// The metrics endpoint as a Prometheus server sees it: only the secret key scrapes; the output is
// read by a real Prometheus text parser (parse-prometheus-text-format, the one Grafana's and
// others' tooling use in JS); deliveries sent through the gateway show up as counters and a
// histogram once their receiver flushed; derived figures appear after the minute's rollup.

import assert from "node:assert/strict";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { connect } from "../_shared/platform/db.ts";
import { testStack, waitFor } from "../../../scripts/testing/env.ts";
import { deliver, fixture, insertLinkedAccount } from "../../../scripts/testing/chatwoot.ts";
import { signUserToken } from "../../../scripts/local/supabase/keys.ts";
import { createMemoryLogger } from "../_shared/platform/log.ts";
import { WEBHOOK_PROCESSING_BOUNDS } from "../_shared/metrics/recorder.ts";
import { handler } from "./handler.ts";

const stack = testStack();
const opts = { sanitizeOps: false, sanitizeResources: false };
const url = `${stack.apiUrl}/functions/v1/metrics`;

interface ParsedFamily {
  name: string;
  help: string;
  type: string;
  metrics: { value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string }[];
}

let lastText = "";

async function scrape(): Promise<Map<string, ParsedFamily>> {
  const res = await fetch(url, { headers: { apikey: stack.secretKey } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  lastText = await res.text();
  const families = parsePrometheusTextFormat(lastText) as ParsedFamily[];
  return new Map(families.map((f) => [f.name, f]));
}

/** One series of a histogram family, parsed on its own: the parser folds every labelled series of a
 * histogram into one bucket map (flattenMetrics in parse-prometheus-text-format 1.1.1), so a
 * series is cut out of the scraped text first. Its `+Inf` bucket is its count. */
function histogramSeries(name: string, labels: Record<string, string>): Record<string, string> | undefined {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const lines = lastText.split("\n").filter((l) =>
    l.startsWith(`# HELP ${name} `) || l.startsWith(`# TYPE ${name} `) ||
    (l.startsWith(`${name}_bucket{`) && pairs.every((p) => l.includes(p)))
  );
  const [family] = parsePrometheusTextFormat(lines.join("\n") + "\n") as ParsedFamily[];
  return family?.metrics[0]?.buckets;
}

function sample(f: ParsedFamily | undefined, labels: Record<string, string>): number {
  const m = f?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return m ? Number(m.value ?? m.count) : 0;
}

Deno.test("only the secret key may scrape: none, a publishable key and a user are refused", opts, async () => {
  const none = await fetch(url);
  assert.equal(none.status, 401);
  await none.body?.cancel();
  const publishable = await fetch(url, { headers: { apikey: stack.publishableKey } });
  assert.equal(publishable.status, 403);
  await publishable.body?.cancel();
  const token = await signUserToken(stack.signer, {
    id: "00000000-0000-4000-8000-000000000001",
    app_metadata: { platform_admin: true },
  });
  const admin = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(admin.status, 403, "even a platform admin's session: the scraper holds the secret key");
  await admin.body?.cancel();
});

Deno.test("the exposition parses, with units in names and a type for every family", opts, async () => {
  const families = await scrape();
  for (
    const [name, type] of [
      ["switchboard_webhook_deliveries_total", "COUNTER"],
      ["switchboard_jobs_ready", "GAUGE"],
      ["switchboard_job_oldest_ready_age_seconds", "GAUGE"],
      ["switchboard_jobs_dead", "GAUGE"],
      ["switchboard_archive_objects", "GAUGE"],
      ["switchboard_archive_bytes", "GAUGE"],
      ["switchboard_archive_estimated_monthly_cost_usd", "GAUGE"],
      ["switchboard_ai_tokens_month", "GAUGE"],
      ["switchboard_provisioning_stores", "GAUGE"],
      ["switchboard_db_connections", "GAUGE"],
      ["switchboard_alerts_firing", "GAUGE"],
    ]
  ) {
    assert.equal(families.get(name)?.type, type, `${name} is a ${type.toLowerCase()}`);
  }
  assert.ok(sample(families.get("switchboard_db_max_connections"), {}) > 0, "max_connections is read");
  assert.ok(sample(families.get("switchboard_linked_accounts"), {}) >= 1, "the seeded stores' accounts are counted");
});

Deno.test("deliveries through the gateway become counters and a processing histogram", opts, async () => {
  const sql = connect(stack.dbUrl, { max: 1 });
  try {
    const account = await insertLinkedAccount(sql);
    const before = await scrape();
    // The account webhook's receiver: the bot's has series of its own (other tests send it deliveries).
    const forgedSeries = { receiver: "chatwoot-webhook", outcome: "unauthorized" };
    const unauthorizedBefore = sample(before.get("switchboard_webhook_deliveries_total"), forgedSeries);
    const body = fixture("whatsapp-text.message_created.json");
    const first = await deliver(stack.apiUrl, account, body);
    assert.equal(first.status, 200);
    const forged = await deliver(stack.apiUrl, account, body, { secret: "not-the-secret-at-all" });
    assert.equal(forged.status, 401);

    const after = await waitFor(async () => {
      const f = await scrape();
      return sample(f.get("switchboard_webhook_deliveries_total"), forgedSeries) > unauthorizedBefore ? f : null;
    }, "the receiver's flush");
    assert.equal(after.get("switchboard_webhook_processing_seconds")?.type, "HISTOGRAM");
    const series = histogramSeries("switchboard_webhook_processing_seconds", forgedSeries)!;
    assert.deepEqual(
      Object.keys(series).filter((le) => le !== "+Inf").map(Number).sort((a, b) => a - b),
      WEBHOOK_PROCESSING_BOUNDS,
      "the buckets are the recorder's bounds",
    );
    assert.ok(Number(series["+Inf"]) >= 1);
    assert.ok(
      sample(after.get("switchboard_webhook_deliveries_total"), { receiver: "chatwoot-webhook", outcome: "applied" }) +
          sample(after.get("switchboard_webhook_deliveries_total"), {
            receiver: "chatwoot-webhook",
            outcome: "rejected",
          }) >=
        1,
      "the signed delivery is counted with its outcome",
    );
    const [bounds] = await sql`select bounds from private.metric_bounds where metric = 'webhook_processing_seconds'`;
    assert.deepEqual(bounds.bounds, WEBHOOK_PROCESSING_BOUNDS, "the recorder and the database agree on the bounds");
  } finally {
    await sql.end();
  }
});

Deno.test("a completed job shows in the counters after the minute's rollup", opts, async () => {
  const sql = connect(stack.dbUrl, { max: 1 });
  try {
    const kind = `test.metrics${crypto.randomUUID().slice(0, 8)}`;
    await sql`update private.metric_rollup_state set rolled_until = date_trunc('minute', now()) - interval '3 minutes'`;
    await sql`insert into private.jobs (kind, idempotency_key, status, created_at, completed_at)
              values (${kind}, ${kind}, 'completed', now() - interval '150 seconds', now() - interval '2 minutes')`;
    await sql`select private.roll_up_metrics(interval '0 seconds')`;
    const families = await scrape();
    assert.equal(sample(families.get("switchboard_jobs_completed_total"), { kind }), 1);
    const latency = histogramSeries("switchboard_job_latency_seconds", { kind })!;
    assert.equal(latency["60"], "1", "30 s from enqueue to done falls under 60 s");
    assert.equal(latency["15"], "0");
    assert.equal(latency["+Inf"], "1");
  } finally {
    await sql.end();
  }
});

Deno.test("the handler answers HEAD and refuses other methods", opts, async () => {
  const sql = connect(stack.dbUrl, { max: 1 });
  try {
    const deps = { sql, verifyCaller: stack.verifier(), log: createMemoryLogger(), read: () => Promise.resolve([]) };
    const post = await handler(new Request(url, { method: "POST" }), deps);
    assert.equal(post.status, 405);
    const head = await handler(new Request(url, { method: "HEAD", headers: { apikey: stack.secretKey } }), deps);
    assert.equal(head.status, 200);
    assert.equal(await head.text(), "");
  } finally {
    await sql.end();
  }
});

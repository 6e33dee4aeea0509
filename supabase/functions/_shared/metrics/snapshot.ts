// Every figure the platform exposes, read in two statements: the counters and histograms kept in
// private.metric_totals (since the first measurement), and the gauges measured now (queue, archive by
// storage class, provisioning, AI tokens, connections, firing alerts, per-account lag). The metrics
// function renders them for Prometheus; `switchboard metrics` prints them.

import type { Sql } from "../platform/db.ts";
import type { HistogramSample, Labels, MetricFamily, Sample } from "./exposition.ts";

export interface SnapshotOptions {
  /** Per-store series (reconciliation lag, last delivery) only while there are at most this many
   * linked accounts; past it only the platform-wide maximum is exposed. */
  storeLabelLimit?: number;
}

interface TotalRow {
  metric: string;
  labels: Labels;
  count: number;
  sum: number;
  buckets: number[] | null;
  bounds: number[] | null;
}

interface LiveRow {
  ready: Record<string, number>;
  dead: Record<string, number>;
  scheduled: number;
  running: number;
  oldest_ready_seconds: number | null;
  storage: { storage_class: string; buckets: number; objects: number; bytes: number }[];
  buckets: Record<string, number>;
  provisioning: Record<string, number>;
  ai_tokens_today: number;
  ai_tokens_month: number;
  gcs_prices: Record<string, number> | null;
  ai_usd_per_million: number | null;
  connections: Record<string, number>;
  max_connections: number;
  alerts_firing: Record<string, number>;
  rolled_until_seconds: number;
  accounts: { store: string; reconciliation_lag_seconds: number; last_delivery_age_seconds: number | null }[];
}

/** How each kept total is exposed: its name(s) in Prometheus and its help text. */
const TOTALS: Record<
  string,
  { counter: string; help: string; sumCounter?: [string, string]; histogram?: [string, string] }
> = {
  webhook_processing_seconds: {
    counter: "switchboard_webhook_deliveries_total",
    help: "Webhook deliveries received, by receiver and outcome (applied, duplicate, stale, unauthorized, error, …).",
    histogram: ["switchboard_webhook_processing_seconds", "Time from a delivery's request to its answer."],
  },
  jobs_completed: {
    counter: "switchboard_jobs_completed_total",
    help: "Jobs completed, by kind.",
    histogram: ["switchboard_job_latency_seconds", "Time from a job's enqueue to its completion, by kind."],
  },
  jobs_dead: { counter: "switchboard_jobs_dead_lettered_total", help: "Jobs dead-lettered, by kind." },
  archive_objects: {
    counter: "switchboard_archive_objects_written_total",
    help: "Objects archived to GCS, by type (message, media).",
    sumCounter: ["switchboard_archive_bytes_written_total", "Bytes archived to GCS, by type."],
  },
  ai_decisions: {
    counter: "switchboard_ai_decisions_total",
    help: "AI reply decisions, by action (reply, assist, handoff, skip).",
    histogram: ["switchboard_ai_decision_seconds", "Time the model took to decide."],
  },
  ai_tokens: {
    counter: "switchboard_ai_decisions_with_tokens_total",
    help: "AI decisions that used tokens, by token type.",
    sumCounter: ["switchboard_ai_tokens_total", "AI tokens used by decisions, by type (prompt, completion)."],
  },
  provisioning_outcomes: {
    counter: "switchboard_provisioning_outcomes_total",
    help: "Chatwoot provisioning runs that ended, by state (active, failed).",
  },
  contact_sync_rounds: {
    counter: "switchboard_contact_sync_rounds_total",
    help: "Customer → contact sync rounds completed.",
    sumCounter: ["switchboard_contact_sync_requests_total", "Chatwoot requests made by sync rounds."],
  },
  contact_sync_conflicts: {
    counter: "switchboard_contact_sync_conflicts_total",
    help: "Contact sync conflicts, by resolution.",
  },
};

function byLabel(label: string, values: Record<string, number>): Sample[] {
  return Object.entries(values).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => ({
    labels: { [label]: k },
    value: Number(v),
  }));
}

export async function readMetrics(sql: Sql, opts: SnapshotOptions = {}): Promise<MetricFamily[]> {
  const totals = await sql<TotalRow[]>`
    select t.metric, t.labels, t.count::float8 as count, t.sum, t.buckets::float8[] as buckets, b.bounds
    from private.metric_totals t
    left join private.metric_bounds b on b.metric = case t.metric
      when 'jobs_completed' then 'job_latency_seconds' when 'ai_decisions' then 'ai_decision_seconds' else t.metric end
    order by t.metric, t.labels::text`;
  const [live] = await sql<LiveRow[]>`
    select
      (select coalesce(jsonb_object_agg(kind, n), '{}') from (
         select kind, count(*) as n from private.jobs where status = 'queued' and run_at <= now() group by kind) x) as ready,
      (select coalesce(jsonb_object_agg(kind, n), '{}') from (
         select kind, count(*) as n from private.jobs where status = 'dead' group by kind) x) as dead,
      (select count(*) from private.jobs where status = 'queued' and run_at > now())::int as scheduled,
      (select count(*) from private.jobs where status = 'running')::int as running,
      (select extract(epoch from now() - min(run_at)) from private.jobs
        where status = 'queued' and run_at <= now())::float8 as oldest_ready_seconds,
      (select coalesce(jsonb_agg(jsonb_build_object('storage_class', c.storage_class, 'buckets', c.buckets,
         'objects', c.objects, 'bytes', c.bytes)), '[]') from private.archive_storage_classes() c) as storage,
      (select coalesce(jsonb_object_agg(kind, n), '{}') from (
         select kind, count(*) as n from public.archive_buckets group by kind) x) as buckets,
      (select coalesce(jsonb_object_agg(state, n), '{}') from (
         select state, count(*) as n from public.chatwoot_provisioning group by state) x) as provisioning,
      (select coalesce(sum(tokens), 0) from public.ai_usage_daily where day = current_date)::float8 as ai_tokens_today,
      (select coalesce(sum(tokens), 0) from public.ai_usage_daily
        where day >= date_trunc('month', now())::date)::float8 as ai_tokens_month,
      (select params -> 'usd_per_gb_month' from public.alert_rules where id = 'gcs_monthly_cost') as gcs_prices,
      (select (params ->> 'usd_per_million_tokens')::float8 from public.alert_rules where id = 'ai_tokens_month')
        as ai_usd_per_million,
      (select coalesce(jsonb_object_agg(state, n), '{}') from (
         select coalesce(state, 'unknown') as state, count(*) as n from pg_catalog.pg_stat_activity
          where backend_type = 'client backend' group by 1) x) as connections,
      current_setting('max_connections')::int as max_connections,
      (select coalesce(jsonb_object_agg(rule, n), '{}') from (
         select rule, count(*) as n from public.alerts where state = 'firing' group by rule) x) as alerts_firing,
      (select extract(epoch from rolled_until) from private.metric_rollup_state)::float8 as rolled_until_seconds,
      (select coalesce(jsonb_agg(jsonb_build_object(
         'store', s.slug,
         'reconciliation_lag_seconds', extract(epoch from now() - coalesce(c.synced_until, a.created_at)),
         'last_delivery_age_seconds', extract(epoch from now() - a.last_delivery_at)) order by s.slug), '[]')
        from public.chatwoot_accounts a join public.stores s on s.id = a.store_id
        left join public.chatwoot_sync_cursors c on c.account_ref = a.id) as accounts`;

  const families: MetricFamily[] = [];
  // ── counters and histograms kept since the first measurement ───────────────────────────────
  const grouped = new Map<string, TotalRow[]>();
  for (const row of totals) grouped.set(row.metric, [...(grouped.get(row.metric) ?? []), row]);
  for (const [metric, shape] of Object.entries(TOTALS)) {
    const rows = grouped.get(metric) ?? [];
    families.push({
      name: shape.counter,
      help: shape.help,
      type: "counter",
      samples: rows.map((r) => ({ labels: r.labels, value: r.count })),
    });
    if (shape.sumCounter) {
      families.push({
        name: shape.sumCounter[0],
        help: shape.sumCounter[1],
        type: "counter",
        samples: rows.map((r) => ({ labels: r.labels, value: r.sum })),
      });
    }
    const bounds = rows.find((r) => r.bounds)?.bounds;
    if (shape.histogram && bounds) {
      families.push({
        name: shape.histogram[0],
        help: shape.histogram[1],
        type: "histogram",
        bounds,
        samples: rows.filter((r) => r.buckets).map((r): HistogramSample => ({
          labels: r.labels,
          buckets: r.buckets!,
          sum: r.sum,
          count: r.count,
        })),
      });
    }
  }

  // ── gauges measured now ────────────────────────────────────────────────────────────────────
  const gauge = (name: string, help: string, samples: Sample[]) =>
    families.push({ name, help, type: "gauge", samples });
  const one = (value: number | null): Sample[] => value === null ? [] : [{ labels: {}, value }];
  gauge("switchboard_jobs_ready", "Jobs ready to run now, by kind.", byLabel("kind", live.ready));
  gauge("switchboard_jobs_scheduled", "Jobs waiting for a later run (retries, deferrals).", one(live.scheduled));
  gauge("switchboard_jobs_running", "Jobs claimed by a worker.", one(live.running));
  gauge("switchboard_jobs_dead", "Dead-lettered jobs waiting for a replay, by kind.", byLabel("kind", live.dead));
  gauge(
    "switchboard_job_oldest_ready_age_seconds",
    "How long the oldest ready job has waited (0 when none is ready).",
    one(live.oldest_ready_seconds ?? 0),
  );
  const storage = [...live.storage].sort((a, b) => a.storage_class.localeCompare(b.storage_class));
  gauge(
    "switchboard_archive_objects",
    "Archived objects by the storage class their bucket's lifecycle has moved them to (estimated from their age).",
    storage.map((s) => ({ labels: { storage_class: s.storage_class }, value: Number(s.objects) })),
  );
  gauge(
    "switchboard_archive_bytes",
    "Archived bytes by storage class (estimated from their age).",
    storage.map((s) => ({ labels: { storage_class: s.storage_class }, value: Number(s.bytes) })),
  );
  gauge(
    "switchboard_archive_estimated_monthly_cost_usd",
    "Estimated monthly GCS storage cost by storage class (prices: the gcs_monthly_cost alert rule's params).",
    storage.map((s) => ({
      labels: { storage_class: s.storage_class },
      value: Number(s.bytes) / 1e9 * Number(live.gcs_prices?.[s.storage_class] ?? 0),
    })),
  );
  gauge("switchboard_archive_buckets", "Archive buckets, by kind (user, holding).", byLabel("kind", live.buckets));
  gauge(
    "switchboard_provisioning_stores",
    "Stores by where their Chatwoot account is in its life.",
    byLabel("state", live.provisioning),
  );
  gauge("switchboard_ai_tokens_today", "AI tokens used today, all stores.", one(live.ai_tokens_today));
  gauge("switchboard_ai_tokens_month", "AI tokens used this calendar month, all stores.", one(live.ai_tokens_month));
  gauge(
    "switchboard_ai_estimated_month_cost_usd",
    "Estimated AI cost this month (price: the ai_tokens_month alert rule's params).",
    one(live.ai_tokens_month / 1e6 * (live.ai_usd_per_million ?? 0)),
  );
  gauge("switchboard_db_connections", "Client connections to Postgres, by state.", byLabel("state", live.connections));
  gauge("switchboard_db_max_connections", "Postgres max_connections.", one(live.max_connections));
  gauge("switchboard_alerts_firing", "Alerts firing now, by rule.", byLabel("rule", live.alerts_firing));
  gauge(
    "switchboard_metrics_rolled_up_until_timestamp_seconds",
    "Derived metrics are rolled up to this time (unix seconds).",
    one(live.rolled_until_seconds),
  );
  const lags = live.accounts.map((a) => a.reconciliation_lag_seconds);
  const silences = live.accounts.filter((a) => a.last_delivery_age_seconds !== null)
    .map((a) => a.last_delivery_age_seconds!);
  gauge(
    "switchboard_linked_accounts",
    "Chatwoot accounts linked to stores.",
    one(live.accounts.length),
  );
  if (live.accounts.length <= (opts.storeLabelLimit ?? 500)) {
    gauge(
      "switchboard_reconciliation_lag_seconds",
      "How far each account's reconciliation is behind, by store.",
      live.accounts.map((a) => ({ labels: { store: a.store }, value: a.reconciliation_lag_seconds })),
    );
    gauge(
      "switchboard_webhook_last_delivery_age_seconds",
      "Time since each account's last webhook delivery, by store (accounts that had one).",
      live.accounts.filter((a) => a.last_delivery_age_seconds !== null)
        .map((a) => ({ labels: { store: a.store }, value: a.last_delivery_age_seconds! })),
    );
  }
  gauge(
    "switchboard_reconciliation_lag_max_seconds",
    "The largest reconciliation lag of any account.",
    one(lags.length ? Math.max(...lags) : 0),
  );
  gauge(
    "switchboard_webhook_last_delivery_max_age_seconds",
    "The longest any account has gone without a delivery (accounts that had one).",
    one(silences.length ? Math.max(...silences) : 0),
  );
  return families;
}

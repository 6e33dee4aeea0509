-- Measurements in per-minute rollups, kept for a set period, and cumulative totals behind them
-- for Prometheus counters (a counter must never go down when old minutes are purged).
-- Two sources: what the product already writes (jobs, archive records, AI decisions,
-- provisioning, contact sync) is rolled up by the `metrics.rollup` job once per closed minute;
-- what nothing writes (a webhook delivery's processing time and its duplicates and refusals) is
-- counted in the receiving process and flushed in one statement every few seconds.
-- Everything lives in `private`: the metrics function reads it with the secret key.

-- ═══ tables ══════════════════════════════════════════════════════════════════════════════════
-- One row per metric, label set and minute. `buckets` holds per-bucket (not cumulative) counts
-- over the metric's histogram bounds (private.metric_bounds), the last one past the top bound;
-- null for a plain counter.
create table private.metric_minutes (
  metric text not null constraint metric_minutes_name_format check (metric ~ '^[a-z][a-z0-9_]*$'),
  minute timestamptz not null constraint metric_minutes_whole_minute check (minute = date_trunc('minute', minute)),
  labels jsonb not null default '{}'::jsonb,
  count bigint not null default 0,
  sum double precision not null default 0,
  buckets bigint[],
  primary key (metric, minute, labels)
);
comment on table private.metric_minutes is
  'Per-minute rollups (count, sum, histogram buckets) by metric and labels; purged after METRICS_RETENTION_DAYS.';

-- Since the first measurement: what Prometheus counters and histograms expose.
create table private.metric_totals (
  metric text not null,
  labels jsonb not null default '{}'::jsonb,
  count bigint not null default 0,
  sum double precision not null default 0,
  buckets bigint[],
  updated_at timestamptz not null default now(),
  primary key (metric, labels)
);
comment on table private.metric_totals is 'Cumulative counts behind the Prometheus counters and histograms.';

-- Histogram bounds, one list per histogram metric (seconds; the metric name says the unit).
create table private.metric_bounds (
  metric text primary key,
  bounds double precision[] not null
);
insert into private.metric_bounds (metric, bounds) values
  ('webhook_processing_seconds', '{0.005,0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5,10}'),
  ('job_latency_seconds', '{0.1,0.5,1,5,15,60,300,900,3600,21600}'),
  ('ai_decision_seconds', '{0.25,0.5,1,2,5,10,20,30}');

-- Up to which minute the derived metrics are rolled up (exclusive).
create table private.metric_rollup_state (
  singleton boolean primary key default true constraint metric_rollup_state_singleton check (singleton),
  rolled_until timestamptz not null default date_trunc('minute', now())
);
insert into private.metric_rollup_state default values;

-- ═══ indexes ═════════════════════════════════════════════════════════════════════════════════
-- Rollups read one closed minute of each source by time.
create index metric_minutes_minute_idx on private.metric_minutes (minute);
create index jobs_completed_at_idx on private.jobs (completed_at) where status = 'completed';
create index archived_messages_archived_at_idx on public.archived_messages (archived_at);
create index archived_media_archived_at_idx on public.archived_media (archived_at);
create index ai_decisions_decided_at_idx on public.ai_decisions (decided_at) where decided_at is not null;
create index customer_contact_links_synced_at_idx on public.customer_contact_links (synced_at)
  where synced_at is not null;
create index contact_sync_conflicts_created_at_idx on public.contact_sync_conflicts (created_at);

-- ═══ functions ═══════════════════════════════════════════════════════════════════════════════

-- Per-bucket counts of p_values over p_bounds (length = bounds + 1), so a rollup stores a
-- histogram in one array that adds up element by element.
create function private.histogram_buckets(p_values double precision[], p_bounds double precision[])
returns bigint[]
language sql
immutable
set search_path = ''
as $$
  select array_agg(coalesce(c.n, 0) order by b.i)
  from generate_series(0, cardinality(p_bounds)) as b(i)
  left join (
    select width_bucket(v, p_bounds) as i, count(*) as n
    from unnest(p_values) as v
    where v is not null
    group by 1
  ) c on c.i = b.i
$$;

-- Adds two bucket arrays element by element (null is an empty histogram).
create function private.add_buckets(p_a bigint[], p_b bigint[])
returns bigint[]
language sql
immutable
set search_path = ''
as $$
  select case
    when p_a is null then p_b
    when p_b is null then p_a
    else (select array_agg(coalesce(x, 0) + coalesce(y, 0) order by n) from unnest(p_a, p_b) with ordinality as t(x, y, n))
  end
$$;

-- Adds measurements to their minutes and to the totals, in one statement per batch: the webhook
-- receivers flush their in-process counts through it, the rollup job its derived rows.
-- p_rows: [{metric, minute, labels, count, sum, buckets}].
create function private.record_metrics(p_rows jsonb)
returns integer
language plpgsql
set search_path = ''
as $$
declare
  n integer;
begin
  with rows as (
    select r.metric, date_trunc('minute', r.minute) as minute, coalesce(r.labels, '{}'::jsonb) as labels,
           coalesce(r.count, 0) as count, coalesce(r.sum, 0) as sum, r.buckets
    from jsonb_to_recordset(p_rows) as r(metric text, minute timestamptz, labels jsonb, count bigint,
                                          sum double precision, buckets bigint[])
    where coalesce(r.count, 0) > 0 or coalesce(r.sum, 0) <> 0
  ), per_minute as (
    insert into private.metric_minutes as m (metric, minute, labels, count, sum, buckets)
    select metric, minute, labels, sum(count), sum(sum),
           case when bool_and(buckets is null) then null
                else (select array_agg(s order by i)::bigint[] from (
                        select i, sum(b) as s from rows r2, unnest(r2.buckets) with ordinality as u(b, i)
                        where r2.metric = rows.metric and r2.minute = rows.minute and r2.labels = rows.labels
                        group by i) x) end
    from rows
    group by metric, minute, labels
    on conflict (metric, minute, labels) do update
      set count = m.count + excluded.count, sum = m.sum + excluded.sum,
          buckets = private.add_buckets(m.buckets, excluded.buckets)
    returning 1
  ), totals as (
    insert into private.metric_totals as t (metric, labels, count, sum, buckets)
    select metric, labels, sum(count), sum(sum),
           case when bool_and(buckets is null) then null
                else (select array_agg(s order by i)::bigint[] from (
                        select i, sum(b) as s from rows r2, unnest(r2.buckets) with ordinality as u(b, i)
                        where r2.metric = rows.metric and r2.labels = rows.labels
                        group by i) x) end
    from rows
    group by metric, labels
    on conflict (metric, labels) do update
      set count = t.count + excluded.count, sum = t.sum + excluded.sum,
          buckets = private.add_buckets(t.buckets, excluded.buckets), updated_at = now()
    returning 1
  )
  -- Both inserts run (a data-modifying CTE always does); the answer counts the minutes touched.
  select count(*)::integer into n from per_minute;
  return n;
end
$$;

-- The derived measurements of the minutes [p_from, p_to) as record_metrics rows: jobs completed
-- (with their time from enqueue to done) and dead-lettered, by kind; archived messages and media
-- (objects, bytes); AI decisions by action, their tokens and time; provisioning failures; contact
-- sync rounds and conflicts. Read from the rows the product writes anyway, so measuring costs
-- nothing where the work happens.
create function private.derived_metrics(p_from timestamptz, p_to timestamptz)
returns jsonb
language sql
stable
set search_path = ''
as $$
  with b as (select metric, bounds from private.metric_bounds)
  select coalesce(jsonb_agg(r), '[]'::jsonb) from (
    select 'jobs_completed' as metric, date_trunc('minute', j.completed_at) as minute,
           jsonb_build_object('kind', j.kind) as labels, count(*) as count,
           sum(extract(epoch from j.completed_at - j.created_at)) as sum,
           private.histogram_buckets(array_agg(extract(epoch from j.completed_at - j.created_at)::float8),
                                     (select bounds from b where metric = 'job_latency_seconds')) as buckets
      from private.jobs j
     where j.status = 'completed' and j.completed_at >= p_from and j.completed_at < p_to
     group by 2, 3
    union all
    select 'jobs_dead', date_trunc('minute', j.dead_at), jsonb_build_object('kind', j.kind), count(*), 0, null
      from private.jobs j
     where j.status = 'dead' and j.dead_at >= p_from and j.dead_at < p_to
     group by 2, 3
    union all
    select 'archive_objects', date_trunc('minute', m.archived_at), '{"type":"message"}'::jsonb, count(*), sum(m.size), null
      from public.archived_messages m
     where m.archived_at >= p_from and m.archived_at < p_to
     group by 2
    union all
    select 'archive_objects', date_trunc('minute', m.archived_at), '{"type":"media"}'::jsonb, count(*), sum(m.size), null
      from public.archived_media m
     where m.archived_at >= p_from and m.archived_at < p_to
     group by 2
    union all
    select 'ai_decisions', date_trunc('minute', d.decided_at), jsonb_build_object('action', coalesce(d.action, 'none')),
           count(*), sum(coalesce(d.latency_ms, 0)) / 1000.0,
           private.histogram_buckets(array_agg(d.latency_ms / 1000.0)::float8[],
                                     (select bounds from b where metric = 'ai_decision_seconds'))
      from public.ai_decisions d
     where d.decided_at >= p_from and d.decided_at < p_to
     group by 2, 3
    union all
    select 'ai_tokens', date_trunc('minute', d.decided_at), '{"type":"prompt"}'::jsonb, count(*), sum(d.prompt_tokens), null
      from public.ai_decisions d
     where d.decided_at >= p_from and d.decided_at < p_to
     group by 2
    union all
    select 'ai_tokens', date_trunc('minute', d.decided_at), '{"type":"completion"}'::jsonb, count(*),
           sum(d.completion_tokens), null
      from public.ai_decisions d
     where d.decided_at >= p_from and d.decided_at < p_to
     group by 2
    union all
    select 'provisioning_outcomes', date_trunc('minute', p.updated_at), jsonb_build_object('state', p.state), count(*), 0, null
      from public.chatwoot_provisioning p
     where p.state in ('failed', 'active') and p.updated_at >= p_from and p.updated_at < p_to
     group by 2, 3
    union all
    select 'contact_sync_rounds', date_trunc('minute', l.synced_at), '{}'::jsonb, count(*), sum(l.last_round_requests), null
      from public.customer_contact_links l
     where l.synced_at >= p_from and l.synced_at < p_to
     group by 2
    union all
    select 'contact_sync_conflicts', date_trunc('minute', c.created_at), jsonb_build_object('resolution', c.resolution),
           count(*), 0, null
      from public.contact_sync_conflicts c
     where c.created_at >= p_from and c.created_at < p_to
     group by 2, 3
  ) r
$$;

-- Rolls up every closed minute not rolled up yet, once each (the state row is locked, so two
-- workers never count a minute twice). A minute is closed p_lag after its end, so rows written by
-- transactions still open at its end are in. Purges minutes older than p_keep. Returns the
-- number of minutes rolled up.
create function private.roll_up_metrics(
  p_lag interval default interval '1 minute',
  p_keep interval default interval '30 days'
) returns integer
language plpgsql
set search_path = ''
as $$
declare
  v_from timestamptz;
  v_to timestamptz := date_trunc('minute', now() - p_lag);
begin
  select s.rolled_until into v_from from private.metric_rollup_state s for update;
  if v_from >= v_to then
    return 0;
  end if;
  -- After a long stop, catch up at most a day at once.
  v_from := greatest(v_from, v_to - interval '1 day');
  perform private.record_metrics(private.derived_metrics(v_from, v_to));
  update private.metric_rollup_state set rolled_until = v_to;
  delete from private.metric_minutes where minute < now() - p_keep;
  return (extract(epoch from v_to - v_from) / 60)::integer;
end
$$;

-- ═══ grants ══════════════════════════════════════════════════════════════════════════════════
-- Only the service role (the functions, the CLI) measures and reads; API roles never reach private.
revoke execute on function private.histogram_buckets(double precision[], double precision[]) from public;
revoke execute on function private.add_buckets(bigint[], bigint[]) from public;
revoke execute on function private.record_metrics(jsonb) from public;
revoke execute on function private.derived_metrics(timestamptz, timestamptz) from public;
revoke execute on function private.roll_up_metrics(interval, interval) from public;
grant select, insert, update, delete on private.metric_minutes, private.metric_totals, private.metric_bounds,
  private.metric_rollup_state to service_role;
grant execute on function private.record_metrics(jsonb), private.roll_up_metrics(interval, interval),
  private.derived_metrics(timestamptz, timestamptz), private.histogram_buckets(double precision[], double precision[]),
  private.add_buckets(bigint[], bigint[]) to service_role;

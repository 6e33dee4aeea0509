-- Coarser rollups beside the per-minute ones, so the Overview reads a row per series and time
-- bucket's part instead of one per minute: half-hours for its day, hours for its week and month.
-- On a month of every series the product writes (~1.2 M minute rows) the day took 116 ms, the
-- week 0.5 s and the month 1.8 s (bench:analytics). The rollup job recomputes the current half-hour
-- and hour (and the previous ones while late flushes may reach them) from the minutes every
-- minute, so a rollup is never more than a minute behind its minutes.

-- ═══ tables ══════════════════════════════════════════════════════════════════════════════════
-- As private.metric_minutes, per `grain` (30 or 60 minutes) from `start`: count, sum and buckets
-- added up over its minutes; max_count and max_sum the highest minute's, for gauges (the queue's
-- snapshots).
create table private.metric_rollups (
  grain_minutes integer not null constraint metric_rollups_grain_values check (grain_minutes in (30, 60)),
  metric text not null,
  start timestamptz not null,
  labels jsonb not null default '{}'::jsonb,
  count bigint not null default 0,
  sum double precision not null default 0,
  buckets bigint[],
  max_count bigint not null default 0,
  max_sum double precision not null default 0,
  primary key (grain_minutes, metric, start, labels)
);
comment on table private.metric_rollups is
  'Half-hourly and hourly rollups of private.metric_minutes (sums, and the highest minute for gauges); purged with the minutes.';

-- ═══ functions ═══════════════════════════════════════════════════════════════════════════════

-- Recomputes every p_grain_minutes rollup from the one p_from falls in up to now from its minutes
-- (idempotent: a rollup is replaced, never added to). Grains start on the Overview's origin
-- (2000-01-01 UTC), so each of its time buckets holds whole ones. Returns the rows written.
create function private.roll_up_metric_grain(p_grain_minutes integer, p_from timestamptz)
returns integer
language plpgsql
set search_path = ''
as $$
declare
  v_grain interval := make_interval(mins => p_grain_minutes);
  v_from timestamptz := date_bin(make_interval(mins => p_grain_minutes), p_from, timestamptz '2000-01-01');
  n integer;
begin
  with per_grain as (
    select m.metric, date_bin(v_grain, m.minute, timestamptz '2000-01-01') as start, m.labels,
           sum(m.count)::bigint as count, sum(m.sum) as sum, max(m.count) as max_count, max(m.sum) as max_sum, bool_and(m.buckets is null) as no_buckets
    from private.metric_minutes m
    where m.minute >= v_from
    group by 1, 2, 3
  ), grain_buckets as (
    select x.metric, x.start, x.labels, array_agg(x.s order by x.i)::bigint[] as buckets
    from (select m.metric, date_bin(v_grain, m.minute, timestamptz '2000-01-01') as start, m.labels, u.i, sum(u.b) as s
          from private.metric_minutes m, unnest(m.buckets) with ordinality as u(b, i)
          where m.minute >= v_from and m.buckets is not null
          group by 1, 2, 3, 4) x
    group by 1, 2, 3
  ), written as (
    insert into private.metric_rollups as r (grain_minutes, metric, start, labels, count, sum, buckets, max_count, max_sum)
    select p_grain_minutes, p.metric, p.start, p.labels, p.count, p.sum, case when p.no_buckets then null else b.buckets end,
           p.max_count, p.max_sum
    from per_grain p
    left join grain_buckets b on b.metric = p.metric and b.start = p.start and b.labels = p.labels
    on conflict (grain_minutes, metric, start, labels) do update
      set count = excluded.count, sum = excluded.sum, buckets = excluded.buckets,
          max_count = excluded.max_count, max_sum = excluded.max_sum
    returning 1
  )
  select count(*)::integer into n from written;
  return n;
end
$$;

-- As before (20261208004200_platform_overview.sql), plus the half-hours and hours of the minutes
-- rolled up, and their purge.
create or replace function private.roll_up_metrics(
  p_lag interval default interval '1 minute',
  p_keep interval default interval '30 days'
) returns integer
language plpgsql
set search_path = ''
as $$
declare
  v_from timestamptz;
  v_to timestamptz := date_trunc('minute', now() - p_lag);
  v_snapshot jsonb;
begin
  select s.rolled_until into v_from from private.metric_rollup_state s for update;
  if v_from >= v_to then
    return 0;
  end if;
  v_from := greatest(v_from, v_to - interval '1 day');
  perform private.record_metrics(private.derived_metrics(v_from, v_to));
  -- Gauges have no history of their own: one sample per rollup (count = the value).
  select jsonb_build_array(
           jsonb_build_object('metric', 'queue_ready', 'minute', now(), 'count', count(*) filter (where j.status = 'queued' and j.run_at <= now()),
                              'sum', coalesce(extract(epoch from now() - min(j.run_at) filter (where j.status = 'queued' and j.run_at <= now())), 0)),
           jsonb_build_object('metric', 'queue_dead', 'minute', now(), 'count', count(*) filter (where j.status = 'dead')))
    into v_snapshot
    from private.jobs j where j.status in ('queued', 'dead');
  -- record_metrics skips zero rows; a zero sample still belongs on the chart.
  insert into private.metric_minutes (metric, minute, labels, count, sum)
  select r.metric, date_trunc('minute', r.minute), '{}'::jsonb, r.count, coalesce(r.sum, 0)
    from jsonb_to_recordset(v_snapshot) as r(metric text, minute timestamptz, count bigint, sum double precision)
  on conflict (metric, minute, labels) do update set count = excluded.count, sum = excluded.sum;
  -- The half-hours and hours these minutes fall in, and the ones before while late flushes may reach them.
  perform private.roll_up_metric_grain(30, least(v_from, now() - interval '10 minutes'));
  perform private.roll_up_metric_grain(60, least(v_from, now() - interval '10 minutes'));
  update private.metric_rollup_state set rolled_until = v_to;
  delete from private.metric_minutes where minute < now() - p_keep;
  delete from private.metric_rollups where start < now() - p_keep;
  return (extract(epoch from v_to - v_from) / 60)::integer;
end
$$;

-- As before (20261208004200_platform_overview.sql), with the day read from the half-hours and the
-- week and month from the hours.
create or replace function public.platform_overview(p_range text default 'day')
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_span interval;
  v_step interval;
  v_grain integer;
  v_from timestamptz;
  v_series jsonb;
  v_now jsonb;
begin
  if not (select public.is_platform_admin()) then
    raise exception 'only platform administrators see the overview' using errcode = '42501';
  end if;
  case p_range
    when 'hour' then v_span := interval '1 hour'; v_step := interval '1 minute'; v_grain := 1;
    when 'day' then v_span := interval '1 day'; v_step := interval '30 minutes'; v_grain := 30;
    when 'week' then v_span := interval '7 days'; v_step := interval '3 hours'; v_grain := 60;
    when 'month' then v_span := interval '30 days'; v_step := interval '12 hours'; v_grain := 60;
    else raise exception 'range must be hour, day, week or month' using errcode = '22023';
  end case;
  v_from := date_bin(v_step, now() - v_span, timestamptz '2000-01-01') + v_step;

  with slots as (
    select t from generate_series(v_from, now(), v_step) as t
  ), m as (
    -- The hour from the minutes, the day from half-hours, the week and month from hours (a time
    -- bucket holds whole ones: both start on the same origin). A gauge's peak in a time bucket is
    -- its highest minute: max_count and max_sum.
    select date_bin(v_step, mm.minute, timestamptz '2000-01-01') as t, mm.metric, mm.labels, mm.count, mm.sum, mm.buckets,
           mm.count as max_count, mm.sum as max_sum
    from private.metric_minutes mm
    where v_grain = 1 and mm.minute >= v_from
      and mm.metric in ('webhook_processing_seconds', 'jobs_completed', 'jobs_dead', 'archive_objects', 'ai_tokens',
                        'queue_ready', 'queue_dead')
    union all
    select date_bin(v_step, r.start, timestamptz '2000-01-01'), r.metric, r.labels, r.count, r.sum, r.buckets,
           r.max_count, r.max_sum
    from private.metric_rollups r
    where v_grain > 1 and r.grain_minutes = v_grain and r.start >= v_from
      and r.metric in ('webhook_processing_seconds', 'jobs_completed', 'jobs_dead', 'archive_objects', 'ai_tokens',
                       'queue_ready', 'queue_dead')
  ), deliveries as (
    select t, jsonb_object_agg(outcome, n) as by_outcome, sum(n) as total
    from (select t, labels ->> 'outcome' as outcome, sum(count) as n from m
          where metric = 'webhook_processing_seconds' group by 1, 2) x
    group by t
  ), latency as (
    select t, array_agg(s order by i)::bigint[] as buckets
    from (select m.t, u.i, sum(u.b) as s from m, unnest(m.buckets) with ordinality as u(b, i)
          where m.metric = 'webhook_processing_seconds' group by 1, 2) x
    group by t
  ), other as (
    select t,
           sum(count) filter (where metric = 'jobs_completed') as jobs_completed,
           sum(count) filter (where metric = 'jobs_dead') as jobs_dead_lettered,
           sum(count) filter (where metric = 'archive_objects') as archive_objects,
           sum(sum) filter (where metric = 'archive_objects') as archive_bytes,
           sum(sum) filter (where metric = 'ai_tokens') as ai_tokens,
           max(max_count) filter (where metric = 'queue_ready') as queue_ready,
           max(max_sum) filter (where metric = 'queue_ready') as oldest_ready_seconds,
           max(max_count) filter (where metric = 'queue_dead') as jobs_dead
    from m group by t
  )
  select coalesce(jsonb_agg(jsonb_build_object(
           't', s.t,
           'deliveries', coalesce(d.by_outcome, '{}'::jsonb),
           'deliveries_per_minute', round(coalesce(d.total, 0) / (extract(epoch from v_step) / 60), 2),
           'p50_ms', round((private.histogram_quantile(0.5::float8, b.bounds, l.buckets) * 1000)::numeric, 1),
           'p95_ms', round((private.histogram_quantile(0.95::float8, b.bounds, l.buckets) * 1000)::numeric, 1),
           'jobs_completed', coalesce(o.jobs_completed, 0),
           'jobs_dead_lettered', coalesce(o.jobs_dead_lettered, 0),
           'queue_ready', o.queue_ready,
           'oldest_ready_seconds', round(o.oldest_ready_seconds::numeric, 1),
           'jobs_dead', o.jobs_dead,
           'archive_objects', coalesce(o.archive_objects, 0),
           'archive_bytes', coalesce(o.archive_bytes, 0),
           'ai_tokens', coalesce(o.ai_tokens, 0)) order by s.t), '[]'::jsonb)
    into v_series
    from slots s
    left join deliveries d on d.t = s.t
    left join latency l on l.t = s.t
    left join other o on o.t = s.t
    cross join (select bounds from private.metric_bounds where metric = 'webhook_processing_seconds') b;

  select jsonb_build_object(
    'queue', jsonb_build_object(
      'ready', (select count(*) from private.jobs where status = 'queued' and run_at <= now()),
      'running', (select count(*) from private.jobs where status = 'running'),
      'dead', (select count(*) from private.jobs where status = 'dead'),
      'oldest_ready_seconds', (select round(extract(epoch from now() - min(run_at))::numeric, 1) from private.jobs
                                where status = 'queued' and run_at <= now())),
    'storage', (select coalesce(jsonb_agg(jsonb_build_object(
                  'storage_class', c.storage_class, 'buckets', c.buckets, 'objects', c.objects, 'bytes', c.bytes,
                  'monthly_usd', round(c.bytes / 1e9 * coalesce((r.params -> 'usd_per_gb_month' ->> c.storage_class)::numeric, 0), 4))
                  order by c.storage_class), '[]'::jsonb)
                from private.archive_storage_classes() c
                left join public.alert_rules r on r.id = 'gcs_monthly_cost'),
    'buckets', (select count(*) from public.archive_buckets),
    'ai', (select jsonb_build_object(
             'tokens_today', coalesce(sum(u.tokens) filter (where u.day = current_date), 0),
             'tokens_month', coalesce(sum(u.tokens), 0),
             'usd_month', round(coalesce(sum(u.tokens), 0) / 1e6
                                * coalesce((select (params ->> 'usd_per_million_tokens')::numeric from public.alert_rules
                                             where id = 'ai_tokens_month'), 0), 4))
           from public.ai_usage_daily u where u.day >= date_trunc('month', now())::date),
    'alerts', (select coalesce(jsonb_agg(jsonb_build_object(
                 'id', a.id, 'rule', a.rule, 'subject', a.subject, 'value', a.value, 'threshold', a.threshold,
                 'unit', ru.unit, 'message', a.message, 'fired_at', a.fired_at, 'acknowledged_at', a.acknowledged_at)
                 order by a.fired_at desc), '[]'::jsonb)
               from public.alerts a join public.alert_rules ru on ru.id = a.rule where a.state = 'firing'))
    into v_now;

  return jsonb_build_object('range', p_range, 'step_seconds', extract(epoch from v_step)::integer,
                            'generated_at', now(), 'series', v_series) || v_now;
end
$$;

-- The rollups of what is measured already.
do $$
begin
  perform private.roll_up_metric_grain(30, coalesce((select min(minute) from private.metric_minutes), now()));
  perform private.roll_up_metric_grain(60, coalesce((select min(minute) from private.metric_minutes), now()));
end
$$;

-- ═══ grants ══════════════════════════════════════════════════════════════════════════════════
-- Only the service role (the rollup job) writes them; the Overview reads them as their definer.
revoke execute on function private.roll_up_metric_grain(integer, timestamptz) from public;
grant execute on function private.roll_up_metric_grain(integer, timestamptz) to service_role;

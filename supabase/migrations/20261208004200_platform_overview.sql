-- The admin app's Overview for platform administrators: the rollups of the last hour, day, week or
-- month in about 60 time buckets each, and what is true now (queue, archive by storage class, AI
-- tokens, firing alerts), in one call. The rollup now also keeps a per-minute snapshot of the
-- queue (ready jobs, oldest ready age, dead jobs), so its depth and age have a history.

-- ═══ functions ═══════════════════════════════════════════════════════════════════════════════

-- As before (20261208004000_metrics.sql), plus the queue's snapshot for the minute it runs in.
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
  update private.metric_rollup_state set rolled_until = v_to;
  delete from private.metric_minutes where minute < now() - p_keep;
  return (extract(epoch from v_to - v_from) / 60)::integer;
end
$$;

-- Everything the Overview shows for one range ('hour', 'day', 'week', 'month'). Platform
-- administrators only (security definer: the rollups are private; the check comes first).
create function public.platform_overview(p_range text default 'day')
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_span interval;
  v_step interval;
  v_from timestamptz;
  v_series jsonb;
  v_now jsonb;
begin
  if not (select public.is_platform_admin()) then
    raise exception 'only platform administrators see the overview' using errcode = '42501';
  end if;
  case p_range
    when 'hour' then v_span := interval '1 hour'; v_step := interval '1 minute';
    when 'day' then v_span := interval '1 day'; v_step := interval '30 minutes';
    when 'week' then v_span := interval '7 days'; v_step := interval '3 hours';
    when 'month' then v_span := interval '30 days'; v_step := interval '12 hours';
    else raise exception 'range must be hour, day, week or month' using errcode = '22023';
  end case;
  v_from := date_bin(v_step, now() - v_span, timestamptz '2000-01-01') + v_step;

  with slots as (
    select t from generate_series(v_from, now(), v_step) as t
  ), m as (
    select date_bin(v_step, mm.minute, timestamptz '2000-01-01') as t, mm.metric, mm.labels, mm.count, mm.sum, mm.buckets
    from private.metric_minutes mm
    where mm.minute >= v_from
      and mm.metric in ('webhook_processing_seconds', 'jobs_completed', 'jobs_dead', 'archive_objects', 'ai_tokens',
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
           max(count) filter (where metric = 'queue_ready') as queue_ready,
           max(sum) filter (where metric = 'queue_ready') as oldest_ready_seconds,
           max(count) filter (where metric = 'queue_dead') as jobs_dead
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
comment on function public.platform_overview(text) is
  'The Overview page of the admin app: per-bucket rollups over a range and current figures. Platform administrators only.';

-- ═══ grants ══════════════════════════════════════════════════════════════════════════════════
revoke execute on function public.platform_overview(text) from public, anon;
grant execute on function public.platform_overview(text) to authenticated, service_role;

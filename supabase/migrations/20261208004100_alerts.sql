-- Alerts: a fixed set of rules whose thresholds platform administrators edit, measured by the
-- `alerts.evaluate` job every minute. A rule over its threshold opens one firing alert per subject
-- (the platform, or one store's account) and queues one notification; while it stays over nothing
-- is sent again; back under, the alert is resolved and that is notified once. Notifications go
-- out as `alerts.notify` jobs, so a Slack endpoint that fails is retried by the queue.
-- Rules are not inserted or deleted by API roles (the code knows how to measure each one), and
-- alerts are never inserted or deleted by them either: platform admins read both, edit rules and
-- acknowledge alerts.

-- ═══ tables ══════════════════════════════════════════════════════════════════════════════════
create table public.alert_rules (
  id text primary key constraint alert_rules_id_format check (id ~ '^[a-z][a-z0-9_]*$'),
  description text not null,
  -- The rule fires when its measured value is strictly above this (in `unit`).
  threshold double precision not null,
  unit text not null,
  -- How far back rate-like rules look.
  window_minutes integer not null default 5 constraint alert_rules_window_positive check (window_minutes between 1 and 10080),
  -- Rule-specific settings (prices, minimum volumes).
  params jsonb not null default '{}'::jsonb,
  enabled boolean not null default true,
  updated_at timestamptz not null default now(),
  updated_by uuid references auth.users (id) on delete set null
);
comment on table public.alert_rules is 'Alert rules and their thresholds; platform administrators edit them.';

create table public.alerts (
  id bigint generated always as identity primary key,
  rule text not null references public.alert_rules (id) on delete cascade,
  -- '' for a platform-wide rule, else what it is about (a store's slug).
  subject text not null default '',
  state text not null default 'firing' constraint alerts_state_values check (state in ('firing', 'resolved')),
  value double precision not null,
  threshold double precision not null,
  message text not null,
  fired_at timestamptz not null default now(),
  resolved_at timestamptz,
  acknowledged_at timestamptz,
  acknowledged_by uuid references auth.users (id) on delete set null,
  notified_fired_at timestamptz,
  notified_resolved_at timestamptz,
  constraint alerts_resolved_has_time check ((state = 'resolved') = (resolved_at is not null))
);
comment on table public.alerts is 'Alerts fired by the rules: firing until measured back under the threshold, then resolved.';

-- ═══ indexes ═════════════════════════════════════════════════════════════════════════════════
-- At most one firing alert per rule and subject: "no repeat while firing" is a constraint.
create unique index alerts_one_firing_idx on public.alerts (rule, subject) where state = 'firing';
create index alerts_fired_at_idx on public.alerts (fired_at desc);
create index alerts_acknowledged_by_idx on public.alerts (acknowledged_by) where acknowledged_by is not null;
create index alert_rules_updated_by_idx on public.alert_rules (updated_by) where updated_by is not null;

-- ═══ the rules ═══════════════════════════════════════════════════════════════════════════════
-- GCS prices: list prices per GB-month in the US multi-region (the default ARCHIVE_LOCATION), USD.
insert into public.alert_rules (id, description, threshold, unit, window_minutes, params) values
  ('webhook_error_rate', 'Share of webhook deliveries that failed, were refused after authentication or kept unapplied', 0.01, 'ratio', 5,
   '{"min_deliveries": 20}'),
  ('webhook_processing_p95', 'p95 of webhook processing time', 1000, 'ms', 5, '{"min_deliveries": 20}'),
  ('dead_jobs', 'Dead-lettered jobs waiting for a replay', 0, 'jobs', 5, '{}'),
  ('dead_jobs_growth', 'Jobs dead-lettered within the window', 0, 'jobs', 60, '{}'),
  ('oldest_ready_job', 'Age of the oldest job ready to run', 300, 'seconds', 5, '{}'),
  ('reconciliation_lag', 'How far an account''s reconciliation is behind', 3600, 'seconds', 5, '{}'),
  ('silent_account', 'Hours without a webhook delivery while the account''s conversations move', 6, 'hours', 5, '{}'),
  ('provisioning_failures', 'Stores whose Chatwoot provisioning failed', 0, 'stores', 5, '{}'),
  ('gcs_monthly_cost', 'Estimated monthly GCS storage cost of the archive', 100, 'USD', 5,
   '{"usd_per_gb_month": {"STANDARD": 0.026, "NEARLINE": 0.015, "COLDLINE": 0.007, "ARCHIVE": 0.0024}}'),
  ('ai_tokens_month', 'AI tokens used this calendar month, all stores', 10000000, 'tokens', 5,
   '{"usd_per_million_tokens": 0.6}'),
  ('db_connections', 'Share of max_connections in use', 0.8, 'ratio', 5, '{}');

-- ═══ RLS ═════════════════════════════════════════════════════════════════════════════════════
-- Platform administrators only. Absent on purpose: inserting or deleting rules (the set is fixed
-- by the code that measures them), and inserting or deleting alerts (the evaluator's alone).
alter table public.alert_rules enable row level security;
alter table public.alerts enable row level security;

create policy "Platform admins can read alert rules" on public.alert_rules
  for select to authenticated using ((select public.is_platform_admin()));
create policy "Platform admins can change alert thresholds" on public.alert_rules
  for update to authenticated using ((select public.is_platform_admin())) with check ((select public.is_platform_admin()));
create policy "Platform admins can read alerts" on public.alerts
  for select to authenticated using ((select public.is_platform_admin()));
create policy "Platform admins can acknowledge alerts" on public.alerts
  for update to authenticated using ((select public.is_platform_admin())) with check ((select public.is_platform_admin()));

-- ═══ functions ═══════════════════════════════════════════════════════════════════════════════

-- The q-quantile of a histogram held as per-bucket counts over bounds (the last bucket past the
-- top bound), interpolated linearly within its bucket as Prometheus's histogram_quantile does.
create function private.histogram_quantile(p_q double precision, p_bounds double precision[], p_buckets bigint[])
returns double precision
language plpgsql
immutable
set search_path = ''
as $$
declare
  total bigint;
  target double precision;
  cum bigint := 0;
  lower_bound double precision;
begin
  select sum(b) into total from unnest(p_buckets) as b;
  if total is null or total = 0 then
    return null;
  end if;
  target := p_q * total;
  for i in 1 .. cardinality(p_buckets) loop
    if cum + p_buckets[i] >= target and p_buckets[i] > 0 then
      if i > cardinality(p_bounds) then
        return p_bounds[cardinality(p_bounds)];
      end if;
      lower_bound := case when i = 1 then 0 else p_bounds[i - 1] end;
      return lower_bound + (p_bounds[i] - lower_bound) * (target - cum) / p_buckets[i];
    end if;
    cum := cum + p_buckets[i];
  end loop;
  return p_bounds[cardinality(p_bounds)];
end
$$;

-- Archived objects and bytes by the storage class GCS has moved them to by now: the bucket's
-- class until the first lifecycle age, then NEARLINE, COLDLINE, ARCHIVE (the ages recorded with
-- each bucket). An estimate: it reads our records, not GCS.
create function private.archive_storage_classes()
returns table (storage_class text, buckets bigint, objects bigint, bytes numeric)
language sql
stable
set search_path = ''
as $$
  with objects as (
    select m.bucket, m.archived_at, m.size from public.archived_messages m
    union all
    select a.bucket, a.archived_at, a.size from public.archived_media a
  ), classed as (
    select o.bucket, o.size,
           case
             when now() - o.archived_at >= make_interval(days => coalesce((b.lifecycle ->> 'archive')::integer, 100000)) then 'ARCHIVE'
             when now() - o.archived_at >= make_interval(days => coalesce((b.lifecycle ->> 'coldline')::integer, 100000)) then 'COLDLINE'
             when now() - o.archived_at >= make_interval(days => coalesce((b.lifecycle ->> 'nearline')::integer, 100000)) then 'NEARLINE'
             else coalesce(b.storage_class, 'STANDARD')
           end as storage_class
    from objects o
    left join public.archive_buckets b on b.name = o.bucket
  )
  select c.storage_class, count(distinct c.bucket), count(*), sum(c.size)::numeric
  from classed c
  group by c.storage_class
$$;

-- Every rule's measurement now: one row per rule and subject with its value (a rule with nothing
-- to measure, such as a rate over no deliveries, yields no row and so cannot fire).
create function private.measure_alert_rules()
returns table (rule text, subject text, value double precision, detail text)
language sql
stable
set search_path = ''
as $$
  with r as (select * from public.alert_rules where enabled),
  deliveries as (
    select sum(m.count) filter (where m.labels ->> 'outcome' in ('error', 'rejected', 'kept', 'too_large')) as failed,
           sum(m.count) as total,
           private.histogram_quantile(0.95::float8,
             (select bounds from private.metric_bounds where metric = 'webhook_processing_seconds'),
             (select array_agg(s order by i)::bigint[] from (
                select i, sum(b) as s
                from private.metric_minutes m2, unnest(m2.buckets) with ordinality as u(b, i)
                where m2.metric = 'webhook_processing_seconds'
                  and m2.minute >= date_trunc('minute', now()) - make_interval(mins => coalesce((select window_minutes from r where id = 'webhook_processing_p95'), 5))
                group by i) x)) as p95
    from private.metric_minutes m
    where m.metric = 'webhook_processing_seconds'
      and m.minute >= date_trunc('minute', now()) - make_interval(mins => coalesce((select window_minutes from r where id = 'webhook_error_rate'), 5))
  )
  select 'webhook_error_rate', '', coalesce(d.failed, 0)::float8 / d.total,
         format('%s of %s deliveries failed', coalesce(d.failed, 0), d.total)
    from deliveries d, r where r.id = 'webhook_error_rate' and d.total >= coalesce((r.params ->> 'min_deliveries')::integer, 1)
  union all
  select 'webhook_processing_p95', '', d.p95 * 1000, format('p95 %s ms over %s deliveries', round((d.p95 * 1000)::numeric), d.total)
    from deliveries d, r
   where r.id = 'webhook_processing_p95' and d.p95 is not null
     and d.total >= coalesce((r.params ->> 'min_deliveries')::integer, 1)
  union all
  select 'dead_jobs', '', count(*)::float8, format('%s dead jobs', count(*))
    from private.jobs j where j.status = 'dead' and exists (select 1 from r where id = 'dead_jobs')
  union all
  select 'dead_jobs_growth', '', count(j.id)::float8, format('%s jobs dead-lettered in the last %s minutes', count(j.id), min(r.window_minutes))
    from r left join private.jobs j
      on j.status = 'dead' and j.dead_at >= now() - make_interval(mins => r.window_minutes)
   where r.id = 'dead_jobs_growth'
  union all
  select 'oldest_ready_job', '', coalesce(extract(epoch from now() - min(j.run_at)), 0)::float8,
         format('oldest ready job waiting %s s', round(coalesce(extract(epoch from now() - min(j.run_at)), 0)))
    from private.jobs j where j.status = 'queued' and j.run_at <= now() and exists (select 1 from r where id = 'oldest_ready_job')
  union all
  select 'reconciliation_lag', s.slug, extract(epoch from now() - coalesce(c.synced_until, a.created_at))::float8,
         format('%s reconciled up to %s', s.slug, coalesce(c.synced_until::text, 'never'))
    from public.chatwoot_accounts a
    join public.stores s on s.id = a.store_id
    left join public.chatwoot_sync_cursors c on c.account_ref = a.id
   where exists (select 1 from r where id = 'reconciliation_lag')
  union all
  select 'silent_account', s.slug, extract(epoch from now() - coalesce(a.last_delivery_at, a.created_at))::float8 / 3600,
         format('%s: no delivery since %s while conversations moved', s.slug, coalesce(a.last_delivery_at::text, 'linking'))
    from public.chatwoot_accounts a
    join public.stores s on s.id = a.store_id
   where exists (select 1 from r where id = 'silent_account')
     and exists (select 1 from public.chatwoot_conversations cv
                  where cv.account_ref = a.id and cv.last_activity_at > coalesce(a.last_delivery_at, a.created_at))
  union all
  select 'provisioning_failures', '', count(*)::float8, coalesce('failed: ' || string_agg(p.store_id::text, ', '), 'none failed')
    from public.chatwoot_provisioning p where p.state = 'failed' and exists (select 1 from r where id = 'provisioning_failures')
  union all
  select 'gcs_monthly_cost', '', coalesce(sum(c.bytes / 1e9 * coalesce((r.params -> 'usd_per_gb_month' ->> c.storage_class)::float8, 0)), 0)::float8,
         format('estimated %s USD/month for %s objects', round(coalesce(sum(c.bytes / 1e9 * coalesce((r.params -> 'usd_per_gb_month' ->> c.storage_class)::numeric, 0)), 0), 2), coalesce(sum(c.objects), 0))
    from r left join private.archive_storage_classes() c on true
   where r.id = 'gcs_monthly_cost'
  union all
  select 'ai_tokens_month', '', coalesce(sum(u.tokens), 0)::float8, format('%s tokens this month', coalesce(sum(u.tokens), 0))
    from r left join public.ai_usage_daily u on u.day >= date_trunc('month', now())::date
   where r.id = 'ai_tokens_month'
  union all
  select 'db_connections', '', count(*)::float8 / current_setting('max_connections')::float8,
         format('%s of %s connections in use', count(*), current_setting('max_connections'))
    from pg_catalog.pg_stat_activity a where a.backend_type = 'client backend' and exists (select 1 from r where id = 'db_connections')
$$;

-- Moves alerts to what the measurements say, in one transaction: a rule over its threshold with
-- no firing alert for that subject fires (and queues its notification); a firing alert whose rule
-- is now at or under it (or unmeasured, or disabled) resolves (and queues that). A firing alert
-- that stays over only gets its current value: nothing is sent again. Returns the transitions.
create function private.evaluate_alerts()
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  measured jsonb;
  fired jsonb;
  resolved jsonb;
begin
  select coalesce(jsonb_agg(to_jsonb(m)), '[]'::jsonb) into measured from private.measure_alert_rules() m;

  with breaching as (
    select m.rule, m.subject, m.value, m.detail, r.threshold
    from jsonb_to_recordset(measured) as m(rule text, subject text, value double precision, detail text) join public.alert_rules r on r.id = m.rule and r.enabled
    where m.value > r.threshold
  ), refreshed as (
    update public.alerts a set value = b.value, message = b.detail
      from breaching b
     where a.rule = b.rule and a.subject = b.subject and a.state = 'firing'
    returning a.rule, a.subject
  ), new_alerts as (
    insert into public.alerts (rule, subject, value, threshold, message)
    select b.rule, b.subject, b.value, b.threshold, b.detail from breaching b
    where not exists (select 1 from public.alerts a where a.rule = b.rule and a.subject = b.subject and a.state = 'firing')
    returning id, rule, subject
  )
  select coalesce(jsonb_agg(jsonb_build_object('id', n.id, 'rule', n.rule, 'subject', n.subject)), '[]'::jsonb)
    into fired from new_alerts n;

  with back_under as (
    update public.alerts a set state = 'resolved', resolved_at = now()
     where a.state = 'firing'
       and not exists (
         select 1 from jsonb_to_recordset(measured) as m(rule text, subject text, value double precision, detail text) join public.alert_rules r on r.id = m.rule and r.enabled
          where m.rule = a.rule and m.subject = a.subject and m.value > r.threshold)
    returning a.id, a.rule, a.subject
  )
  select coalesce(jsonb_agg(jsonb_build_object('id', b.id, 'rule', b.rule, 'subject', b.subject)), '[]'::jsonb)
    into resolved from back_under b;

  perform private.enqueue_job('alerts.notify', jsonb_build_object('alert_id', (f ->> 'id')::bigint, 'transition', 'fired'),
                              format('alerts.notify:%s:fired', f ->> 'id'))
    from jsonb_array_elements(fired) as f;
  perform private.enqueue_job('alerts.notify', jsonb_build_object('alert_id', (x ->> 'id')::bigint, 'transition', 'resolved'),
                              format('alerts.notify:%s:resolved', x ->> 'id'))
    from jsonb_array_elements(resolved) as x;
  return jsonb_build_object('fired', fired, 'resolved', resolved);
end
$$;

-- The minute's periodic work, enqueued once per minute whoever calls first (the worker on each
-- run, pg_cron on hosted): roll up the closed minutes, then evaluate the alerts.
create function private.enqueue_minute_jobs()
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_minute text := to_char(date_trunc('minute', now()) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI');
begin
  perform private.enqueue_job('metrics.rollup', jsonb_build_object('minute', v_minute), 'metrics.rollup:' || v_minute,
                              null, now(), 3);
  perform private.enqueue_job('alerts.evaluate', jsonb_build_object('minute', v_minute), 'alerts.evaluate:' || v_minute,
                              null, now(), 3);
end
$$;

-- ═══ hosted schedule ═════════════════════════════════════════════════════════════════════════
-- The jobs worker runs on hosted only when jobs are ready, so the minute's jobs are enqueued by
-- pg_cron itself where it exists (absent locally: the worker enqueues them on each run).
do $do$
begin
  if exists (select 1 from pg_extension where extname = 'pg_cron') then
    execute format('select %I.schedule($1, $2, $3)', 'cron')
      using 'switchboard-minute-jobs', '* * * * *', 'select private.enqueue_minute_jobs()';
  end if;
end
$do$;

-- ═══ grants ══════════════════════════════════════════════════════════════════════════════════
grant select on public.alert_rules, public.alerts to authenticated;
grant update (threshold, window_minutes, params, enabled, updated_at, updated_by) on public.alert_rules to authenticated;
grant update (acknowledged_at, acknowledged_by) on public.alerts to authenticated;
grant select, insert, update, delete on public.alert_rules, public.alerts to service_role;
revoke execute on function private.histogram_quantile(double precision, double precision[], bigint[]) from public;
revoke execute on function private.archive_storage_classes() from public;
revoke execute on function private.measure_alert_rules() from public;
revoke execute on function private.evaluate_alerts() from public;
revoke execute on function private.enqueue_minute_jobs() from public;
grant execute on function private.histogram_quantile(double precision, double precision[], bigint[]),
  private.archive_storage_classes(), private.measure_alert_rules(), private.evaluate_alerts(),
  private.enqueue_minute_jobs() to service_role;

-- Measurements and alerts: rollups add up once per minute and into totals; every alert rule is
-- driven across its threshold and back (fires once with one notification, stays quiet while
-- firing, resolves with one more); only platform administrators read rules and alerts, change
-- thresholds and acknowledge; nobody else sees a row, and API roles never reach the internals.
begin;
\ir _helpers.psql
select plan(71);

-- ── fixtures ────────────────────────────────────────────────────────────────────────────────
-- Only the rule under test is enabled at a time, so the seed's data cannot move the others.
update public.alert_rules set enabled = false;
delete from public.alerts;

create function tests.drive(p_rule text) returns void language sql as $$
  update public.alert_rules set enabled = (id = p_rule);
  select private.evaluate_alerts();
$$;
-- What the latest alert of the rule (and subject) is now, and how many notifications it queued.
create function tests.alert_state(p_rule text, p_subject text default '') returns text language sql as $$
  select coalesce((select a.state from public.alerts a where a.rule = p_rule and a.subject = p_subject
                   order by a.id desc limit 1), 'none')
$$;
create function tests.notifications(p_rule text) returns bigint language sql as $$
  select count(*) from private.jobs j join public.alerts a on a.id = (j.payload ->> 'alert_id')::bigint
   where j.kind = 'alerts.notify' and a.rule = p_rule
$$;
create function tests.cycle(p_rule text, p_subject text default '') returns text language sql as $$
  select tests.alert_state(p_rule, p_subject) || '/' || tests.notifications(p_rule)
$$;

insert into public.stores (id, slug, name) values ('00000000-0000-4000-8000-0000000000a1', 'alerting', 'Alerting Store');
insert into public.chatwoot_accounts (id, store_id, chatwoot_url, account_id, last_delivery_at, created_at)
values ('00000000-0000-4000-8000-0000000000b1', '00000000-0000-4000-8000-0000000000a1', 'https://alerts.example.com', 9191,
        now() - interval '10 hours', now() - interval '2 days');

-- ── rollups ─────────────────────────────────────────────────────────────────────────────────
select is(private.histogram_buckets('{0.001,0.02,0.02,3,50}', '{0.01,0.1,1,10}'), '{1,2,0,1,1}'::bigint[],
  'a histogram puts each value in its bucket, the last one past the top bound');
select is(private.add_buckets('{1,2,3}', '{1,0,1}'), '{2,2,4}'::bigint[], 'bucket arrays add element by element');
select is(round(private.histogram_quantile(0.5, '{1,2,4}', '{0,10,0,0}')::numeric, 2), 1.50,
  'a quantile interpolates inside its bucket');
select private.record_metrics(jsonb_build_array(
  jsonb_build_object('metric', 'test_metric', 'minute', '2026-12-08T00:01:30Z', 'labels', '{"outcome":"applied"}', 'count', 2,
                     'sum', 0.5, 'buckets', '{1,1,0}'),
  jsonb_build_object('metric', 'test_metric', 'minute', '2026-12-08T00:02:10Z', 'labels', '{"outcome":"applied"}', 'count', 1,
                     'sum', 0.25, 'buckets', '{0,1,0}')));
select private.record_metrics(jsonb_build_array(
  jsonb_build_object('metric', 'test_metric', 'minute', '2026-12-08T00:01:59Z', 'labels', '{"outcome":"applied"}', 'count', 3,
                     'sum', 1, 'buckets', '{0,0,3}')));
select is((select count::int from private.metric_minutes where metric = 'test_metric' and minute = '2026-12-08T00:01:00Z'), 5,
  'a second flush adds to its minute');
select is((select buckets from private.metric_minutes where metric = 'test_metric' and minute = '2026-12-08T00:01:00Z'),
  '{1,1,3}'::bigint[], 'and to its buckets');
select is((select array[count, sum]::float8[] from private.metric_totals where metric = 'test_metric'), '{6,1.75}'::float8[],
  'the totals hold every minute');
select is((select buckets from private.metric_totals where metric = 'test_metric'), '{1,2,3}'::bigint[],
  'the totals'' buckets too');

update private.metric_rollup_state set rolled_until = date_trunc('minute', now()) - interval '10 minutes';
insert into private.jobs (kind, idempotency_key, status, created_at, completed_at)
values ('test.rollup', 'test.rollup:1', 'completed', date_trunc('minute', now()) - interval '5 minutes 30 seconds',
        date_trunc('minute', now()) - interval '5 minutes');
select ok(private.roll_up_metrics(interval '1 minute') >= 9, 'the rollup covers every closed minute since the last');
select is((select count::int from private.metric_totals where metric = 'jobs_completed' and labels = '{"kind":"test.rollup"}'), 1,
  'a completed job is counted by kind');
select is((select sum::int from private.metric_totals where metric = 'jobs_completed' and labels = '{"kind":"test.rollup"}'), 30,
  'with its time from enqueue to done');
select is(private.roll_up_metrics(interval '1 minute'), 0, 'a minute is rolled up once');
select is((select count::int from private.metric_totals where metric = 'jobs_completed' and labels = '{"kind":"test.rollup"}'), 1,
  'so nothing is counted twice');
insert into private.metric_minutes (metric, minute, count) values ('test_old', date_trunc('minute', now()) - interval '40 days', 1);
update private.metric_rollup_state set rolled_until = date_trunc('minute', now()) - interval '3 minutes';
select private.roll_up_metrics(interval '1 minute', interval '30 days');
select is((select count(*)::int from private.metric_minutes where metric = 'test_old'), 0, 'minutes past the retention are purged');
select is((select count(*)::int from private.metric_totals where metric = 'test_old'), 0, 'while totals stay');

-- ── every rule across its threshold and back ───────────────────────────────────────────────
-- dead jobs (count)
insert into private.jobs (kind, idempotency_key, status, dead_at) values ('test.dead', 'test.dead:1', 'dead', now());
select tests.drive('dead_jobs');
select is(tests.cycle('dead_jobs'), 'firing/1', 'a dead job fires dead_jobs with one notification');
select tests.drive('dead_jobs');
select is(tests.cycle('dead_jobs'), 'firing/1', 'still over: no second alert, no second notification');
delete from private.jobs where kind = 'test.dead';
select tests.drive('dead_jobs');
select is(tests.cycle('dead_jobs'), 'resolved/2', 'replayed: resolved, notified once more');

-- dead jobs (growth within the window)
insert into private.jobs (kind, idempotency_key, status, dead_at) values ('test.dead', 'test.dead:2', 'dead', now());
select tests.drive('dead_jobs_growth');
select is(tests.cycle('dead_jobs_growth'), 'firing/1', 'a job dead-lettered within the window fires dead_jobs_growth');
select tests.drive('dead_jobs_growth');
select is(tests.cycle('dead_jobs_growth'), 'firing/1', 'no repeat while it fires');
update private.jobs set dead_at = now() - interval '2 hours' where kind = 'test.dead';
select tests.drive('dead_jobs_growth');
select is(tests.cycle('dead_jobs_growth'), 'resolved/2', 'out of the window: resolved');

-- oldest ready job
insert into private.jobs (kind, idempotency_key, status, run_at) values ('test.ready', 'test.ready:1', 'queued', now() - interval '10 minutes');
select tests.drive('oldest_ready_job');
select is(tests.cycle('oldest_ready_job'), 'firing/1', 'a job ready for 10 minutes fires oldest_ready_job');
select tests.drive('oldest_ready_job');
select is(tests.alert_state('oldest_ready_job'), 'firing', 'no repeat while it fires');
update private.jobs set status = 'completed', completed_at = now() where kind in ('test.ready', 'alerts.notify');
select tests.drive('oldest_ready_job');
select is(tests.alert_state('oldest_ready_job'), 'resolved', 'the queue drained: resolved');
select is((select count(*)::int from public.alerts where rule = 'oldest_ready_job'), 1, 'one alert over the whole episode');
delete from private.jobs where kind = 'alerts.notify';

-- webhook error rate and processing p95 (from the receivers' minutes; the stack's own deliveries left out)
delete from private.metric_minutes where metric = 'webhook_processing_seconds';
insert into private.metric_minutes (metric, minute, labels, count, sum, buckets) values
  ('webhook_processing_seconds', date_trunc('minute', now()), '{"outcome":"applied"}', 95, 1, '{95,0,0,0,0,0,0,0,0,0,0,0}'),
  ('webhook_processing_seconds', date_trunc('minute', now()), '{"outcome":"error"}', 5, 20, '{0,0,0,0,0,0,0,0,0,0,5,0}');
select tests.drive('webhook_error_rate');
select is(tests.cycle('webhook_error_rate'), 'firing/1', '5 failed of 100 deliveries fires webhook_error_rate (> 1%)');
select is((select round(value::numeric, 2) from public.alerts where rule = 'webhook_error_rate'), 0.05, 'with the rate as its value');
select tests.drive('webhook_error_rate');
select is(tests.cycle('webhook_error_rate'), 'firing/1', 'no repeat while it fires');
update private.metric_minutes set count = 10000, buckets = '{10000,0,0,0,0,0,0,0,0,0,0,0}'
 where metric = 'webhook_processing_seconds' and labels = '{"outcome":"applied"}';
select tests.drive('webhook_error_rate');
select is(tests.cycle('webhook_error_rate'), 'resolved/2', 'under 1%: resolved');

update private.metric_minutes set count = 90, buckets = '{90,0,0,0,0,0,0,0,0,0,0,0}'
 where metric = 'webhook_processing_seconds' and labels = '{"outcome":"applied"}';
update private.metric_minutes set count = 10, buckets = '{0,0,0,0,0,0,0,0,10,0,0,0}'
 where metric = 'webhook_processing_seconds' and labels = '{"outcome":"error"}';
select tests.drive('webhook_processing_p95');
select is(tests.cycle('webhook_processing_p95'), 'firing/1', '10% of deliveries at 1–2.5 s fires webhook_processing_p95 (> 1,000 ms)');
select ok((select value from public.alerts where rule = 'webhook_processing_p95') between 1000 and 2500, 'with the p95 in ms');
select tests.drive('webhook_processing_p95');
select is(tests.cycle('webhook_processing_p95'), 'firing/1', 'no repeat while it fires');
delete from private.metric_minutes where metric = 'webhook_processing_seconds';
select tests.drive('webhook_processing_p95');
select is(tests.cycle('webhook_processing_p95'), 'resolved/2', 'no slow deliveries in the window: resolved');

-- reconciliation lag per account
insert into public.chatwoot_sync_cursors (account_ref, store_id, synced_until)
values ('00000000-0000-4000-8000-0000000000b1', '00000000-0000-4000-8000-0000000000a1', now() - interval '3 hours')
on conflict (account_ref) do update set synced_until = excluded.synced_until;
select tests.drive('reconciliation_lag');
select is(tests.cycle('reconciliation_lag', 'alerting'), 'firing/1', 'an account reconciled 3 hours ago fires, about its store');
select tests.drive('reconciliation_lag');
select is(tests.cycle('reconciliation_lag', 'alerting'), 'firing/1', 'no repeat while it fires');
update public.chatwoot_sync_cursors set synced_until = now() where account_ref = '00000000-0000-4000-8000-0000000000b1';
select tests.drive('reconciliation_lag');
select is(tests.alert_state('reconciliation_lag', 'alerting'), 'resolved', 'reconciled: resolved');

-- silent account while its conversations move
insert into public.chatwoot_conversations (account_ref, display_id, store_id, inbox_id, status, version, last_activity_at)
values ('00000000-0000-4000-8000-0000000000b1', 1, '00000000-0000-4000-8000-0000000000a1', 1, 'open', 1, now() - interval '1 hour');
select tests.drive('silent_account');
select is(tests.cycle('silent_account', 'alerting'), 'firing/1', '10 hours without a delivery while a conversation moved fires');
select tests.drive('silent_account');
select is(tests.cycle('silent_account', 'alerting'), 'firing/1', 'no repeat while it fires');
update public.chatwoot_accounts set last_delivery_at = now() where id = '00000000-0000-4000-8000-0000000000b1';
select tests.drive('silent_account');
select is(tests.cycle('silent_account', 'alerting'), 'resolved/2', 'a delivery arrives: resolved');

-- provisioning failures
insert into public.chatwoot_provisioning (store_id, state, failure_reason) values ('00000000-0000-4000-8000-0000000000a1', 'failed', 'test')
on conflict (store_id) do update set state = 'failed';
select tests.drive('provisioning_failures');
select is(tests.cycle('provisioning_failures'), 'firing/1', 'a failed provisioning fires');
select tests.drive('provisioning_failures');
select is(tests.cycle('provisioning_failures'), 'firing/1', 'no repeat while it fires');
update public.chatwoot_provisioning set state = 'active' where store_id = '00000000-0000-4000-8000-0000000000a1';
update public.chatwoot_provisioning set state = 'active' where state = 'failed';
select tests.drive('provisioning_failures');
select is(tests.cycle('provisioning_failures'), 'resolved/2', 'provisioned again: resolved');

-- AI tokens against the monthly budget
insert into public.ai_usage_daily (store_id, day, tokens) values ('00000000-0000-4000-8000-0000000000a1', current_date, 2000);
update public.alert_rules set threshold = (select sum(tokens) from public.ai_usage_daily where day >= date_trunc('month', now())::date) - 1
 where id = 'ai_tokens_month';
select tests.drive('ai_tokens_month');
select is(tests.cycle('ai_tokens_month'), 'firing/1', 'tokens over the budget fire');
select tests.drive('ai_tokens_month');
select is(tests.cycle('ai_tokens_month'), 'firing/1', 'no repeat while it fires');
update public.alert_rules set threshold = threshold + 1000 where id = 'ai_tokens_month';
select tests.drive('ai_tokens_month');
select is(tests.cycle('ai_tokens_month'), 'resolved/2', 'the budget raised: resolved');

-- estimated GCS cost against the budget
update public.alert_rules set threshold = -1 where id = 'gcs_monthly_cost';
select tests.drive('gcs_monthly_cost');
select is(tests.cycle('gcs_monthly_cost'), 'firing/1', 'a cost over the budget fires');
select tests.drive('gcs_monthly_cost');
select is(tests.cycle('gcs_monthly_cost'), 'firing/1', 'no repeat while it fires');
update public.alert_rules set threshold = 100 where id = 'gcs_monthly_cost';
select tests.drive('gcs_monthly_cost');
select is(tests.cycle('gcs_monthly_cost'), 'resolved/2', 'under the budget: resolved');

-- database connections in use
update public.alert_rules set threshold = 0 where id = 'db_connections';
select tests.drive('db_connections');
select is(tests.cycle('db_connections'), 'firing/1', 'connections over the share fire');
select tests.drive('db_connections');
select is(tests.cycle('db_connections'), 'firing/1', 'no repeat while it fires');
update public.alert_rules set threshold = 0.8 where id = 'db_connections';
select tests.drive('db_connections');
select is(tests.cycle('db_connections'), 'resolved/2', 'back under: resolved');

-- a disabled rule resolves what it had fired
insert into private.jobs (kind, idempotency_key, status, dead_at) values ('test.dead', 'test.dead:3', 'dead', now());
select tests.drive('dead_jobs');
update public.alert_rules set enabled = false;
select private.evaluate_alerts();
select is(tests.alert_state('dead_jobs'), 'resolved', 'disabling a rule resolves its alert');

-- the minute's jobs, once per minute
select private.enqueue_minute_jobs();
select private.enqueue_minute_jobs();
select is((select count(*)::int from private.jobs where kind in ('metrics.rollup', 'alerts.evaluate')
            and created_at >= date_trunc('minute', now())), 2, 'the minute''s rollup and evaluation are enqueued once');

-- ── who sees what ───────────────────────────────────────────────────────────────────────────
select tests.create_user('alert-admin@example.com', true) as admin_id \gset
select tests.create_user('alert-owner@example.com') as owner_id \gset
insert into public.store_members (store_id, user_id, role) values ('00000000-0000-4000-8000-0000000000a1', :'owner_id', 'owner');

select tests.act_as(:'admin_id');
select is((select count(*)::int from public.alert_rules), 11, 'a platform admin reads every rule');
select ok((select count(*) from public.alerts) > 0, 'and the alerts');
update public.alert_rules set threshold = 0.05 where id = 'webhook_error_rate';
select is((select threshold from public.alert_rules where id = 'webhook_error_rate'), 0.05::float8, 'and changes a threshold');
update public.alerts set acknowledged_at = now(), acknowledged_by = :'admin_id' where rule = 'dead_jobs';
select ok((select bool_and(acknowledged_at is not null) from public.alerts where rule = 'dead_jobs'), 'and acknowledges an alert');
select throws_ok($$ delete from public.alerts $$, '42501', null, 'but deletes no alert');
select throws_ok($$ insert into public.alert_rules (id, description, threshold, unit) values ('x', 'x', 1, 'x') $$, '42501', null,
  'and adds no rule');
select throws_ok($$ update public.alerts set state = 'resolved', resolved_at = now() $$, '42501', null,
  'and cannot resolve an alert by hand');

select ok(jsonb_array_length(public.platform_overview('hour') -> 'series') between 59 and 61,
  'the overview of an hour has a point per minute');
select is(public.platform_overview('week') ->> 'step_seconds', '10800', 'a week''s points are 3 hours apart');
select ok((public.platform_overview('day') -> 'alerts') is not null and (public.platform_overview('day') -> 'queue') ? 'ready',
  'with the firing alerts and the queue now');
select throws_ok($$ select public.platform_overview('year') $$, '22023', null, 'an unknown range is refused');

select tests.act_as(:'owner_id');
select throws_ok($$ select public.platform_overview('day') $$, '42501', null, 'a store owner gets no overview');
select is((select count(*)::int from public.alert_rules), 0, 'a store owner sees no rule');
select is((select count(*)::int from public.alerts), 0, 'nor any alert, even about their own store');
update public.alert_rules set threshold = 99 where id = 'dead_jobs';
select tests.act_as_postgres();
select isnt((select threshold from public.alert_rules where id = 'dead_jobs'), 99::float8, 'their update changes nothing');

select tests.act_as_anon();
select throws_ok($$ select count(*) from public.alert_rules $$, '42501', null, 'anon cannot read rules');
select throws_ok($$ select count(*) from public.alerts $$, '42501', null, 'nor alerts');
select tests.act_as_postgres();

select tests.act_as_postgres();
update private.metric_rollup_state set rolled_until = date_trunc('minute', now()) - interval '2 minutes';
select private.roll_up_metrics(interval '1 minute');
select ok((select count > 0 from private.metric_minutes where metric = 'queue_dead' and minute = date_trunc('minute', now())),
  'the rollup keeps a snapshot of the queue for the overview''s history');
select ok(not has_function_privilege('authenticated', 'private.evaluate_alerts()', 'execute')
          and not has_function_privilege('authenticated', 'private.record_metrics(jsonb)', 'execute')
          and not has_table_privilege('authenticated', 'private.metric_totals', 'select'),
  'API roles reach neither the measurements nor the evaluator');

select * from finish();
rollback;

-- The hosted worker schedule: without pg_cron, pg_net and Vault (as on the local stack) it refuses
-- with the step to take, nobody but the service can call it, and no stale schedule sends the
-- retired service_role bearer.
begin;
select plan(4);

select throws_ok('select private.schedule_jobs_worker()', '0A000', null,
  'scheduling the worker without its extensions is refused');
select throws_like('select private.schedule_jobs_worker()', '%enable pg_cron, pg_net, vault first%',
  'the refusal names every extension to enable');
select ok(not has_function_privilege('authenticated', 'private.schedule_jobs_worker()', 'execute')
          and not has_function_privilege('anon', 'private.schedule_jobs_worker()', 'execute'),
  'API roles cannot schedule the worker');
select ok(position('apikey' in pg_get_functiondef('private.schedule_jobs_worker()'::regprocedure)) > 0
          and position('Bearer' in pg_get_functiondef('private.schedule_jobs_worker()'::regprocedure)) = 0,
  'the schedule authenticates with the secret key in apikey, not a bearer JWT');

select * from finish();
rollback;

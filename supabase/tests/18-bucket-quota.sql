-- The project's GCS bucket create/delete quota (private.claim_bucket_operation): one caller goes at a
-- time, each bucket gets the next slot one interval after the last, a bucket being created makes the
-- others wait for its outcome, a worker that died mid-call is taken over, a 429 moves the bucket to a
-- later slot, and API roles can reach none of it. An hour's interval keeps the waits exact enough
-- to compare however slow the machine.
begin;
\ir _helpers.psql
select plan(17);

select has_table('private', 'gcs_bucket_quota', 'the quota has a row per project');
select has_table('private', 'gcs_bucket_operations', 'and one per bucket waiting for a slot');
select ok(not has_function_privilege('authenticated',
          'private.claim_bucket_operation(text, text, text, interval, interval)', 'execute'),
          'authenticated cannot take a slot');
select ok(not has_table_privilege('anon', 'private.gcs_bucket_operations', 'select'), 'anon cannot see the slots');

create temp table claims (label text, go boolean, wait_ms integer);
create function pg_temp.claim(p_label text, p_bucket text, p_project text default 'proj')
returns void language sql as $$
  insert into claims select p_label, go, wait_ms
  from private.claim_bucket_operation(p_project, p_bucket, 'create', interval '1 hour', interval '1 minute')
$$;

select pg_temp.claim('a', 'bucket-a');
select pg_temp.claim('b', 'bucket-b');
select pg_temp.claim('c', 'bucket-c');
select pg_temp.claim('a again', 'bucket-a');
select pg_temp.claim('other project', 'bucket-x', 'proj-2');

select is((select go from claims where label = 'a'), true, 'the first bucket of an idle project goes at once');
select ok((select not go and wait_ms between 3590000 and 3600000 from claims where label = 'b'),
          'the second waits for the next slot, one interval later');
select ok((select not go and wait_ms between 7190000 and 7200000 from claims where label = 'c'),
          'the third for the one after');
select ok((select not go and wait_ms = 3600000 from claims where label = 'a again'),
          'a bucket another worker is creating: wait for its outcome');
select is((select go from claims where label = 'other project'), true, 'each project has its own quota');

-- bucket-b's slot comes: it still waits one interval after the last call actually made.
update private.gcs_bucket_operations set slot_at = clock_timestamp() - interval '1 second' where bucket = 'bucket-b';
select pg_temp.claim('b at its slot', 'bucket-b');
select ok((select not go and wait_ms between 3590000 and 3600000 from claims where label = 'b at its slot'),
          'a slot reached less than an interval after the last call still waits');
update private.gcs_bucket_quota set last_call_at = clock_timestamp() - interval '2 hours' where project = 'proj';
select pg_temp.claim('b later', 'bucket-b');
select is((select go from claims where label = 'b later'), true, 'then it goes');

-- A worker that died in the middle of its call is taken over with a new slot.
update private.gcs_bucket_operations set started_at = clock_timestamp() - interval '2 minutes' where bucket = 'bucket-a';
select pg_temp.claim('a taken over', 'bucket-a');
select ok((select not go and wait_ms > 0 from claims where label = 'a taken over'),
          'a call older than the stale limit loses its slot, and a new one is waited for');
select ok((select started_at is null from private.gcs_bucket_operations where bucket = 'bucket-a'),
          'nobody is calling for it any more');

-- A 429 anyway: the bucket moves to a later slot.
select cmp_ok(private.release_bucket_operation('proj', 'bucket-b', 'create', interval '1 hour', true, 'rateLimitExceeded'),
              '>=', 3590000, 'after a 429 the bucket waits at least one interval');
select is((select throttled from private.gcs_bucket_operations where bucket = 'bucket-b'), 1, 'the 429 is counted');

-- Done: nobody waits for it any more.
select private.finish_bucket_operation('bucket-b', 'create');
select is((select count(*)::int from private.gcs_bucket_operations where bucket = 'bucket-b'), 0,
          'a finished operation leaves no row');
select is((select count(*)::int from private.gcs_bucket_operations where project = 'proj'), 2,
          'the others still hold their slots');

select * from finish();
rollback;

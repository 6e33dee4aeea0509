-- Job queue semantics in SQL: idempotent enqueue, claim, lease-guarded completion, backoff
-- growth within its jitter bounds, dead-lettering, replay, visibility-timeout reclaim.
-- Concurrency (two workers, rollback) is exercised from Deno with real connections.
begin;
\ir _helpers.psql
select plan(23);

create temp table j (k text primary key, id bigint, lease uuid);

-- ── enqueue ──────────────────────────────────────────────────────────────────────────────────
insert into j (k, id) values ('a', private.enqueue_job('tap.kind_a', '{"n":1}', 'tap-key-a'));
select is(private.enqueue_job('tap.kind_a', '{"n":2}', 'tap-key-a'), (select id from j where k = 'a'),
  'the same idempotency key returns the first job');
select is((select count(*)::int from private.jobs where idempotency_key = 'tap-key-a'), 1, 'and creates no second row');
select is((select payload from private.jobs where idempotency_key = 'tap-key-a'), '{"n":1}'::jsonb,
  'and leaves the first payload untouched');
select throws_ok($$ select private.enqueue_job('Bad Kind', '{}', 'tap-bad') $$, '23514', null, 'a malformed kind is refused');

-- ── claim / complete ─────────────────────────────────────────────────────────────────────────
update j set lease = c.lease from private.claim_jobs('w1', 10, '60 seconds', array['tap.kind_a']) c where j.k = 'a';
select is((select status::text from private.jobs where id = (select id from j where k = 'a')), 'running', 'a claimed job is running');
select is((select attempts from private.jobs where id = (select id from j where k = 'a')), 1, 'claiming counts an attempt');
select is((select count(*)::int from private.claim_jobs('w2', 10, '60 seconds', array['tap.kind_a'])), 0,
  'a running job inside its visibility timeout is not claimed again');
select is(private.complete_jobs(array[(select id from j where k = 'a')], array[gen_random_uuid()]), 0,
  'completing with a wrong lease does nothing');
select is(private.complete_jobs(array[(select id from j where k = 'a')], array[(select lease from j where k = 'a')]), 1,
  'completing with the lease completes');
select is((select status::text from private.jobs where id = (select id from j where k = 'a')), 'completed', 'the job is completed');

-- ── failure, backoff, dead letter ────────────────────────────────────────────────────────────
insert into j (k, id) values ('b', private.enqueue_job('tap.kind_b', '{}', 'tap-key-b', null, now(), 3));
create temp table waits (attempt int, seconds float8);
do $$
declare
  c record;
begin
  for i in 1..2 loop
    update private.jobs set run_at = now() - interval '1 second' where idempotency_key = 'tap-key-b';
    select * into c from private.claim_jobs('w1', 1, '60 seconds', array['tap.kind_b']);
    perform private.fail_job(c.id, c.lease, format('boom %s', i));
    insert into waits select i, extract(epoch from run_at - now()) from private.jobs where id = c.id;
  end loop;
end
$$;
select ok((select seconds between 2.4 and 5.1 from waits where attempt = 1), 'first retry waits 2.5–5 s (5 s base, jitter)');
select ok((select seconds between 4.9 and 10.1 from waits where attempt = 2), 'second retry waits 5–10 s: backoff grows');
select is((select last_error from private.jobs where idempotency_key = 'tap-key-b'), 'boom 2', 'the last error is kept');
update private.jobs set run_at = now() - interval '1 second' where idempotency_key = 'tap-key-b';
update j set lease = c.lease from private.claim_jobs('w1', 1, '60 seconds', array['tap.kind_b']) c where j.k = 'b';
select is(private.fail_job((select id from j where k = 'b'), (select lease from j where k = 'b'), 'boom 3')::text, 'dead',
  'the Nth failure dead-letters');
select isnt((select dead_at from private.jobs where idempotency_key = 'tap-key-b'), null, 'a dead job records when');
select is((select count(*)::int from private.claim_jobs('w1', 10, '60 seconds', array['tap.kind_b'])), 0, 'a dead job is never claimed');

-- ── cap ──────────────────────────────────────────────────────────────────────────────────────
insert into j (k, id) values ('c', private.enqueue_job('tap.kind_c', '{}', 'tap-key-c', null, now(), 50));
update private.jobs set attempts = 30 where idempotency_key = 'tap-key-c';
update j set lease = c.lease from private.claim_jobs('w1', 1, '60 seconds', array['tap.kind_c']) c where j.k = 'c';
select private.fail_job((select id from j where k = 'c'), (select lease from j where k = 'c'), 'x');
select ok((select run_at - now() <= interval '1 hour' from private.jobs where idempotency_key = 'tap-key-c'),
  'backoff is capped at one hour');

-- ── replay ───────────────────────────────────────────────────────────────────────────────────
select ok(private.replay_job((select id from j where k = 'b')), 'a dead job can be replayed');
select is((select status::text || '/' || attempts from private.jobs where idempotency_key = 'tap-key-b'), 'queued/0',
  'replay re-queues with fresh attempts');

-- ── visibility timeout ───────────────────────────────────────────────────────────────────────
insert into j (k, id) values ('d', private.enqueue_job('tap.kind_d', '{}', 'tap-key-d', null, now(), 2));
update j set lease = c.lease from private.claim_jobs('dying-worker', 1, '60 seconds', array['tap.kind_d']) c where j.k = 'd';
update private.jobs set locked_until = now() - interval '1 second' where idempotency_key = 'tap-key-d';
select is((select locked_by from private.claim_jobs('w2', 1, '60 seconds', array['tap.kind_d'])), 'w2',
  'a job whose worker died is reclaimed after the visibility timeout');
select is(private.complete_jobs(array[(select id from j where k = 'd')], array[(select lease from j where k = 'd')]), 0,
  'the dead worker''s lease can no longer complete it');
update private.jobs set locked_until = now() - interval '1 second' where idempotency_key = 'tap-key-d';
select is((select count(*)::int from private.claim_jobs('w3', 1, '60 seconds', array['tap.kind_d'])), 0,
  'a job that lost its worker on the last attempt is not claimed again');
select is((select status::text from private.jobs where idempotency_key = 'tap-key-d'), 'dead', '… it is dead-lettered');

select * from finish();
rollback;

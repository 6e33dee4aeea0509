-- The AI paused for quota: one pause however many jobs meet insufficient_quota, audited, with its probe queued; the
-- pause itself out of reach of API roles, readable through ai_pause_status() by members and platform administrators
-- (not by a signed-in user of no store, not by anon); only a platform administrator resumes it, which is audited and
-- wakes the jobs that waited for it.
begin;
\ir _helpers.psql
select plan(15);

create temp table ids (k text primary key, v uuid);
grant select on ids to anon, authenticated;
insert into ids values
  ('member', tests.create_user('pause-member@t.test')),
  ('nobody', tests.create_user('pause-nobody@t.test')),
  ('platform', tests.create_user('pause-platform@t.test', true));
insert into stores (slug, name, chatwoot_provisioning) values ('tap-pause', 'Pause', 'manual');
insert into store_members (store_id, user_id, role)
select s.id, (select v from ids where k = 'member'), 'agent' from stores s where s.slug = 'tap-pause';
delete from private.ai_pause;

select ok(private.pause_ai('insufficient_quota', 'chat', 'You exceeded your current quota', interval '10 minutes'),
          'the first insufficient_quota pauses the AI');
select ok(not private.pause_ai('insufficient_quota', 'embeddings', 'again', interval '10 minutes'),
          'a second one finds it paused');
select is((select endpoint from private.ai_pause), 'chat', 'the pause keeps what met it first');
select is((select count(*)::int from private.jobs where kind = 'ai.quota_probe' and status = 'queued'
           and run_at > now() + interval '9 minutes'), 1, 'one probe is queued for later');
select is((select count(*)::int from private.audit_log where action = 'ai.paused' and at >= now()), 1, 'the pause is audited once');
-- A job that waited for the resume (deferred with the pause's reason).
insert into private.jobs (kind, payload, idempotency_key, run_at, last_error)
values ('kb.embed_document', '{}', 'tap-pause-waiting', now() + interval '10 minutes', 'AI paused: out of quota');

select tests.act_as((select v from ids where k = 'member'));
select throws_ok($$ select * from private.ai_pause $$, '42501', null, 'the pause table is out of reach');
select is((select code from ai_pause_status()), 'insufficient_quota', 'a store member sees the pause and why');
select throws_ok($$ select resume_ai() $$, '42501', null, 'but cannot resume the AI');

select tests.act_as((select v from ids where k = 'nobody'));
select is_empty($$ select * from ai_pause_status() $$, 'a user of no store sees nothing');

select tests.act_as_anon();
select throws_ok($$ select * from ai_pause_status() $$, '42501', null, 'anon is refused');

select tests.act_as((select v from ids where k = 'platform'));
select ok(resume_ai(), 'a platform administrator resumes the AI');
select ok(not resume_ai(), 'resuming twice changes nothing');

select tests.act_as_postgres();
select is_empty($$ select 1 from private.ai_pause $$, 'the pause is gone');
select is((select detail ->> 'how' from private.audit_log where action = 'ai.resumed' and at >= now()), 'operator',
          'the resume is audited');
select ok((select run_at <= now() from private.jobs where idempotency_key = 'tap-pause-waiting'),
          'the job that waited for the resume runs now');

select * from finish();
rollback;

-- Archive erasures (public.archive_erasures): RLS on, one policy named as a sentence; only platform
-- administrators read them (a store member, even of the user's store, and a user whose archive it is see
-- 0 rows; anon is refused); nobody writes them through the API; requesting one is for platform
-- administrators, returns the erasure and queues its first job; asking twice gives one erasure; a failed
-- one is queued again from its checkpoint; a completed one leaves room for a new one.
begin;
\ir _helpers.psql
select plan(24);

select ok((select relrowsecurity from pg_class where oid = 'public.archive_erasures'::regclass), 'RLS is enabled');
select policies_are('public', 'archive_erasures', array['Platform administrators can read archive erasures'],
  'one policy, to read');
select table_privs_are('public', 'archive_erasures', 'authenticated', array['SELECT'], 'authenticated may only select');
select table_privs_are('public', 'archive_erasures', 'anon', '{}'::text[], 'anon has no privilege at all');
select ok(not has_function_privilege('authenticated', 'private.start_archive_erasure(uuid, text)', 'execute'),
  'authenticated cannot start an erasure without the check');

-- ── fixtures (as postgres) ───────────────────────────────────────────────────────────────────
create temp table ids (k text primary key, v uuid);
grant select on ids to anon, authenticated;
insert into ids values
  ('platform', tests.create_user('tap-er-platform@example.com', true)),
  ('owner', tests.create_user('tap-er-owner@example.com')),
  ('erased', tests.create_user('tap-er-erased@example.com', false, '+14155550961')),
  ('other', tests.create_user('tap-er-other@example.com', false, '+14155550962'));
insert into public.stores (id, slug, name, chatwoot_provisioning)
values ('20000000-0000-4000-8000-0000000000e1', 'tap-erasures', 'TAP erasures', 'manual');
insert into public.store_members (store_id, user_id, role)
values ('20000000-0000-4000-8000-0000000000e1', (select v from ids where k = 'owner'), 'owner');
insert into public.archive_contacts (store_id, phone_e164, status, user_id, mapped_by)
values ('20000000-0000-4000-8000-0000000000e1', '+14155550961', 'mapped', (select v from ids where k = 'erased'), 'auto');
insert into public.archive_erasures (user_id, requested_by, status, step, objects_expected, objects_deleted, finished_at)
values ((select v from ids where k = 'other'), 'tap', 'completed', 'done', 3, 3, now());

-- ── requesting one ───────────────────────────────────────────────────────────────────────────
select tests.act_as((select v from ids where k = 'owner'));
select throws_ok($$ select public.request_archive_erasure((select v from ids where k = 'erased')) $$, '42501', null,
  'a store owner cannot erase an archive, even of their store''s customer');
select tests.act_as((select v from ids where k = 'platform'));
create temp table first_request as select public.request_archive_erasure((select v from ids where k = 'erased')) as id;
select tests.act_as_postgres();
select is((select status from public.archive_erasures where id = (select id from first_request)), 'queued',
  'a platform administrator''s request creates a queued erasure');
select is((select requested_by from public.archive_erasures where id = (select id from first_request)),
  format('user:%s', (select v from ids where k = 'platform')), 'naming who asked');
select is((select count(*)::int from private.jobs where kind = 'archive.erase_user'
            and payload ->> 'erasure_id' = (select id::text from first_request)), 1, 'and queues its first job');
select is((select count(*)::int from private.audit_log where action = 'archive.erase_requested'
            and target = format('user:%s', (select v from ids where k = 'erased'))), 1, 'the request is audited');
select tests.act_as((select v from ids where k = 'platform'));
select is(public.request_archive_erasure((select v from ids where k = 'erased')), (select id from first_request),
  'asking again while it runs returns the same erasure');
select tests.act_as_postgres();
select is((select count(*)::int from private.jobs where kind = 'archive.erase_user'
            and payload ->> 'erasure_id' = (select id::text from first_request)), 1, '… and queues nothing more');
select throws_ok($$ insert into public.archive_erasures (user_id, requested_by) values ((select v from ids where k = 'erased'), 'x') $$,
  '23505', null, 'one open erasure per user');

-- A failed erasure (its job dead-lettered) is queued again from its checkpoint.
update public.archive_erasures set status = 'failed', step = 'bucket_objects', cursor = 'token-7', runs = 3,
  objects_deleted = 700, last_error = 'GCS answered 503' where id = (select id from first_request);
select is(private.start_archive_erasure((select v from ids where k = 'erased'), 'tap'), (select id from first_request),
  'asking again after a failure resumes the same erasure');
select results_eq($$ select status, step, cursor, objects_deleted, last_error from public.archive_erasures
                     where id = (select id from first_request) $$,
  $$ values ('queued'::text, 'bucket_objects'::text, 'token-7'::text, 700, null::text) $$,
  'from its checkpoint, with its progress kept');
select is((select count(*)::int from private.jobs where kind = 'archive.erase_user' and status = 'queued'
            and payload ->> 'erasure_id' = (select id::text from first_request)), 2, 'with a new job');
-- A completed one leaves room for a new erasure (new data archived since).
select isnt(private.start_archive_erasure((select v from ids where k = 'other'), 'tap'),
  (select id from public.archive_erasures where user_id = (select v from ids where k = 'other') and status = 'completed'),
  'after a completed erasure, a new request is a new erasure');

-- ── who sees them ────────────────────────────────────────────────────────────────────────────
select tests.act_as((select v from ids where k = 'owner'));
select is((select count(*)::int from public.archive_erasures), 0,
  'a store member (of the erased user''s store) sees no erasure');
select tests.act_as((select v from ids where k = 'erased'));
select is((select count(*)::int from public.archive_erasures), 0, 'the user whose archive it is sees none either');
select throws_ok($$ update public.archive_erasures set status = 'completed' $$, '42501', null,
  'nobody changes an erasure through the API');
select throws_ok($$ delete from public.archive_erasures $$, '42501', null, 'nor deletes one');
select tests.act_as((select v from ids where k = 'platform'));
select ok((select count(*)::int from public.archive_erasures) >= 3, 'a platform administrator sees every erasure');
select throws_ok($$ insert into public.archive_erasures (user_id, requested_by) values (gen_random_uuid(), 'forged') $$,
  '42501', null, 'not even a platform administrator writes one through the API');
select tests.act_as_anon();
select throws_ok($$ select count(*) from public.archive_erasures $$, '42501', null, 'anon cannot read erasures');

select * from finish();
rollback;

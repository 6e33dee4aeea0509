-- The WhatsApp archive: tenant isolation for the archive records (a member of store A sees only
-- A's contacts, messages and media, nobody writes them through the API, anon is refused, a
-- non-member sees nothing, a platform administrator sees everything); each user reads only their
-- own bucket row; the audit trail is out of reach of API roles; every WhatsApp message that
-- reaches the mirror enqueues exactly one archive job per state (never private notes or other
-- channels); review-queue suggestions are for platform administrators only; and the tables'
-- constraints refuse inconsistent rows.
begin;
\ir _helpers.psql
select plan(95);

-- ── helpers (as postgres; rolled back with everything else) ─────────────────────────────────
-- A message_created-like records object as _shared/chatwoot/ingest.ts builds it (a WhatsApp
-- message unless overridden); each part can be overridden key by key.
create function tests.ar_event(p_message jsonb default '{}', p_conversation jsonb default '{}')
returns jsonb language sql as $$
  select jsonb_build_object(
    'contact', jsonb_build_object(
      'contact_id', 1, 'name', 'Maria Silva', 'email', 'maria@example.com', 'phone_number', '+5511988887777',
      'identifier', null, 'custom_attributes', '{}'::jsonb, 'additional_attributes', '{}'::jsonb,
      'blocked', false, 'source_updated_at', null),
    'conversation', jsonb_build_object(
      'display_id', 1, 'inbox_id', 7, 'channel', 'Channel::Whatsapp', 'status', 'open', 'priority', null,
      'assignee_type', null, 'assignee_id', null, 'team_id', null, 'labels', '[]'::jsonb, 'contact_id', 1,
      'contact_inbox_source_id', '5511988887777', 'custom_attributes', '{}'::jsonb,
      'additional_attributes', '{}'::jsonb, 'created_at', '2026-01-10T12:00:00Z',
      'last_activity_at', '2026-01-10T12:00:05Z', 'waiting_since', null,
      'snoozed_until', null, 'version', 1768046405000) || p_conversation,
    'message', jsonb_build_object(
      'message_id', 100, 'conversation_display_id', 1, 'inbox_id', 7, 'message_type', 'incoming',
      'content', 'Olá, meu pedido chegou?', 'content_type', 'text', 'private', false, 'status', 'sent',
      'source_id', 'wamid.ARCH100', 'sender_type', 'Contact', 'sender_id', 1, 'content_attributes', '{}'::jsonb,
      'additional_attributes', '{}'::jsonb, 'echo', false, 'deleted', false, 'is_whatsapp', true,
      'created_at', '2026-01-10T12:00:05Z', 'version_progress', 0, 'version_updated_at_ms', null,
      'version_fingerprint', 'fp-100-a') || p_message,
    'attachments', jsonb_build_array(jsonb_build_object(
      'attachment_id', 500, 'message_id', 100, 'file_type', 'image', 'content_type', 'image/jpeg',
      'extension', 'jpg', 'data_url', 'https://chat.example.com/rails/active_storage/500.jpg',
      'thumb_url', null, 'file_size', 20480, 'width', 640, 'height', 480)))
$$;

-- What the current role can see of an archive table (RLS applies: invoker rights).
create function tests.ar_stores(p_table text) returns uuid[] language plpgsql as $$
declare
  r uuid[];
begin
  execute format('select coalesce(array_agg(distinct store_id order by store_id), ''{}'') from public.%I', p_table) into r;
  return r;
end
$$;
create function tests.ar_count(p_table text, p_store uuid default null) returns integer language plpgsql as $$
declare
  r integer;
begin
  execute format('select count(*)::int from public.%I where %L::uuid is null or store_id = %L::uuid',
                 p_table, p_store, p_store) into r;
  return r;
end
$$;
-- Archive jobs queued for one message of one account (read as postgres: private.jobs).
create function tests.ar_jobs(p_account uuid, p_message bigint) returns integer language sql as $$
  select count(*)::int from private.jobs
  where kind = 'archive.message' and payload ->> 'account_ref' = p_account::text
    and payload ->> 'message_id' = p_message::text
$$;
grant execute on all functions in schema tests to anon, authenticated, service_role;

-- ── fixtures (as postgres) ───────────────────────────────────────────────────────────────────
create temp table ids (k text primary key, v uuid);
grant select on ids to anon, authenticated;
insert into ids values
  ('viewer_a', tests.create_user('ar-viewer-a@t.test')),
  ('owner_a', tests.create_user('ar-owner-a@t.test')),
  ('owner_b', tests.create_user('ar-owner-b@t.test')),
  ('outsider', tests.create_user('ar-outsider@t.test')),
  ('platform', tests.create_user('ar-platform@t.test', true)),
  -- candidates for the review-queue suggestions
  ('by_number', tests.create_user('ar-by-number@t.test', false, '+5521987650321')),
  ('by_name', tests.create_user('ar-by-name@t.test', false, '+14155550101')),
  ('by_email', tests.create_user('ar-by-email@t.test', false, '+14155550102')),
  ('unrelated', tests.create_user('ar-unrelated@t.test', false, '+14155550103'));
update profiles set full_name = 'Maria Lopes' where user_id = (select v from ids where k = 'by_name');
update profiles set full_name = 'Beatriz Nunes', email = 'M.Lopez@Example.com' where user_id = (select v from ids where k = 'by_email');
update profiles set full_name = 'Joao Pereira' where user_id = (select v from ids where k = 'unrelated');
update profiles set full_name = 'Carlos Duarte' where user_id = (select v from ids where k = 'by_number');

insert into stores (slug, name) values ('tap-ar-store-a', 'Archive Store A'), ('tap-ar-store-b', 'Archive Store B');
insert into ids select 'store_a', id from stores where slug = 'tap-ar-store-a';
insert into ids select 'store_b', id from stores where slug = 'tap-ar-store-b';
insert into store_members (store_id, user_id, role) values
  ((select v from ids where k = 'store_a'), (select v from ids where k = 'viewer_a'), 'viewer'),
  ((select v from ids where k = 'store_a'), (select v from ids where k = 'owner_a'), 'owner'),
  ((select v from ids where k = 'store_b'), (select v from ids where k = 'owner_b'), 'owner');
insert into chatwoot_accounts (store_id, chatwoot_url, account_id) values
  ((select v from ids where k = 'store_a'), 'https://archive-chat.example.com', 41),
  ((select v from ids where k = 'store_b'), 'https://archive-chat.example.com', 42);
insert into ids select 'acc_a', id from chatwoot_accounts where store_id = (select v from ids where k = 'store_a');
insert into ids select 'acc_b', id from chatwoot_accounts where store_id = (select v from ids where k = 'store_b');

-- One WhatsApp message ingested per store, then its archive records as the archive job writes them.
create temp table fixture_outcomes as
  select private.ingest_chatwoot_delivery((select v from ids where k = 'acc_a'), 'ar-fixture-a-1', 'message_created',
           tests.ar_event()) as a,
         private.ingest_chatwoot_delivery((select v from ids where k = 'acc_b'), 'ar-fixture-b-1', 'message_created',
           tests.ar_event()) as b;
insert into archive_contacts (store_id, phone_e164, status, contact_name, messages, media, last_message_at)
select v, '+5511988887777', 'unmapped', 'Maria Silva', 1, 1, now() from ids where k in ('store_a', 'store_b');
-- store A's review queue also holds the number the suggestions are asked about
insert into archive_contacts (store_id, phone_e164, status, contact_name, contact_email, messages, last_message_at)
values ((select v from ids where k = 'store_a'), '+5511987650321', 'unmapped', 'Maria Lopez', 'm.lopez@example.com', 3, now());
insert into archived_messages (account_ref, message_id, store_id, phone_e164, user_id, bucket, object_name, generation,
                               size, sha256, crc32c, message_fingerprint)
select a.v, 100, s.v, '+5511988887777', null, 'tap-ar-holding', format('%s/100.json', a.v), 1, 512,
       repeat('ab', 32), 'AAAAAA==', 'fp-100-a:sent'
from ids a join ids s on (a.k, s.k) in (('acc_a', 'store_a'), ('acc_b', 'store_b'));
insert into archived_media (account_ref, attachment_id, message_id, store_id, user_id, bucket, object_name, generation,
                            content_type, size, sha256, crc32c)
select a.v, 500, 100, s.v, null, 'tap-ar-holding', format('%s/500.jpg', a.v), 1, 'image/jpeg', 20480,
       repeat('cd', 32), 'BBBBBB=='
from ids a join ids s on (a.k, s.k) in (('acc_a', 'store_a'), ('acc_b', 'store_b'));
insert into archive_buckets (name, owner_user_id, kind, location, storage_class, lifecycle) values
  ('tap-ar-holding', null, 'holding', 'SOUTHAMERICA-EAST1', 'ARCHIVE', '{}'),
  ('tap-ar-viewer-a', (select v from ids where k = 'viewer_a'), 'user', 'SOUTHAMERICA-EAST1', 'ARCHIVE', '{}'),
  ('tap-ar-owner-b', (select v from ids where k = 'owner_b'), 'user', 'SOUTHAMERICA-EAST1', 'ARCHIVE', '{}');
insert into private.audit_log (actor, action, target, detail)
values ('tap', 'archive.erase_user', format('user:%s', (select v from ids where k = 'outsider')), '{"messages":0}');

create temp table archive (n int primary key, t text not null, per_store int not null);
-- per_store: store A's rows (archive_contacts: its contact plus the review-queue number)
insert into archive values (1, 'archive_contacts', 2), (2, 'archived_messages', 1), (3, 'archived_media', 1);
grant select on archive to anon, authenticated;

-- One well-formed new row per table for store A, as a member would try to write it.
create temp table attempts (n int primary key, t text not null, ins text not null);
insert into attempts
select 1, 'archive_contacts', format($$ insert into public.archive_contacts (store_id, phone_e164, status)
  values (%L, '+5511900000001', 'unmapped') $$, s)
from (select v as s from ids where k = 'store_a') x
union all
select 2, 'archived_messages', format($$ insert into public.archived_messages (account_ref, message_id, store_id,
  phone_e164, bucket, object_name, generation, size, sha256, crc32c, message_fingerprint)
  values (%L, 999, %L, '+5511900000001', 'tap-ar-holding', 'forged.json', 1, 1, 'x', 'x', 'x') $$, a, s)
from (select (select v from ids where k = 'acc_a') a, (select v from ids where k = 'store_a') s) x
union all
select 3, 'archived_media', format($$ insert into public.archived_media (account_ref, attachment_id, message_id,
  store_id, bucket, object_name, generation, size, sha256, crc32c)
  values (%L, 999, 100, %L, 'tap-ar-holding', 'forged.jpg', 1, 1, 'x', 'x') $$, a, s)
from (select (select v from ids where k = 'acc_a') a, (select v from ids where k = 'store_a') s) x;
grant select on attempts to anon, authenticated;

select results_eq($$ select a, b from fixture_outcomes $$, $$ values ('applied', 'applied') $$,
  'the fixture WhatsApp messages were ingested for both stores');
select is((select array_agg(tests.ar_count(t, s.v) order by n, s.k) from archive,
           (select k, v from ids where k in ('store_a', 'store_b')) s),
          array[2, 1, 1, 1, 1, 1],
  'the fixtures hold store A''s and store B''s archive records');

-- ── a member of store A ──────────────────────────────────────────────────────────────────────
select tests.act_as((select v from ids where k = 'viewer_a'));
select is(tests.ar_count(t, (select v from ids where k = 'store_b')), 0,
  format('a member of A sees 0 of store B''s rows in %s', t))
from archive order by n;
select is(tests.ar_stores(t), array[(select v from ids where k = 'store_a')],
  format('a member of A sees only their own store''s rows in %s', t))
from archive order by n;
select is(tests.ar_count(t, (select v from ids where k = 'store_a')), per_store,
  format('a member of A sees every one of their store''s rows in %s', t))
from archive order by n;

-- archive records are written by archive jobs only, not even an owner writes their own store's
select tests.act_as((select v from ids where k = 'owner_a'));
select throws_ok(ins, '42501', null, format('a store owner cannot insert into %s', t))
from attempts order by n;
select throws_ok(format($$ update public.%I set store_id = store_id where store_id = %L $$, t,
                        (select v from ids where k = 'store_a')),
  '42501', null, format('a store owner cannot update their own store''s %s', t))
from archive order by n;
select throws_ok(format($$ delete from public.%I where store_id = %L $$, t, (select v from ids where k = 'store_a')),
  '42501', null, format('a store owner cannot delete their own store''s %s', t))
from archive order by n;
select throws_ok(format($$ delete from public.%I where store_id = %L $$, t, (select v from ids where k = 'store_b')),
  '42501', null, format('a member of A cannot delete store B''s %s', t))
from archive order by n;
select tests.act_as_postgres();
select is((select array_agg(tests.ar_count(t, s.v) order by n, s.k) from archive,
           (select k, v from ids where k in ('store_a', 'store_b')) s),
          array[2, 1, 1, 1, 1, 1],
  'after the refused writes every archive table still holds exactly the fixture rows');

-- ── a signed-in user with no membership ──────────────────────────────────────────────────────
select tests.act_as((select v from ids where k = 'outsider'));
select is(tests.ar_count(t), 0, format('a non-member sees no rows in %s', t))
from archive order by n;

-- ── anon ─────────────────────────────────────────────────────────────────────────────────────
select tests.act_as_anon();
select throws_ok(format('select count(*) from public.%I', t), '42501', null, format('anon cannot read %s', t))
from archive order by n;
select throws_ok((select ins from attempts where t = 'archive_contacts'), '42501', null,
  'anon cannot insert into archive_contacts');

-- ── platform administrator ───────────────────────────────────────────────────────────────────
-- What exists, read as the owner (other tests' and seeded rows included), must all be visible.
select tests.act_as_postgres();
create temp table everything as select t, tests.ar_count(t) as rows, tests.ar_stores(t) as stores from archive;
grant select on everything to authenticated;
select tests.act_as((select v from ids where k = 'platform'));
select ok(tests.ar_stores(t) @> (select array_agg(v) from ids where k in ('store_a', 'store_b'))
          and tests.ar_count(t) = (select e.rows from everything e where e.t = archive.t)
          and tests.ar_stores(t) = (select e.stores from everything e where e.t = archive.t),
  format('a platform administrator sees both stores'' rows (and every other) in %s', t))
from archive order by n;
select throws_ok($$ update public.archive_contacts set status = 'ignored' $$, '42501', null,
  'not even a platform administrator changes archive_contacts through the API');
select throws_ok($$ delete from public.archived_messages $$, '42501', null,
  'not even a platform administrator deletes archived_messages through the API');

-- ── grants: API roles read through RLS only (a write is refused before any policy is asked) ──
select tests.act_as_postgres();
select table_privs_are('public', t, 'authenticated', array['SELECT'],
  format('authenticated may only select from %s', t))
from (select n, t from archive union all select 4, 'archive_buckets') x order by n;
select table_privs_are('public', t, 'anon', '{}'::text[], format('anon has no privilege at all on %s', t))
from (select n, t from archive union all select 4, 'archive_buckets') x order by n;

-- ── archive_buckets: each user reads only their own ─────────────────────────────────────────
select tests.act_as((select v from ids where k = 'viewer_a'));
select results_eq($$ select name from public.archive_buckets $$, $$ values ('tap-ar-viewer-a') $$,
  'a user sees exactly their own bucket row');
select tests.act_as((select v from ids where k = 'owner_b'));
select results_eq($$ select name from public.archive_buckets $$, $$ values ('tap-ar-owner-b') $$,
  'another user sees exactly their own bucket row (not the holding bucket)');
select tests.act_as((select v from ids where k = 'outsider'));
select is_empty($$ select name from public.archive_buckets $$, 'a user without a bucket sees no bucket row');
select tests.act_as((select v from ids where k = 'viewer_a'));
select throws_ok($$ update public.archive_buckets set storage_class = 'STANDARD' $$, '42501', null,
  'a user cannot change their own bucket row');
select throws_ok($$ insert into public.archive_buckets (name, owner_user_id, kind, location, storage_class, lifecycle)
                    values ('tap-ar-forged', null, 'holding', 'US', 'STANDARD', '{}') $$, '42501', null,
  'a user cannot insert a bucket row');
select throws_ok($$ delete from public.archive_buckets $$, '42501', null, 'a user cannot delete bucket rows');
select tests.act_as_postgres();
create temp table all_buckets as select array_agg(name order by name) as names from archive_buckets;
grant select on all_buckets to authenticated;
select tests.act_as((select v from ids where k = 'platform'));
select ok((select array_agg(name order by name) from public.archive_buckets) = (select names from all_buckets)
          and (select array_agg(name order by name) from public.archive_buckets)
              @> array['tap-ar-holding', 'tap-ar-owner-b', 'tap-ar-viewer-a'],
  'a platform administrator sees every bucket row, the holding bucket included');
select tests.act_as_anon();
select throws_ok($$ select count(*) from public.archive_buckets $$, '42501', null, 'anon cannot read archive_buckets');

-- ── the audit trail ──────────────────────────────────────────────────────────────────────────
select tests.act_as_postgres();
select table_privs_are('private', 'audit_log', 'authenticated', '{}'::text[],
  'authenticated has no privilege at all on private.audit_log');
select table_privs_are('private', 'audit_log', 'anon', '{}'::text[],
  'anon has no privilege at all on private.audit_log');
select tests.act_as((select v from ids where k = 'owner_a'));
select throws_ok($$ select * from private.audit_log $$, '42501', null, 'a store owner cannot read the audit log');
select throws_ok($$ insert into private.audit_log (actor, action, target) values ('me', 'forged', 'x') $$,
  '42501', null, 'a store owner cannot write the audit log');
select tests.act_as((select v from ids where k = 'platform'));
select throws_ok($$ select * from private.audit_log $$, '42501', null,
  'not even a platform administrator reads the audit log through the API');
select tests.act_as_anon();
select throws_ok($$ select * from private.audit_log $$, '42501', null, 'anon cannot read the audit log');
select tests.act_as_postgres();
select is((select count(*)::int from private.audit_log where actor = 'tap'), 1,
  'the audit entry is still there after the refused writes');

-- ── the archive trigger (as postgres, on store A's account, conversation 3) ──────────────────
select tests.act_as_postgres();
select is(tests.ar_jobs((select v from ids where k = 'acc_a'), 100), 1,
  'the fixture message of store A queued one archive job');
select is(tests.ar_jobs((select v from ids where k = 'acc_b'), 100), 1,
  'the fixture message of store B queued its own archive job');

select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc_a'), 'ar-d1', 'message_created',
            tests.ar_event('{"message_id":300,"conversation_display_id":3,"version_fingerprint":"fp-300-a"}',
                           '{"display_id":3,"version":3000}')),
          'applied', 'a new WhatsApp message is applied');
select is(tests.ar_jobs((select v from ids where k = 'acc_a'), 300), 1, 'it queues exactly one archive job');
select results_eq(format($$ select kind, payload, store_id, status::text from private.jobs
                            where payload ->> 'account_ref' = %L and payload ->> 'message_id' = '300' $$,
                         (select v from ids where k = 'acc_a')),
                  format($$ values ('archive.message', jsonb_build_object('account_ref', %L::uuid, 'message_id', 300),
                                    %L::uuid, 'queued') $$,
                         (select v from ids where k = 'acc_a'), (select v from ids where k = 'store_a')),
  'the job is a queued archive.message for the store, with payload {account_ref, message_id} only');

select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc_a'), 'ar-d1', 'message_created',
            tests.ar_event('{"message_id":300,"conversation_display_id":3,"version_fingerprint":"fp-300-a"}',
                           '{"display_id":3,"version":3000}')),
          'duplicate', 'the same delivery again is a duplicate');
select is(tests.ar_jobs((select v from ids where k = 'acc_a'), 300), 1, 'a duplicate delivery queues nothing more');
select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc_a'), 'ar-d2', 'message_created',
            tests.ar_event('{"message_id":300,"conversation_display_id":3,"version_fingerprint":"fp-300-a"}',
                           '{"display_id":3,"version":3000}')),
          'stale', 'the same state under a new delivery id is stale');
select is(tests.ar_jobs((select v from ids where k = 'acc_a'), 300), 1, 'a stale delivery queues nothing more');
update chatwoot_messages set mirrored_at = now()
 where account_ref = (select v from ids where k = 'acc_a') and message_id = 300;
select is(tests.ar_jobs((select v from ids where k = 'acc_a'), 300), 1,
  'the trigger firing again on an unchanged state queues nothing more (the job key follows the state)');

select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc_a'), 'ar-d3', 'message_created',
            tests.ar_event('{"message_id":301,"conversation_display_id":3,"message_type":"outgoing","private":true,"sender_type":"User","version_fingerprint":"fp-301-a"}',
                           '{"display_id":3,"version":3000}')),
          'applied', 'a private note on a WhatsApp conversation is mirrored');
select is(tests.ar_jobs((select v from ids where k = 'acc_a'), 301), 0, 'a private note queues no archive job');
select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc_a'), 'ar-d4', 'message_created',
            tests.ar_event('{"message_id":302,"conversation_display_id":4,"is_whatsapp":false,"version_fingerprint":"fp-302-a"}',
                           '{"display_id":4,"channel":"Channel::WebWidget","version":3000}')),
          'applied', 'a message from another channel is mirrored');
select is(tests.ar_jobs((select v from ids where k = 'acc_a'), 302), 0, 'a non-WhatsApp message queues no archive job');
select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc_a'), 'ar-d5', 'message_created',
            tests.ar_event('{"message_id":303,"conversation_display_id":3,"message_type":"activity","sender_type":null,"version_fingerprint":"fp-303-a"}',
                           '{"display_id":3,"version":3000}')),
          'applied', 'an activity message is mirrored');
select is(tests.ar_jobs((select v from ids where k = 'acc_a'), 303), 0, 'an activity message queues no archive job');

select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc_a'), 'ar-d6', 'message_updated',
            tests.ar_event('{"message_id":300,"conversation_display_id":3,"content":"editado","version_progress":1,"version_fingerprint":"fp-300-b"}',
                           '{"display_id":3,"version":3000}')),
          'applied', 'a newer version of the WhatsApp message is applied');
select is(tests.ar_jobs((select v from ids where k = 'acc_a'), 300), 2, 'a newer version queues a second archive job');
select is((select count(distinct payload)::int from private.jobs
           where kind = 'archive.message' and payload ->> 'account_ref' = (select v from ids where k = 'acc_a')::text
             and payload ->> 'message_id' = '300'), 1,
  'both jobs carry the same payload (the job reads the message''s current state)');
select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc_a'), 'ar-d7', 'message_updated',
            tests.ar_event('{"message_id":300,"conversation_display_id":3,"status":"read","version_progress":0,"version_fingerprint":"fp-300-0"}',
                           '{"display_id":3,"version":3000}')),
          'applied', 'an older event carrying a newer status is applied');
select is(tests.ar_jobs((select v from ids where k = 'acc_a'), 300), 3, 'a status change re-archives the message');
select is(tests.ar_jobs((select v from ids where k = 'acc_b'), 300), 0, 'none of this queued anything for store B');

-- ── review-queue suggestions ─────────────────────────────────────────────────────────────────
select tests.act_as((select v from ids where k = 'platform'));
select is((select reason from public.archive_contact_suggestions((select v from ids where k = 'store_a'), '+5511987650321', 50)
           where user_id = (select v from ids where k = 'by_number')),
  'similar number', 'a profile whose number shares the last eight digits is suggested as a similar number');
select is((select reason from public.archive_contact_suggestions((select v from ids where k = 'store_a'), '+5511987650321', 50)
           where user_id = (select v from ids where k = 'by_name')),
  'similar name', 'a profile with a resembling name is suggested as a similar name');
select is((select reason from public.archive_contact_suggestions((select v from ids where k = 'store_a'), '+5511987650321', 50)
           where user_id = (select v from ids where k = 'by_email')),
  'same e-mail', 'a profile with the contact''s e-mail (any case) is suggested as the same e-mail');
select is_empty(format($$ select 1 from public.archive_contact_suggestions(%L, '+5511987650321', 50) where user_id in (%L, %L) $$,
                       (select v from ids where k = 'store_a'), (select v from ids where k = 'unrelated'),
                       (select v from ids where k = 'viewer_a')),
  'unrelated profiles are not suggested');
select is((select array_agg(s.user_id order by s.ord)
           from public.archive_contact_suggestions((select v from ids where k = 'store_a'), '+5511987650321', 3)
                with ordinality as s (user_id, full_name, email, phone_e164, reason, score, ord)),
          array[(select v from ids where k = 'by_number'), (select v from ids where k = 'by_email'), (select v from ids where k = 'by_name')],
  'suggestions come best first: number, then e-mail, then name');
select tests.act_as((select v from ids where k = 'viewer_a'));
select is_empty(format($$ select * from public.archive_contact_suggestions(%L, '+5511987650321') $$,
                       (select v from ids where k = 'store_a')),
  'a store member who is not a platform administrator gets no suggestions');
select tests.act_as((select v from ids where k = 'owner_a'));
select is_empty(format($$ select * from public.archive_contact_suggestions(%L, '+5511987650321') $$,
                       (select v from ids where k = 'store_a')),
  'not even the store''s owner gets suggestions');
select tests.act_as_anon();
select throws_ok(format($$ select * from public.archive_contact_suggestions(%L, '+5511987650321') $$,
                        (select v from ids where k = 'store_a')),
  '42501', null, 'anon cannot call archive_contact_suggestions');

-- ── constraints (as postgres) ────────────────────────────────────────────────────────────────
select tests.act_as_postgres();
select throws_ok(format($$ insert into archive_contacts (store_id, phone_e164, status, user_id) values (%L, '+5511900000002', 'mapped', null) $$,
                        (select v from ids where k = 'store_a')),
  '23514', null, 'a mapped contact without a user is refused');
select throws_ok(format($$ insert into archive_contacts (store_id, phone_e164, status, user_id) values (%L, '+5511900000003', 'unmapped', %L) $$,
                        (select v from ids where k = 'store_a'), (select v from ids where k = 'viewer_a')),
  '23514', null, 'an unmapped contact with a user is refused');
select throws_ok(format($$ insert into archive_contacts (store_id, phone_e164, status) values (%L, '5511900000004', 'unmapped') $$,
                        (select v from ids where k = 'store_a')),
  '23514', null, 'a contact number that is not E.164 is refused');
select throws_ok($$ insert into archive_buckets (name, owner_user_id, kind, location, storage_class, lifecycle)
                    values ('Tap-Ar-Upper', null, 'holding', 'US', 'ARCHIVE', '{}') $$,
  '23514', null, 'a bucket name with uppercase letters is refused');
select throws_ok(format($$ insert into archive_buckets (name, owner_user_id, kind, location, storage_class, lifecycle)
                           values ('tap-ar-owned-holding', %L, 'holding', 'US', 'ARCHIVE', '{}') $$,
                        (select v from ids where k = 'outsider')),
  '23514', null, 'a holding bucket with an owner is refused');
select lives_ok(format($$ insert into archive_contacts (store_id, phone_e164, status, user_id, mapped_by) values (%L, '+5511900000005', 'mapped', %L, 'admin') $$,
                       (select v from ids where k = 'store_a'), (select v from ids where k = 'viewer_a')),
  'a mapped contact with a user is accepted');

select * from finish();
rollback;

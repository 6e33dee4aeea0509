-- The Chatwoot mirror: tenant isolation for every public mirror table (a member of store A sees
-- only A's rows, nobody writes mirror rows through the API, anon is refused, a non-member sees
-- nothing, a platform administrator sees everything); secrets, the delivery ledger and the
-- ingestion functions are out of reach of API roles; ingestion is exactly-once and only ever
-- moves rows forward (delivery ids, message versions, status rank, conversation versions,
-- route-token lookup by SHA-256).
begin;
\ir _helpers.psql
select plan(132);

-- ── helpers (as postgres; rolled back with everything else) ─────────────────────────────────
-- A message_created-like records object as _shared/chatwoot/ingest.ts builds it; each part can
-- be overridden key by key.
create function tests.cw_event(p_message jsonb default '{}', p_conversation jsonb default '{}',
                               p_attachments jsonb default null, p_contact jsonb default '{}')
returns jsonb language sql as $$
  select jsonb_build_object(
    'contact', jsonb_build_object(
      'contact_id', 1, 'name', 'Maria Silva', 'email', 'maria@example.com', 'phone_number', '+5511988887777',
      'identifier', null, 'custom_attributes', '{}'::jsonb, 'additional_attributes', '{}'::jsonb,
      'blocked', false, 'source_updated_at', null) || p_contact,
    'conversation', jsonb_build_object(
      'display_id', 1, 'inbox_id', 7, 'channel', 'Channel::Whatsapp', 'status', 'open', 'priority', null,
      'assignee_type', null, 'assignee_id', null, 'team_id', null, 'labels', '["vip"]'::jsonb, 'contact_id', 1,
      'contact_inbox_source_id', '5511988887777', 'custom_attributes', '{}'::jsonb,
      'additional_attributes', '{}'::jsonb, 'created_at', '2026-01-10T12:00:00Z',
      'last_activity_at', '2026-01-10T12:00:05Z', 'waiting_since', '2026-01-10T12:00:05Z',
      'snoozed_until', null, 'version', 1768046405000) || p_conversation,
    'message', jsonb_build_object(
      'message_id', 100, 'conversation_display_id', 1, 'inbox_id', 7, 'message_type', 'incoming',
      'content', 'Olá, meu pedido chegou?', 'content_type', 'text', 'private', false, 'status', 'sent',
      'source_id', 'wamid.TAP100', 'sender_type', 'Contact', 'sender_id', 1, 'content_attributes', '{}'::jsonb,
      'additional_attributes', '{}'::jsonb, 'echo', false, 'deleted', false, 'is_whatsapp', true,
      'created_at', '2026-01-10T12:00:05Z', 'version_progress', 0, 'version_updated_at_ms', null,
      'version_fingerprint', 'fp-100-a') || p_message,
    'attachments', coalesce(p_attachments, jsonb_build_array(jsonb_build_object(
      'attachment_id', 500, 'message_id', 100, 'file_type', 'image', 'content_type', 'image/jpeg',
      'extension', 'jpg', 'data_url', 'https://chat.example.com/rails/active_storage/500.jpg',
      'thumb_url', 'https://chat.example.com/rails/active_storage/500-thumb.jpg', 'file_size', 20480,
      'width', 640, 'height', 480))))
$$;

-- Which stores' rows of a mirror table the current role can see (RLS applies: invoker rights).
create function tests.cw_stores(p_table text) returns uuid[] language plpgsql as $$
declare
  r uuid[];
begin
  execute format('select coalesce(array_agg(store_id order by store_id), ''{}'') from public.%I', p_table) into r;
  return r;
end
$$;
create function tests.cw_count(p_table text, p_store uuid) returns integer language plpgsql as $$
declare
  r integer;
begin
  execute format('select count(*)::int from public.%I where store_id = %L', p_table, p_store) into r;
  return r;
end
$$;
grant execute on all functions in schema tests to anon, authenticated, service_role;

-- ── fixtures (as postgres) ───────────────────────────────────────────────────────────────────
create temp table ids (k text primary key, v uuid);
grant select on ids to anon, authenticated;
insert into ids values
  ('viewer_a', tests.create_user('cw-viewer-a@t.test')),
  ('owner_a', tests.create_user('cw-owner-a@t.test')),
  ('owner_b', tests.create_user('cw-owner-b@t.test')),
  ('outsider', tests.create_user('cw-outsider@t.test')),
  ('platform', tests.create_user('cw-platform@t.test', true));
insert into stores (slug, name) values ('tap-cw-store-a', 'CW Store A'), ('tap-cw-store-b', 'CW Store B');
insert into ids select 'store_a', id from stores where slug = 'tap-cw-store-a';
insert into ids select 'store_b', id from stores where slug = 'tap-cw-store-b';
insert into store_members (store_id, user_id, role) values
  ((select v from ids where k = 'store_a'), (select v from ids where k = 'viewer_a'), 'viewer'),
  ((select v from ids where k = 'store_a'), (select v from ids where k = 'owner_a'), 'owner'),
  ((select v from ids where k = 'store_b'), (select v from ids where k = 'owner_b'), 'owner');
insert into chatwoot_accounts (store_id, chatwoot_url, account_id) values
  ((select v from ids where k = 'store_a'), 'https://chat.example.com', 1),
  ((select v from ids where k = 'store_b'), 'https://chat.example.com', 2);
insert into ids select 'acc_a', id from chatwoot_accounts where store_id = (select v from ids where k = 'store_a');
insert into ids select 'acc_b', id from chatwoot_accounts where store_id = (select v from ids where k = 'store_b');
insert into private.chatwoot_account_secrets (account_ref, api_token, webhook_id, webhook_secret, route_token_hash) values
  ((select v from ids where k = 'acc_a'), 'api-token-a', 11, 'whsec-a',
   extensions.digest(convert_to('tok-route-a-7f3c9e1d2b', 'UTF8'), 'sha256')),
  ((select v from ids where k = 'acc_b'), 'api-token-b', 12, 'whsec-b',
   extensions.digest(convert_to('tok-route-b-0a8e4c6f1d', 'UTF8'), 'sha256'));
insert into chatwoot_sync_cursors (account_ref, store_id, synced_until) values
  ((select v from ids where k = 'acc_a'), (select v from ids where k = 'store_a'), now() - interval '1 hour'),
  ((select v from ids where k = 'acc_b'), (select v from ids where k = 'store_b'), now() - interval '1 hour');
-- The same Chatwoot ids in both accounts: rows are told apart by account and store only.
-- Store B's records even claim store A's account and store; the route decides, not the payload.
create temp table fixture_outcomes as
  select private.ingest_chatwoot_delivery((select v from ids where k = 'acc_a'), 'fixture-a-1', 'message_created',
           tests.cw_event()) as a,
         private.ingest_chatwoot_delivery((select v from ids where k = 'acc_b'), 'fixture-b-1', 'message_created',
           tests.cw_event(jsonb_build_object('account_ref', (select v from ids where k = 'acc_a'),
                                             'store_id', (select v from ids where k = 'store_a')))) as b;

create temp table mirror (n int primary key, t text not null);
insert into mirror values (1, 'chatwoot_accounts'), (2, 'chatwoot_contacts'), (3, 'chatwoot_conversations'),
  (4, 'chatwoot_messages'), (5, 'chatwoot_attachments'), (6, 'chatwoot_sync_cursors');
grant select on mirror to anon, authenticated;

-- One well-formed new row per table for store A, as a member would try to write it.
create temp table attempts (n int primary key, t text not null, ins text not null);
insert into attempts
select 1, 'chatwoot_accounts', format($$ insert into public.chatwoot_accounts (store_id, chatwoot_url, account_id)
  values (%L, 'https://evil.example.com', 99) $$, s)
from (select v as s from ids where k = 'store_a') x
union all
select 2, 'chatwoot_contacts', format($$ insert into public.chatwoot_contacts (account_ref, contact_id, store_id, name)
  values (%L, 999, %L, 'forged') $$, a, s)
from (select (select v from ids where k = 'acc_a') a, (select v from ids where k = 'store_a') s) x
union all
select 3, 'chatwoot_conversations', format($$ insert into public.chatwoot_conversations
  (account_ref, display_id, store_id, inbox_id, status, version) values (%L, 999, %L, 7, 'open', 1) $$, a, s)
from (select (select v from ids where k = 'acc_a') a, (select v from ids where k = 'store_a') s) x
union all
select 4, 'chatwoot_messages', format($$ insert into public.chatwoot_messages (account_ref, message_id, store_id,
  conversation_display_id, inbox_id, message_type, content, created_at, version_fingerprint)
  values (%L, 999, %L, 1, 7, 'outgoing', 'forged', now(), 'forged') $$, a, s)
from (select (select v from ids where k = 'acc_a') a, (select v from ids where k = 'store_a') s) x
union all
select 5, 'chatwoot_attachments', format($$ insert into public.chatwoot_attachments
  (account_ref, attachment_id, store_id, message_id, file_type) values (%L, 999, %L, 100, 'file') $$, a, s)
from (select (select v from ids where k = 'acc_a') a, (select v from ids where k = 'store_a') s) x
union all
select 6, 'chatwoot_sync_cursors', format($$ insert into public.chatwoot_sync_cursors (account_ref, store_id)
  values (%L, %L) $$, a, s)
from (select (select v from ids where k = 'acc_b') a, (select v from ids where k = 'store_a') s) x;
grant select on attempts to authenticated;

select results_eq($$ select a, b from fixture_outcomes $$, $$ values ('applied', 'applied') $$,
  'the fixture deliveries were applied for both stores');
select is((select array_agg(tests.cw_count(t, (select v from ids where k = 'store_a')) order by n) from mirror),
          array[1, 1, 1, 1, 1, 1],
  'store A has exactly one row in every mirror table');
select is((select array_agg(tests.cw_count(t, (select v from ids where k = 'store_b')) order by n) from mirror),
          array[1, 1, 1, 1, 1, 1],
  'store B has exactly one row in every mirror table, though its payload named store A');

-- ── a member of store A ──────────────────────────────────────────────────────────────────────
select tests.act_as((select v from ids where k = 'viewer_a'));
select is(tests.cw_count(t, (select v from ids where k = 'store_b')), 0,
  format('a member of A sees 0 of store B''s rows in %s', t))
from mirror order by n;
select is(tests.cw_stores(t), array[(select v from ids where k = 'store_a')],
  format('a member of A sees exactly their own store''s row in %s', t))
from mirror order by n;

-- nobody writes mirror tables through the API, not even an owner on their own store's rows
select tests.act_as((select v from ids where k = 'owner_a'));
select throws_ok(ins, '42501', null, format('a store owner cannot insert into %s', t))
from attempts order by n;
select throws_ok(format($$ update public.%I set store_id = store_id where store_id = %L $$, t,
                        (select v from ids where k = 'store_a')),
  '42501', null, format('a store owner cannot update their own store''s %s', t))
from mirror order by n;
select throws_ok(format($$ delete from public.%I where store_id = %L $$, t, (select v from ids where k = 'store_a')),
  '42501', null, format('a store owner cannot delete their own store''s %s', t))
from mirror order by n;
select throws_ok(format($$ delete from public.%I where store_id = %L $$, t, (select v from ids where k = 'store_b')),
  '42501', null, format('a member of A cannot delete store B''s %s', t))
from mirror order by n;
select tests.act_as_postgres();
select is((select array_agg(tests.cw_count(t, s.v) order by n, s.k) from mirror,
           (select k, v from ids where k in ('store_a', 'store_b')) s),
          array[1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
  'after the refused writes every mirror table still holds exactly its two rows');

-- ── a signed-in user with no membership ──────────────────────────────────────────────────────
select tests.act_as((select v from ids where k = 'outsider'));
select is(tests.cw_stores(t), '{}'::uuid[], format('a non-member sees no rows in %s', t))
from mirror order by n;

-- ── anon ─────────────────────────────────────────────────────────────────────────────────────
select tests.act_as_anon();
select throws_ok(format('select count(*) from public.%I', t), '42501', null, format('anon cannot read %s', t))
from mirror order by n;

-- ── platform administrator ───────────────────────────────────────────────────────────────────
-- What exists, read as the owner (other tests' and seeded stores included), must all be visible.
select tests.act_as_postgres();
create temp table everything as select t, tests.cw_stores(t) as stores from mirror;
grant select on everything to authenticated;
select tests.act_as((select v from ids where k = 'platform'));
select ok(tests.cw_stores(t) @> (select array_agg(v) from ids where k in ('store_a', 'store_b'))
          and tests.cw_stores(t) = (select e.stores from everything e where e.t = mirror.t),
  format('a platform administrator sees both stores'' rows (and every other) in %s', t))
from mirror order by n;
select throws_ok(format($$ delete from public.%I $$, t), '42501', null,
  format('not even a platform administrator deletes from %s through the API', t))
from mirror where t in ('chatwoot_messages', 'chatwoot_accounts') order by n;

-- ── secrets, ledger and ingestion functions are out of reach of API roles ────────────────────
select tests.act_as_postgres();
select table_privs_are('private', 'chatwoot_account_secrets', 'authenticated', '{}'::text[],
  'authenticated has no privilege at all on private.chatwoot_account_secrets');
select table_privs_are('private', 'chatwoot_account_secrets', 'anon', '{}'::text[],
  'anon has no privilege at all on private.chatwoot_account_secrets');
select table_privs_are('private', 'chatwoot_deliveries', 'authenticated', '{}'::text[],
  'authenticated has no privilege at all on private.chatwoot_deliveries');
select table_privs_are('private', 'chatwoot_deliveries', 'anon', '{}'::text[],
  'anon has no privilege at all on private.chatwoot_deliveries');
select function_privs_are('private', 'ingest_chatwoot_delivery',
  array['uuid', 'text', 'text', 'jsonb', 'text', 'jsonb', 'jsonb'], 'authenticated', '{}'::text[],
  'authenticated cannot execute private.ingest_chatwoot_delivery');
select function_privs_are('private', 'ingest_chatwoot_delivery',
  array['uuid', 'text', 'text', 'jsonb', 'text', 'jsonb', 'jsonb'], 'anon', '{}'::text[],
  'anon cannot execute private.ingest_chatwoot_delivery');
select function_privs_are('private', 'chatwoot_account_by_route_token', array['text'], 'authenticated', '{}'::text[],
  'authenticated cannot execute private.chatwoot_account_by_route_token');
select function_privs_are('private', 'chatwoot_account_by_route_token', array['text'], 'anon', '{}'::text[],
  'anon cannot execute private.chatwoot_account_by_route_token');
select tests.act_as((select v from ids where k = 'owner_a'));
select throws_ok($$ select webhook_secret from private.chatwoot_account_secrets $$, '42501', null,
  'a store owner cannot read the account secrets');
select throws_ok($$ select payload from private.chatwoot_deliveries $$, '42501', null,
  'a store owner cannot read the delivery ledger');
select throws_ok(format($$ select private.ingest_chatwoot_delivery(%L, 'forged-1', 'message_created', '{}') $$,
                        (select v from ids where k = 'acc_a')),
  '42501', null, 'a store owner cannot call the ingestion function');
select throws_ok($$ select * from private.chatwoot_account_by_route_token('tok-route-a-7f3c9e1d2b') $$, '42501', null,
  'a store owner cannot look an account up by route token');
select tests.act_as_anon();
select throws_ok($$ select webhook_secret from private.chatwoot_account_secrets $$, '42501', null,
  'anon cannot read the account secrets');
select throws_ok(format($$ select private.ingest_chatwoot_delivery(%L, 'forged-2', 'message_created', '{}') $$,
                        (select v from ids where k = 'acc_a')),
  '42501', null, 'anon cannot call the ingestion function');
select throws_ok($$ select * from private.chatwoot_account_by_route_token('tok-route-a-7f3c9e1d2b') $$, '42501', null,
  'anon cannot look an account up by route token');

-- ── ingestion semantics (as postgres, on store A's account, message 200 in conversation 2) ───
select tests.act_as_postgres();
create temp table cw_totals as
  select (select count(*) from private.chatwoot_deliveries) as deliveries, (select count(*) from chatwoot_contacts) as contacts,
         (select count(*) from chatwoot_conversations) as conversations, (select count(*) from chatwoot_messages) as messages,
         (select count(*) from chatwoot_attachments) as attachments;
create temp view msg as
  select m.* from chatwoot_messages m where m.account_ref = (select v from ids where k = 'acc_a') and m.message_id = 200;
create temp view conv as
  select c.* from chatwoot_conversations c where c.account_ref = (select v from ids where k = 'acc_a') and c.display_id = 2;

select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc_a'), 'tap-d1', 'message_created',
            tests.cw_event(
              '{"message_id":200,"conversation_display_id":2,"content":"first","status":"sent","version_progress":0,"version_fingerprint":"fp-200-a"}',
              '{"display_id":2,"status":"open","version":2000}',
              '[{"attachment_id":600,"message_id":200,"file_type":"image"}]')),
          'applied', 'a new message is applied');
select is((select array[(select count(*) from private.chatwoot_deliveries) - deliveries,
                        (select count(*) from chatwoot_conversations) - conversations,
                        (select count(*) from chatwoot_messages) - messages,
                        (select count(*) from chatwoot_attachments) - attachments,
                        (select count(*) from chatwoot_contacts) - contacts]::int[] from cw_totals),
          array[1, 1, 1, 1, 0],
  'it adds one ledger row, conversation, message and attachment (the contact was already known)');
select is((select outcome from private.chatwoot_deliveries
           where account_ref = (select v from ids where k = 'acc_a') and delivery_id = 'tap-d1'), 'applied',
  'the ledger records it as applied');
select isnt((select last_delivery_at from chatwoot_accounts where id = (select v from ids where k = 'acc_a')), null,
  'the account remembers its last delivery');

-- the same delivery id again: nothing more is written, even with different contents
select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc_a'), 'tap-d1', 'message_updated',
            tests.cw_event(
              '{"message_id":200,"conversation_display_id":2,"content":"replayed","status":"read","version_progress":5,"version_fingerprint":"fp-200-z"}',
              '{"display_id":2,"status":"resolved","version":9000}', '[]')),
          'duplicate', 'the same delivery id twice is a duplicate');
select is((select array[(select count(*) from private.chatwoot_deliveries) - deliveries,
                        (select count(*) from chatwoot_attachments) - attachments]::int[] from cw_totals),
          array[1, 1], 'a duplicate adds no ledger row and removes no attachment');
select results_eq($$ select m.content, m.status, c.status from msg m, conv c $$,
                  $$ values ('first', 'sent', 'open') $$, 'a duplicate changes neither message nor conversation');
select is((select event from private.chatwoot_deliveries
           where account_ref = (select v from ids where k = 'acc_a') and delivery_id = 'tap-d1'), 'message_created',
  'a duplicate leaves the ledger row as first recorded');

-- the same state under a new delivery id: stale
select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc_a'), 'tap-d2', 'message_created',
            tests.cw_event(
              '{"message_id":200,"conversation_display_id":2,"content":"first","status":"sent","version_progress":0,"version_fingerprint":"fp-200-a"}',
              '{"display_id":2,"status":"open","version":2000}',
              '[{"attachment_id":600,"message_id":200,"file_type":"image"}]')),
          'stale', 'the same message fingerprint under a new delivery id is stale');
select is((select outcome from private.chatwoot_deliveries
           where account_ref = (select v from ids where k = 'acc_a') and delivery_id = 'tap-d2'), 'stale',
  'the ledger records the stale delivery as stale');

-- newer progress overwrites; older progress does not
select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc_a'), 'tap-d3', 'message_updated',
            tests.cw_event(
              '{"message_id":200,"conversation_display_id":2,"content":"edited","status":"read","version_progress":1,"version_fingerprint":"fp-200-b"}',
              '{"display_id":2,"status":"open","version":2000}',
              '[{"attachment_id":601,"message_id":200,"file_type":"file"}]')),
          'applied', 'a newer version_progress is applied');
select results_eq($$ select content, status, version_progress, version_fingerprint from msg $$,
                  $$ values ('edited', 'read', 1, 'fp-200-b') $$, 'a newer version_progress overwrites content and status');
select results_eq($$ select attachment_id from chatwoot_attachments
                     where account_ref = (select v from ids where k = 'acc_a') and message_id = 200 $$,
                  $$ values (601::bigint) $$, 'the message''s attachments become exactly the newer event''s');
select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc_a'), 'tap-d4', 'message_updated',
            tests.cw_event(
              '{"message_id":200,"conversation_display_id":2,"content":"older","status":"sent","version_progress":0,"version_fingerprint":"fp-200-c"}',
              '{"display_id":2,"status":"open","version":2000}', '[]')),
          'stale', 'an older version_progress is stale');
select results_eq($$ select content, status, version_progress from msg $$,
                  $$ values ('edited', 'read', 1) $$, 'an older version_progress changes nothing');
select is((select count(*)::int from chatwoot_attachments
           where account_ref = (select v from ids where k = 'acc_a') and message_id = 200), 1,
  'an older event does not touch the attachments');

-- status never moves backwards, even in a newer version
select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc_a'), 'tap-d5', 'message_updated',
            tests.cw_event(
              '{"message_id":200,"conversation_display_id":2,"content":"edited again","status":"sent","version_progress":2,"version_fingerprint":"fp-200-d"}',
              '{"display_id":2,"status":"open","version":2000}',
              '[{"attachment_id":601,"message_id":200,"file_type":"file"}]')),
          'applied', 'a newer version carrying an older status is applied');
select results_eq($$ select content, status from msg $$, $$ values ('edited again', 'read') $$,
  'the content moves forward while status stays read (read → sent never happens)');

-- equal progress: Chatwoot's updated_at orders when both sides know it
select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc_a'), 'tap-d6', 'message_updated',
            tests.cw_event(
              '{"message_id":200,"conversation_display_id":2,"content":"timed","status":"read","version_progress":2,"version_updated_at_ms":1768050000000,"version_fingerprint":"fp-200-e"}',
              '{"display_id":2,"status":"open","version":2000}',
              '[{"attachment_id":601,"message_id":200,"file_type":"file"}]')),
          'applied', 'same progress with a different fingerprint is applied');
select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc_a'), 'tap-d7', 'message_updated',
            tests.cw_event(
              '{"message_id":200,"conversation_display_id":2,"content":"earlier","status":"read","version_progress":2,"version_updated_at_ms":1768049999000,"version_fingerprint":"fp-200-f"}',
              '{"display_id":2,"status":"open","version":2000}', '[]')),
          'stale', 'same progress with an older updated_at is stale though its fingerprint differs');
select is((select content from msg), 'timed', 'an older updated_at does not overwrite content');

-- an older event may still carry a newer status (message 201)
select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc_a'), 'tap-d8', 'message_created',
            tests.cw_event(
              '{"message_id":201,"conversation_display_id":2,"message_type":"outgoing","content":"seu pedido saiu","status":"sent","version_progress":1,"version_fingerprint":"fp-201-a"}',
              '{"display_id":2,"status":"open","version":2000}', '[]')),
          'applied', 'an outgoing message is applied');
select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc_a'), 'tap-d9', 'message_updated',
            tests.cw_event(
              '{"message_id":201,"conversation_display_id":2,"message_type":"outgoing","content":"stale text","status":"delivered","version_progress":0,"version_fingerprint":"fp-201-0"}',
              '{"display_id":2,"status":"open","version":2000}', '[]')),
          'applied', 'an older event with a newer status is applied');
select results_eq($$ select content, status from chatwoot_messages
                     where account_ref = (select v from ids where k = 'acc_a') and message_id = 201 $$,
                  $$ values ('seu pedido saiu', 'delivered') $$, 'it advances only the status');

-- the ordering rules normalize.ts's versions rely on, on message 202: status rank, updated_at when both sides know
-- it, last arrival when only one does, and deletion over everything
select is(array[private.message_status_rank(null), private.message_status_rank('sent'),
                private.message_status_rank('failed'), private.message_status_rank('delivered'),
                private.message_status_rank('read'), private.message_status_rank('something_new')],
          array[0, 1, 2, 3, 4, 0], 'status ranks: unknown < sent < failed < delivered < read');
create temp view msg202 as
  select m.* from chatwoot_messages m where m.account_ref = (select v from ids where k = 'acc_a') and m.message_id = 202;
create function tests.cw_attachments_of_202() returns integer language sql as $$
  select count(*)::int from public.chatwoot_attachments
  where account_ref = (select v from ids where k = 'acc_a') and message_id = 202
$$;
select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc_a'), 'tap-d16', 'message_created',
            tests.cw_event(
              '{"message_id":202,"conversation_display_id":2,"content":"voice note","status":"failed","version_progress":2,"version_updated_at_ms":1768050000000,"version_fingerprint":"fp-202-a"}',
              '{"display_id":2,"status":"open","version":2000}',
              '[{"attachment_id":700,"message_id":202,"file_type":"audio","transcribed_text":"olá"}]')),
          'applied', 'a message whose send failed is applied');
select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc_a'), 'tap-d17', 'message_updated',
            tests.cw_event(
              '{"message_id":202,"conversation_display_id":2,"content":"later","status":"failed","version_progress":2,"version_updated_at_ms":1768050060000,"version_fingerprint":"fp-202-b"}',
              '{"display_id":2,"status":"open","version":2000}',
              '[{"attachment_id":700,"message_id":202,"file_type":"audio","transcribed_text":"olá"}]')),
          'applied', 'same progress with a later updated_at (both known) is applied');
select is((select content from msg202), 'later', 'the later updated_at overwrites the content');
select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc_a'), 'tap-d18', 'message_updated',
            tests.cw_event(
              '{"message_id":202,"conversation_display_id":2,"content":"unordered","status":"failed","version_progress":2,"version_updated_at_ms":null,"version_fingerprint":"fp-202-c"}',
              '{"display_id":2,"status":"open","version":2000}',
              '[{"attachment_id":700,"message_id":202,"file_type":"audio","transcribed_text":"olá"}]')),
          'applied', 'same progress, no updated_at on the new side, a different fingerprint: the last arrival wins');
select results_eq($$ select content, version_updated_at_ms, version_fingerprint from msg202 $$,
                  $$ values ('unordered', 1768050060000::bigint, 'fp-202-c') $$,
  'it overwrites the content and keeps the updated_at it knew');
select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc_a'), 'tap-d19', 'message_updated',
            tests.cw_event(
              '{"message_id":202,"conversation_display_id":2,"content":"stale","status":"delivered","version_progress":0,"version_fingerprint":"fp-202-0"}',
              '{"display_id":2,"status":"open","version":2000}', '[]')),
          'applied', 'a failed message reported delivered later is applied');
select results_eq($$ select content, status from msg202 $$, $$ values ('unordered', 'delivered') $$,
  'a failed send heals once delivered, and only the status moves');
select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc_a'), 'tap-d20', 'message_updated',
            tests.cw_event(
              '{"message_id":202,"conversation_display_id":2,"content":"stale","status":"failed","version_progress":0,"version_fingerprint":"fp-202-0b"}',
              '{"display_id":2,"status":"open","version":2000}', '[]')),
          'stale', 'a late failed after delivered is stale');
select is((select status from msg202), 'delivered', 'delivered never moves back to failed');
select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc_a'), 'tap-d21', 'message_updated',
            tests.cw_event(
              '{"message_id":202,"conversation_display_id":2,"content":"This message was deleted","status":"delivered","deleted":true,"version_progress":101,"version_fingerprint":"fp-202-deleted"}',
              '{"display_id":2,"status":"open","version":2000}', '[]')),
          'applied', 'a deletion (progress 101) is applied');
select results_eq($$ select deleted, tests.cw_attachments_of_202() from msg202 $$, $$ values (true, 0) $$,
  'the deleted message is marked deleted and has no attachments left');
select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc_a'), 'tap-d22', 'message_updated',
            tests.cw_event(
              '{"message_id":202,"conversation_display_id":2,"content":"voice note","status":"delivered","version_progress":2,"version_updated_at_ms":1768050120000,"version_fingerprint":"fp-202-d"}',
              '{"display_id":2,"status":"open","version":2000}',
              '[{"attachment_id":700,"message_id":202,"file_type":"audio","transcribed_text":"olá"}]')),
          'stale', 'a transcript arriving after the deletion is stale, though its updated_at is later');
select results_eq($$ select deleted, content, tests.cw_attachments_of_202() from msg202 $$,
                  $$ values (true, 'This message was deleted', 0) $$, 'the deletion stays, with no attachment back');

-- conversations: a lower version changes nothing, a higher one wins
select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc_a'), 'tap-d10', 'conversation_status_changed',
            jsonb_build_object('conversation', tests.cw_event(p_conversation => '{"display_id":2,"status":"resolved","version":1999}') -> 'conversation')),
          'stale', 'a conversation with a lower version is stale');
select results_eq($$ select status, version from conv $$, $$ values ('open', 2000::bigint) $$,
  'a lower version does not overwrite the conversation''s status');
select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc_a'), 'tap-d11', 'conversation_status_changed',
            jsonb_build_object('conversation', tests.cw_event(p_conversation => '{"display_id":2,"status":"resolved","version":2001,"labels":["vip","entregue"]}') -> 'conversation')),
          'applied', 'a conversation with a higher version is applied');
select results_eq($$ select status, version, labels from conv $$,
                  $$ values ('resolved', 2001::bigint, array['vip', 'entregue']) $$,
  'a higher version overwrites status and labels');

-- equal versions re-apply (Chatwoot moves last_activity_at without touching updated_at), but last_activity_at
-- never moves back
select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc_a'), 'tap-d23', 'conversation_updated',
            jsonb_build_object('conversation', tests.cw_event(p_conversation => '{"display_id":2,"status":"resolved","version":2001,"labels":["vip","entregue"],"last_activity_at":"2026-01-10T12:30:00Z"}') -> 'conversation')),
          'applied', 'an equal version with a later last_activity_at is applied');
select is((select last_activity_at from conv), '2026-01-10T12:30:00Z'::timestamptz,
  'last_activity_at moves forward at an equal version');
select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc_a'), 'tap-d24', 'conversation_updated',
            jsonb_build_object('conversation', tests.cw_event(p_conversation => '{"display_id":2,"status":"resolved","version":2001,"labels":["vip","entregue"],"last_activity_at":"2026-01-10T12:10:00Z"}') -> 'conversation')),
          'stale', 'an equal version with an earlier last_activity_at and nothing else new is stale');
select is((select last_activity_at from conv), '2026-01-10T12:30:00Z'::timestamptz,
  'last_activity_at never moves back');

-- contacts: an unversioned copy never overwrites; contact_updated moves forward only
select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc_a'), 'tap-d12', 'contact_updated',
            jsonb_build_object('contact', tests.cw_event(p_contact => '{"name":"Maria S. Souza","source_updated_at":"2026-01-11T09:00:00Z"}') -> 'contact')),
          'applied', 'a versioned contact update is applied');
select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc_a'), 'tap-d13', 'contact_updated',
            jsonb_build_object('contact', tests.cw_event(p_contact => '{"name":"Old Name","source_updated_at":"2026-01-11T08:00:00Z"}') -> 'contact')),
          'stale', 'an older contact update is stale');
select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc_a'), 'tap-d14', 'conversation_created',
            jsonb_build_object('contact', tests.cw_event(p_contact => '{"name":"Unversioned"}') -> 'contact')),
          'stale', 'an unversioned contact copy does not overwrite a known contact');
select is((select name from chatwoot_contacts where account_ref = (select v from ids where k = 'acc_a') and contact_id = 1),
  'Maria S. Souza', 'the contact keeps the newest versioned name');

-- recorded outcomes and unknown accounts
select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc_a'), 'tap-d15', 'inbox_created', null,
            'unknown_event', '{"reason":"unhandled"}', '{"event":"inbox_created"}'),
          'unknown_event', 'a delivery recorded with an outcome returns it');
select results_eq($$ select outcome, payload from private.chatwoot_deliveries
                     where account_ref = (select v from ids where k = 'acc_a') and delivery_id = 'tap-d15' $$,
                  $$ values ('unknown_event', '{"event":"inbox_created"}'::jsonb) $$,
  'its outcome and payload are kept in the ledger');
select throws_ok(format($$ select private.ingest_chatwoot_delivery(%L, 'tap-x', 'message_created', '{}') $$, gen_random_uuid()),
  'P0002', null, 'a delivery for an unknown account is refused');

-- route-token lookup by SHA-256
select results_eq($$ select account_ref, store_id, account_id, webhook_secret, accepts_unsigned
                     from private.chatwoot_account_by_route_token('tok-route-a-7f3c9e1d2b') $$,
                  format($$ values (%L::uuid, %L::uuid, 1, 'whsec-a', false) $$,
                         (select v from ids where k = 'acc_a'), (select v from ids where k = 'store_a')),
  'the route token finds its account by SHA-256');
select is((select account_ref from private.chatwoot_account_by_route_token('tok-route-b-0a8e4c6f1d')),
  (select v from ids where k = 'acc_b'), 'another account''s route token finds that account');
select is_empty($$ select * from private.chatwoot_account_by_route_token('tok-route-a-7f3c9e1d2c') $$,
  'an unknown route token finds nothing');
select is_empty(format($$ select * from private.chatwoot_account_by_route_token(%L) $$,
                       encode(extensions.digest(convert_to('tok-route-a-7f3c9e1d2b', 'UTF8'), 'sha256'), 'hex')),
  'the stored hash itself is not a working route token');

select * from finish();
rollback;

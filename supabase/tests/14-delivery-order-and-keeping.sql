-- Webhook deliveries without timestamps and deliveries kept for replay: a message_updated that
-- arrives before the message_created of the same message is not overwritten by the late create
-- (Message#webhook_data has no updated_at), in either arrival order; lifecycle progress and a
-- known updated_at still come first; the ledger takes a too_large record and raw bytes; API roles
-- read none of it.
begin;
\ir _helpers.psql
select plan(15);

-- ── fixtures (as postgres) ───────────────────────────────────────────────────────────────────
create temp table ids (k text primary key, v uuid);
insert into stores (slug, name) values ('tap-order-store', 'Order Store');
insert into chatwoot_accounts (store_id, chatwoot_url, account_id)
  select id, 'https://order.chat.example.com', 5 from stores where slug = 'tap-order-store';
insert into ids select 'acc', a.id from chatwoot_accounts a join stores s on s.id = a.store_id
  where s.slug = 'tap-order-store';

-- A message event's records as _shared/chatwoot/ingest.ts builds them (no conversation or contact).
create function tests.msg(p_id bigint, p_content text, p_fp text, p_extra jsonb default '{}') returns jsonb
language sql as $$
  select jsonb_build_object('message', jsonb_build_object(
    'message_id', p_id, 'conversation_display_id', 1, 'inbox_id', 7, 'message_type', 'outgoing',
    'content', p_content, 'content_type', 'text', 'private', false, 'status', null, 'source_id', null,
    'sender_type', 'user', 'sender_id', 4, 'content_attributes', '{}'::jsonb, 'additional_attributes', '{}'::jsonb,
    'echo', false, 'deleted', false, 'is_whatsapp', false, 'created_at', '2026-03-01T10:00:00Z',
    'version_progress', 0, 'version_updated_at_ms', null, 'version_fingerprint', p_fp) || p_extra,
    'attachments', '[]'::jsonb)
$$;
create function tests.content(p_id bigint) returns text language sql as $$
  select content from chatwoot_messages where account_ref = (select v from ids where k = 'acc') and message_id = p_id
$$;

-- ── updated before created ───────────────────────────────────────────────────────────────────
select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc'), 'o-1u', 'message_updated',
            tests.msg(1, 'edited', 'fp-1-edit')), 'applied', 'an edit arriving first is applied');
select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc'), 'o-1c', 'message_created',
            tests.msg(1, 'original', 'fp-1-orig')), 'stale', 'the late create of the same message is stale');
select is(tests.content(1), 'edited', 'the edit survives the late create');
select is((select outcome from private.chatwoot_deliveries where delivery_id = 'o-1c'), 'stale',
  'the ledger records the late create as stale');

-- ── created before updated (the natural order) ──────────────────────────────────────────────
select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc'), 'o-2c', 'message_created',
            tests.msg(2, 'original', 'fp-2-orig')), 'applied', 'a create is applied');
select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc'), 'o-2u', 'message_updated',
            tests.msg(2, 'edited', 'fp-2-edit')), 'applied', 'the later edit is applied');
select is(tests.content(2), 'edited', 'created then updated ends edited');
select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc'), 'o-2u2', 'message_updated',
            tests.msg(2, 'edited twice', 'fp-2-edit2')), 'applied',
  'two updates with no timestamps: the last arrival wins, as before');

-- ── what orders before the event type ───────────────────────────────────────────────────────
select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc'), 'o-3u', 'message_updated',
            tests.msg(3, 'edited', 'fp-3-edit')), 'applied', 'setup: an update first');
select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc'), 'o-3c', 'message_created',
            tests.msg(3, 'delivered by then', 'fp-3-late', '{"source_id":"wamid.3","version_progress":1}')),
          'applied', 'a create with more lifecycle progress (a provider id) still applies: progress comes first');
select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc'), 'o-4u', 'message_updated',
            tests.msg(4, 'old edit', 'fp-4-a', '{"version_updated_at_ms":1000}')), 'applied', 'setup: a timed update');
select is(private.ingest_chatwoot_delivery((select v from ids where k = 'acc'), 'o-4c', 'message_created',
            tests.msg(4, 'newer', 'fp-4-b', '{"version_updated_at_ms":2000}')),
          'applied', 'when both sides know updated_at, it decides before the event type');

-- ── the ledger keeps what could not be applied ──────────────────────────────────────────────
select lives_ok($$ select private.ingest_chatwoot_delivery((select v from ids where k = 'acc'), 'o-big', '(too large)',
                    '{}', 'too_large', '{"size": 20000000}') $$, 'a too_large delivery can be recorded');
update private.chatwoot_deliveries set raw_body = '\x7b2265'::bytea where delivery_id = 'o-big';
select is((select array[outcome, encode(raw_body, 'hex')] from private.chatwoot_deliveries where delivery_id = 'o-big'),
          array['too_large', '7b2265'], 'the ledger holds the outcome and raw bytes');

-- nobody else can see me: API roles cannot read the ledger
select tests.act_as(tests.create_user('order-outsider@t.test'));
select throws_ok($$ select raw_body from private.chatwoot_deliveries $$, '42501', null,
  'an authenticated user cannot read kept deliveries');
reset role;

select * from finish();
rollback;

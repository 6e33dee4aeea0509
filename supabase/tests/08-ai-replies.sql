-- AI replies: RLS on the bot's tables (a member of store A sees none of B's settings, decisions,
-- conversations or usage; nobody writes decisions through the API), the bot's token and secret out
-- of reach, store admins tune but cannot switch the bot on or re-point it, "return to bot" checked
-- (a store's agents yes, another store's owner no) and audited, and the daily budget arithmetic.
begin;
\ir _helpers.psql
select plan(19);

create temp table ids (k text primary key, v uuid);
grant select on ids to anon, authenticated;
insert into ids values
  ('agent_a', tests.create_user('ai-agent-a@t.test')),
  ('admin_a', tests.create_user('ai-admin-a@t.test')),
  ('owner_b', tests.create_user('ai-owner-b@t.test')),
  ('platform', tests.create_user('ai-platform@t.test', true));
insert into stores (slug, name, chatwoot_provisioning) values ('tap-ai-a', 'AI A', 'manual'), ('tap-ai-b', 'AI B', 'manual');
insert into ids select 'store_a', id from stores where slug = 'tap-ai-a';
insert into ids select 'store_b', id from stores where slug = 'tap-ai-b';
insert into store_members (store_id, user_id, role) values
  ((select v from ids where k = 'store_a'), (select v from ids where k = 'agent_a'), 'agent'),
  ((select v from ids where k = 'store_a'), (select v from ids where k = 'admin_a'), 'admin'),
  ((select v from ids where k = 'store_b'), (select v from ids where k = 'owner_b'), 'owner');
insert into chatwoot_accounts (store_id, chatwoot_url, account_id)
select v, 'https://ai-chat.example.com', case k when 'store_a' then 71 else 72 end from ids where k in ('store_a', 'store_b');
insert into ids select 'acc_a', id from chatwoot_accounts where account_id = 71 and chatwoot_url = 'https://ai-chat.example.com';
insert into ids select 'acc_b', id from chatwoot_accounts where account_id = 72 and chatwoot_url = 'https://ai-chat.example.com';
insert into ai_bot_settings (store_id, enabled, agent_bot_id, inbox_ids, daily_token_budget)
select v, true, 5, '{1}', 1000 from ids where k in ('store_a', 'store_b');
insert into private.ai_bot_secrets (store_id, access_token, webhook_secret, route_token_hash)
select v, 'bot-token-' || k, 'bot-secret-' || k, extensions.digest('route-' || k, 'sha256') from ids where k in ('store_a', 'store_b');
insert into ai_decisions (account_ref, message_id, store_id, conversation_display_id, status, action, reason)
select a.v, 1, s.v, 1, 'posted', 'reply', 'fixture'
from ids a join ids s on (a.k, s.k) in (('acc_a', 'store_a'), ('acc_b', 'store_b'));
insert into ai_conversations (account_ref, conversation_display_id, store_id, bot_paused, paused_reason)
select a.v, 1, s.v, true, 'a person replied'
from ids a join ids s on (a.k, s.k) in (('acc_a', 'store_a'), ('acc_b', 'store_b'));

select ok(bool_and(c.relrowsecurity), 'RLS is enabled on every AI table')
from pg_class c where c.oid in ('public.ai_bot_settings'::regclass, 'private.ai_bot_secrets'::regclass,
  'public.ai_conversations'::regclass, 'public.ai_decisions'::regclass, 'public.ai_usage_daily'::regclass);

select tests.act_as((select v from ids where k = 'agent_a'));
select is((select count(*)::int from ai_decisions), 1, 'an agent of store A reads A''s decisions only');
select is((select count(*)::int from ai_bot_settings), 1, 'and A''s settings only');
select is((select count(*)::int from ai_conversations), 1, 'and A''s conversations only');
select throws_ok($$ select * from private.ai_bot_secrets $$, '42501', null, 'the bot''s token and secret are out of reach');
select throws_ok($$ select * from private.ai_bot_by_route_token('route-store_a') $$, '42501', null,
                 'so is the route lookup');
select throws_ok($$ update ai_decisions set answer = 'forged' $$, '42501', null, 'decisions are written only by the bot');
select is_empty($$ update ai_bot_settings set mode = 'assist' returning 1 $$, 'an agent cannot tune the bot');
select lives_ok($$ select return_conversation_to_bot((select v from ids where k = 'acc_a'), 1) $$,
                'an agent of the store returns a conversation to the bot');

select tests.act_as((select v from ids where k = 'admin_a'));
select isnt_empty($$ update ai_bot_settings set mode = 'assist', daily_token_budget = 50 returning 1 $$,
                  'a store admin tunes mode and budget');
select throws_ok($$ update ai_bot_settings set enabled = false $$, '42501', null,
                 'but switching the bot is not a column they can write (it changes Chatwoot)');
select throws_ok($$ update ai_bot_settings set agent_bot_id = 99 $$, '42501', null, 'nor can they re-point it');

select tests.act_as((select v from ids where k = 'owner_b'));
select is((select count(*)::int from ai_decisions where store_id = (select v from ids where k = 'store_a')), 0,
          'store B''s owner reads none of A''s decisions');
select throws_ok($$ select return_conversation_to_bot((select v from ids where k = 'acc_a'), 1) $$, '42501', null,
                 'nor returns A''s conversations to the bot');

select tests.act_as((select v from ids where k = 'platform'));
select ok((select count(*) from ai_decisions where store_id in (select v from ids where k like 'store_%')) = 2,
          'a platform administrator reads every store''s decisions');

select tests.act_as_anon();
select throws_ok($$ select count(*) from ai_decisions $$, '42501', null, 'anon is refused');

select tests.act_as_postgres();
select is((select bot_paused from ai_conversations where account_ref = (select v from ids where k = 'acc_a')), false,
          'the returned conversation is the bot''s again');
select is((select count(*)::int from private.audit_log where action = 'ai.return_to_bot'
           and target = format('conversation:%s:1', (select v from ids where k = 'acc_a'))), 1, 'and the return is audited');
select is(array[private.record_ai_usage((select v from ids where k = 'store_b'), 600),
                private.record_ai_usage((select v from ids where k = 'store_b'), 600)],
          array[true, false], 'the day''s budget holds until the tokens pass it');

select * from finish();
rollback;

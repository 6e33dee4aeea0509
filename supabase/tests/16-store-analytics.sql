-- Store analytics: every figure on a small fixed dataset with known answers (days and hours in the
-- store's time zone, first response and resolution p50/p90, who answered, CSAT), the resolved-at
-- stamp on the mirror, and who may ask: the store's owner and platform administrators get the
-- figures; another store's owner, the store's viewer and anon are refused, and nobody sees
-- another store's rows through them.
begin;
\ir _helpers.psql
select plan(26);

-- ── fixtures (as postgres) ───────────────────────────────────────────────────────────────────
create temp table ids (k text primary key, v uuid);
grant select on ids to anon, authenticated;
insert into ids values
  ('owner_a', tests.create_user('an-owner-a@t.test')),
  ('viewer_a', tests.create_user('an-viewer-a@t.test')),
  ('owner_b', tests.create_user('an-owner-b@t.test')),
  ('platform', tests.create_user('an-platform@t.test', true));
-- São Paulo has had no summer time since 2019: UTC−3 all year, so the expected days and hours are fixed.
insert into stores (slug, name, time_zone) values ('tap-an-a', 'Analytics A', 'America/Sao_Paulo'),
  ('tap-an-b', 'Analytics B', null);
insert into ids select 'store_a', id from stores where slug = 'tap-an-a';
insert into ids select 'store_b', id from stores where slug = 'tap-an-b';
insert into store_members (store_id, user_id, role) values
  ((select v from ids where k = 'store_a'), (select v from ids where k = 'owner_a'), 'owner'),
  ((select v from ids where k = 'store_a'), (select v from ids where k = 'viewer_a'), 'viewer'),
  ((select v from ids where k = 'store_b'), (select v from ids where k = 'owner_b'), 'owner');
insert into chatwoot_accounts (store_id, chatwoot_url, account_id) values
  ((select v from ids where k = 'store_a'), 'https://chat.example.com', 801),
  ((select v from ids where k = 'store_b'), 'https://chat.example.com', 802);
insert into ids select 'acct_a', id from chatwoot_accounts where account_id = 801;
insert into ids select 'acct_b', id from chatwoot_accounts where account_id = 802;

create function tests.an_conv(p_store text, p_id integer, p_channel text, p_created timestamptz, p_status text,
                              p_changed timestamptz default null)
returns void language sql as $$
  insert into public.chatwoot_conversations (account_ref, display_id, store_id, inbox_id, channel, status, created_at, version)
  values ((select v from ids where k = 'acct_' || p_store), p_id, (select v from ids where k = 'store_' || p_store), 1,
          p_channel, p_status, p_created,
          (extract(epoch from coalesce(p_changed, p_created)) * 1000)::bigint)
$$;
create function tests.an_msg(p_store text, p_conv integer, p_id bigint, p_type text, p_at timestamptz,
                             p_sender text default null, p_private boolean default false,
                             p_content_type text default 'text', p_attrs jsonb default '{}')
returns void language sql as $$
  insert into public.chatwoot_messages (account_ref, message_id, store_id, conversation_display_id, inbox_id,
                                        message_type, private, sender_type, content_type, content_attributes,
                                        created_at, version_fingerprint)
  values ((select v from ids where k = 'acct_' || p_store), p_id, (select v from ids where k = 'store_' || p_store),
          p_conv, 1, p_type, p_private, p_sender, p_content_type, p_attrs, p_at, 'fp-' || p_id)
$$;

-- Store A, 2–4 March 2026 (UTC; São Paulo is 3 hours behind):
-- 1 WhatsApp, Mon 09:00 local: two incoming, the bot answers after 30 s, resolved after 1 h, CSAT 5.
select tests.an_conv('a', 1, 'Channel::Whatsapp', '2026-03-02 12:00Z', 'resolved', '2026-03-02 13:00Z');
select tests.an_msg('a', 1, 11, 'incoming', '2026-03-02 12:00Z', 'contact');
select tests.an_msg('a', 1, 12, 'outgoing', '2026-03-02 12:00:30Z', 'agent_bot');
select tests.an_msg('a', 1, 13, 'incoming', '2026-03-02 12:10Z', 'contact');
select tests.an_msg('a', 1, 14, 'template', '2026-03-02 13:00Z', null, false, 'input_csat',
  '{"submitted_values": {"csat_survey_response": {"rating": 5, "feedback_message": "Great"}}}');
-- 2 WhatsApp, Mon 20:30 local: the bot hands off (its handoff message after 10 s), a person follows; open.
select tests.an_conv('a', 2, 'Channel::Whatsapp', '2026-03-02 23:30Z', 'open');
select tests.an_msg('a', 2, 21, 'incoming', '2026-03-02 23:30Z', 'contact');
select tests.an_msg('a', 2, 22, 'outgoing', '2026-03-02 23:30:10Z', 'agent_bot');
select tests.an_msg('a', 2, 23, 'outgoing', '2026-03-02 23:40Z', 'user');
insert into ai_decisions (account_ref, message_id, store_id, conversation_display_id, status, action)
values ((select v from ids where k = 'acct_a'), 21, (select v from ids where k = 'store_a'), 2, 'posted', 'handoff');
-- 3 widget, Mon 23:00 local (Tuesday in UTC): a private note, then a person after 5 min; resolved after 2 h; CSAT 2.
select tests.an_conv('a', 3, 'Channel::WebWidget', '2026-03-03 02:00Z', 'resolved', '2026-03-03 04:00Z');
select tests.an_msg('a', 3, 31, 'incoming', '2026-03-03 02:00Z', 'contact');
select tests.an_msg('a', 3, 32, 'outgoing', '2026-03-03 02:01Z', 'user', true);
select tests.an_msg('a', 3, 33, 'outgoing', '2026-03-03 02:05Z', 'user');
select tests.an_msg('a', 3, 34, 'template', '2026-03-03 04:00Z', null, false, 'input_csat',
  '{"submitted_values": {"csat_survey_response": {"rating": "2", "feedback_message": ""}}}');
-- 4 widget, Tue 12:00 local: nobody answers; a survey nobody filled in.
select tests.an_conv('a', 4, 'Channel::WebWidget', '2026-03-03 15:00Z', 'open');
select tests.an_msg('a', 4, 41, 'incoming', '2026-03-03 15:00Z', 'contact');
select tests.an_msg('a', 4, 42, 'template', '2026-03-03 15:05Z', null, false, 'input_csat', '{}');
-- 5 e-mail, Wed: only an outgoing campaign, resolved after 30 min (no customer message: not in who answered).
select tests.an_conv('a', 5, 'Channel::Email', '2026-03-04 10:00Z', 'resolved', '2026-03-04 10:30Z');
select tests.an_msg('a', 5, 51, 'outgoing', '2026-03-04 10:00Z', 'user');
-- 6 outside the range (February).
select tests.an_conv('a', 6, 'Channel::Whatsapp', '2026-02-20 10:00Z', 'open');
select tests.an_msg('a', 6, 61, 'incoming', '2026-02-20 10:00Z', 'contact');
-- Store B: one conversation in the same days, with a CSAT answer.
select tests.an_conv('b', 1, 'Channel::Whatsapp', '2026-03-02 12:00Z', 'resolved', '2026-03-02 12:05Z');
select tests.an_msg('b', 1, 11, 'incoming', '2026-03-02 12:00Z', 'contact');
select tests.an_msg('b', 1, 12, 'outgoing', '2026-03-02 12:01Z', 'user');
select tests.an_msg('b', 1, 13, 'template', '2026-03-02 12:05Z', null, false, 'input_csat',
  '{"submitted_values": {"csat_survey_response": {"rating": 1}}}');

create temp table range_a as
  select (select v from ids where k = 'store_a') as s, '2026-03-01T00:00Z'::timestamptz as f, '2026-03-08T00:00Z'::timestamptz as t;
grant select on range_a to authenticated, anon;

-- ── resolved_at follows the status ───────────────────────────────────────────────────────────
select is((select resolved_at from chatwoot_conversations where store_id = (select s from range_a) and display_id = 1),
  '2026-03-02 13:00Z'::timestamptz, 'a conversation mirrored as resolved is stamped with the time of that state');
update chatwoot_conversations set status = 'resolved', version = 1772500000000
 where store_id = (select s from range_a) and display_id = 2;
select is((select resolved_at from chatwoot_conversations where store_id = (select s from range_a) and display_id = 2),
  to_timestamp(1772500000), 'resolving stamps the moment of the change (Chatwoot''s updated_at)');
update chatwoot_conversations set labels = '{later}', version = 1772600000000
 where store_id = (select s from range_a) and display_id = 2;
select is((select resolved_at from chatwoot_conversations where store_id = (select s from range_a) and display_id = 2),
  to_timestamp(1772500000), 'a later change of a resolved conversation keeps its resolution time');
update chatwoot_conversations set status = 'open', version = 1772700000000
 where store_id = (select s from range_a) and display_id = 2;
select is((select resolved_at from chatwoot_conversations where store_id = (select s from range_a) and display_id = 2),
  null, 'reopening clears it');
select throws_ok($$ update stores set time_zone = 'Mars/Olympus' where slug = 'tap-an-a' $$, '22023', null,
  'an unknown time zone is refused when written');

-- ── the figures, as the store's owner ────────────────────────────────────────────────────────
select tests.act_as((select v from ids where k = 'owner_a'));
select is(public.analytics_store_time_zone((select s from range_a), (select f from range_a), (select t from range_a)),
  'America/Sao_Paulo', 'the store''s time zone is the one its figures use');
select results_eq($$ select day::text, channel, conversations::int
                     from public.analytics_conversations_per_day((select s from range_a), (select f from range_a), (select t from range_a)) $$,
  $$ values ('2026-03-02', 'WebWidget', 1), ('2026-03-02', 'Whatsapp', 2), ('2026-03-03', 'WebWidget', 1),
            ('2026-03-04', 'Email', 1) $$,
  'conversations per day by channel, by the store''s calendar (23:00 local Monday is Monday)');
select results_eq($$ select measure, conversations::int, waiting::int, p50_seconds, p90_seconds
                     from public.analytics_response_times((select s from range_a), (select f from range_a), (select t from range_a)) $$,
  $$ values ('first_response', 3, 1, 30.0, 246.0), ('resolution', 3, 2, 3600.0, 6480.0) $$,
  'first response (30 s, 10 s, 300 s; private notes not counted) and resolution (1 h, 2 h, 30 min) p50/p90');
select results_eq($$ select outcome, conversations::int, share
                     from public.analytics_answer_share((select s from range_a), (select f from range_a), (select t from range_a)) $$,
  $$ values ('bot', 1, 0.25), ('handed_off', 1, 0.25), ('people', 1, 0.25), ('unanswered', 1, 0.25) $$,
  'who answered the four conversations with a customer message');
select results_eq($$ select weekday, hour, incoming_messages::int
                     from public.analytics_busiest_hours((select s from range_a), (select f from range_a), (select t from range_a)) $$,
  $$ values (1, 9, 2), (1, 20, 1), (1, 23, 1), (2, 12, 1) $$,
  'incoming messages by weekday and hour in São Paulo time');
select results_eq($$ select conversation_display_id, rating, feedback
                     from public.analytics_csat_responses((select s from range_a), (select f from range_a), (select t from range_a)) $$,
  $$ values (3, 2, null::text), (1, 5, 'Great') $$,
  'CSAT answers (a rating as number or string), newest first; an unanswered survey is not one');
select is((select count(*)::int from public.analytics_conversations_per_day((select s from range_a),
             '2026-02-01T00:00Z', '2026-03-01T00:00Z')), 1, 'the range decides: February has conversation 6 only');
select throws_ok($$ select * from public.analytics_busiest_hours((select s from range_a), (select t from range_a), (select f from range_a)) $$,
  '22023', 'the range must end after it starts', 'a backwards range is refused with a reason');

-- ── a store without a time zone is in UTC ────────────────────────────────────────────────────
select tests.act_as((select v from ids where k = 'owner_b'));
select is(public.analytics_store_time_zone((select v from ids where k = 'store_b'), (select f from range_a), (select t from range_a)),
  'UTC', 'a store without a time zone is reported in UTC');
select results_eq($$ select weekday, hour, incoming_messages::int
                     from public.analytics_busiest_hours((select v from ids where k = 'store_b'), (select f from range_a), (select t from range_a)) $$,
  $$ values (1, 12, 1) $$, 'its hours are UTC hours');

-- ── nobody else ──────────────────────────────────────────────────────────────────────────────
-- Store B's owner asking for store A: refused by every function, and never a row of A.
select throws_ok($$ select * from public.analytics_conversations_per_day((select s from range_a), (select f from range_a), (select t from range_a)) $$,
  '42501', null, 'another store''s owner is refused conversations per day');
select throws_ok($$ select * from public.analytics_response_times((select s from range_a), (select f from range_a), (select t from range_a)) $$,
  '42501', null, '… response times');
select throws_ok($$ select * from public.analytics_answer_share((select s from range_a), (select f from range_a), (select t from range_a)) $$,
  '42501', null, '… who answered');
select throws_ok($$ select * from public.analytics_busiest_hours((select s from range_a), (select f from range_a), (select t from range_a)) $$,
  '42501', null, '… busiest hours');
select throws_ok($$ select * from public.analytics_csat_responses((select s from range_a), (select f from range_a), (select t from range_a)) $$,
  '42501', null, '… CSAT');
select is((select count(*)::int from public.analytics_csat_responses((select v from ids where k = 'store_b'), (select f from range_a), (select t from range_a))),
  1, 'their own store''s CSAT is theirs alone (one answer, none of A''s two)');
-- A viewer of store A is a member but no administrator.
select tests.act_as((select v from ids where k = 'viewer_a'));
select throws_ok($$ select * from public.analytics_conversations_per_day((select s from range_a), (select f from range_a), (select t from range_a)) $$,
  '42501', null, 'the store''s viewer is refused (owners and admins only)');
-- anon may not even call them.
select tests.act_as_anon();
select throws_ok($$ select * from public.analytics_conversations_per_day((select s from range_a), (select f from range_a), (select t from range_a)) $$,
  '42501', null, 'anon cannot call the analytics functions');
select throws_ok($$ select * from public.analytics_csat_responses((select s from range_a), (select f from range_a), (select t from range_a)) $$,
  '42501', null, 'anon cannot read CSAT');

-- ── a platform administrator sees any store ──────────────────────────────────────────────────
select tests.act_as((select v from ids where k = 'platform'));
select is((select sum(conversations)::int from public.analytics_conversations_per_day((select s from range_a), (select f from range_a), (select t from range_a))),
  5, 'a platform administrator gets store A''s figures');
select results_eq($$ select outcome, conversations::int from public.analytics_answer_share((select v from ids where k = 'store_b'), (select f from range_a), (select t from range_a)) $$,
  $$ values ('bot', 0), ('handed_off', 0), ('people', 1), ('unanswered', 0) $$,
  'and store B''s, each on its own');

select * from finish();
rollback;

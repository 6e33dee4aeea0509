-- Authorisation, one rule (20261202000100_authorization.sql): the database role decides, claims
-- only name the user. A session acting as authenticated without claims gets nothing from any
-- helper or checked function; the service role gets everything, with or without claims; anon
-- never becomes an administrator by its claims; the audit log names the signed-in user, the
-- operator a service-role session names, or the role.
begin;
\ir _helpers.psql
select plan(32);

-- ── fixtures (as postgres) ───────────────────────────────────────────────────────────────────
create temp table ids (k text primary key, v uuid);
grant select on ids to anon, authenticated, service_role;
insert into ids values
  ('owner_a', tests.create_user('authz-owner-a@t.test')),
  ('platform', tests.create_user('authz-platform@t.test', true)),
  ('mapped', tests.create_user('authz-mapped@t.test'));
insert into stores (slug, name, chatwoot_provisioning) values ('tap-authz-a', 'Authz A', 'manual');
insert into ids select 'store_a', id from stores where slug = 'tap-authz-a';
insert into store_members (store_id, user_id, role) values
  ((select v from ids where k = 'store_a'), (select v from ids where k = 'owner_a'), 'owner');
insert into kb_documents (store_id, kind, question, answer)
  values ((select v from ids where k = 'store_a'), 'faq', 'Do you ship to Lisbon?', 'Yes, shipping takes four days.');
insert into chatwoot_accounts (store_id, chatwoot_url, account_id)
  values ((select v from ids where k = 'store_a'), 'https://authz-chat.example.com', 91);
insert into ids select 'acc_a', id from chatwoot_accounts where chatwoot_url = 'https://authz-chat.example.com';
insert into archive_contacts (store_id, phone_e164, status) values
  ((select v from ids where k = 'store_a'), '+14155550701', 'unmapped'),
  ((select v from ids where k = 'store_a'), '+14155550702', 'unmapped'),
  ((select v from ids where k = 'store_a'), '+14155550703', 'unmapped');

-- Acting as a role with exactly these claims ('' = none at all), as withRls would.
create function tests.act_with(p_role text, p_claims text) returns void language plpgsql as $$
begin
  perform set_config('role', p_role, true);
  perform set_config('request.jwt.claims', p_claims, true);
end
$$;
-- What a checked (security-definer) function sees: its owner is postgres, yet the caller decides.
create function tests.platform_admin_inside_definer() returns boolean language sql security definer as $$
  select public.is_platform_admin()
$$;
grant execute on function tests.act_with(text, text), tests.platform_admin_inside_definer()
  to anon, authenticated, service_role;

-- ── authenticated without claims: nothing ────────────────────────────────────────────────────
select tests.act_with('authenticated', '');
select is((select count(*)::int from public.authorized_store_ids('viewer')), 0,
  'authenticated without claims is authorised for no store');
select is(public.is_platform_admin(), false, 'authenticated without claims is no platform administrator');
select is(tests.platform_admin_inside_definer(), false,
  '… nor inside a security-definer function owned by postgres');
select is(public.can_administer_store((select v from ids where k = 'store_a')), false,
  'authenticated without claims administers no store');
select is(public.kb_caller_may_read((select v from ids where k = 'store_a')), false,
  'authenticated without claims may read no store''s knowledge');
select is((select count(*)::int from kb_search((select v from ids where k = 'store_a'), 'shipping')), 0,
  'kb_search returns nothing to authenticated without claims');
select is((select count(*)::int from stores), 0, 'authenticated without claims reads no store');
select throws_ok($$ select return_conversation_to_bot((select v from ids where k = 'acc_a'), 1) $$, '42501', null,
  'authenticated without claims cannot return a conversation to the bot');
select throws_ok($$ select map_archive_contact((select v from ids where k = 'store_a'), '+14155550701',
                                               (select v from ids where k = 'mapped')) $$, '42501', null,
  'authenticated without claims cannot map an archive contact');
select throws_ok($$ select request_archive_erasure((select v from ids where k = 'mapped')) $$, '42501', null,
  'authenticated without claims cannot request an erasure');

select tests.act_with('authenticated', '{}');
select is(public.kb_caller_may_read((select v from ids where k = 'store_a')), false,
  'empty claims are no better than none');
select tests.act_with('authenticated', '{"role":"service_role"}');
select is(public.is_platform_admin(), false, 'a service_role claim does not lift an authenticated session');

-- ── anon: never an administrator by its claims ───────────────────────────────────────────────
select tests.act_with('anon', '{"role":"anon","app_metadata":{"platform_admin":true}}');
select is(tests.platform_admin_inside_definer(), false, 'anon is no platform administrator whatever its claims say');

-- ── a signed-in user ─────────────────────────────────────────────────────────────────────────
select tests.act_as((select v from ids where k = 'owner_a'));
select is(public.kb_caller_may_read((select v from ids where k = 'store_a')), true, 'a member reads their store''s knowledge');
select is(public.is_platform_admin(), false, 'a store owner is no platform administrator');
select tests.act_as((select v from ids where k = 'platform'));
select is(public.is_platform_admin(), true, 'a user with the platform_admin claim is a platform administrator');

-- ── the service role: everything, with or without claims ─────────────────────────────────────
select tests.act_with('service_role', '');
select is(public.is_platform_admin(), true, 'service_role without claims is a platform administrator');
select is(tests.platform_admin_inside_definer(), true, '… inside a security-definer function too');
select is(public.can_administer_store((select v from ids where k = 'store_a')), true,
  'service_role without claims administers every store');
select is((select count(*)::int from kb_search((select v from ids where k = 'store_a'), 'shipping')), 1,
  'kb_search finds the store''s knowledge for service_role without claims');
select tests.act_with('service_role', '{"role":"service_role"}');
select is(public.kb_caller_may_read((select v from ids where k = 'store_a')), true,
  'service_role may read every store''s knowledge');
select lives_ok($$ select return_conversation_to_bot((select v from ids where k = 'acc_a'), 1) $$,
  'service_role returns a conversation to the bot');
select lives_ok($$ select ignore_archive_contact((select v from ids where k = 'store_a'), '+14155550702') $$,
  'service_role reviews archive contacts');
select tests.act_with('service_role', '{"role":"service_role","actor":"cli:tap"}');
select lives_ok($$ select map_archive_contact((select v from ids where k = 'store_a'), '+14155550701',
                                              (select v from ids where k = 'mapped')) $$,
  'an operator acting as service_role maps an archive contact');
select lives_ok($$ select request_archive_erasure((select v from ids where k = 'mapped')) $$,
  'and requests an erasure');
select tests.act_with('authenticated', jsonb_build_object('sub', (select v from ids where k = 'owner_a'),
  'role', 'authenticated', 'app_metadata', '{}'::jsonb, 'actor', 'cli:forged')::text);
select lives_ok($$ select ignore_archive_contact((select v from ids where k = 'store_a'), '+14155550703') $$,
  'a store owner reviews their store''s contacts');

-- ── postgres (a role that bypasses RLS), and what the audit log says ─────────────────────────
select tests.act_as_postgres();
select is(public.is_platform_admin(), true, 'postgres, which bypasses RLS anyway, counts as a platform administrator');
select is((select actor from private.audit_log where action = 'archive.map_contact'
           and target = format('contact:%s:+14155550701', (select v from ids where k = 'store_a'))), 'cli:tap',
  'the audit log names the operator a service-role session gives');
select is((select payload ->> 'actor' from private.jobs where kind = 'archive.erase_user'
           and payload ->> 'user_id' = (select v::text from ids where k = 'mapped')), 'cli:tap',
  'the erase job carries the operator too');
select is((select actor from private.audit_log where action = 'archive.ignore_contact'
           and target = format('contact:%s:+14155550702', (select v from ids where k = 'store_a'))), 'role:service_role',
  'a service-role session without an operator is named by its role');
select is((select actor from private.audit_log where action = 'archive.ignore_contact'
           and target = format('contact:%s:+14155550703', (select v from ids where k = 'store_a'))),
  format('user:%s', (select v from ids where k = 'owner_a')), 'a signed-in user is always named as themselves');
select is((select actor from private.audit_log where action = 'ai.return_to_bot'
           and target = format('conversation:%s:1', (select v from ids where k = 'acc_a'))), 'role:service_role',
  'return to bot is audited like every other checked function');

select * from finish();
rollback;

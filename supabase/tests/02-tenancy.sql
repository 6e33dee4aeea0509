-- Tenant isolation for stores, store_members and profiles: a member of store A sees none of
-- store B and cannot write it; anon sees nothing; a non-member sees nothing; a platform
-- administrator sees everything; roles inside a store are enforced.
begin;
\ir _helpers.psql
select plan(36);

-- ── fixtures (as postgres) ───────────────────────────────────────────────────────────────────
create temp table ids (k text primary key, v uuid);
grant select on ids to anon, authenticated;
insert into ids values
  ('owner_a', tests.create_user('owner-a@t.test', false, '+5511900000001')),
  ('admin_a', tests.create_user('admin-a@t.test')),
  ('agent_a', tests.create_user('agent-a@t.test')),
  ('owner_b', tests.create_user('owner-b@t.test', false, '+5511900000002')),
  ('outsider', tests.create_user('outsider@t.test')),
  ('platform', tests.create_user('platform@t.test', true));
insert into stores (id, slug, name) values (gen_random_uuid(), 'tap-store-a', 'Store A'), (gen_random_uuid(), 'tap-store-b', 'Store B');
insert into ids select 'store_a', id from stores where slug = 'tap-store-a';
insert into ids select 'store_b', id from stores where slug = 'tap-store-b';
insert into store_members (store_id, user_id, role) values
  ((select v from ids where k = 'store_a'), (select v from ids where k = 'owner_a'), 'owner'),
  ((select v from ids where k = 'store_a'), (select v from ids where k = 'admin_a'), 'admin'),
  ((select v from ids where k = 'store_a'), (select v from ids where k = 'agent_a'), 'agent'),
  ((select v from ids where k = 'store_b'), (select v from ids where k = 'owner_b'), 'owner');
create temp table totals as
  select (select count(*) from stores) as stores, (select count(*) from store_members) as members,
         (select count(*) from profiles) as profiles;
grant select on totals to authenticated;

select is((select count(*)::int from profiles where user_id in (select v from ids)), 6,
  'every new auth user gets a profile');
select is((select phone_e164 from profiles where user_id = (select v from ids where k = 'owner_a')), '+5511900000001',
  'the profile keeps the E.164 phone from sign-up');

-- ── a member of store A ──────────────────────────────────────────────────────────────────────
select tests.act_as((select v from ids where k = 'agent_a'));
select is((select count(*)::int from stores where id = (select v from ids where k = 'store_b')), 0,
  'a member of A sees 0 of store B');
select is((select count(*)::int from stores), 1, 'a member of A sees exactly their one store');
select is((select count(*)::int from store_members where store_id = (select v from ids where k = 'store_b')), 0,
  'a member of A sees 0 of store B''s memberships');
select is((select count(*)::int from store_members), 3, 'a member of A sees store A''s three memberships');
select is((select count(*)::int from profiles where user_id = (select v from ids where k = 'owner_b')), 0,
  'a member of A cannot read a member of B''s profile');
select is((select count(*)::int from profiles), 1, 'a user reads only their own profile');

select throws_ok($$ insert into stores (slug, name) values ('tap-sneaky', 'Sneaky') $$, '42501', null,
  'a store member cannot create stores');
select throws_ok(
  format($$ insert into store_members (store_id, user_id, role) values (%L, %L, 'viewer') $$,
         (select v from ids where k = 'store_b'), (select v from ids where k = 'agent_a')),
  '42501', null, 'a member of A cannot add themselves to store B');
select throws_ok(
  format($$ insert into profiles (user_id, full_name) values (%L, 'x') $$, (select v from ids where k = 'outsider')),
  '42501', null, 'nobody inserts profiles through the API');

select is_empty(format($$ update stores set name = 'pwned' where id = %L returning id $$, (select v from ids where k = 'store_b')),
  'a member of A cannot update store B');
select is_empty(format($$ update store_members set role = 'owner' where store_id = %L returning user_id $$,
  (select v from ids where k = 'store_b')), 'a member of A cannot update store B''s memberships');
select is_empty(format($$ update profiles set full_name = 'pwned' where user_id = %L returning user_id $$,
  (select v from ids where k = 'owner_b')), 'a member of A cannot update a member of B''s profile');
select is_empty(format($$ delete from stores where id = %L returning id $$, (select v from ids where k = 'store_b')),
  'a member of A cannot delete store B');
select is_empty(format($$ delete from store_members where store_id = %L returning user_id $$,
  (select v from ids where k = 'store_b')), 'a member of A cannot delete store B''s memberships');
-- No policy lets anyone delete a profile through the API, so the privilege is gone too: refused outright.
select throws_ok(format($$ delete from profiles where user_id = %L returning user_id $$, (select v from ids where k = 'owner_b')),
  '42501', null, 'a member of A cannot delete a member of B''s profile');
select is_empty(format($$ update stores set name = 'renamed' where id = %L returning id $$, (select v from ids where k = 'store_a')),
  'an agent cannot rename their own store (admins only)');
select throws_ok(
  format($$ insert into store_members (store_id, user_id, role) values (%L, %L, 'viewer') $$,
         (select v from ids where k = 'store_a'), (select v from ids where k = 'outsider')),
  '42501', null, 'an agent cannot add members');

-- ── roles inside store A ─────────────────────────────────────────────────────────────────────
select tests.act_as((select v from ids where k = 'admin_a'));
select isnt_empty(format($$ update stores set name = 'Store A renamed' where id = %L returning id $$,
  (select v from ids where k = 'store_a')), 'a store admin can rename their store');
select lives_ok(
  format($$ insert into store_members (store_id, user_id, role) values (%L, %L, 'viewer') $$,
         (select v from ids where k = 'store_a'), (select v from ids where k = 'outsider')),
  'a store admin can add a viewer');
select throws_ok(format($$ update store_members set role = 'owner' where store_id = %L and user_id = %L $$,
  (select v from ids where k = 'store_a'), (select v from ids where k = 'admin_a')),
  '42501', null, 'a store admin cannot promote themselves to owner');
select is_empty(format($$ delete from store_members where store_id = %L and user_id = %L returning 1 $$,
  (select v from ids where k = 'store_a'), (select v from ids where k = 'owner_a')),
  'a store admin cannot remove the owner');
select tests.act_as((select v from ids where k = 'owner_a'));
select isnt_empty(format($$ update store_members set role = 'owner' where store_id = %L and user_id = %L returning 1 $$,
  (select v from ids where k = 'store_a'), (select v from ids where k = 'admin_a')),
  'an owner can make another owner');
select tests.act_as_postgres();
delete from store_members where store_id = (select v from ids where k = 'store_a') and user_id = (select v from ids where k = 'outsider');

-- ── a signed-in user with no membership ──────────────────────────────────────────────────────
select tests.act_as((select v from ids where k = 'outsider'));
select is((select count(*)::int from stores), 0, 'a non-member sees no stores');
select is((select count(*)::int from store_members), 0, 'a non-member sees no memberships');
select is((select count(*)::int from profiles), 1, 'a non-member sees only their own profile');
select is((select count(*)::int from public.authorized_store_ids()), 0, 'a non-member is authorised for no store');

-- ── anon ─────────────────────────────────────────────────────────────────────────────────────
select tests.act_as_anon();
select throws_ok($$ select count(*) from stores $$, '42501', null, 'anon cannot read stores');
select throws_ok($$ select count(*) from store_members $$, '42501', null, 'anon cannot read memberships');
select throws_ok($$ select count(*) from profiles $$, '42501', null, 'anon cannot read profiles');

-- ── platform administrator ───────────────────────────────────────────────────────────────────
select tests.act_as((select v from ids where k = 'platform'));
select is((select count(*) from stores), (select stores from totals), 'a platform administrator sees every store');
select is((select count(*) from store_members), (select members from totals), 'a platform administrator sees every membership');
select is((select count(*) from profiles), (select profiles from totals), 'a platform administrator sees every profile');
select lives_ok($$ insert into stores (slug, name) values ('tap-store-c', 'Store C') $$, 'a platform administrator can create a store');
select isnt_empty(format($$ delete from stores where slug = 'tap-store-c' returning id $$), 'a platform administrator can delete a store');

select * from finish();
rollback;

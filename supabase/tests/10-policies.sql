-- Policies the planner can use: one permissive policy per table, role and action (what the
-- Performance Advisor's multiple_permissive_policies checks), every helper called through a scalar
-- subquery so it runs once per statement, and EXPLAIN showing that under the merged policies a
-- store member's and a platform administrator's queries use the same indexes as without RLS.
begin;
\ir _helpers.psql
select plan(9);

-- ── helpers (as postgres; rolled back with everything else) ─────────────────────────────────
-- The plan of a query as the current role, seq scans off (the fixture is tiny; the question is
-- whether an index can serve the query under the policy, not whether it is worth it here).
create function tests.pol_plan(p_sql text) returns text language plpgsql as $$
declare
  plan text := '';
  r record;
begin
  perform set_config('enable_seqscan', 'off', true);
  for r in execute 'explain (costs off) ' || p_sql loop
    plan := plan || r."QUERY PLAN" || E'\n';
  end loop;
  perform set_config('enable_seqscan', 'on', true);
  return plan;
end
$$;
-- The index a plan reads, or null.
create function tests.pol_index(p_plan text) returns text language sql immutable as $$
  select (regexp_match(p_plan, '(?:Index Scan|Index Only Scan|Bitmap Index Scan) (?:Backward )?(?:using|on) (\w+)'))[1]
$$;
grant execute on all functions in schema tests to anon, authenticated, service_role;

-- ── fixtures (as postgres) ───────────────────────────────────────────────────────────────────
create temp table ids (k text primary key, v uuid);
grant select on ids to authenticated;
insert into ids values
  ('agent', tests.create_user('pol-agent@t.test')),
  ('platform', tests.create_user('pol-platform@t.test', true));
insert into stores (slug, name) values ('tap-pol-store', 'Policy Store');
insert into ids select 'store', id from stores where slug = 'tap-pol-store';
insert into store_members (store_id, user_id, role)
  values ((select v from ids where k = 'store'), (select v from ids where k = 'agent'), 'agent');

-- Every table in public whose store_id leads an index, and the query that index serves.
create temp table store_queries as
  select c.relname::text as tbl, format('select * from public.%I where store_id = %L', c.relname,
                                        (select v from ids where k = 'store')) as q
  from pg_class c
  where c.relnamespace = 'public'::regnamespace and c.relkind = 'r'
    and exists (select 1 from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
                where i.indrelid = c.oid and a.attname = 'store_id');
grant select on store_queries to authenticated;
create temp table plans (who text, tbl text, plan text);
grant insert, select on plans to authenticated;
insert into plans select 'owner', tbl, tests.pol_plan(q) from store_queries;

-- ── the policies themselves ──────────────────────────────────────────────────────────────────
select is_empty($$
  select c.relname, r.rolname, cmd
  from pg_policy p join pg_class c on c.oid = p.polrelid
  cross join lateral unnest(case when p.polroles = '{0}' then array(select oid from pg_roles) else p.polroles end) pr (oid)
  join pg_roles r on r.oid = pr.oid
  cross join lateral unnest(case p.polcmd when '*' then array['r', 'a', 'w', 'd'] else array[p.polcmd::text] end) cmd
  where c.relnamespace = 'public'::regnamespace and p.polpermissive
  group by c.relname, r.rolname, cmd having count(*) > 1 $$,
  'no table has two permissive policies for the same role and action');
select is_empty($$
  select c.relname, p.polname
  from pg_policy p join pg_class c on c.oid = p.polrelid,
       lateral (select coalesce(pg_get_expr(p.polqual, p.polrelid), '') || ' ' ||
                       coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '') as e) x
  where c.relnamespace = 'public'::regnamespace
    and (regexp_count(x.e, 'is_platform_admin\(\)') <> regexp_count(x.e, 'SELECT is_platform_admin\(\)')
      or regexp_count(x.e, 'auth\.uid\(\)') <> regexp_count(x.e, 'SELECT auth\.uid\(\)')
      or regexp_count(x.e, 'authorized_store_ids\(') <> regexp_count(x.e, 'SELECT authorized_store_ids\(')) $$,
  'every policy calls its helpers through a scalar subquery (evaluated once per statement, not per row)');
select cmp_ok((select count(*)::int from store_queries), '>=', 25, 'the store-led indexes of every tenant table (25) are checked below');

-- ── the plans ────────────────────────────────────────────────────────────────────────────────
select tests.act_as((select v from ids where k = 'agent'));
insert into plans select 'member', tbl, tests.pol_plan(q) from store_queries;
select tests.act_as((select v from ids where k = 'platform'));
insert into plans select 'platform', tbl, tests.pol_plan(q) from store_queries;
select tests.act_as_postgres();

select is_empty($$ select tbl, plan from plans where who = 'owner' and plan !~ 'Cond: \(+store_id = ' $$,
  'without RLS, each of them reads its store_id index');
select is_empty($$
  select m.tbl, tests.pol_index(o.plan) as without_rls, tests.pol_index(m.plan) as as_member, m.plan
  from plans m join plans o on o.tbl = m.tbl and o.who = 'owner'
  where m.who = 'member' and (tests.pol_index(m.plan) is distinct from tests.pol_index(o.plan) or m.plan !~ 'Cond: \(+store_id = ') $$,
  'a store member''s query reads the same index, the store still an index condition');
select is_empty($$
  select m.tbl, tests.pol_index(o.plan) as without_rls, tests.pol_index(m.plan) as as_platform_admin, m.plan
  from plans m join plans o on o.tbl = m.tbl and o.who = 'owner'
  where m.who = 'platform' and (tests.pol_index(m.plan) is distinct from tests.pol_index(o.plan) or m.plan !~ 'Cond: \(+store_id = ') $$,
  'a platform administrator''s query reads the same index');
select is_empty($$ select tbl, plan from plans where who = 'member' and plan !~ 'Filter: \(\$\d+ OR \(hashed SubPlan \d+\)\)' $$,
  'the policy is one filter: the platform check an InitPlan run once, the store list a hashed subplan built once');

select tests.act_as((select v from ids where k = 'agent'));
select matches(tests.pol_plan(format(
  $$ select * from public.chatwoot_messages where account_ref = %L and conversation_display_id = 1 order by created_at $$,
  gen_random_uuid())),
  'Index Scan using chatwoot_messages_conversation_idx on chatwoot_messages\s+Index Cond: \(\(account_ref = ',
  'a conversation''s messages, as a member: the conversation index, not a scan of the store''s messages');
select matches(tests.pol_plan(format($$ select * from public.orders where customer_id = %L $$, gen_random_uuid())),
  'Index (Only )?Scan using orders_customer_store_idx on orders|Bitmap Index Scan on orders_customer_store_idx',
  'a customer''s orders, as a member: by the (customer_id, store_id) index');
select tests.act_as_postgres();

select * from finish();
rollback;

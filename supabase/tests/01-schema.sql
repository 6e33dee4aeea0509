-- Structural guarantees: RLS on every exposed table, policies on each, the authorisation helper
-- locked down, internals unreachable by API roles.
begin;
\ir _helpers.psql
select plan(12);

select is(
  (select count(*)::int from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relrowsecurity),
  0, 'every table in public has row-level security enabled');

select is(
  (select count(*)::int from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind in ('r', 'p')
      and not exists (select 1 from pg_policy p where p.polrelid = c.oid)),
  0, 'every table in public has at least one policy');

select is(
  (select count(*)::int from pg_policy p join pg_class c on c.oid = p.polrelid
    join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and p.polname !~ '^[A-Z][a-z]+.* can .+'),
  0, 'policies are named as sentences ("Who can do what")');

select ok(
  (select prosecdef from pg_proc where oid = 'public.authorized_store_ids(public.store_role)'::regprocedure),
  'authorized_store_ids is security definer');
select ok(
  (select 'search_path=""' = any (proconfig) from pg_proc where oid = 'public.authorized_store_ids(public.store_role)'::regprocedure),
  'authorized_store_ids pins an empty search_path');
select is(
  (select provolatile::text from pg_proc where oid = 'public.authorized_store_ids(public.store_role)'::regprocedure),
  's', 'authorized_store_ids is stable');
select ok(not has_function_privilege('anon', 'public.authorized_store_ids(public.store_role)', 'execute'),
  'anon cannot call authorized_store_ids');

select ok(not has_schema_privilege('anon', 'private', 'usage'), 'anon has no usage on the private schema');
select ok(not has_schema_privilege('authenticated', 'private', 'usage'), 'authenticated has no usage on the private schema');
select ok(not has_function_privilege('authenticated', 'private.enqueue_job(text, jsonb, text, uuid, timestamptz, integer)', 'execute'),
  'authenticated cannot enqueue jobs');

select has_extension('vector', 'pgvector is installed');
select is(
  (select count(*)::int from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname in ('public', 'private') and p.prokind = 'f'
      and not coalesce(exists (select 1 from unnest(p.proconfig) c where c like 'search_path=%'), false)
      and p.proname not like 'invoke_%'),
  0, 'every project function pins its search_path');

select * from finish();
rollback;

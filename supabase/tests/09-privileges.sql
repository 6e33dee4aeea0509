-- Roles and privileges as on hosted Supabase: postgres owns everything but is no superuser, the
-- API roles have their timeouts; every privilege anon and authenticated hold is listed here (a new
-- grant is a deliberate change to this file), each verb authenticated holds on a table is one a
-- policy lets it use and the other way round, and a new object grants the API roles nothing.
-- scripts/stack/database_test.ts checks the same privileges survive a restart (bootstrap re-run).
begin;
\ir _helpers.psql
select plan(23);

-- ── roles ────────────────────────────────────────────────────────────────────────────────────
select is(current_setting('is_superuser'), 'off', 'the tests (like the migrations and the seed) run as a non-superuser');
select is((select (rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolcanlogin)::text
             from pg_roles where rolname = 'postgres'), '(f,t,t,t,t,t)',
  'postgres is NOSUPERUSER CREATEDB CREATEROLE REPLICATION BYPASSRLS LOGIN, as on hosted');
select is((select array_agg(rolname::text) from pg_roles where rolsuper), array['supabase_admin'],
  'supabase_admin is the only superuser');
select ok((select 'statement_timeout=3s' = any (rolconfig) from pg_roles where rolname = 'anon'), 'anon times out after 3 s');
select ok((select 'statement_timeout=8s' = any (rolconfig) from pg_roles where rolname = 'authenticated'),
  'authenticated times out after 8 s');
select is((select count(*)::int from pg_class c where c.relnamespace in ('public'::regnamespace, 'private'::regnamespace)
             and c.relowner <> 'postgres'::regrole),
  0, 'postgres owns every table, index and sequence of the project');
select is((select count(*)::int from pg_proc p where p.pronamespace in ('public'::regnamespace, 'private'::regnamespace)
             and p.proowner <> 'postgres'::regrole),
  0, 'postgres owns every function of the project');

-- ── every privilege of the API roles ─────────────────────────────────────────────────────────
-- Schemas, tables, columns (beyond their table's grant), sequences and functions outside the
-- system schemas, extensions' own objects and these tests.
create function tests.api_privileges() returns table (role text, kind text, object text, privileges text)
language sql stable as $$
  with roles (r) as (values ('anon'), ('authenticated')),
  schemas as (
    select n.oid, n.nspname::text as nspname from pg_namespace n
    where n.nspname !~ '^pg_' and n.nspname not in ('information_schema', 'tests')
  ),
  ext as (select d.objid from pg_depend d where d.deptype = 'e'),
  rels as (
    select c.oid, s.nspname || '.' || c.relname as name, c.relkind from pg_class c join schemas s on s.oid = c.relnamespace
    where c.relkind in ('r', 'p', 'v', 'm', 'f', 'S') and c.oid not in (select objid from ext)
  ),
  privs as (
    select r, 'schema' as kind, s.nspname as object, p from roles, schemas s, unnest(array['USAGE', 'CREATE']) p
     where has_schema_privilege(r, s.oid, p)
    union all
    select r, case rels.relkind when 'S' then 'sequence' else 'table' end, rels.name, p
      from roles, rels, unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER', 'USAGE']) p
     where (rels.relkind = 'S' and p in ('SELECT', 'UPDATE', 'USAGE') and has_sequence_privilege(r, rels.oid, p))
        or (rels.relkind <> 'S' and p <> 'USAGE' and has_table_privilege(r, rels.oid, p))
    union all
    select r, 'column', rels.name || '.' || a.attname, p
      from roles, rels join pg_attribute a on a.attrelid = rels.oid and a.attnum > 0 and not a.attisdropped,
           unnest(array['SELECT', 'INSERT', 'UPDATE', 'REFERENCES']) p
     where rels.relkind <> 'S' and has_column_privilege(r, rels.oid, a.attnum, p) and not has_table_privilege(r, rels.oid, p)
    union all
    select r, 'function', s.nspname || '.' || f.proname || '(' || oidvectortypes(f.proargtypes) || ')', 'EXECUTE'
      from roles, pg_proc f join schemas s on s.oid = f.pronamespace
     where f.oid not in (select objid from ext) and has_function_privilege(r, f.oid, 'EXECUTE')
  )
  select r, kind, object, string_agg(p, ', ' order by p) from privs group by r, kind, object
$$;

select set_eq($$ select kind, object, privileges from tests.api_privileges() where role = 'anon' $$,
  $$ values
    ('schema', 'auth', 'USAGE'), ('schema', 'extensions', 'USAGE'), ('schema', 'public', 'USAGE'),
    ('function', 'auth.email()', 'EXECUTE'), ('function', 'auth.jwt()', 'EXECUTE'),
    ('function', 'auth.role()', 'EXECUTE'), ('function', 'auth.uid()', 'EXECUTE') $$,
  'anon holds nothing of the project: schema usage and the auth claim helpers, as on hosted');

select set_eq($$ select kind, object, privileges from tests.api_privileges() where role = 'authenticated' and kind <> 'function' $$,
  $$ values
    ('schema', 'auth', 'USAGE'), ('schema', 'extensions', 'USAGE'), ('schema', 'public', 'USAGE'),
    ('table', 'public.stores', 'DELETE, INSERT, SELECT, UPDATE'),
    ('table', 'public.store_members', 'DELETE, INSERT, SELECT, UPDATE'),
    ('table', 'public.profiles', 'SELECT, UPDATE'),
    ('table', 'public.chatwoot_accounts', 'SELECT'),
    ('table', 'public.chatwoot_contacts', 'SELECT'),
    ('table', 'public.chatwoot_conversations', 'SELECT'),
    ('table', 'public.chatwoot_messages', 'SELECT'),
    ('table', 'public.chatwoot_attachments', 'SELECT'),
    ('table', 'public.chatwoot_sync_cursors', 'SELECT'),
    ('table', 'public.chatwoot_provisioning', 'SELECT'),
    ('table', 'public.archive_buckets', 'SELECT'),
    ('table', 'public.archive_contacts', 'SELECT'),
    ('table', 'public.archived_messages', 'SELECT'),
    ('table', 'public.archived_media', 'SELECT'),
    ('table', 'public.archive_erasures', 'SELECT'),
    ('table', 'public.customer_settings', 'INSERT, SELECT, UPDATE'),
    ('table', 'public.customer_tiers', 'DELETE, INSERT, SELECT, UPDATE'),
    ('table', 'public.customers', 'DELETE, INSERT, SELECT, UPDATE'),
    ('table', 'public.orders', 'DELETE, INSERT, SELECT, UPDATE'),
    ('table', 'public.contact_sync_settings', 'INSERT, SELECT, UPDATE'),
    ('table', 'public.customer_contact_links', 'SELECT'),
    ('table', 'public.contact_sync_conflicts', 'SELECT'),
    ('table', 'public.kb_settings', 'DELETE, INSERT, SELECT, UPDATE'),
    ('table', 'public.kb_documents', 'DELETE, INSERT, SELECT'),
    ('column', 'public.kb_documents.title', 'UPDATE'),
    ('column', 'public.kb_documents.question', 'UPDATE'),
    ('column', 'public.kb_documents.answer', 'UPDATE'),
    ('table', 'public.kb_chunks', 'SELECT'),
    ('table', 'public.ai_bot_settings', 'SELECT'),
    ('column', 'public.ai_bot_settings.mode', 'UPDATE'),
    ('column', 'public.ai_bot_settings.handoff_message', 'UPDATE'),
    ('column', 'public.ai_bot_settings.handoff_team_id', 'UPDATE'),
    ('column', 'public.ai_bot_settings.min_similarity', 'UPDATE'),
    ('column', 'public.ai_bot_settings.min_text_score', 'UPDATE'),
    ('column', 'public.ai_bot_settings.top_k', 'UPDATE'),
    ('column', 'public.ai_bot_settings.daily_token_budget', 'UPDATE'),
    ('column', 'public.ai_bot_settings.history_messages', 'UPDATE'),
    ('table', 'public.ai_conversations', 'SELECT'),
    ('table', 'public.ai_decisions', 'SELECT'),
    ('table', 'public.ai_usage_daily', 'SELECT'),
    ('table', 'public.alert_rules', 'SELECT'),
    ('column', 'public.alert_rules.threshold', 'UPDATE'),
    ('column', 'public.alert_rules.window_minutes', 'UPDATE'),
    ('column', 'public.alert_rules.params', 'UPDATE'),
    ('column', 'public.alert_rules.enabled', 'UPDATE'),
    ('column', 'public.alert_rules.updated_at', 'UPDATE'),
    ('column', 'public.alert_rules.updated_by', 'UPDATE'),
    ('table', 'public.alerts', 'SELECT'),
    ('column', 'public.alerts.acknowledged_at', 'UPDATE'),
    ('column', 'public.alerts.acknowledged_by', 'UPDATE') $$,
  'authenticated holds exactly these schema, table and column privileges (no TRUNCATE, TRIGGER, REFERENCES or sequences)');

select set_eq($$ select object from tests.api_privileges() where role = 'authenticated' and kind = 'function' $$,
  $$ values
    ('auth.email()'), ('auth.jwt()'), ('auth.role()'), ('auth.uid()'),
    ('public.authorized_store_ids(store_role)'), ('public.is_platform_admin()'), ('public.can_administer_store(uuid)'),
    ('public.visible_jobs(text, integer, bigint)'), ('public.replay_visible_job(bigint)'),
    ('public.platform_overview(text)'),
    ('public.map_archive_contact(uuid, text, uuid)'), ('public.ignore_archive_contact(uuid, text)'),
    ('public.archive_contact_suggestions(uuid, text, integer)'), ('public.request_archive_erasure(uuid)'),
    ('public.request_store_reprovision(uuid)'), ('public.set_store_status(uuid, text)'),
    ('public.customer_tier_for(uuid, numeric, integer)'),
    ('public.kb_search(uuid, text, vector, integer, text[], text)'), ('public.kb_request_reembed(uuid)'),
    ('public.kb_caller_may_read(uuid)'), ('public.kb_store_language(uuid)'), ('public.kb_tsquery(uuid, text)'),
    ('public.kb_chunk_tsvector(regconfig, text, text)'),
    ('public.return_conversation_to_bot(uuid, integer)'),
    ('public.analytics_store_time_zone(uuid, timestamp with time zone, timestamp with time zone)'),
    ('public.analytics_conversations_per_day(uuid, timestamp with time zone, timestamp with time zone)'),
    ('public.analytics_response_times(uuid, timestamp with time zone, timestamp with time zone)'),
    ('public.analytics_answer_share(uuid, timestamp with time zone, timestamp with time zone)'),
    ('public.analytics_busiest_hours(uuid, timestamp with time zone, timestamp with time zone)'),
    ('public.analytics_csat_responses(uuid, timestamp with time zone, timestamp with time zone)'),
    ('public.ai_pause_status()'), ('public.resume_ai()') $$,
  'authenticated may call exactly these functions (nothing in private, no trigger function)');

-- ── privileges and policies agree ─────────────────────────────────────────────────────────────
-- A verb authenticated holds on a table (or on some of its columns) with no policy for it only
-- turns a refusal into an empty result; a policy without the privilege can never apply.
create temp table verbs as
  select c.oid::regclass::text as tbl, v as verb,
         case v when 'DELETE' then has_table_privilege('authenticated', c.oid, v)
                else has_any_column_privilege('authenticated', c.oid, v) end as granted,
         exists (select 1 from pg_policy p
                  where p.polrelid = c.oid and ('authenticated'::regrole = any (p.polroles) or p.polroles = '{0}')
                    and p.polcmd in ('*', case v when 'SELECT' then 'r' when 'INSERT' then 'a'
                                                 when 'UPDATE' then 'w' else 'd' end)) as allowed
  from pg_class c, unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE']) v
  where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p');
select is_empty($$ select tbl, verb from verbs where granted and not allowed $$,
  'authenticated holds no verb on a table that no policy lets it use');
select is_empty($$ select tbl, verb from verbs where allowed and not granted $$,
  'every policy''s verb is granted to authenticated (no policy is dead)');

-- ── what a new object grants: nothing to the API roles, everything to service_role ───────────
create table public.tap_new_table (id integer generated always as identity primary key, note text);
create function public.tap_new_function() returns integer language sql as 'select 1';
create table private.tap_new_table (id integer generated always as identity primary key);
create function private.tap_new_function() returns integer language sql as 'select 1';

select table_privs_are('public', 'tap_new_table', 'anon', '{}'::text[], 'a new table in public grants anon nothing');
select table_privs_are('public', 'tap_new_table', 'authenticated', '{}'::text[],
  'a new table in public grants authenticated nothing until its migration does');
select table_privs_are('public', 'tap_new_table', 'service_role',
  array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER'], 'a new table in public is service_role''s');
select sequence_privs_are('public', 'tap_new_table_id_seq', 'authenticated', '{}'::text[],
  'a new sequence in public grants authenticated nothing');
select function_privs_are('public', 'tap_new_function', '{}'::text[], 'anon', '{}'::text[],
  'a new function in public is not executable by anon (nor by PUBLIC)');
select function_privs_are('public', 'tap_new_function', '{}'::text[], 'authenticated', '{}'::text[],
  'a new function in public is not executable by authenticated until its migration grants it');
select function_privs_are('public', 'tap_new_function', '{}'::text[], 'service_role', array['EXECUTE'],
  'a new function in public is executable by service_role');
select table_privs_are('private', 'tap_new_table', 'authenticated', '{}'::text[], 'a new table in private grants authenticated nothing');
select table_privs_are('private', 'tap_new_table', 'service_role',
  array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER'], 'a new table in private is service_role''s');
select function_privs_are('private', 'tap_new_function', '{}'::text[], 'service_role', array['EXECUTE'],
  'a new function in private is executable by service_role, by nobody else');
select is((select count(*)::int from pg_proc p, aclexplode(p.proacl) a
            where p.oid = 'private.tap_new_function()'::regprocedure and a.grantee <> 'postgres'::regrole
              and a.grantee <> 'service_role'::regrole),
  0, '… not even PUBLIC');

select * from finish();
rollback;

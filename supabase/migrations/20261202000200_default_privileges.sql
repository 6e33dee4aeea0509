-- Privileges by default, once per schema, and the exceptions only where they are needed. Supabase
-- grants every role everything on new objects in public (RLS is meant to do the rest); here
-- nothing is granted by default except to service_role, so each grant an API role holds is one a
-- migration wrote next to the table or function that needs it. Then what the defaults handed out
-- and no role needs is revoked: anon's every privilege, TRUNCATE (which ignores RLS), TRIGGER and
-- REFERENCES, the verbs no policy allows, sequences, and execute on trigger functions.
-- supabase/tests/09-privileges.sql lists what anon and authenticated hold, so a new grant is a
-- deliberate change.

-- ═══ default privileges ══════════════════════════════════════════════════════════════════════
-- For objects postgres (every migration) creates from now on. Functions are not executable by
-- PUBLIC anywhere: a new function is granted to the roles that call it, after its definition.
alter default privileges for role postgres revoke execute on functions from public;

-- public: the API roles get nothing by default; service_role, the trusted backend, everything.
alter default privileges for role postgres in schema public revoke all on tables from anon, authenticated;
alter default privileges for role postgres in schema public revoke all on sequences from anon, authenticated;
alter default privileges for role postgres in schema public revoke all on functions from anon, authenticated;
alter default privileges for role postgres in schema public grant all on tables to service_role;
alter default privileges for role postgres in schema public grant all on sequences to service_role;
alter default privileges for role postgres in schema public grant execute on functions to service_role;

-- private: only service_role (API roles cannot even use the schema).
alter default privileges for role postgres in schema private grant all on tables to service_role;
alter default privileges for role postgres in schema private grant all on sequences to service_role;
alter default privileges for role postgres in schema private grant execute on functions to service_role;

-- ═══ tables ══════════════════════════════════════════════════════════════════════════════════
-- anon reads and writes nothing of this project: everything it does goes through functions that
-- connect as their own role. (A restart of the old local stack had granted it all of public.)
revoke all on all tables in schema public from anon;
-- TRUNCATE ignores RLS (a store owner's SQL could empty every tenant's rows); TRIGGER and
-- REFERENCES no API role uses.
revoke truncate, trigger, references on all tables in schema public from authenticated;
-- Every sequence in public backs an identity column, which needs no sequence privilege to insert.
revoke all on all sequences in schema public from anon, authenticated;

-- authenticated keeps a verb on a table only where a policy lets it use it: without one the
-- privilege merely turns a refusal into an empty result (profiles are created by the auth trigger
-- and deleted with their user; a store's settings rows are changed, never removed, through the
-- API). Where a migration granted a verb on some columns only (kb_documents, ai_bot_settings), a
-- table-wide grant of it is dropped as well. Stated as a rule rather than a list, so it also
-- repairs a local database that an old bootstrap had re-granted everything.
do $$
declare
  t record;
begin
  for t in
    select c.oid::regclass as tbl, v.verb, v.cmd,
           (select string_agg(quote_ident(att.attname), ', ' order by att.attnum)
              from pg_attribute att, aclexplode(att.attacl) a
             where att.attrelid = c.oid and a.grantee = 'authenticated'::regrole and a.privilege_type = v.verb) as columns
    from pg_class c
    cross join (values ('SELECT', 'r'), ('INSERT', 'a'), ('UPDATE', 'w'), ('DELETE', 'd')) v (verb, cmd)
    where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p')
      and exists (select 1 from aclexplode(c.relacl) a
                   where a.grantee = 'authenticated'::regrole and a.privilege_type = v.verb)
  loop
    if t.columns is not null then
      -- Revoking a table-wide privilege revokes its column grants too: put those back.
      execute format('revoke %s on %s from authenticated', t.verb, t.tbl);
      execute format('grant %s (%s) on %s to authenticated', t.verb, t.columns, t.tbl);
    elsif not exists (select 1 from pg_policy p
                       where p.polrelid = t.tbl and p.polcmd in ('*', t.cmd::"char")
                         and ('authenticated'::regrole = any (p.polroles) or p.polroles = '{0}')) then
      execute format('revoke %s on %s from authenticated', t.verb, t.tbl);
    end if;
  end loop;
end
$$;

-- ═══ functions ═══════════════════════════════════════════════════════════════════════════════
-- Functions created before this migration were executable by PUBLIC unless their migration said
-- otherwise (is_platform_admin, touch_updated_at): no longer. authenticated keeps the grants its
-- migrations wrote, but not on trigger functions, which nobody calls (a trigger's function is
-- checked when the trigger is created, not when it fires).
revoke execute on all functions in schema public from public, anon;
revoke execute on function public.touch_updated_at(), public.create_profile_for_new_user() from authenticated;
revoke execute on all functions in schema private from public, anon, authenticated;

-- Privileges by default, once per schema, and the exceptions only where they are needed. Supabase
-- grants every role everything on new objects in public (RLS is meant to do the rest); here
-- nothing is granted by default except to service_role, so each grant an API role holds is one a
-- migration wrote next to the table or function that needs it. Then what the defaults handed out
-- and no role needs is revoked: anon's every privilege, TRUNCATE (which ignores RLS), TRIGGER and
-- REFERENCES, the verbs no policy allows, sequences, and execute on the trigger helper.
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
-- connect as their own role. A restart of the old local stack had granted it all of public.
revoke all on all tables in schema public from anon;
-- TRUNCATE ignores RLS (a store owner's SQL could empty every tenant's rows); TRIGGER and
-- REFERENCES no API role uses.
revoke truncate, trigger, references on all tables in schema public from authenticated;
-- No policy lets authenticated use these verbs, so the privilege only turned a refusal by RLS
-- into an empty result: profiles are created by the auth trigger and deleted with their user;
-- a store's settings rows are changed, never removed, through the API.
revoke insert, delete on public.profiles from authenticated;
revoke delete on public.contact_sync_settings, public.customer_settings from authenticated;
-- Every sequence in public backs an identity column, which needs no sequence privilege to insert.
revoke all on all sequences in schema public from anon, authenticated;

-- ═══ functions ═══════════════════════════════════════════════════════════════════════════════
-- Functions created before this migration were executable by PUBLIC unless their migration said
-- otherwise (is_platform_admin, touch_updated_at): no longer. authenticated keeps exactly the
-- grants its migrations wrote; the trigger helper it was handed by default it does not need
-- (a trigger's function is checked when the trigger is created, not when it fires).
revoke execute on all functions in schema public from public, anon;
revoke execute on function public.touch_updated_at() from authenticated;
revoke execute on all functions in schema private from public, anon, authenticated;

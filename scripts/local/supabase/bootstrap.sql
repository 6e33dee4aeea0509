-- Local stand-in for what Supabase's Postgres image sets up before any migration: its roles
-- (postgres demoted, supabase_admin the only superuser, timeouts on the API roles), the
-- `extensions` and `auth` schemas, `auth.users` and GoTrue's tables beside it, the `auth.*` claim
-- helpers, and Supabase's default privileges on `public`. Never deployed: hosted projects have
-- all of it. Sources (github.com/supabase/postgres, migrations/db/): init-scripts/
-- 00000000000000-initial-schema.sql, 00000000000001-auth-schema.sql, 00000000000003-post-setup.sql,
-- migrations/10000000000000_demote-postgres.sql, 20211115181400_update-auth-permissions.sql,
-- 20230529180330_alter_api_roles_for_inherit.sql, 20250421084701_revoke_admin_roles_from_postgres.sql.
--
-- Run by the superuser (supabase_admin) on every start, with psql variable postgres_password. It
-- creates what is missing and re-asserts only what no migration touches (role attributes, auth's
-- grants); privileges on public are granted once, when the project is new, so a restart never
-- undoes what the migrations revoked. scripts/stack/database_test.ts checks that.

-- ── roles ─────────────────────────────────────────────────────────────────────────────────────
-- A new project is one whose postgres role does not exist yet: initdb made supabase_admin the
-- bootstrap superuser, as the image's migrate.sh does, and postgres is created here.
select not exists (select from pg_roles where rolname = 'postgres') as new_project \gset

do $$
begin
  if not exists (select from pg_roles where rolname = 'anon') then
    create role anon nologin;
  end if;
  if not exists (select from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin;
  end if;
  if not exists (select from pg_roles where rolname = 'service_role') then
    create role service_role nologin bypassrls;
  end if;
  if not exists (select from pg_roles where rolname = 'authenticator') then
    create role authenticator login noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'supabase_auth_admin') then
    create role supabase_auth_admin login noinherit createrole noreplication;
  end if;
  if not exists (select from pg_roles where rolname = 'postgres') then
    create role postgres login;
  end if;
end
$$;

\if :new_project
alter role postgres password :'postgres_password';
\endif

-- What the project owner connects as: not a superuser (demote-postgres.sql). Re-asserted on every
-- start so a cluster from before this bootstrap, where postgres was initdb's superuser, is
-- demoted too; no migration can change a role's superuser bit.
alter role postgres nosuperuser createdb createrole login replication bypassrls;
alter role postgres set search_path to "$user", public, extensions;
alter role supabase_admin set search_path to "$user", public, auth, extensions;
alter role supabase_auth_admin set search_path to auth;
-- The API roles inherit (alter_api_roles_for_inherit.sql); older clusters made them noinherit.
alter role anon inherit;
alter role authenticated inherit;
alter role service_role inherit;
alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';

grant anon, authenticated, service_role to authenticator;
-- postgres acts as the API roles (set local role authenticated), as the SQL editor does.
grant anon, authenticated, service_role to postgres;

-- ── the database ──────────────────────────────────────────────────────────────────────────────
-- postgres owns it, so it creates schemas and (as pg_database_owner) objects in public.
alter database postgres owner to postgres;

-- ── schemas ───────────────────────────────────────────────────────────────────────────────────
create schema if not exists extensions;
grant all on schema extensions to postgres;
grant usage on schema extensions to anon, authenticated, service_role;

create schema if not exists auth authorization supabase_admin;
alter schema auth owner to supabase_admin;
grant all on schema auth to supabase_auth_admin;
grant usage on schema auth to postgres, anon, authenticated, service_role;
-- postgres reads and writes GoTrue's tables but creates nothing in auth (revoke_admin_roles_from_postgres.sql).
revoke create on schema auth from postgres;

-- ── extensions ────────────────────────────────────────────────────────────────────────────────
-- Created by the superuser, as the image (pgcrypto, uuid-ossp) and the dashboard's extension
-- switch (vector) do: pgvector is not a trusted extension, so postgres could not create it.
-- pgTAP and plpgsql_check are the test and lint tools (`supabase test db`, `supabase db lint`).
create extension if not exists pgcrypto with schema extensions;
create extension if not exists "uuid-ossp" with schema extensions;
create extension if not exists vector with schema extensions;
create extension if not exists pgtap with schema extensions;
create extension if not exists plpgsql_check with schema extensions;

-- ── auth.users (the columns GoTrue maintains that this project reads or writes) ──────────────
-- No defaults GoTrue does not have: aud, role and the timestamps come from whoever inserts the
-- row (GoTrue, the auth stand-in, seed.sql), exactly as on a hosted database.
create table if not exists auth.users (
  instance_id uuid,
  id uuid primary key,
  aud varchar(255),
  role varchar(255),
  email varchar(255),
  encrypted_password varchar(255),
  email_confirmed_at timestamptz,
  invited_at timestamptz,
  confirmation_token varchar(255),
  recovery_token varchar(255),
  email_change varchar(255),
  email_change_token_new varchar(255),
  last_sign_in_at timestamptz,
  raw_app_meta_data jsonb default '{}'::jsonb,
  raw_user_meta_data jsonb default '{}'::jsonb,
  is_super_admin boolean,
  created_at timestamptz,
  updated_at timestamptz,
  phone text unique default null,
  phone_confirmed_at timestamptz,
  banned_until timestamptz,
  is_sso_user boolean not null default false,
  deleted_at timestamptz,
  is_anonymous boolean not null default false
);
-- Clusters created before this bootstrap had these defaults and lacked the e-mail change columns
-- (checked first: an ALTER TABLE on every start would lock auth.users for nothing).
do $$
begin
  if exists (select from information_schema.columns
              where table_schema = 'auth' and table_name = 'users' and column_name in ('aud', 'role', 'created_at', 'updated_at')
                and column_default is not null)
     or not exists (select from information_schema.columns
                     where table_schema = 'auth' and table_name = 'users' and column_name = 'email_change_token_new') then
    alter table auth.users alter column aud drop default, alter column role drop default,
      alter column created_at drop default, alter column updated_at drop default,
      add column if not exists email_change varchar(255), add column if not exists email_change_token_new varchar(255);
  end if;
end
$$;
create unique index if not exists users_email_partial_key on auth.users (email) where is_sso_user = false;
alter table auth.users owner to supabase_auth_admin;
alter table auth.users enable row level security;

-- GoTrue's session tables, for the auth stand-in.
\ir auth.sql

-- postgres (migrations, seed, functions) reads and writes every auth table (update-auth-permissions.sql).
grant all on all tables in schema auth to postgres, supabase_auth_admin;
grant all on all sequences in schema auth to postgres, supabase_auth_admin;

-- ── claim helpers: what PostgREST and Supabase functions read per request ────────────────────
create or replace function auth.jwt() returns jsonb
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;

create or replace function auth.uid() returns uuid
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;

create or replace function auth.role() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;

create or replace function auth.email() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.email', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
  )::text
$$;

alter function auth.jwt() owner to supabase_auth_admin;
alter function auth.uid() owner to supabase_auth_admin;
alter function auth.role() owner to supabase_auth_admin;
alter function auth.email() owner to supabase_auth_admin;
grant execute on function auth.jwt(), auth.uid(), auth.role(), auth.email()
  to postgres, anon, authenticated, service_role;

-- ── Supabase's default privileges on public, once ─────────────────────────────────────────────
-- Every table, function and sequence postgres (or supabase_admin) creates in public is granted
-- to the API roles; RLS is what protects rows. The migrations narrow this for this project
-- (…_default_privileges.sql), which is why it must not be re-applied on a restart.
\if :new_project
grant usage on schema public to postgres, anon, authenticated, service_role;
alter default privileges for role postgres in schema public grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges for role postgres in schema public grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges for role postgres in schema public grant all on sequences to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public grant all on sequences to postgres, anon, authenticated, service_role;
\endif

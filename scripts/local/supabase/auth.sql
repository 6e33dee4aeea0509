-- Local stand-in for the tables Supabase Auth (GoTrue) keeps beside auth.users: identities,
-- sessions, their refresh tokens and the AMR claims that go into access tokens. Names and types
-- follow GoTrue's own migrations, for the columns the local auth stand-in (scripts/local/supabase/auth.ts)
-- reads or writes. Never a migration: hosted projects (and `supabase start`) already have all of
-- it, so each object is created only when it is missing. The bootstrap applies it as the
-- superuser (postgres may not create in auth, as on hosted); ensureAuthSchema() then finds it all.

do $$
begin
  if to_regtype('auth.aal_level') is null then
    create type auth.aal_level as enum ('aal1', 'aal2', 'aal3');
    alter type auth.aal_level owner to supabase_auth_admin;
  end if;

  if to_regclass('auth.identities') is null then
    create table auth.identities (
      provider_id text not null,
      user_id uuid not null references auth.users (id) on delete cascade,
      identity_data jsonb not null,
      provider text not null,
      last_sign_in_at timestamptz,
      created_at timestamptz,
      updated_at timestamptz,
      email text generated always as (lower(identity_data ->> 'email')) stored,
      id uuid not null default gen_random_uuid() primary key,
      constraint identities_provider_id_provider_unique unique (provider_id, provider)
    );
    create index identities_user_id_idx on auth.identities (user_id);
    create index identities_email_idx on auth.identities (email text_pattern_ops);
    alter table auth.identities owner to supabase_auth_admin;
    alter table auth.identities enable row level security;
  end if;

  if to_regclass('auth.sessions') is null then
    create table auth.sessions (
      id uuid not null primary key,
      user_id uuid not null references auth.users (id) on delete cascade,
      created_at timestamptz,
      updated_at timestamptz,
      factor_id uuid,
      aal auth.aal_level,
      not_after timestamptz,
      refreshed_at timestamp without time zone,
      user_agent text,
      ip inet,
      tag text
    );
    create index sessions_user_id_idx on auth.sessions (user_id);
    create index user_id_created_at_idx on auth.sessions (user_id, created_at);
    create index sessions_not_after_idx on auth.sessions (not_after desc);
    alter table auth.sessions owner to supabase_auth_admin;
    alter table auth.sessions enable row level security;
  end if;

  if to_regclass('auth.refresh_tokens') is null then
    create table auth.refresh_tokens (
      instance_id uuid,
      id bigserial primary key,
      token varchar(255),
      user_id varchar(255),
      revoked boolean,
      created_at timestamptz,
      updated_at timestamptz,
      parent varchar(255),
      session_id uuid references auth.sessions (id) on delete cascade,
      constraint refresh_tokens_token_unique unique (token)
    );
    create index refresh_tokens_instance_id_user_id_idx on auth.refresh_tokens (instance_id, user_id);
    create index refresh_tokens_parent_idx on auth.refresh_tokens (parent);
    create index refresh_tokens_session_id_revoked_idx on auth.refresh_tokens (session_id, revoked);
    create index refresh_tokens_updated_at_idx on auth.refresh_tokens (updated_at desc);
    alter table auth.refresh_tokens owner to supabase_auth_admin;
    alter table auth.refresh_tokens enable row level security;
  end if;

  if to_regclass('auth.mfa_amr_claims') is null then
    create table auth.mfa_amr_claims (
      session_id uuid not null references auth.sessions (id) on delete cascade,
      created_at timestamptz not null,
      updated_at timestamptz not null,
      authentication_method text not null,
      id uuid not null,
      constraint amr_id_pk primary key (id),
      constraint mfa_amr_claims_session_id_authentication_method_pkey unique (session_id, authentication_method)
    );
    alter table auth.mfa_amr_claims owner to supabase_auth_admin;
    alter table auth.mfa_amr_claims enable row level security;
  end if;
end
$$;

-- GoTrue's auth.users has confirmation_sent_at (set when a confirmation or an invite is mailed; POST /invite
-- writes it beside invited_at). Checked first, so a start that finds it takes no lock on auth.users.
do $$
begin
  if not exists (select from information_schema.columns
                  where table_schema = 'auth' and table_name = 'users' and column_name = 'confirmation_sent_at') then
    alter table auth.users add column confirmation_sent_at timestamptz;
  end if;
end
$$;

-- Tenancy: stores (the platform's organisations), who belongs to them in which role, user
-- profiles, and the one authorisation helper every policy in the project calls.

-- ═══ types ═══════════════════════════════════════════════════════════════════════════════════
-- Ordered weakest → strongest so "at least admin" is a plain `role >= 'admin'` comparison.
create type public.store_role as enum ('viewer', 'agent', 'admin', 'owner');

-- ═══ tables ══════════════════════════════════════════════════════════════════════════════════
create table public.stores (
  id uuid primary key default gen_random_uuid(),
  slug text not null unique
    constraint stores_slug_format check (slug ~ '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$'),
  name text not null constraint stores_name_length check (char_length(name) between 1 and 200),
  domain text constraint stores_domain_format check (domain ~ '^[a-z0-9.-]+\.[a-z]{2,}$'),
  support_email text constraint stores_support_email_format check (support_email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'),
  status text not null default 'active' constraint stores_status_values check (status in ('active', 'suspended')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.stores is 'A tenant: one store of the platform, owning its Chatwoot account, contacts and archive.';

create table public.store_members (
  store_id uuid not null references public.stores (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  role public.store_role not null,
  created_at timestamptz not null default now(),
  primary key (store_id, user_id)
);
comment on table public.store_members is 'Who may act on a store, and in which role (owner > admin > agent > viewer).';

create table public.profiles (
  user_id uuid primary key references auth.users (id) on delete cascade,
  full_name text,
  email text,
  phone_e164 text constraint profiles_phone_e164 check (phone_e164 ~ '^\+[1-9][0-9]{1,14}$'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.profiles is 'Platform users: name, e-mail and phone (E.164), matched against Chatwoot contacts.';

-- ═══ indexes ═════════════════════════════════════════════════════════════════════════════════
-- The authorisation helper looks memberships up by user.
create index store_members_user_id_idx on public.store_members (user_id, store_id, role);
create index profiles_phone_e164_idx on public.profiles (phone_e164) where phone_e164 is not null;
create index profiles_email_idx on public.profiles (lower(email)) where email is not null;

-- ═══ functions ═══════════════════════════════════════════════════════════════════════════════

-- The one answer to "which stores may the signed-in user act on, with at least this role?".
-- security definer so policies on store_members itself do not recurse; stable so the planner
-- evaluates it once per statement and policies stay a sargable `store_id in (select …)`.
create function public.authorized_store_ids(min_role public.store_role default 'viewer')
returns setof uuid
language sql
stable
security definer
set search_path = ''
as $$
  select m.store_id
  from public.store_members m
  where m.user_id = (select auth.uid())
    and m.role >= min_role
$$;
comment on function public.authorized_store_ids(public.store_role) is
  'Stores the signed-in user belongs to with at least min_role. Every tenant policy calls this.';

-- Platform administrators are marked by Supabase Auth (app_metadata is writable only with the
-- service role), so the claim is trusted as-is; policies for them are separate from tenant
-- policies so neither predicate hides the other from the planner.
create function public.is_platform_admin()
returns boolean
language sql
stable
set search_path = ''
as $$
  select coalesce((auth.jwt() -> 'app_metadata' ->> 'platform_admin')::boolean, false)
$$;
comment on function public.is_platform_admin() is
  'True when the JWT carries app_metadata.platform_admin = true.';

-- Keeps updated_at honest without trusting callers to set it.
create function public.touch_updated_at()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := now();
  return new;
end
$$;

-- Every auth user gets a profile, so contact matching and admin screens never miss someone
-- who signed up outside this project's code paths.
create function public.create_profile_for_new_user()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  phone text := nullif(new.raw_user_meta_data ->> 'phone_e164', '');
begin
  if phone is null and new.phone is not null and new.phone <> '' then
    phone := case when left(new.phone, 1) = '+' then new.phone else '+' || new.phone end;
  end if;
  if phone is not null and phone !~ '^\+[1-9][0-9]{1,14}$' then
    phone := null; -- an unusable number is left out rather than refusing the sign-up
  end if;
  insert into public.profiles (user_id, full_name, email, phone_e164)
  values (new.id, new.raw_user_meta_data ->> 'full_name', new.email, phone)
  on conflict (user_id) do nothing;
  return new;
end
$$;

create trigger stores_touch_updated_at before update on public.stores
  for each row execute function public.touch_updated_at();
create trigger profiles_touch_updated_at before update on public.profiles
  for each row execute function public.touch_updated_at();
create trigger on_auth_user_created_create_profile after insert on auth.users
  for each row execute function public.create_profile_for_new_user();

-- ═══ row-level security ══════════════════════════════════════════════════════════════════════
alter table public.stores enable row level security;
alter table public.store_members enable row level security;
alter table public.profiles enable row level security;

-- stores: members read; owners/admins rename; only platform administrators create or delete.
create policy "Store members can read their stores" on public.stores
  for select to authenticated using (id in (select public.authorized_store_ids('viewer')));
create policy "Platform administrators can read every store" on public.stores
  for select to authenticated using ((select public.is_platform_admin()));
create policy "Store owners and admins can update their stores" on public.stores
  for update to authenticated
  using (id in (select public.authorized_store_ids('admin')))
  with check (id in (select public.authorized_store_ids('admin')));
create policy "Platform administrators can create stores" on public.stores
  for insert to authenticated with check ((select public.is_platform_admin()));
create policy "Platform administrators can update every store" on public.stores
  for update to authenticated using ((select public.is_platform_admin())) with check ((select public.is_platform_admin()));
create policy "Platform administrators can delete stores" on public.stores
  for delete to authenticated using ((select public.is_platform_admin()));

-- store_members: members see their colleagues; admins manage members below owner, owners
-- manage everyone (so an admin cannot promote themselves to owner).
create policy "Store members can read their store's members" on public.store_members
  for select to authenticated using (store_id in (select public.authorized_store_ids('viewer')));
create policy "Platform administrators can read every membership" on public.store_members
  for select to authenticated using ((select public.is_platform_admin()));
create policy "Store admins can add members below owner" on public.store_members
  for insert to authenticated
  with check (store_id in (select public.authorized_store_ids('admin')) and role < 'owner');
create policy "Store owners can add any member" on public.store_members
  for insert to authenticated with check (store_id in (select public.authorized_store_ids('owner')));
create policy "Store admins can change members below owner" on public.store_members
  for update to authenticated
  using (store_id in (select public.authorized_store_ids('admin')) and role < 'owner')
  with check (store_id in (select public.authorized_store_ids('admin')) and role < 'owner');
create policy "Store owners can change any member" on public.store_members
  for update to authenticated
  using (store_id in (select public.authorized_store_ids('owner')))
  with check (store_id in (select public.authorized_store_ids('owner')));
create policy "Store admins can remove members below owner" on public.store_members
  for delete to authenticated using (store_id in (select public.authorized_store_ids('admin')) and role < 'owner');
create policy "Store owners can remove any member" on public.store_members
  for delete to authenticated using (store_id in (select public.authorized_store_ids('owner')));
create policy "Platform administrators can add any member" on public.store_members
  for insert to authenticated with check ((select public.is_platform_admin()));
create policy "Platform administrators can change any member" on public.store_members
  for update to authenticated using ((select public.is_platform_admin())) with check ((select public.is_platform_admin()));
create policy "Platform administrators can remove any member" on public.store_members
  for delete to authenticated using ((select public.is_platform_admin()));

-- profiles: a user reads and edits their own; platform administrators read and edit all
-- (contact mapping needs every phone). Profiles are created by the auth trigger, never by
-- API roles, and deleted with their auth user.
create policy "Users can read their own profile" on public.profiles
  for select to authenticated using (user_id = (select auth.uid()));
create policy "Users can update their own profile" on public.profiles
  for update to authenticated using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()));
create policy "Platform administrators can read every profile" on public.profiles
  for select to authenticated using ((select public.is_platform_admin()));
create policy "Platform administrators can update every profile" on public.profiles
  for update to authenticated using ((select public.is_platform_admin())) with check ((select public.is_platform_admin()));

-- ═══ grants ══════════════════════════════════════════════════════════════════════════════════
-- anon has no business with tenancy at all; RLS would return nothing, but say it plainly.
revoke all on public.stores, public.store_members, public.profiles from anon;
revoke execute on function public.authorized_store_ids(public.store_role) from public, anon;
revoke execute on function public.create_profile_for_new_user() from public, anon, authenticated;
grant execute on function public.authorized_store_ids(public.store_role) to authenticated, service_role;
grant execute on function public.is_platform_admin() to authenticated, service_role;

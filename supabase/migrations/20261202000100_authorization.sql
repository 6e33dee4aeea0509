-- Authorisation, one rule for every policy and checked function: the database role the session
-- acts as decides what it may do (PostgREST and withRls switch it per request with `set role`);
-- JWT claims only say which user it is. Missing claims never grant anything.
--   · A role the database already lets past every policy (BYPASSRLS or superuser: service_role,
--     and postgres, the role the functions' own connections log in as) is a platform
--     administrator, with or without claims.
--   · authenticated is a platform administrator when its JWT carries app_metadata.platform_admin,
--     and otherwise acts on the stores it is a member of: authorized_store_ids(min_role).
--   · Anyone else (anon; authenticated without claims) gets nothing.
-- The helper family, all meaning the same: authorized_store_ids (tenancy; unchanged, the example
-- the house imitates), is_platform_admin, and two store checks built from those two only:
-- can_administer_store (admin.sql; unchanged) and kb_caller_may_read (knowledge base). Earlier
-- versions trusted a session without claims (kb_caller_may_read, return_conversation_to_bot) or
-- ignored the service role (is_platform_admin); they are redefined here. Grants and policies are
-- left as they are.

-- ═══ who is calling ══════════════════════════════════════════════════════════════════════════

-- The role this session acts as: the one `set role` switched to for the request, else the role
-- it logged in as. Read from the `role` setting because inside a security-definer function
-- current_user is the function's owner, not the caller.
create function private.caller_role()
returns text
language sql
stable
set search_path = ''
as $$
  select coalesce(nullif(pg_catalog.current_setting('role'), 'none'), session_user::text)
$$;
comment on function private.caller_role() is
  'The database role the session acts as (set role, else the login role); authorisation decides by it.';

-- A caller that may act on every store. Decided by the database role, so a session that merely
-- lacks claims is not trusted, and the service role counts everywhere; the platform_admin claim
-- is set by Supabase Auth in app_metadata (writable only with the service role) and is honoured
-- for signed-in users only. security definer like authorized_store_ids, so policies and checked
-- functions see one answer whoever owns them.
create or replace function public.is_platform_admin()
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
           select 1 from pg_catalog.pg_roles r
           where r.rolname = (select private.caller_role()) and (r.rolbypassrls or r.rolsuper)
         )
      or ((select private.caller_role()) = 'authenticated'
          and coalesce(((select auth.jwt()) -> 'app_metadata' ->> 'platform_admin')::boolean, false))
$$;
comment on function public.is_platform_admin() is
  'True for a role that bypasses RLS (service_role, postgres) and for a signed-in user whose JWT carries app_metadata.platform_admin = true.';

comment on function public.can_administer_store(uuid) is
  'The caller may administer this store: a platform administrator (is_platform_admin), or one of its owners and admins.';

-- kb_search checks this instead of relying on RLS (see the knowledge-base migration): the same
-- rule as every policy, members of the store or platform administrators.
create or replace function public.kb_caller_may_read(p_store_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select (select public.is_platform_admin()) or p_store_id in (select public.authorized_store_ids('viewer'))
$$;
comment on function public.kb_caller_may_read(uuid) is
  'The caller may read this store''s knowledge: a platform administrator (is_platform_admin), or a member.';

-- ═══ who the audit log names ═════════════════════════════════════════════════════════════════

-- The signed-in user; else the operator a platform-administrator session names in its claims
-- ("actor", e.g. the CLI's cli:<login>, which acts as service_role); else the role it acts as.
create function private.audit_actor()
returns text
language sql
stable
set search_path = ''
as $$
  select coalesce(
    'user:' || (select auth.uid())::text,
    case when (select public.is_platform_admin()) then nullif((select auth.jwt()) ->> 'actor', '') end,
    'role:' || coalesce(nullif((select auth.role()), ''), (select private.caller_role()))
  )
$$;

create or replace function private.audit(p_action text, p_target text, p_detail jsonb default '{}'::jsonb)
returns void
language sql
security definer
set search_path = ''
as $$
  insert into private.audit_log (actor, action, target, detail)
  values ((select private.audit_actor()), p_action, p_target, coalesce(p_detail, '{}'::jsonb))
$$;

-- ═══ checked functions that had their own rule ═══════════════════════════════════════════════

-- The erase job records who asked (it audits the erasure itself under that name).
create or replace function public.request_archive_erasure(p_user_id uuid)
returns bigint
language plpgsql
security definer
set search_path = ''
as $$
begin
  if not (select public.is_platform_admin()) then
    raise exception 'only platform administrators erase archives' using errcode = 'insufficient_privilege';
  end if;
  perform private.audit('archive.erase_requested', format('user:%s', p_user_id));
  return private.enqueue_job('archive.erase_user',
    jsonb_build_object('user_id', p_user_id, 'actor', private.audit_actor()),
    format('archive.erase_user:%s:%s', p_user_id, (extract(epoch from clock_timestamp()) * 1000)::bigint));
end
$$;

-- "Return to bot": the store's agents and admins, or platform administrators (the service role
-- included). A backend without claims is no longer trusted for lacking them; the audit row names
-- the caller the way every other checked function does.
create or replace function public.return_conversation_to_bot(p_account_ref uuid, p_conversation_display_id integer)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_store uuid;
begin
  select a.store_id into v_store from public.chatwoot_accounts a where a.id = p_account_ref;
  if v_store is null then
    raise exception 'unknown Chatwoot account' using errcode = 'no_data_found';
  end if;
  if not ((select public.is_platform_admin()) or v_store in (select public.authorized_store_ids('agent'))) then
    raise exception 'only the store''s agents and admins can return a conversation to the bot' using errcode = '42501';
  end if;
  insert into public.ai_conversations as c (account_ref, conversation_display_id, store_id, bot_paused, returned_to_bot_at)
  values (p_account_ref, p_conversation_display_id, v_store, false, now())
  on conflict (account_ref, conversation_display_id) do update
    set bot_paused = false, paused_reason = null, paused_at = null, returned_to_bot_at = now();
  perform private.audit('ai.return_to_bot', format('conversation:%s:%s', p_account_ref, p_conversation_display_id),
                        jsonb_build_object('store_id', v_store));
  return true;
end
$$;

-- ═══ grants ══════════════════════════════════════════════════════════════════════════════════
-- Only this migration's new internals; everything redefined above keeps its grants.
revoke execute on function private.caller_role(), private.audit_actor() from public, anon, authenticated;

-- What the admin app may do, as the signed-in user: see jobs of the stores they administer (or
-- all, as a platform administrator) and replay them, map and ignore archive contacts of their
-- stores, request re-provisioning and erasure. Each is one security-definer function that checks
-- the caller with the same authorisation helper the policies use, and writes the audit log.

-- ═══ functions ═══════════════════════════════════════════════════════════════════════════════

-- The caller may administer this store (or every store).
create function public.can_administer_store(p_store_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select (select public.is_platform_admin()) or p_store_id in (select public.authorized_store_ids('admin'))
$$;

create function private.audit(p_action text, p_target text, p_detail jsonb default '{}'::jsonb)
returns void
language sql
security definer
set search_path = ''
as $$
  insert into private.audit_log (actor, action, target, detail)
  values (coalesce('user:' || (select auth.uid())::text, 'role:' || coalesce((select auth.role()), 'unknown')), p_action, p_target,
          coalesce(p_detail, '{}'::jsonb))
$$;

-- Jobs the caller may see: every job for a platform administrator, their stores' jobs for a
-- store administrator. Payloads are left out (they may name other systems' ids).
create function public.visible_jobs(p_status text default null, p_limit integer default 50, p_before bigint default null)
returns table (id bigint, kind text, status text, attempts integer, max_attempts integer, last_error text,
               run_at timestamptz, created_at timestamptz, completed_at timestamptz, dead_at timestamptz,
               store_id uuid, store_slug text)
language sql
stable
security definer
set search_path = ''
as $$
  select j.id, j.kind, j.status::text, j.attempts, j.max_attempts, j.last_error, j.run_at, j.created_at,
         j.completed_at, j.dead_at, j.store_id, s.slug
  from private.jobs j left join public.stores s on s.id = j.store_id
  where (p_status is null or j.status::text = p_status)
    and (p_before is null or j.id < p_before)
    and ((select public.is_platform_admin()) or j.store_id in (select public.authorized_store_ids('admin')))
  order by j.id desc
  limit least(greatest(p_limit, 1), 200)
$$;

create function public.replay_visible_job(p_id bigint)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_store uuid;
begin
  select j.store_id into v_store from private.jobs j where j.id = p_id;
  if not found or not ((select public.is_platform_admin()) or (v_store is not null and public.can_administer_store(v_store))) then
    raise exception 'no such job' using errcode = 'no_data_found';
  end if;
  perform private.audit('jobs.replay', format('job:%s', p_id));
  return private.replay_job(p_id);
end
$$;

create function public.map_archive_contact(p_store_id uuid, p_phone text, p_user_id uuid)
returns bigint
language plpgsql
security definer
set search_path = ''
as $$
begin
  if not public.can_administer_store(p_store_id) then
    raise exception 'not allowed to map contacts of this store' using errcode = 'insufficient_privilege';
  end if;
  if not exists (select 1 from auth.users u where u.id = p_user_id) then
    raise exception 'no user %', p_user_id using errcode = 'no_data_found';
  end if;
  update public.archive_contacts set status = 'mapped', user_id = p_user_id, mapped_by = 'admin', updated_at = now()
   where store_id = p_store_id and phone_e164 = p_phone;
  if not found then
    raise exception 'no archived contact % in this store', p_phone using errcode = 'no_data_found';
  end if;
  perform private.audit('archive.map_contact', format('contact:%s:%s', p_store_id, p_phone), jsonb_build_object('user_id', p_user_id));
  return private.enqueue_job('archive.map_contact', jsonb_build_object('store_id', p_store_id, 'phone_e164', p_phone),
    format('archive.map_contact:%s:%s:%s:%s', p_store_id, p_phone, p_user_id, (extract(epoch from clock_timestamp()) * 1000)::bigint),
    p_store_id);
end
$$;

create function public.ignore_archive_contact(p_store_id uuid, p_phone text)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  if not public.can_administer_store(p_store_id) then
    raise exception 'not allowed to review contacts of this store' using errcode = 'insufficient_privilege';
  end if;
  update public.archive_contacts set status = 'ignored', updated_at = now()
   where store_id = p_store_id and phone_e164 = p_phone and status <> 'mapped';
  if not found then
    raise exception 'no unmapped contact % in this store', p_phone using errcode = 'no_data_found';
  end if;
  perform private.audit('archive.ignore_contact', format('contact:%s:%s', p_store_id, p_phone));
end
$$;

create function public.request_archive_erasure(p_user_id uuid)
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
    jsonb_build_object('user_id', p_user_id, 'actor', 'user:' || (select auth.uid())::text),
    format('archive.erase_user:%s:%s', p_user_id, (extract(epoch from clock_timestamp()) * 1000)::bigint));
end
$$;

create function public.request_store_reprovision(p_store_id uuid)
returns bigint
language plpgsql
security definer
set search_path = ''
as $$
begin
  if not public.can_administer_store(p_store_id) then
    raise exception 'not allowed to re-provision this store' using errcode = 'insufficient_privilege';
  end if;
  perform private.audit('chatwoot.reprovision', format('store:%s', p_store_id));
  return private.request_chatwoot_reprovision(p_store_id);
end
$$;

-- Suspends or reactivates a store (the status trigger then follows through to Chatwoot).
create function public.set_store_status(p_store_id uuid, p_status text)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  if not public.can_administer_store(p_store_id) then
    raise exception 'only the store''s owners and admins can change its status' using errcode = 'insufficient_privilege';
  end if;
  update public.stores set status = p_status where id = p_store_id;
  if not found then
    raise exception 'no store %', p_store_id using errcode = 'no_data_found';
  end if;
  perform private.audit(case p_status when 'suspended' then 'store.suspend' else 'store.reactivate' end,
                        format('store:%s', p_store_id));
end
$$;

-- ═══ grants ══════════════════════════════════════════════════════════════════════════════════
revoke execute on function public.can_administer_store(uuid), public.visible_jobs(text, integer, bigint),
  public.replay_visible_job(bigint), public.map_archive_contact(uuid, text, uuid), public.ignore_archive_contact(uuid, text),
  public.request_archive_erasure(uuid), public.request_store_reprovision(uuid), public.set_store_status(uuid, text)
  from public, anon;
revoke execute on function private.audit(text, text, jsonb) from public, anon, authenticated;
grant execute on function public.can_administer_store(uuid), public.visible_jobs(text, integer, bigint),
  public.replay_visible_job(bigint), public.map_archive_contact(uuid, text, uuid), public.ignore_archive_contact(uuid, text),
  public.request_archive_erasure(uuid), public.request_store_reprovision(uuid), public.set_store_status(uuid, text)
  to authenticated, service_role;

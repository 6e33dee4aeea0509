-- Store onboarding: every new store gets its own Chatwoot account (Platform API), provisioned
-- by a checkpointed job; suspending, reactivating and deleting the store follow through.
-- The state is visible to the store's members; tokens and secrets are not.

-- ═══ stores: how each store gets its Chatwoot account ════════════════════════════════════════
-- 'auto': provisioned here through the Platform API (self-hosted Chatwoot).
-- 'manual': linked to an existing account with `switchboard accounts link` (Chatwoot Cloud).
alter table public.stores add column chatwoot_provisioning text not null default 'auto'
  constraint stores_chatwoot_provisioning_values check (chatwoot_provisioning in ('auto', 'manual'));

-- ═══ tables ══════════════════════════════════════════════════════════════════════════════════

-- No foreign key to stores: the row outlives its store so a deletion can be followed to the end
-- ('deleted'), and the job that deletes the Chatwoot account still finds what to delete.
create table public.chatwoot_provisioning (
  store_id uuid primary key,
  state text not null default 'pending' constraint chatwoot_provisioning_state_values
    check (state in ('pending', 'provisioning', 'active', 'suspending', 'suspended', 'failed', 'deleting', 'deleted')),
  failure_reason text,
  chatwoot_url text,
  -- Checkpoints: each Chatwoot id is recorded as soon as Chatwoot returns it, so a retry resumes
  -- at the first unfinished step and never creates a second one.
  account_id integer,
  admin_user_id integer,
  admin_membership boolean not null default false,
  widget_inbox_id integer,
  website_token text,
  api_inbox_id integer,
  api_inbox_identifier text,
  email_inbox_id integer,
  webhook_id integer,
  -- The create call sent last whose answer was not recorded yet: a retry lists what exists in
  -- Chatwoot before creating it again (the call may have worked and only the answer got lost).
  in_flight text,
  attempts integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  activated_at timestamptz
);
comment on table public.chatwoot_provisioning is
  'Where each store''s Chatwoot account is in its life (pending → … → active, suspended, failed, deleted).';

create table private.chatwoot_provisioning_secrets (
  store_id uuid primary key references public.chatwoot_provisioning (store_id) on delete cascade,
  admin_api_token text,
  widget_hmac_token text,
  api_inbox_hmac_token text,
  api_inbox_secret text,
  updated_at timestamptz not null default now()
);

-- ═══ indexes ═════════════════════════════════════════════════════════════════════════════════
create index chatwoot_provisioning_state_idx on public.chatwoot_provisioning (state) where state <> 'active';

-- ═══ functions ═══════════════════════════════════════════════════════════════════════════════

-- Records lifecycle work in the same transaction as the store change that causes it (outbox).
-- Inserting an 'auto' store enqueues provisioning; status changes enqueue suspend/reactivate;
-- deletion enqueues the account's removal with everything the job needs, since the store row
-- will be gone by the time it runs.
create function private.enqueue_chatwoot_lifecycle()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_seq bigint := (extract(epoch from clock_timestamp()) * 1000)::bigint;
begin
  if tg_op = 'INSERT' then
    if new.chatwoot_provisioning = 'auto' then
      insert into public.chatwoot_provisioning (store_id) values (new.id) on conflict (store_id) do nothing;
      perform private.enqueue_job('chatwoot.provision', jsonb_build_object('store_id', new.id),
                                  format('chatwoot.provision:%s', new.id), new.id);
    end if;
    return new;
  elsif tg_op = 'UPDATE' then
    if new.status is distinct from old.status
       and exists (select 1 from public.chatwoot_provisioning p where p.store_id = new.id and p.account_id is not null) then
      update public.chatwoot_provisioning set state = case new.status when 'suspended' then 'suspending' else state end,
             updated_at = now() where store_id = new.id and new.status = 'suspended';
      perform private.enqueue_job(
        case new.status when 'suspended' then 'chatwoot.suspend' else 'chatwoot.reactivate' end,
        jsonb_build_object('store_id', new.id), format('chatwoot.%s:%s:%s', new.status, new.id, v_seq), new.id);
    end if;
    return new;
  else -- DELETE
    if exists (select 1 from public.chatwoot_provisioning p where p.store_id = old.id) then
      update public.chatwoot_provisioning set state = 'deleting', updated_at = now() where store_id = old.id;
      perform private.enqueue_job('chatwoot.delete', jsonb_build_object('store_id', old.id),
                                  format('chatwoot.delete:%s', old.id));
    end if;
    return old;
  end if;
end
$$;

create trigger stores_enqueue_chatwoot_provisioning after insert on public.stores
  for each row execute function private.enqueue_chatwoot_lifecycle();
create trigger stores_enqueue_chatwoot_status after update of status on public.stores
  for each row execute function private.enqueue_chatwoot_lifecycle();
create trigger stores_enqueue_chatwoot_deletion before delete on public.stores
  for each row execute function private.enqueue_chatwoot_lifecycle();
create trigger chatwoot_provisioning_touch_updated_at before update on public.chatwoot_provisioning
  for each row execute function public.touch_updated_at();

-- Re-provisioning a failed (or deleted-in-Chatwoot) store: a fresh job, resuming from the
-- recorded checkpoints. Returns the job id.
create function private.request_chatwoot_reprovision(p_store_id uuid)
returns bigint
language plpgsql
set search_path = ''
as $$
begin
  if not exists (select 1 from public.stores s where s.id = p_store_id) then
    raise exception 'no store %', p_store_id using errcode = 'no_data_found';
  end if;
  insert into public.chatwoot_provisioning (store_id) values (p_store_id)
  on conflict (store_id) do update set state = 'pending', failure_reason = null;
  return private.enqueue_job('chatwoot.provision', jsonb_build_object('store_id', p_store_id),
    format('chatwoot.provision:%s:%s', p_store_id, (extract(epoch from clock_timestamp()) * 1000)::bigint), p_store_id);
end
$$;

-- ═══ row-level security ══════════════════════════════════════════════════════════════════════
-- Written only by the triggers and the provisioner (as the owner). Members read their store's
-- state; nobody changes it through the API.
alter table public.chatwoot_provisioning enable row level security;
create policy "Store members can read their store's Chatwoot provisioning" on public.chatwoot_provisioning
  for select to authenticated using (store_id in (select public.authorized_store_ids('viewer')));
create policy "Platform administrators can read every Chatwoot provisioning" on public.chatwoot_provisioning
  for select to authenticated using ((select public.is_platform_admin()));

-- ═══ grants ══════════════════════════════════════════════════════════════════════════════════
revoke all on public.chatwoot_provisioning from anon;
revoke insert, update, delete, truncate, references, trigger on public.chatwoot_provisioning from authenticated;
revoke all on private.chatwoot_provisioning_secrets from public, anon, authenticated;
revoke execute on function private.enqueue_chatwoot_lifecycle() from public, anon, authenticated;
revoke execute on function private.request_chatwoot_reprovision(uuid) from public, anon, authenticated;
grant all on private.chatwoot_provisioning_secrets to service_role;
grant execute on function private.request_chatwoot_reprovision(uuid) to service_role;

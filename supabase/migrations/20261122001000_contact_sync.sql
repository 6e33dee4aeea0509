-- Customer → Chatwoot contact sync: each customer's link to one contact, what Chatwoot was last
-- told, the conflicts met on the way, each store's sync policy, and the triggers that turn
-- customer changes, agents' edits in Chatwoot and erasures into jobs.

-- ═══ tables ══════════════════════════════════════════════════════════════════════════════════

create table public.contact_sync_settings (
  store_id uuid primary key references public.stores (id) on delete cascade,
  -- Sync on every change (jobs); off leaves it to `switchboard contacts sync`.
  auto_sync boolean not null default true,
  -- A conflicting e-mail or phone owned by another contact: link to it and leave the value out
  -- of ours ('link'), or merge that contact into the customer's ('merge').
  conflict_policy text not null default 'link' constraint contact_sync_settings_conflict_policy check (conflict_policy in ('link', 'merge')),
  -- An agent's edit of name, e-mail or phone in Chatwoot: copy it to the customer ('apply') or
  -- only note it, the platform's value returning with the customer's next change ('ignore').
  agent_edits text not null default 'apply' constraint contact_sync_settings_agent_edits check (agent_edits in ('apply', 'ignore')),
  -- Changes within this window share one sync round.
  debounce_ms integer not null default 1000 constraint contact_sync_settings_debounce_range check (debounce_ms between 0 and 600000),
  -- Where an agent opens the customer in the platform; {external_id} and {customer_id} are filled in.
  platform_url_template text constraint contact_sync_settings_url_format check (platform_url_template ~ '^https?://'),
  updated_at timestamptz not null default now()
);

-- One contact per customer, and one customer per contact. `snapshot` is what Chatwoot holds as
-- far as we know (after our last write or an agent's edit); `sending` is a write in flight, so
-- its own contact_updated echo is not mistaken for an agent's edit.
create table public.customer_contact_links (
  customer_id uuid primary key references public.customers (id) on delete cascade,
  store_id uuid not null references public.stores (id) on delete cascade,
  account_ref uuid not null references public.chatwoot_accounts (id) on delete cascade,
  contact_id integer not null,
  linked_by text not null constraint customer_contact_links_linked_by check (linked_by in ('created', 'identifier', 'email', 'phone_number', 'conflict')),
  snapshot jsonb not null default '{}'::jsonb,
  sending jsonb,
  sent_hash text,
  -- Values left out of the contact and why (an invalid phone, a value another contact owns).
  omitted jsonb not null default '{}'::jsonb,
  rounds integer not null default 0,
  requests integer not null default 0,
  last_round_requests integer not null default 0,
  synced_at timestamptz,
  agent_edited_at timestamptz,
  created_at timestamptz not null default now(),
  constraint customer_contact_links_one_customer_per_contact unique (account_ref, contact_id)
);

create table public.contact_sync_conflicts (
  id bigint generated always as identity primary key,
  store_id uuid not null references public.stores (id) on delete cascade,
  customer_id uuid references public.customers (id) on delete set null,
  account_ref uuid not null references public.chatwoot_accounts (id) on delete cascade,
  field text not null constraint contact_sync_conflicts_field check (field in ('identifier', 'email', 'phone_number')),
  contact_id integer,
  other_contact_id integer,
  resolution text not null constraint contact_sync_conflicts_resolution check (resolution in ('linked', 'merged', 'omitted')),
  detail text not null,
  created_at timestamptz not null default now()
);

-- Which contact custom attribute definitions exist in an account: created once, then trusted.
create table private.chatwoot_contact_attributes (
  account_ref uuid primary key references public.chatwoot_accounts (id) on delete cascade,
  attribute_keys text[] not null,
  ensured_at timestamptz not null default now()
);

-- Bumped by the sync job as it starts, so changes after that enqueue a new job (coalescing key).
alter table public.customers add column contact_sync_epoch integer not null default 0;

-- ═══ indexes ═════════════════════════════════════════════════════════════════════════════════
create index customer_contact_links_store_id_idx on public.customer_contact_links (store_id);
create index contact_sync_conflicts_store_id_idx on public.contact_sync_conflicts (store_id, created_at desc);
create index contact_sync_conflicts_customer_idx on public.contact_sync_conflicts (customer_id);

-- ═══ functions ═══════════════════════════════════════════════════════════════════════════════

-- Queues one sync round for a customer. Every change before the round starts shares the key
-- (customer, epoch) and so the job: a burst of 100 updates costs one round. The job bumps the
-- epoch under the customer's row lock before reading, so a change after that gets a new job.
create function private.enqueue_contact_sync(p_customer_id uuid, p_store_id uuid, p_epoch integer, p_delay_ms integer default null)
returns bigint
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_delay integer := p_delay_ms;
begin
  if v_delay is null then
    select s.debounce_ms into v_delay from public.contact_sync_settings s where s.store_id = p_store_id;
  end if;
  return private.enqueue_job(
    'chatwoot.contact_sync',
    jsonb_build_object('customer_id', p_customer_id),
    format('contact_sync:%s:%s', p_customer_id, p_epoch),
    p_store_id,
    now() + make_interval(secs => coalesce(v_delay, 1000) / 1000.0));
end
$$;

create function private.customers_enqueue_contact_sync()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if coalesce((select s.auto_sync from public.contact_sync_settings s where s.store_id = new.store_id), true)
     and exists (select 1 from public.chatwoot_accounts a where a.store_id = new.store_id) then
    perform private.enqueue_contact_sync(new.id, new.store_id, new.contact_sync_epoch);
  end if;
  return null;
end
$$;

-- Erasure needs what the customer row held, so the job carries it: the link (if any), the
-- identifier to find a contact whose link was never recorded, and the platform user whose
-- WhatsApp archive goes too.
create function private.customers_enqueue_contact_erasure()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_link public.customer_contact_links;
  v_account uuid;
begin
  select * into v_link from public.customer_contact_links l where l.customer_id = old.id;
  select a.id into v_account from public.chatwoot_accounts a where a.store_id = old.store_id;
  if v_account is null and old.user_id is null then
    return old;
  end if;
  perform private.enqueue_job(
    'chatwoot.contact_erase',
    jsonb_build_object(
      'customer_id', old.id, 'store_id', old.store_id, 'account_ref', coalesce(v_link.account_ref, v_account),
      'contact_id', v_link.contact_id, 'external_id', old.external_id, 'user_id', old.user_id),
    format('contact_erase:%s', old.id),
    old.store_id);
  return old;
end
$$;

-- A store linked to a Chatwoot account (provisioned or linked by hand) gets all its customers
-- synced: one job that fans out into per-customer rounds.
create function private.chatwoot_accounts_enqueue_contact_backfill()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if coalesce((select s.auto_sync from public.contact_sync_settings s where s.store_id = new.store_id), true)
     and exists (select 1 from public.customers c where c.store_id = new.store_id) then
    perform private.enqueue_job('chatwoot.contact_backfill', jsonb_build_object('store_id', new.store_id),
                                format('contact_backfill:%s', new.id), new.store_id);
  end if;
  return null;
end
$$;

-- Fans a store's customers out into sync rounds (used by the backfill job).
create function private.enqueue_store_contact_sync(p_store_id uuid)
returns integer
language sql
security definer
set search_path = ''
as $$
  select count(private.enqueue_contact_sync(c.id, c.store_id, c.contact_sync_epoch, 0))::integer
    from public.customers c where c.store_id = p_store_id
$$;

-- Back-sync. A versioned contact row (contact_created/contact_updated) whose name, e-mail or
-- phone differs both from what we last knew and from what we are sending was edited by an
-- agent: the link's snapshot takes it and, per the store's policy, so does the customer.
-- Echoes of our own writes and last_activity_at noise (which writes no row) change nothing.
create function private.chatwoot_contacts_back_sync()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_link public.customer_contact_links;
  v_changed text[] := '{}';
  v_key text;
  v_new jsonb;
  v_policy text;
begin
  if new.source_updated_at is null then
    return null;
  end if;
  select * into v_link from public.customer_contact_links l
   where l.account_ref = new.account_ref and l.contact_id = new.contact_id
   for update;
  if not found then
    return null;
  end if;
  v_new := jsonb_build_object('name', new.name, 'email', new.email, 'phone_number', new.phone_number);
  foreach v_key in array array['name', 'email', 'phone_number'] loop
    if (v_new -> v_key) is distinct from coalesce(v_link.snapshot -> v_key, 'null'::jsonb)
       and (v_link.sending is null or (v_new -> v_key) is distinct from coalesce(v_link.sending -> v_key, 'null'::jsonb)) then
      v_changed := v_changed || v_key;
    end if;
  end loop;
  if cardinality(v_changed) = 0 then
    return null;
  end if;

  select coalesce(s.agent_edits, 'apply') into v_policy
    from (select 1) one left join public.contact_sync_settings s on s.store_id = new.store_id;
  update public.customer_contact_links l
     set snapshot = l.snapshot || (select jsonb_object_agg(k, v_new -> k) from unnest(v_changed) k),
         agent_edited_at = now()
   where l.customer_id = v_link.customer_id;
  if v_policy = 'apply' then
    update public.customers c
       set name = case when 'name' = any(v_changed) then new.name else c.name end,
           email = case when 'email' = any(v_changed) then new.email else c.email end,
           phone = case when 'phone_number' = any(v_changed) then new.phone_number else c.phone end
     where c.id = v_link.customer_id;
  end if;
  insert into private.audit_log (actor, action, target, detail)
  values ('chatwoot', 'customer.agent_edit', format('customer:%s', v_link.customer_id),
          jsonb_build_object('fields', to_jsonb(v_changed), 'applied', v_policy = 'apply', 'contact_id', new.contact_id));
  return null;
end
$$;

-- Erasure's mirror part: the contact's row and its conversations, messages and attachments.
create function private.erase_chatwoot_contact_mirror(p_account_ref uuid, p_contact_id integer)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_conversations integer[];
  v_attachments integer;
  v_messages integer;
  v_contacts integer;
begin
  select coalesce(array_agg(c.display_id), '{}') into v_conversations
    from public.chatwoot_conversations c where c.account_ref = p_account_ref and c.contact_id = p_contact_id;
  with d as (delete from public.chatwoot_attachments a using public.chatwoot_messages m
              where m.account_ref = p_account_ref and m.conversation_display_id = any(v_conversations)
                and a.account_ref = m.account_ref and a.message_id = m.message_id returning 1)
  select count(*) into v_attachments from d;
  with d as (delete from public.chatwoot_messages m
              where m.account_ref = p_account_ref and m.conversation_display_id = any(v_conversations) returning 1)
  select count(*) into v_messages from d;
  delete from public.chatwoot_conversations c where c.account_ref = p_account_ref and c.display_id = any(v_conversations);
  with d as (delete from public.chatwoot_contacts c where c.account_ref = p_account_ref and c.contact_id = p_contact_id returning 1)
  select count(*) into v_contacts from d;
  return jsonb_build_object('contacts', v_contacts, 'conversations', cardinality(v_conversations),
                            'messages', v_messages, 'attachments', v_attachments);
end
$$;

create trigger contact_sync_settings_touch_updated_at before update on public.contact_sync_settings
  for each row execute function public.touch_updated_at();
create trigger customers_enqueue_contact_sync_on_insert after insert on public.customers
  for each row execute function private.customers_enqueue_contact_sync();
create trigger customers_enqueue_contact_sync_on_update after update on public.customers
  for each row
  when ((old.name, old.email, old.phone, old.external_id, old.order_count, old.lifetime_value, old.last_order_at, old.tier)
        is distinct from
        (new.name, new.email, new.phone, new.external_id, new.order_count, new.lifetime_value, new.last_order_at, new.tier))
  execute function private.customers_enqueue_contact_sync();
create trigger customers_enqueue_contact_erasure before delete on public.customers
  for each row execute function private.customers_enqueue_contact_erasure();
create trigger chatwoot_accounts_enqueue_contact_backfill after insert on public.chatwoot_accounts
  for each row execute function private.chatwoot_accounts_enqueue_contact_backfill();
create trigger chatwoot_contacts_back_sync after insert or update on public.chatwoot_contacts
  for each row execute function private.chatwoot_contacts_back_sync();

-- ═══ row-level security ══════════════════════════════════════════════════════════════════════
alter table public.contact_sync_settings enable row level security;
alter table public.customer_contact_links enable row level security;
alter table public.contact_sync_conflicts enable row level security;
alter table private.chatwoot_contact_attributes enable row level security;

-- Settings: members read, store admins write. Links and conflicts: members read; only the sync
-- (service role) writes them, so no insert/update/delete policy exists for API roles.
create policy "Store members can read their store's contact sync settings" on public.contact_sync_settings
  for select to authenticated using (store_id in (select public.authorized_store_ids('viewer')));
create policy "Platform administrators can read every contact sync setting" on public.contact_sync_settings
  for select to authenticated using ((select public.is_platform_admin()));
create policy "Store admins can create their store's contact sync settings" on public.contact_sync_settings
  for insert to authenticated with check (store_id in (select public.authorized_store_ids('admin')));
create policy "Store admins can change their store's contact sync settings" on public.contact_sync_settings
  for update to authenticated
  using (store_id in (select public.authorized_store_ids('admin')))
  with check (store_id in (select public.authorized_store_ids('admin')));

create policy "Store members can read their store's contact links" on public.customer_contact_links
  for select to authenticated using (store_id in (select public.authorized_store_ids('viewer')));
create policy "Platform administrators can read every contact link" on public.customer_contact_links
  for select to authenticated using ((select public.is_platform_admin()));

create policy "Store members can read their store's contact sync conflicts" on public.contact_sync_conflicts
  for select to authenticated using (store_id in (select public.authorized_store_ids('viewer')));
create policy "Platform administrators can read every contact sync conflict" on public.contact_sync_conflicts
  for select to authenticated using ((select public.is_platform_admin()));

-- ═══ grants ══════════════════════════════════════════════════════════════════════════════════
revoke all on public.contact_sync_settings, public.customer_contact_links, public.contact_sync_conflicts from anon;
revoke insert, update, delete, truncate on public.customer_contact_links, public.contact_sync_conflicts from authenticated;
revoke all on private.chatwoot_contact_attributes from public, anon, authenticated;
grant all on private.chatwoot_contact_attributes to service_role;
revoke execute on function private.enqueue_contact_sync(uuid, uuid, integer, integer) from public, anon, authenticated;
revoke execute on function private.customers_enqueue_contact_sync() from public, anon, authenticated;
revoke execute on function private.customers_enqueue_contact_erasure() from public, anon, authenticated;
revoke execute on function private.chatwoot_accounts_enqueue_contact_backfill() from public, anon, authenticated;
revoke execute on function private.enqueue_store_contact_sync(uuid) from public, anon, authenticated;
revoke execute on function private.chatwoot_contacts_back_sync() from public, anon, authenticated;
revoke execute on function private.erase_chatwoot_contact_mirror(uuid, integer) from public, anon, authenticated;
grant execute on function private.enqueue_contact_sync(uuid, uuid, integer, integer) to service_role;
grant execute on function private.enqueue_store_contact_sync(uuid) to service_role;
grant execute on function private.erase_chatwoot_contact_mirror(uuid, integer) to service_role;

-- The Chatwoot mirror: which Chatwoot account belongs to which store (secrets kept privately),
-- the delivery ledger that makes webhook ingestion exactly-once, and the mirrored contacts,
-- conversations, messages and attachments, written only by ingestion and reconciliation.

-- ═══ tables ══════════════════════════════════════════════════════════════════════════════════

-- One Chatwoot account per store. Nothing secret here: store members may read it.
create table public.chatwoot_accounts (
  id uuid primary key default gen_random_uuid(),
  store_id uuid not null unique references public.stores (id) on delete cascade,
  chatwoot_url text not null constraint chatwoot_accounts_url_format check (chatwoot_url ~ '^https?://[^/\s]+$'),
  account_id integer not null constraint chatwoot_accounts_account_id_positive check (account_id > 0),
  -- Chatwoot < 4.11.2 cannot sign webhooks; only an account marked so may deliver unsigned.
  accepts_unsigned boolean not null default false,
  last_delivery_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint chatwoot_accounts_one_link_per_account unique (chatwoot_url, account_id)
);
comment on table public.chatwoot_accounts is 'The Chatwoot account each store is linked to. Secrets live in private.chatwoot_account_secrets.';

-- What API roles must never read: the admin API token, the webhook signing secret, and the hash
-- of the unguessable URL token that routes a delivery to its account.
create table private.chatwoot_account_secrets (
  account_ref uuid primary key references public.chatwoot_accounts (id) on delete cascade,
  api_token text,
  webhook_id integer,
  webhook_secret text,
  route_token_hash bytea not null constraint chatwoot_account_secrets_route_unique unique
    constraint chatwoot_account_secrets_route_is_sha256 check (length(route_token_hash) = 32),
  updated_at timestamptz not null default now()
);

-- Every delivery that passed authentication, once: (account, X-Chatwoot-Delivery) is the key.
-- Payloads are kept only when they could not be applied (unknown event, invalid shape), so
-- nothing is lost and nothing secret (inbox payloads carry channel tokens) is kept needlessly.
create table private.chatwoot_deliveries (
  account_ref uuid not null references public.chatwoot_accounts (id) on delete cascade,
  delivery_id text not null,
  event text not null,
  outcome text not null constraint chatwoot_deliveries_outcome_values
    check (outcome in ('applied', 'stale', 'noise', 'unknown_event', 'rejected', 'ignored')),
  detail jsonb,
  payload jsonb,
  received_at timestamptz not null default now(),
  primary key (account_ref, delivery_id)
);

create table public.chatwoot_contacts (
  account_ref uuid not null references public.chatwoot_accounts (id) on delete cascade,
  contact_id integer not null,
  store_id uuid not null references public.stores (id) on delete cascade,
  name text,
  email text,
  phone_number text,
  identifier text,
  custom_attributes jsonb not null default '{}'::jsonb,
  additional_attributes jsonb not null default '{}'::jsonb,
  blocked boolean,
  -- Chatwoot's updated_at, known only from contact_updated; a contact seen inside another event
  -- has none and never overwrites a versioned row.
  source_updated_at timestamptz,
  mirrored_at timestamptz not null default now(),
  primary key (account_ref, contact_id)
);

create table public.chatwoot_conversations (
  account_ref uuid not null references public.chatwoot_accounts (id) on delete cascade,
  display_id integer not null,
  store_id uuid not null references public.stores (id) on delete cascade,
  inbox_id integer not null,
  channel text,
  status text not null,
  priority text,
  assignee_type text,
  assignee_id integer,
  team_id integer,
  labels text[] not null default '{}',
  contact_id integer,
  contact_inbox_source_id text,
  custom_attributes jsonb not null default '{}'::jsonb,
  additional_attributes jsonb not null default '{}'::jsonb,
  created_at timestamptz,
  last_activity_at timestamptz,
  waiting_since timestamptz,
  snoozed_until timestamptz,
  -- Chatwoot's updated_at in epoch ms: an event older than the stored one changes nothing.
  version bigint not null,
  mirrored_at timestamptz not null default now(),
  primary key (account_ref, display_id)
) with (fillfactor = 90);

create table public.chatwoot_messages (
  account_ref uuid not null references public.chatwoot_accounts (id) on delete cascade,
  message_id bigint not null,
  store_id uuid not null references public.stores (id) on delete cascade,
  conversation_display_id integer not null,
  inbox_id integer not null,
  message_type text not null constraint chatwoot_messages_type_values
    check (message_type in ('incoming', 'outgoing', 'activity', 'template')),
  content text,
  content_type text not null default 'text',
  private boolean not null default false,
  status text,
  source_id text,
  sender_type text,
  sender_id integer,
  content_attributes jsonb not null default '{}'::jsonb,
  additional_attributes jsonb not null default '{}'::jsonb,
  echo boolean not null default false,
  deleted boolean not null default false,
  is_whatsapp boolean not null default false,
  created_at timestamptz not null,
  -- Ordering (see normalize.ts messageVersion): progress first, then Chatwoot's updated_at when
  -- both sides know it, else a different fingerprint means "last arrival wins".
  version_progress integer not null default 0,
  version_updated_at_ms bigint,
  version_fingerprint text not null,
  mirrored_at timestamptz not null default now(),
  primary key (account_ref, message_id)
);

create table public.chatwoot_attachments (
  account_ref uuid not null references public.chatwoot_accounts (id) on delete cascade,
  attachment_id bigint not null,
  store_id uuid not null references public.stores (id) on delete cascade,
  message_id bigint not null,
  file_type text not null,
  content_type text,
  extension text,
  data_url text,
  thumb_url text,
  file_size bigint,
  width integer,
  height integer,
  coordinates_lat double precision,
  coordinates_long double precision,
  fallback_title text,
  transcribed_text text,
  meta jsonb,
  mirrored_at timestamptz not null default now(),
  primary key (account_ref, attachment_id),
  foreign key (account_ref, message_id) references public.chatwoot_messages (account_ref, message_id) on delete cascade
);

-- Reconciliation's progress per account: conversations active since `synced_until` are pulled
-- again through the Application API; `next_run_at` schedules the periodic job.
create table public.chatwoot_sync_cursors (
  account_ref uuid primary key references public.chatwoot_accounts (id) on delete cascade,
  store_id uuid not null references public.stores (id) on delete cascade,
  synced_until timestamptz,
  next_run_at timestamptz not null default now(),
  last_run_at timestamptz,
  last_result jsonb,
  last_error text
);

-- ═══ indexes ═════════════════════════════════════════════════════════════════════════════════
-- RLS predicates filter on store_id; listings order by time within a store or conversation.
create index chatwoot_accounts_store_id_idx on public.chatwoot_accounts (store_id);
create index chatwoot_contacts_store_id_idx on public.chatwoot_contacts (store_id);
create index chatwoot_contacts_phone_idx on public.chatwoot_contacts (account_ref, phone_number) where phone_number is not null;
-- Only store_id (not last_activity_at, which changes on every message) so conversation updates
-- can stay heap-only: ingestion rewrites this row for nearly every delivery.
create index chatwoot_conversations_store_id_idx on public.chatwoot_conversations (store_id);
create index chatwoot_messages_store_id_idx on public.chatwoot_messages (store_id);
create index chatwoot_messages_conversation_idx on public.chatwoot_messages (account_ref, conversation_display_id, created_at);
create index chatwoot_attachments_store_id_idx on public.chatwoot_attachments (store_id);
create index chatwoot_attachments_message_idx on public.chatwoot_attachments (account_ref, message_id);
create index chatwoot_sync_cursors_store_id_idx on public.chatwoot_sync_cursors (store_id);
create index chatwoot_sync_cursors_due_idx on public.chatwoot_sync_cursors (next_run_at);
create index chatwoot_deliveries_received_at_idx on private.chatwoot_deliveries (received_at);

-- ═══ functions ═══════════════════════════════════════════════════════════════════════════════

-- Status only moves forward: unknown < sent < failed < delivered < read (a failed send that is
-- retried heals once delivered), so a late or reordered event never moves it back.
create function private.message_status_rank(p_status text)
returns integer
language sql
immutable
set search_path = ''
as $$
  select case p_status when 'sent' then 1 when 'failed' then 2 when 'delivered' then 3 when 'read' then 4 else 0 end
$$;

-- Applies one authenticated delivery in the caller's transaction: records it in the ledger
-- (a repeated X-Chatwoot-Delivery changes nothing and says 'duplicate'), then upserts what the
-- event carries, each row only if the event is newer than what is stored. p_records holds rows
-- shaped like the mirror tables (built by _shared/chatwoot/ingest.ts); account_ref and store_id
-- are set here from the route, never taken from the payload. Returns the outcome.
create function private.ingest_chatwoot_delivery(
  p_account_ref uuid,
  p_delivery_id text,
  p_event text,
  p_records jsonb,
  p_outcome text default null,
  p_detail jsonb default null,
  p_payload jsonb default null
) returns text
language plpgsql
set search_path = ''
as $$
declare
  v_store uuid;
  v_changed integer := 0;
  v_n integer;
  v_msg public.chatwoot_messages;
  v_att_ids bigint[];
begin
  select a.store_id into v_store from public.chatwoot_accounts a where a.id = p_account_ref;
  if v_store is null then
    raise exception 'unknown chatwoot account %', p_account_ref using errcode = 'no_data_found';
  end if;

  insert into private.chatwoot_deliveries (account_ref, delivery_id, event, outcome, detail, payload)
  values (p_account_ref, p_delivery_id, p_event, coalesce(p_outcome, 'applied'), p_detail, p_payload)
  on conflict (account_ref, delivery_id) do nothing;
  if not found then
    return 'duplicate';
  end if;
  -- At most once a minute: every delivery of an account would otherwise queue on this one row.
  update public.chatwoot_accounts set last_delivery_at = now()
   where id = p_account_ref and (last_delivery_at is null or last_delivery_at < now() - interval '1 minute');
  if p_outcome is not null then
    return p_outcome; -- recorded (unknown event, rejected, noise, ignored): nothing to apply
  end if;

  -- contact: a versioned event (contact_updated) wins over an older one; an unversioned copy
  -- (inside a message or conversation event) only fills in a contact not seen before, without
  -- locking the row (a burst of messages from one contact must not queue on it).
  if jsonb_typeof(p_records -> 'contact') = 'object' and p_records -> 'contact' ->> 'source_updated_at' is null then
    insert into public.chatwoot_contacts
    select r.account_ref, r.contact_id, r.store_id, r.name, r.email, r.phone_number, r.identifier,
           coalesce(r.custom_attributes, '{}'), coalesce(r.additional_attributes, '{}'), r.blocked, null, now()
    from jsonb_populate_record(null::public.chatwoot_contacts,
           (p_records -> 'contact') || jsonb_build_object('account_ref', p_account_ref, 'store_id', v_store)) r
    on conflict (account_ref, contact_id) do nothing;
    get diagnostics v_n = row_count;
    v_changed := v_changed + v_n;
  elsif jsonb_typeof(p_records -> 'contact') = 'object' then
    insert into public.chatwoot_contacts as c
    select r.account_ref, r.contact_id, r.store_id, r.name, r.email, r.phone_number, r.identifier,
           coalesce(r.custom_attributes, '{}'), coalesce(r.additional_attributes, '{}'), r.blocked,
           r.source_updated_at, now()
    from jsonb_populate_record(null::public.chatwoot_contacts,
           (p_records -> 'contact') || jsonb_build_object('account_ref', p_account_ref, 'store_id', v_store)) r
    on conflict (account_ref, contact_id) do update set
      name = excluded.name, email = excluded.email, phone_number = excluded.phone_number,
      identifier = excluded.identifier, custom_attributes = excluded.custom_attributes,
      additional_attributes = excluded.additional_attributes, blocked = coalesce(excluded.blocked, c.blocked),
      source_updated_at = excluded.source_updated_at, mirrored_at = now()
    where c.source_updated_at is null or excluded.source_updated_at > c.source_updated_at;
    get diagnostics v_n = row_count;
    v_changed := v_changed + v_n;
  end if;

  -- conversation: Chatwoot's updated_at orders states; equal versions are re-applied because
  -- Chatwoot moves last_activity_at without touching updated_at.
  if jsonb_typeof(p_records -> 'conversation') = 'object' then
    insert into public.chatwoot_conversations as c
    select r.account_ref, r.display_id, r.store_id, r.inbox_id, r.channel, r.status, r.priority, r.assignee_type,
           r.assignee_id, r.team_id, coalesce(r.labels, '{}'), r.contact_id, r.contact_inbox_source_id,
           coalesce(r.custom_attributes, '{}'), coalesce(r.additional_attributes, '{}'), r.created_at,
           r.last_activity_at, r.waiting_since, r.snoozed_until, r.version, now()
    from jsonb_populate_record(null::public.chatwoot_conversations,
           (p_records -> 'conversation') || jsonb_build_object('account_ref', p_account_ref, 'store_id', v_store)) r
    on conflict (account_ref, display_id) do update set
      inbox_id = excluded.inbox_id, channel = coalesce(excluded.channel, c.channel), status = excluded.status,
      priority = excluded.priority, assignee_type = excluded.assignee_type, assignee_id = excluded.assignee_id,
      team_id = excluded.team_id, labels = excluded.labels, contact_id = coalesce(excluded.contact_id, c.contact_id),
      contact_inbox_source_id = coalesce(excluded.contact_inbox_source_id, c.contact_inbox_source_id),
      custom_attributes = excluded.custom_attributes, additional_attributes = excluded.additional_attributes,
      created_at = coalesce(c.created_at, excluded.created_at),
      last_activity_at = greatest(c.last_activity_at, excluded.last_activity_at),
      waiting_since = excluded.waiting_since, snoozed_until = excluded.snoozed_until,
      version = excluded.version, mirrored_at = now()
    where excluded.version >= c.version
      and (c.status, c.priority, c.assignee_type, c.assignee_id, c.team_id, c.labels, c.custom_attributes,
           c.additional_attributes, c.last_activity_at, c.waiting_since, c.snoozed_until, c.version, c.channel,
           c.contact_id, c.contact_inbox_source_id)
          is distinct from
          (excluded.status, excluded.priority, excluded.assignee_type, excluded.assignee_id, excluded.team_id,
           excluded.labels, excluded.custom_attributes, excluded.additional_attributes,
           greatest(c.last_activity_at, excluded.last_activity_at), excluded.waiting_since, excluded.snoozed_until,
           excluded.version, coalesce(excluded.channel, c.channel), coalesce(excluded.contact_id, c.contact_id),
           coalesce(excluded.contact_inbox_source_id, c.contact_inbox_source_id));
    get diagnostics v_n = row_count;
    v_changed := v_changed + v_n;
  end if;

  -- message: newer state per messageVersion; status merged on its own so it never moves back.
  if jsonb_typeof(p_records -> 'message') = 'object' then
    select * into v_msg from jsonb_populate_record(null::public.chatwoot_messages,
      (p_records -> 'message') || jsonb_build_object('account_ref', p_account_ref, 'store_id', v_store));
    insert into public.chatwoot_messages as m
    select v_msg.account_ref, v_msg.message_id, v_msg.store_id, v_msg.conversation_display_id, v_msg.inbox_id,
           v_msg.message_type, v_msg.content, coalesce(v_msg.content_type, 'text'), coalesce(v_msg.private, false),
           v_msg.status, v_msg.source_id, v_msg.sender_type, v_msg.sender_id, coalesce(v_msg.content_attributes, '{}'),
           coalesce(v_msg.additional_attributes, '{}'), coalesce(v_msg.echo, false), coalesce(v_msg.deleted, false),
           coalesce(v_msg.is_whatsapp, false), v_msg.created_at, coalesce(v_msg.version_progress, 0),
           v_msg.version_updated_at_ms, v_msg.version_fingerprint, now()
    on conflict (account_ref, message_id) do update set
      content = excluded.content, content_type = excluded.content_type, private = excluded.private,
      status = case when private.message_status_rank(excluded.status) > private.message_status_rank(m.status)
                    then excluded.status else m.status end,
      source_id = coalesce(excluded.source_id, m.source_id), sender_type = excluded.sender_type,
      sender_id = excluded.sender_id, content_attributes = excluded.content_attributes,
      additional_attributes = excluded.additional_attributes, echo = excluded.echo, deleted = excluded.deleted,
      is_whatsapp = excluded.is_whatsapp, version_progress = excluded.version_progress,
      version_updated_at_ms = coalesce(excluded.version_updated_at_ms, m.version_updated_at_ms),
      version_fingerprint = excluded.version_fingerprint, mirrored_at = now()
    where excluded.version_progress > m.version_progress
       or (excluded.version_progress = m.version_progress and
           case when excluded.version_updated_at_ms is not null and m.version_updated_at_ms is not null
                     and excluded.version_updated_at_ms <> m.version_updated_at_ms
                then excluded.version_updated_at_ms > m.version_updated_at_ms
                else excluded.version_fingerprint <> m.version_fingerprint end);
    get diagnostics v_n = row_count;
    v_changed := v_changed + v_n;

    if v_n > 0 then
      -- The message's attachments are exactly the event's (a deleted message has none left).
      select coalesce(array_agg((a ->> 'attachment_id')::bigint), '{}') into v_att_ids
      from jsonb_array_elements(coalesce(p_records -> 'attachments', '[]'::jsonb)) a;
      delete from public.chatwoot_attachments t
       where t.account_ref = p_account_ref and t.message_id = v_msg.message_id and t.attachment_id <> all (v_att_ids);
      insert into public.chatwoot_attachments as t
      select r.account_ref, r.attachment_id, r.store_id, r.message_id, r.file_type, r.content_type, r.extension,
             r.data_url, r.thumb_url, r.file_size, r.width, r.height, r.coordinates_lat, r.coordinates_long,
             r.fallback_title, r.transcribed_text, r.meta, now()
      from jsonb_array_elements(coalesce(p_records -> 'attachments', '[]'::jsonb)) a,
           jsonb_populate_record(null::public.chatwoot_attachments,
             a || jsonb_build_object('account_ref', p_account_ref, 'store_id', v_store,
                                     'message_id', v_msg.message_id)) r
      on conflict (account_ref, attachment_id) do update set
        file_type = excluded.file_type, content_type = excluded.content_type, extension = excluded.extension,
        data_url = excluded.data_url, thumb_url = excluded.thumb_url, file_size = excluded.file_size,
        width = excluded.width, height = excluded.height, coordinates_lat = excluded.coordinates_lat,
        coordinates_long = excluded.coordinates_long, fallback_title = excluded.fallback_title,
        transcribed_text = coalesce(excluded.transcribed_text, t.transcribed_text), meta = excluded.meta,
        mirrored_at = now();
    elsif jsonb_typeof(p_records -> 'message' -> 'status') = 'string' then
      -- An older event can still carry a newer status.
      update public.chatwoot_messages m set status = p_records -> 'message' ->> 'status', mirrored_at = now()
       where m.account_ref = p_account_ref and m.message_id = v_msg.message_id
         and private.message_status_rank(p_records -> 'message' ->> 'status') > private.message_status_rank(m.status);
      get diagnostics v_n = row_count;
      v_changed := v_changed + v_n;
    end if;
  end if;

  if v_changed = 0 then
    update private.chatwoot_deliveries d set outcome = 'stale'
     where d.account_ref = p_account_ref and d.delivery_id = p_delivery_id;
    return 'stale';
  end if;
  return 'applied';
end
$$;

-- The route token in a webhook URL is looked up by its SHA-256, so a leaked database never
-- reveals a working URL.
create function private.chatwoot_account_by_route_token(p_token text)
returns table (account_ref uuid, store_id uuid, account_id integer, webhook_secret text, accepts_unsigned boolean)
language sql
stable
set search_path = ''
as $$
  select a.id, a.store_id, a.account_id, s.webhook_secret, a.accepts_unsigned
  from private.chatwoot_account_secrets s
  join public.chatwoot_accounts a on a.id = s.account_ref
  where s.route_token_hash = extensions.digest(convert_to(p_token, 'UTF8'), 'sha256')
$$;

-- Schedules the periodic reconciliation: one job per account whose cursor is due, keyed by
-- account and due time so concurrent workers enqueue it once.
create function private.enqueue_due_reconciliations(p_every interval default interval '10 minutes')
returns integer
language plpgsql
set search_path = ''
as $$
declare
  v_n integer;
begin
  with due as (
    select c.account_ref, c.store_id, c.next_run_at from public.chatwoot_sync_cursors c
    where c.next_run_at <= now()
    for update skip locked
  ), bumped as (
    update public.chatwoot_sync_cursors c set next_run_at = now() + p_every
    from due where c.account_ref = due.account_ref
    returning due.account_ref, due.store_id, due.next_run_at
  )
  select count(private.enqueue_job('chatwoot.reconcile', jsonb_build_object('account_ref', b.account_ref),
           format('chatwoot.reconcile:%s:%s', b.account_ref, extract(epoch from b.next_run_at)::bigint), b.store_id))
    into v_n
  from bumped b;
  return v_n;
end
$$;

create trigger chatwoot_accounts_touch_updated_at before update on public.chatwoot_accounts
  for each row execute function public.touch_updated_at();

-- ═══ row-level security ══════════════════════════════════════════════════════════════════════
-- Mirror rows are written only by ingestion and reconciliation (as the database owner); API
-- roles have read policies and nothing else: no insert, update or delete policy exists.
alter table public.chatwoot_accounts enable row level security;
alter table public.chatwoot_contacts enable row level security;
alter table public.chatwoot_conversations enable row level security;
alter table public.chatwoot_messages enable row level security;
alter table public.chatwoot_attachments enable row level security;
alter table public.chatwoot_sync_cursors enable row level security;

create policy "Store members can read their store's Chatwoot account" on public.chatwoot_accounts
  for select to authenticated using (store_id in (select public.authorized_store_ids('viewer')));
create policy "Platform administrators can read every Chatwoot account" on public.chatwoot_accounts
  for select to authenticated using ((select public.is_platform_admin()));
create policy "Store members can read their store's contacts" on public.chatwoot_contacts
  for select to authenticated using (store_id in (select public.authorized_store_ids('viewer')));
create policy "Platform administrators can read every contact" on public.chatwoot_contacts
  for select to authenticated using ((select public.is_platform_admin()));
create policy "Store members can read their store's conversations" on public.chatwoot_conversations
  for select to authenticated using (store_id in (select public.authorized_store_ids('viewer')));
create policy "Platform administrators can read every conversation" on public.chatwoot_conversations
  for select to authenticated using ((select public.is_platform_admin()));
create policy "Store members can read their store's messages" on public.chatwoot_messages
  for select to authenticated using (store_id in (select public.authorized_store_ids('viewer')));
create policy "Platform administrators can read every message" on public.chatwoot_messages
  for select to authenticated using ((select public.is_platform_admin()));
create policy "Store members can read their store's attachments" on public.chatwoot_attachments
  for select to authenticated using (store_id in (select public.authorized_store_ids('viewer')));
create policy "Platform administrators can read every attachment" on public.chatwoot_attachments
  for select to authenticated using ((select public.is_platform_admin()));
create policy "Store members can read their store's sync cursor" on public.chatwoot_sync_cursors
  for select to authenticated using (store_id in (select public.authorized_store_ids('viewer')));
create policy "Platform administrators can read every sync cursor" on public.chatwoot_sync_cursors
  for select to authenticated using ((select public.is_platform_admin()));

-- ═══ grants ══════════════════════════════════════════════════════════════════════════════════
revoke all on public.chatwoot_accounts, public.chatwoot_contacts, public.chatwoot_conversations,
  public.chatwoot_messages, public.chatwoot_attachments, public.chatwoot_sync_cursors from anon;
revoke insert, update, delete, truncate on public.chatwoot_accounts, public.chatwoot_contacts,
  public.chatwoot_conversations, public.chatwoot_messages, public.chatwoot_attachments,
  public.chatwoot_sync_cursors from authenticated;
revoke all on all tables in schema private from public, anon, authenticated;
revoke execute on all functions in schema private from public, anon, authenticated;
grant all on all tables in schema private to service_role;
grant execute on all functions in schema private to service_role;

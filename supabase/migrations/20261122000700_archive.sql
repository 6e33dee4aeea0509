-- The WhatsApp archive: every WhatsApp message and its media in a GCS bucket of the platform
-- user who wrote or received it (mapped by phone), records and checksums here, a holding
-- bucket and a review queue for numbers that match no user, and an audit trail of erasures.

create extension if not exists pg_trgm with schema extensions;

-- ═══ tables ══════════════════════════════════════════════════════════════════════════════════

-- One bucket per user, plus the holding bucket (owner_user_id null) for unmapped contacts.
create table public.archive_buckets (
  name text primary key constraint archive_buckets_name_format check (name ~ '^[a-z0-9][a-z0-9_.-]{1,61}[a-z0-9]$'),
  owner_user_id uuid unique references auth.users (id) on delete set null,
  kind text not null constraint archive_buckets_kind_values check (kind in ('user', 'holding')),
  location text not null,
  storage_class text not null,
  lifecycle jsonb not null,
  created_at timestamptz not null default now(),
  -- A user bucket whose user was deleted keeps its row (owner null) until the archive is erased.
  constraint archive_buckets_holding_has_no_owner check (kind = 'user' or owner_user_id is null)
);
comment on table public.archive_buckets is 'GCS buckets the archive created: one per user, one holding bucket.';

-- One mapping per (store, phone). 'admin' mappings are never overwritten by automatic matching.
create table public.archive_contacts (
  store_id uuid not null references public.stores (id) on delete cascade,
  phone_e164 text not null constraint archive_contacts_phone_e164 check (phone_e164 ~ '^\+[1-9][0-9]{1,14}$'),
  status text not null constraint archive_contacts_status_values check (status in ('mapped', 'unmapped', 'ignored')),
  -- Deleting a user forgets their mappings: their numbers go back to review when they next write.
  user_id uuid references auth.users (id) on delete cascade,
  mapped_by text constraint archive_contacts_mapped_by_values check (mapped_by in ('auto', 'admin')),
  contact_name text,
  contact_email text,
  messages integer not null default 0,
  media integer not null default 0,
  first_seen_at timestamptz not null default now(),
  last_message_at timestamptz,
  updated_at timestamptz not null default now(),
  primary key (store_id, phone_e164),
  constraint archive_contacts_mapped_has_user check ((status = 'mapped') = (user_id is not null))
);
comment on table public.archive_contacts is 'WhatsApp numbers seen per store and the platform user each maps to (the review queue: status unmapped).';

create table public.archived_messages (
  account_ref uuid not null references public.chatwoot_accounts (id) on delete cascade,
  message_id bigint not null,
  store_id uuid not null references public.stores (id) on delete cascade,
  phone_e164 text not null,
  user_id uuid references auth.users (id) on delete set null,
  bucket text not null,
  object_name text not null,
  generation bigint not null,
  size bigint not null,
  sha256 text not null,
  crc32c text not null,
  message_fingerprint text not null,
  archived_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (account_ref, message_id)
);

create table public.archived_media (
  account_ref uuid not null references public.chatwoot_accounts (id) on delete cascade,
  attachment_id bigint not null,
  message_id bigint not null,
  store_id uuid not null references public.stores (id) on delete cascade,
  user_id uuid references auth.users (id) on delete set null,
  bucket text not null,
  object_name text not null,
  generation bigint not null,
  content_type text,
  size bigint not null,
  sha256 text not null,
  crc32c text not null,
  archived_at timestamptz not null default now(),
  primary key (account_ref, attachment_id),
  foreign key (account_ref, message_id) references public.archived_messages (account_ref, message_id) on delete cascade
);

-- What was erased or remapped, by whom and when: never the erased data itself.
create table private.audit_log (
  id bigint generated always as identity primary key,
  at timestamptz not null default now(),
  actor text not null,
  action text not null,
  target text not null,
  detail jsonb not null default '{}'::jsonb
);

-- ═══ indexes ═════════════════════════════════════════════════════════════════════════════════
create index archive_contacts_review_idx on public.archive_contacts (status, last_message_at desc) where status = 'unmapped';
create index archive_contacts_user_idx on public.archive_contacts (user_id) where user_id is not null;
create index archived_messages_store_id_idx on public.archived_messages (store_id);
create index archived_messages_contact_idx on public.archived_messages (store_id, phone_e164);
create index archived_messages_user_idx on public.archived_messages (user_id) where user_id is not null;
create index archived_media_store_id_idx on public.archived_media (store_id);
create index archived_media_user_idx on public.archived_media (user_id) where user_id is not null;
create index audit_log_target_idx on private.audit_log (target, at desc);

-- ═══ functions ═══════════════════════════════════════════════════════════════════════════════

-- Every WhatsApp message that reaches the mirror (incoming, outgoing, echoes, templates; never
-- private notes) gets an archive job in the same transaction. The key follows the message's
-- state, so a transcript, a status or a deletion re-archives it and a duplicate does not.
create function private.enqueue_whatsapp_archive()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.is_whatsapp and not new.private and new.message_type <> 'activity' then
    perform private.enqueue_job('archive.message',
      jsonb_build_object('account_ref', new.account_ref, 'message_id', new.message_id),
      format('archive.message:%s:%s:%s:%s', new.account_ref, new.message_id, new.version_fingerprint,
             coalesce(new.status, '')),
      new.store_id);
  end if;
  return null;
end
$$;

create trigger chatwoot_messages_enqueue_archive after insert or update on public.chatwoot_messages
  for each row execute function private.enqueue_whatsapp_archive();

-- Review-queue suggestions for an unmapped number: profiles whose number shares its last eight
-- digits, or whose name or e-mail resembles the contact's, best first.
create function public.archive_contact_suggestions(p_store_id uuid, p_phone_e164 text, p_limit integer default 5)
returns table (user_id uuid, full_name text, email text, phone_e164 text, reason text, score real)
language sql
stable
security definer
set search_path = ''
as $$
  with c as (
    select a.contact_name, a.contact_email from public.archive_contacts a
    where a.store_id = p_store_id and a.phone_e164 = p_phone_e164
      and (select public.is_platform_admin())
  )
  select p.user_id, p.full_name, p.email, p.phone_e164,
         case when right(p.phone_e164, 8) = right(p_phone_e164, 8) then 'similar number'
              when c.contact_email is not null and lower(p.email) = lower(c.contact_email) then 'same e-mail'
              else 'similar name' end,
         greatest(
           case when right(p.phone_e164, 8) = right(p_phone_e164, 8) then 1.0 else 0 end,
           case when c.contact_email is not null and lower(p.email) = lower(c.contact_email) then 0.9 else 0 end,
           coalesce(extensions.similarity(p.full_name, c.contact_name), 0) * 0.8
         )::real as score
  from public.profiles p, c
  where right(p.phone_e164, 8) = right(p_phone_e164, 8)
     or (c.contact_email is not null and lower(p.email) = lower(c.contact_email))
     or extensions.similarity(p.full_name, c.contact_name) > 0.3
  order by score desc
  limit p_limit
$$;
comment on function public.archive_contact_suggestions(uuid, text, integer) is
  'Suggested users for an unmapped WhatsApp number (platform administrators only).';

-- ═══ row-level security ══════════════════════════════════════════════════════════════════════
-- Archive rows are written by archive jobs only. Store members read their store's; platform
-- administrators read all (and map through the archive-admin function, which audits).
alter table public.archive_buckets enable row level security;
alter table public.archive_contacts enable row level security;
alter table public.archived_messages enable row level security;
alter table public.archived_media enable row level security;

create policy "Platform administrators can read every archive bucket" on public.archive_buckets
  for select to authenticated using ((select public.is_platform_admin()));
create policy "Users can read their own archive bucket" on public.archive_buckets
  for select to authenticated using (owner_user_id = (select auth.uid()));
create policy "Store members can read their store's archive contacts" on public.archive_contacts
  for select to authenticated using (store_id in (select public.authorized_store_ids('viewer')));
create policy "Platform administrators can read every archive contact" on public.archive_contacts
  for select to authenticated using ((select public.is_platform_admin()));
create policy "Store members can read their store's archived messages" on public.archived_messages
  for select to authenticated using (store_id in (select public.authorized_store_ids('viewer')));
create policy "Platform administrators can read every archived message" on public.archived_messages
  for select to authenticated using ((select public.is_platform_admin()));
create policy "Store members can read their store's archived media" on public.archived_media
  for select to authenticated using (store_id in (select public.authorized_store_ids('viewer')));
create policy "Platform administrators can read every archived media" on public.archived_media
  for select to authenticated using ((select public.is_platform_admin()));

-- ═══ grants ══════════════════════════════════════════════════════════════════════════════════
revoke all on public.archive_buckets, public.archive_contacts, public.archived_messages, public.archived_media from anon;
revoke insert, update, delete, truncate, references, trigger on public.archive_buckets, public.archive_contacts,
  public.archived_messages, public.archived_media from authenticated;
revoke all on private.audit_log from public, anon, authenticated;
grant all on private.audit_log to service_role;
revoke execute on function private.enqueue_whatsapp_archive() from public, anon, authenticated;
revoke execute on function public.archive_contact_suggestions(uuid, text, integer) from public, anon;
grant execute on function public.archive_contact_suggestions(uuid, text, integer) to authenticated, service_role;

-- Message order without timestamps: Message#webhook_data carries no updated_at (Chatwoot:
-- app/models/message.rb#webhook_data), and the nested conversation.messages[0] copy that has one
-- exists only while the message is the conversation's last. So when a message_updated (an edit, a
-- translation) arrives before the message_created of the same message, the two states could only be
-- told apart by "last arrival wins", and the late create overwrote the edit. The event type is an
-- order of its own: a message is created before it is updated. This records the rank of the event
-- that wrote each message row and uses it after lifecycle progress and before arrival order.

-- ═══ tables ══════════════════════════════════════════════════════════════════════════════════
-- 0 = written by message_created, 1 = by message_updated or reconciliation. Rows mirrored before
-- this migration count as updated: a late message_created must not overwrite them either.
alter table public.chatwoot_messages
  add column version_event_rank smallint not null default 1
    constraint chatwoot_messages_event_rank_values check (version_event_rank in (0, 1));

-- ═══ functions ═══════════════════════════════════════════════════════════════════════════════

-- Applies one authenticated delivery in the caller's transaction: records it in the ledger
-- (a repeated X-Chatwoot-Delivery changes nothing and says 'duplicate'), then upserts what the
-- event carries, each row only if the event is newer than what is stored. A message is newer by,
-- in turn: lifecycle progress; its own updated_at when both sides know it; the event's rank
-- (created < updated); otherwise a different fingerprint (last arrival wins). Returns the outcome.
create or replace function private.ingest_chatwoot_delivery(
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
  -- created < updated (and reconciliation, which reads the current state, ranks as an update).
  v_rank smallint := case p_event when 'message_created' then 0 else 1 end;
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
           v_msg.version_updated_at_ms, v_msg.version_fingerprint, now(), v_rank
    on conflict (account_ref, message_id) do update set
      content = excluded.content, content_type = excluded.content_type, private = excluded.private,
      status = case when private.message_status_rank(excluded.status) > private.message_status_rank(m.status)
                    then excluded.status else m.status end,
      source_id = coalesce(excluded.source_id, m.source_id), sender_type = excluded.sender_type,
      sender_id = excluded.sender_id, content_attributes = excluded.content_attributes,
      additional_attributes = excluded.additional_attributes, echo = excluded.echo, deleted = excluded.deleted,
      is_whatsapp = excluded.is_whatsapp, version_progress = excluded.version_progress,
      version_updated_at_ms = coalesce(excluded.version_updated_at_ms, m.version_updated_at_ms),
      version_fingerprint = excluded.version_fingerprint, mirrored_at = now(),
      version_event_rank = greatest(m.version_event_rank, excluded.version_event_rank)
    where excluded.version_progress > m.version_progress
       or (excluded.version_progress = m.version_progress and
           case when excluded.version_updated_at_ms is not null and m.version_updated_at_ms is not null
                     and excluded.version_updated_at_ms <> m.version_updated_at_ms
                then excluded.version_updated_at_ms > m.version_updated_at_ms
                when excluded.version_event_rank <> m.version_event_rank
                then excluded.version_event_rank > m.version_event_rank
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

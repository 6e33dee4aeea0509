-- When a mirrored conversation was resolved, so resolution time (creation → resolved) can be
-- measured. Chatwoot's conversation payload has no resolved-at field; the status change's own
-- event carries Chatwoot's updated_at (kept as `version`, epoch ms), which is that moment.

-- ═══ columns ═════════════════════════════════════════════════════════════════════════════════
alter table public.chatwoot_conversations add column resolved_at timestamptz;
comment on column public.chatwoot_conversations.resolved_at is
  'When the conversation last became resolved (Chatwoot''s updated_at of that change); null while it is not resolved.';

-- Conversations already resolved: the best known moment is their last change.
update public.chatwoot_conversations
   set resolved_at = greatest(created_at, pg_catalog.to_timestamp(version / 1000.0))
 where status = 'resolved';

-- ═══ functions ═══════════════════════════════════════════════════════════════════════════════

-- Set on the row as it is written (a BEFORE trigger: no second write, and ingestion's upsert is
-- left as it is). Only a change *into* resolved stamps the time, so a later label or assignee
-- change of a resolved conversation keeps it; reopening clears it, and resolving again re-stamps.
-- A conversation first seen already resolved (reconciliation, a missed delivery) gets the time of
-- the state it arrives with, the closest the mirror can know.
create function private.stamp_conversation_resolved_at()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.status = 'resolved' then
    if tg_op = 'INSERT' or old.status is distinct from 'resolved' or new.resolved_at is null then
      new.resolved_at := greatest(new.created_at, pg_catalog.to_timestamp(new.version / 1000.0));
    end if;
  else
    new.resolved_at := null;
  end if;
  return new;
end
$$;

create trigger chatwoot_conversations_stamp_resolved_at before insert or update on public.chatwoot_conversations
  for each row execute function private.stamp_conversation_resolved_at();

-- ═══ grants ══════════════════════════════════════════════════════════════════════════════════
revoke execute on function private.stamp_conversation_resolved_at() from public, anon, authenticated;

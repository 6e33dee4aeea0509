-- Contact merges. Chatwoot's ContactMergeAction (app/actions/contact_merge_action.rb) moves the
-- mergee's conversations, messages and contact inboxes to the base contact and destroys the mergee;
-- no webhook says so (there is no contact_merged / contact_deleted event), only a contact_updated for
-- the base follows. So the mirror and the customer links learn of a merge from us: at once for the
-- merges the contact sync makes, and from reconciliation for merges an agent makes in Chatwoot.

-- ── columns ──────────────────────────────────────────────────────────────────────────────────────

alter table public.chatwoot_contacts
  add column merged_into integer,
  add column merged_at timestamptz,
  -- When reconciliation last asked Chatwoot whether this contact still exists: it checks a few per
  -- run, the least recently checked first.
  add column checked_at timestamptz;
comment on column public.chatwoot_contacts.merged_into is
  'The contact this one was merged into in Chatwoot (same account). The row stays, so what pointed at it can be followed.';

-- A link whose contact was merged into one another customer already holds cannot follow it (one
-- customer per contact): it keeps its old contact id and says where that contact went.
alter table public.customer_contact_links
  add column merged_into integer;
comment on column public.customer_contact_links.merged_into is
  'Set when the linked contact was merged into a contact linked to another customer: the next sync round re-links.';

create index chatwoot_contacts_unchecked_idx on public.chatwoot_contacts (account_ref, checked_at nulls first)
  where merged_into is null;

-- ── functions ────────────────────────────────────────────────────────────────────────────────────

-- Records that Chatwoot merged p_mergee into p_base, in one transaction: the mergee's mirror row is
-- marked merged (created if the mirror never saw it), its conversations now belong to the base as in
-- Chatwoot, and a customer linked to the mergee follows it to the base (its snapshot and sent hash
-- cleared, so the next round sends the customer's values to the base) unless another customer holds
-- the base, in which case the link is marked and a conflict recorded. Idempotent: recording the same
-- merge twice changes nothing the second time.
create function private.record_chatwoot_contact_merge(p_account_ref uuid, p_mergee integer, p_base integer, p_source text)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_store uuid;
  v_conversations integer;
  v_followed integer := 0;
  v_blocked integer := 0;
  v_link record;
begin
  if p_mergee = p_base then
    raise exception 'a contact cannot be merged into itself (%)', p_mergee;
  end if;
  select a.store_id into v_store from public.chatwoot_accounts a where a.id = p_account_ref;
  if v_store is null then
    raise exception 'no Chatwoot account %', p_account_ref;
  end if;

  insert into public.chatwoot_contacts as c (account_ref, contact_id, store_id, merged_into, merged_at)
  values (p_account_ref, p_mergee, v_store, p_base, now())
  on conflict (account_ref, contact_id) do update
    set merged_into = excluded.merged_into, merged_at = coalesce(c.merged_at, excluded.merged_at)
    where c.merged_into is distinct from excluded.merged_into;

  with moved as (
    update public.chatwoot_conversations v set contact_id = p_base
     where v.account_ref = p_account_ref and v.contact_id = p_mergee returning 1)
  select count(*) into v_conversations from moved;

  for v_link in
    select l.customer_id, l.store_id from public.customer_contact_links l
     where l.account_ref = p_account_ref and l.contact_id = p_mergee
  loop
    if exists (select 1 from public.customer_contact_links o
                where o.account_ref = p_account_ref and o.contact_id = p_base and o.customer_id <> v_link.customer_id) then
      update public.customer_contact_links set merged_into = p_base where customer_id = v_link.customer_id;
      insert into public.contact_sync_conflicts
        (store_id, customer_id, account_ref, field, contact_id, other_contact_id, resolution, detail)
      select v_link.store_id, v_link.customer_id, p_account_ref, 'identifier', p_mergee, p_base, 'merged',
             format('contact %s was merged into contact %s (%s), which is linked to another customer', p_mergee, p_base, p_source)
      where not exists (select 1 from public.contact_sync_conflicts x
                         where x.customer_id = v_link.customer_id and x.contact_id = p_mergee
                           and x.other_contact_id = p_base and x.resolution = 'merged');
      v_blocked := v_blocked + 1;
    else
      update public.customer_contact_links
         set contact_id = p_base, merged_into = null, snapshot = '{}'::jsonb, sent_hash = null, sending = null
       where customer_id = v_link.customer_id;
      v_followed := v_followed + 1;
    end if;
  end loop;

  return jsonb_build_object('conversations', v_conversations, 'links_followed', v_followed, 'links_blocked', v_blocked);
end
$$;

-- ── grants ───────────────────────────────────────────────────────────────────────────────────────

revoke execute on function private.record_chatwoot_contact_merge(uuid, integer, integer, text) from public, anon, authenticated;
grant execute on function private.record_chatwoot_contact_merge(uuid, integer, integer, text) to service_role;

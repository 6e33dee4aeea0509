-- One permissive policy per table, role and action. Every table had one policy for platform
-- administrators and another for store members, for the same role and action; Postgres ORs
-- permissive policies anyway, so the pairs bought nothing but the Performance Advisor's 39
-- multiple_permissive_policies warnings. Each pair (or triple) becomes one policy whose predicate is
-- the same disjunction, written so the planner runs each helper once per statement:
-- `(select public.is_platform_admin()) or store_id in (select public.authorized_store_ids(…))`.
-- Who may do what is unchanged; supabase/tests/10-policies.sql shows the plans still use the
-- indexes. Policies that already stood alone (platform administrators create and delete stores;
-- store admins write customers, orders, tiers and settings) are left as they are. `if exists`
-- because a helper redefined with `cascade` (…_authorization.sql) takes its policies with it.

-- ═══ tenancy ═════════════════════════════════════════════════════════════════════════════════
-- stores: members read, owners and admins rename, platform administrators everything.
drop policy if exists "Store members can read their stores" on public.stores;
drop policy if exists "Platform administrators can read every store" on public.stores;
create policy "Store members and platform admins can read stores" on public.stores
  for select to authenticated
  using ((select public.is_platform_admin()) or id in (select public.authorized_store_ids('viewer')));
drop policy if exists "Store owners and admins can update their stores" on public.stores;
drop policy if exists "Platform administrators can update every store" on public.stores;
create policy "Store admins and platform admins can update stores" on public.stores
  for update to authenticated
  using ((select public.is_platform_admin()) or id in (select public.authorized_store_ids('admin')))
  with check ((select public.is_platform_admin()) or id in (select public.authorized_store_ids('admin')));

-- store_members: owners (and platform administrators) manage anyone, admins only members below
-- owner, so an admin cannot promote themselves to owner.
drop policy if exists "Store members can read their store's members" on public.store_members;
drop policy if exists "Platform administrators can read every membership" on public.store_members;
create policy "Store members and platform admins can read memberships" on public.store_members
  for select to authenticated
  using ((select public.is_platform_admin()) or store_id in (select public.authorized_store_ids('viewer')));
drop policy if exists "Store admins can add members below owner" on public.store_members;
drop policy if exists "Store owners can add any member" on public.store_members;
drop policy if exists "Platform administrators can add any member" on public.store_members;
create policy "Owners and platform admins can add anyone, admins non-owners" on public.store_members
  for insert to authenticated
  with check ((select public.is_platform_admin())
    or store_id in (select public.authorized_store_ids('owner'))
    or (store_id in (select public.authorized_store_ids('admin')) and role < 'owner'));
drop policy if exists "Store admins can change members below owner" on public.store_members;
drop policy if exists "Store owners can change any member" on public.store_members;
drop policy if exists "Platform administrators can change any member" on public.store_members;
create policy "Owners and platform admins can change anyone, admins non-owners" on public.store_members
  for update to authenticated
  using ((select public.is_platform_admin())
    or store_id in (select public.authorized_store_ids('owner'))
    or (store_id in (select public.authorized_store_ids('admin')) and role < 'owner'))
  with check ((select public.is_platform_admin())
    or store_id in (select public.authorized_store_ids('owner'))
    or (store_id in (select public.authorized_store_ids('admin')) and role < 'owner'));
drop policy if exists "Store admins can remove members below owner" on public.store_members;
drop policy if exists "Store owners can remove any member" on public.store_members;
drop policy if exists "Platform administrators can remove any member" on public.store_members;
create policy "Owners and platform admins can remove anyone, admins non-owners" on public.store_members
  for delete to authenticated
  using ((select public.is_platform_admin())
    or store_id in (select public.authorized_store_ids('owner'))
    or (store_id in (select public.authorized_store_ids('admin')) and role < 'owner'));

-- profiles: a user reads and edits their own, platform administrators all (contact mapping).
drop policy if exists "Users can read their own profile" on public.profiles;
drop policy if exists "Platform administrators can read every profile" on public.profiles;
create policy "Users can read their own profile, platform admins any" on public.profiles
  for select to authenticated
  using ((select public.is_platform_admin()) or user_id = (select auth.uid()));
drop policy if exists "Users can update their own profile" on public.profiles;
drop policy if exists "Platform administrators can update every profile" on public.profiles;
create policy "Users can update their own profile, platform admins any" on public.profiles
  for update to authenticated
  using ((select public.is_platform_admin()) or user_id = (select auth.uid()))
  with check ((select public.is_platform_admin()) or user_id = (select auth.uid()));

-- ═══ Chatwoot mirror and provisioning ════════════════════════════════════════════════════════
-- Read-only for API roles: ingestion, reconciliation and the provisioner write them.
drop policy if exists "Store members can read their store's Chatwoot account" on public.chatwoot_accounts;
drop policy if exists "Platform administrators can read every Chatwoot account" on public.chatwoot_accounts;
create policy "Store members and platform admins can read Chatwoot accounts" on public.chatwoot_accounts
  for select to authenticated
  using ((select public.is_platform_admin()) or store_id in (select public.authorized_store_ids('viewer')));
drop policy if exists "Store members can read their store's contacts" on public.chatwoot_contacts;
drop policy if exists "Platform administrators can read every contact" on public.chatwoot_contacts;
create policy "Store members and platform admins can read contacts" on public.chatwoot_contacts
  for select to authenticated
  using ((select public.is_platform_admin()) or store_id in (select public.authorized_store_ids('viewer')));
drop policy if exists "Store members can read their store's conversations" on public.chatwoot_conversations;
drop policy if exists "Platform administrators can read every conversation" on public.chatwoot_conversations;
create policy "Store members and platform admins can read conversations" on public.chatwoot_conversations
  for select to authenticated
  using ((select public.is_platform_admin()) or store_id in (select public.authorized_store_ids('viewer')));
drop policy if exists "Store members can read their store's messages" on public.chatwoot_messages;
drop policy if exists "Platform administrators can read every message" on public.chatwoot_messages;
create policy "Store members and platform admins can read messages" on public.chatwoot_messages
  for select to authenticated
  using ((select public.is_platform_admin()) or store_id in (select public.authorized_store_ids('viewer')));
drop policy if exists "Store members can read their store's attachments" on public.chatwoot_attachments;
drop policy if exists "Platform administrators can read every attachment" on public.chatwoot_attachments;
create policy "Store members and platform admins can read attachments" on public.chatwoot_attachments
  for select to authenticated
  using ((select public.is_platform_admin()) or store_id in (select public.authorized_store_ids('viewer')));
drop policy if exists "Store members can read their store's sync cursor" on public.chatwoot_sync_cursors;
drop policy if exists "Platform administrators can read every sync cursor" on public.chatwoot_sync_cursors;
create policy "Store members and platform admins can read sync cursors" on public.chatwoot_sync_cursors
  for select to authenticated
  using ((select public.is_platform_admin()) or store_id in (select public.authorized_store_ids('viewer')));
drop policy if exists "Store members can read their store's Chatwoot provisioning" on public.chatwoot_provisioning;
drop policy if exists "Platform administrators can read every Chatwoot provisioning" on public.chatwoot_provisioning;
create policy "Store members and platform admins can read provisioning" on public.chatwoot_provisioning
  for select to authenticated
  using ((select public.is_platform_admin()) or store_id in (select public.authorized_store_ids('viewer')));

-- ═══ archive ═════════════════════════════════════════════════════════════════════════════════
-- Read-only for API roles: archive jobs write, archive-admin maps and audits.
drop policy if exists "Users can read their own archive bucket" on public.archive_buckets;
drop policy if exists "Platform administrators can read every archive bucket" on public.archive_buckets;
create policy "Users can read their own archive bucket, platform admins any" on public.archive_buckets
  for select to authenticated
  using ((select public.is_platform_admin()) or owner_user_id = (select auth.uid()));
drop policy if exists "Store members can read their store's archive contacts" on public.archive_contacts;
drop policy if exists "Platform administrators can read every archive contact" on public.archive_contacts;
create policy "Store members and platform admins can read archive contacts" on public.archive_contacts
  for select to authenticated
  using ((select public.is_platform_admin()) or store_id in (select public.authorized_store_ids('viewer')));
drop policy if exists "Store members can read their store's archived messages" on public.archived_messages;
drop policy if exists "Platform administrators can read every archived message" on public.archived_messages;
create policy "Store members and platform admins can read archived messages" on public.archived_messages
  for select to authenticated
  using ((select public.is_platform_admin()) or store_id in (select public.authorized_store_ids('viewer')));
drop policy if exists "Store members can read their store's archived media" on public.archived_media;
drop policy if exists "Platform administrators can read every archived media" on public.archived_media;
create policy "Store members and platform admins can read archived media" on public.archived_media
  for select to authenticated
  using ((select public.is_platform_admin()) or store_id in (select public.authorized_store_ids('viewer')));

-- ═══ customers and contact sync ══════════════════════════════════════════════════════════════
-- Reads merged; the store admins' write policies stood alone. Links and conflicts are written by
-- the sync only, settings rows are never deleted through the API.
drop policy if exists "Store members can read their store's customer settings" on public.customer_settings;
drop policy if exists "Platform administrators can read every customer setting" on public.customer_settings;
create policy "Store members and platform admins can read customer settings" on public.customer_settings
  for select to authenticated
  using ((select public.is_platform_admin()) or store_id in (select public.authorized_store_ids('viewer')));
drop policy if exists "Store members can read their store's tiers" on public.customer_tiers;
drop policy if exists "Platform administrators can read every tier" on public.customer_tiers;
create policy "Store members and platform admins can read tiers" on public.customer_tiers
  for select to authenticated
  using ((select public.is_platform_admin()) or store_id in (select public.authorized_store_ids('viewer')));
drop policy if exists "Store members can read their store's customers" on public.customers;
drop policy if exists "Platform administrators can read every customer" on public.customers;
create policy "Store members and platform admins can read customers" on public.customers
  for select to authenticated
  using ((select public.is_platform_admin()) or store_id in (select public.authorized_store_ids('viewer')));
drop policy if exists "Store members can read their store's orders" on public.orders;
drop policy if exists "Platform administrators can read every order" on public.orders;
create policy "Store members and platform admins can read orders" on public.orders
  for select to authenticated
  using ((select public.is_platform_admin()) or store_id in (select public.authorized_store_ids('viewer')));
drop policy if exists "Store members can read their store's contact sync settings" on public.contact_sync_settings;
drop policy if exists "Platform administrators can read every contact sync setting" on public.contact_sync_settings;
create policy "Store members and platform admins can read sync settings" on public.contact_sync_settings
  for select to authenticated
  using ((select public.is_platform_admin()) or store_id in (select public.authorized_store_ids('viewer')));
drop policy if exists "Store members can read their store's contact links" on public.customer_contact_links;
drop policy if exists "Platform administrators can read every contact link" on public.customer_contact_links;
create policy "Store members and platform admins can read contact links" on public.customer_contact_links
  for select to authenticated
  using ((select public.is_platform_admin()) or store_id in (select public.authorized_store_ids('viewer')));
drop policy if exists "Store members can read their store's contact sync conflicts" on public.contact_sync_conflicts;
drop policy if exists "Platform administrators can read every contact sync conflict" on public.contact_sync_conflicts;
create policy "Store members and platform admins can read sync conflicts" on public.contact_sync_conflicts
  for select to authenticated
  using ((select public.is_platform_admin()) or store_id in (select public.authorized_store_ids('viewer')));

-- ═══ knowledge base ══════════════════════════════════════════════════════════════════════════
-- Members read; store admins and platform administrators write settings and documents (document
-- updates are limited to title, question and answer by column grants). Chunks stay read-only:
-- ingestion, the embed jobs and the FAQ trigger write them.
drop policy if exists "Store members can read their store's knowledge settings" on public.kb_settings;
drop policy if exists "Platform administrators can read all knowledge settings" on public.kb_settings;
create policy "Store members and platform admins can read knowledge settings" on public.kb_settings
  for select to authenticated
  using ((select public.is_platform_admin()) or store_id in (select public.authorized_store_ids('viewer')));
drop policy if exists "Store admins can create their store's knowledge settings" on public.kb_settings;
drop policy if exists "Platform administrators can create knowledge settings" on public.kb_settings;
create policy "Store admins and platform admins can create knowledge settings" on public.kb_settings
  for insert to authenticated
  with check ((select public.is_platform_admin()) or store_id in (select public.authorized_store_ids('admin')));
drop policy if exists "Store admins can change their store's knowledge settings" on public.kb_settings;
drop policy if exists "Platform administrators can change knowledge settings" on public.kb_settings;
create policy "Store admins and platform admins can change knowledge settings" on public.kb_settings
  for update to authenticated
  using ((select public.is_platform_admin()) or store_id in (select public.authorized_store_ids('admin')))
  with check ((select public.is_platform_admin()) or store_id in (select public.authorized_store_ids('admin')));
drop policy if exists "Store admins can reset their store's knowledge settings" on public.kb_settings;
drop policy if exists "Platform administrators can reset knowledge settings" on public.kb_settings;
create policy "Store admins and platform admins can reset knowledge settings" on public.kb_settings
  for delete to authenticated
  using ((select public.is_platform_admin()) or store_id in (select public.authorized_store_ids('admin')));
drop policy if exists "Store members can read their store's knowledge documents" on public.kb_documents;
drop policy if exists "Platform administrators can read every knowledge document" on public.kb_documents;
create policy "Store members and platform admins can read knowledge documents" on public.kb_documents
  for select to authenticated
  using ((select public.is_platform_admin()) or store_id in (select public.authorized_store_ids('viewer')));
drop policy if exists "Store admins can add knowledge documents to their store" on public.kb_documents;
drop policy if exists "Platform administrators can add knowledge documents" on public.kb_documents;
create policy "Store admins and platform admins can add knowledge documents" on public.kb_documents
  for insert to authenticated
  with check ((select public.is_platform_admin()) or store_id in (select public.authorized_store_ids('admin')));
drop policy if exists "Store admins can edit their store's knowledge documents" on public.kb_documents;
drop policy if exists "Platform administrators can edit every knowledge document" on public.kb_documents;
create policy "Store admins and platform admins can edit knowledge documents" on public.kb_documents
  for update to authenticated
  using ((select public.is_platform_admin()) or store_id in (select public.authorized_store_ids('admin')))
  with check ((select public.is_platform_admin()) or store_id in (select public.authorized_store_ids('admin')));
drop policy if exists "Store admins can delete their store's knowledge documents" on public.kb_documents;
drop policy if exists "Platform administrators can delete every knowledge document" on public.kb_documents;
create policy "Store admins and platform admins can delete knowledge documents" on public.kb_documents
  for delete to authenticated
  using ((select public.is_platform_admin()) or store_id in (select public.authorized_store_ids('admin')));
drop policy if exists "Store members can read their store's knowledge chunks" on public.kb_chunks;
drop policy if exists "Platform administrators can read every knowledge chunk" on public.kb_chunks;
create policy "Store members and platform admins can read knowledge chunks" on public.kb_chunks
  for select to authenticated
  using ((select public.is_platform_admin()) or store_id in (select public.authorized_store_ids('viewer')));

-- ═══ AI replies ══════════════════════════════════════════════════════════════════════════════
-- Reads merged; store admins tune the bot alone (column grants), only the bot's jobs write
-- conversations, decisions and usage.
drop policy if exists "Store members can read their store's AI settings" on public.ai_bot_settings;
drop policy if exists "Platform administrators can read every AI setting" on public.ai_bot_settings;
create policy "Store members and platform admins can read AI settings" on public.ai_bot_settings
  for select to authenticated
  using ((select public.is_platform_admin()) or store_id in (select public.authorized_store_ids('viewer')));
drop policy if exists "Store members can read their store's AI conversations" on public.ai_conversations;
drop policy if exists "Platform administrators can read every AI conversation" on public.ai_conversations;
create policy "Store members and platform admins can read AI conversations" on public.ai_conversations
  for select to authenticated
  using ((select public.is_platform_admin()) or store_id in (select public.authorized_store_ids('viewer')));
drop policy if exists "Store members can read their store's AI decisions" on public.ai_decisions;
drop policy if exists "Platform administrators can read every AI decision" on public.ai_decisions;
create policy "Store members and platform admins can read AI decisions" on public.ai_decisions
  for select to authenticated
  using ((select public.is_platform_admin()) or store_id in (select public.authorized_store_ids('viewer')));
drop policy if exists "Store members can read their store's AI usage" on public.ai_usage_daily;
drop policy if exists "Platform administrators can read every store's AI usage" on public.ai_usage_daily;
create policy "Store members and platform admins can read AI usage" on public.ai_usage_daily
  for select to authenticated
  using ((select public.is_platform_admin()) or store_id in (select public.authorized_store_ids('viewer')));

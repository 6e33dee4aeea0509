-- An index behind every foreign key the Performance Advisor found without one
-- (unindexed_foreign_keys): deleting a referenced row (a message, an account, a document, a user,
-- a customer) then finds the referencing rows by index instead of scanning their table. The
-- advisor wants an index on exactly the key's columns, in the key's order.

-- ═══ indexes ═════════════════════════════════════════════════════════════════════════════════
-- A message's archived media, found when the archived message is deleted or re-archived.
create index archived_media_message_idx on public.archived_media (account_ref, message_id);

-- A Chatwoot account's sync conflicts, removed with the account.
create index contact_sync_conflicts_account_ref_idx on public.contact_sync_conflicts (account_ref);

-- A document's chunks, by the key that keeps each chunk in its document's store. The key is
-- restated document first: an index led by store_id would compete with kb_chunks_store_model_idx
-- for kb_search's vector leg (and on a small store win, losing the model as an index condition);
-- led by document_id it serves the cascade only. It replaces kb_chunks_document_idx, an exact
-- copy of the index behind kb_chunks_document_ordinal_unique.
alter table public.kb_chunks drop constraint kb_chunks_document_fk,
  add constraint kb_chunks_document_fk foreign key (document_id, store_id)
    references public.kb_documents (id, store_id) on delete cascade;
create index kb_chunks_document_store_idx on public.kb_chunks (document_id, store_id);
drop index public.kb_chunks_document_idx;

-- Documents a user added, set to null when the user is deleted.
create index kb_documents_created_by_idx on public.kb_documents (created_by) where created_by is not null;

-- A customer's orders by the (customer_id, store_id) key; it serves lookups by customer_id alone
-- too (the aggregate refresh), so the single-column index goes.
create index orders_customer_store_idx on public.orders (customer_id, store_id);
drop index public.orders_customer_idx;

-- An index behind every foreign key the Performance Advisor found without one
-- (unindexed_foreign_keys): deleting a referenced row (a message, an account, a document, a user,
-- a customer) then finds the referencing rows by index instead of scanning their table. The
-- advisor wants an index on exactly the key's columns, in the key's order.

-- ═══ indexes ═════════════════════════════════════════════════════════════════════════════════
-- A message's archived media, found when the archived message is deleted or re-archived.
create index archived_media_message_idx on public.archived_media (account_ref, message_id);

-- A Chatwoot account's sync conflicts, removed with the account.
create index contact_sync_conflicts_account_ref_idx on public.contact_sync_conflicts (account_ref);

-- A document's chunks by the (store_id, document_id) key that keeps them in its store. It replaces
-- kb_chunks_document_idx, an exact copy of the index behind kb_chunks_document_ordinal_unique.
create index kb_chunks_store_document_idx on public.kb_chunks (store_id, document_id);
drop index public.kb_chunks_document_idx;

-- Documents a user added, set to null when the user is deleted.
create index kb_documents_created_by_idx on public.kb_documents (created_by) where created_by is not null;

-- A customer's orders by the (customer_id, store_id) key; it serves lookups by customer_id alone
-- too (the aggregate refresh), so the single-column index goes.
create index orders_customer_store_idx on public.orders (customer_id, store_id);
drop index public.orders_customer_idx;

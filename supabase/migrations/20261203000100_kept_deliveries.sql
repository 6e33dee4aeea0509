-- Kept deliveries: Chatwoot sends an account webhook once and never again, and a bot delivery
-- answered with anything but 2xx/429/500 opens its conversation, so an authenticated delivery is
-- never refused for its size or shape. What cannot be applied is kept in the ledger for replay
-- (`switchboard webhooks replay`): a body that is not JSON as its raw bytes, a genuine body too
-- large to keep as a record of its arrival, and the time a kept delivery was replayed.

-- ═══ tables ══════════════════════════════════════════════════════════════════════════════════
alter table private.chatwoot_deliveries
  add column raw_body bytea,
  add column replayed_at timestamptz,
  drop constraint chatwoot_deliveries_outcome_values,
  add constraint chatwoot_deliveries_outcome_values
    check (outcome in ('applied', 'stale', 'noise', 'unknown_event', 'rejected', 'ignored', 'too_large'));

comment on column private.chatwoot_deliveries.raw_body is
  'The exact bytes of an authenticated body that was not readable JSON (outcome rejected), kept for replay.';
comment on column private.chatwoot_deliveries.replayed_at is
  'When `switchboard webhooks replay` last ran this kept delivery again.';

-- ═══ indexes ═════════════════════════════════════════════════════════════════════════════════
-- Listing and replaying what was kept, per account, oldest first; the rest of the ledger is large.
create index chatwoot_deliveries_kept_idx on private.chatwoot_deliveries (account_ref, received_at)
  where outcome in ('rejected', 'unknown_event', 'too_large');

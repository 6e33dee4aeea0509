-- Pending jobs by conversation: a job kind that must run in message order per conversation
-- (ai.reply) asks, before it starts, whether a job about an earlier message of the same
-- conversation is still queued or running (earlierJobInConversation in _shared/jobs/queue.ts).
-- Without an index that question reads every pending job of every kind (the queued and running
-- partial indexes hold all of them); with it, only the conversation's own pending jobs.

-- ═══ indexes ═════════════════════════════════════════════════════════════════════════════════
-- Text keys, no casts: an index expression that could fail would fail the enqueue with it. Only
-- jobs whose payload names a conversation get an entry, so no other kind pays for it.
create index jobs_pending_by_conversation_idx on private.jobs
  (kind, (payload ->> 'account_ref'), (payload ->> 'conversation_display_id'))
  where status in ('queued', 'running') and payload ? 'conversation_display_id';

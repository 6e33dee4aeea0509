-- Waiting without failing: a job that finds its work cannot start yet for a reason that is not its
-- fault (Chatwoot's fixed rate-limit window still open, the project's bucket-creation slot still
-- minutes away) goes back to the queue for a known delay with the attempt its claim counted given
-- back. Retries are for failures; a wait that used them up would dead-letter healthy work during a
-- burst. `deferrals` counts the waits so a job that only ever waits is visible.

-- ═══ tables ══════════════════════════════════════════════════════════════════════════════════
alter table private.jobs add column deferrals integer not null default 0;

-- ═══ functions ═══════════════════════════════════════════════════════════════════════════════

-- Re-queued to run after p_delay, attempt given back, the reason kept as last_error. Only a job
-- still held under the lease is touched; returns false when the lease was lost.
create function private.defer_job(p_id bigint, p_lease uuid, p_reason text, p_delay interval)
returns boolean
language sql
set search_path = ''
as $$
  with deferred as (
    update private.jobs j
       set status = 'queued', attempts = greatest(j.attempts - 1, 0), deferrals = j.deferrals + 1,
           run_at = now() + greatest(p_delay, interval '0'), last_error = left(p_reason, 4000),
           updated_at = now(), locked_by = null, locked_until = null, lease = null
     where j.id = p_id and j.lease = p_lease and j.status = 'running'
    returning 1
  )
  select exists (select 1 from deferred)
$$;

-- ═══ grants ══════════════════════════════════════════════════════════════════════════════════
revoke execute on function private.defer_job(bigint, uuid, text, interval) from public, anon, authenticated;
grant execute on function private.defer_job(bigint, uuid, text, interval) to service_role;

-- Handing claimed jobs back untouched: a worker run that has spent its CPU budget (hosted ends a
-- request at 2 s of CPU) releases the jobs it claimed but did not start, so they wait for the next
-- run without being charged an attempt or a backoff, and without waiting out their lease.

-- ═══ functions ═══════════════════════════════════════════════════════════════════════════════

-- Back to queued, ready now, with the attempt the claim counted given back. Only jobs still held
-- under the given lease are touched; returns how many were released.
create function private.release_jobs(p_ids bigint[], p_leases uuid[])
returns integer
language sql
set search_path = ''
as $$
  with released as (
    update private.jobs j
       set status = 'queued', attempts = greatest(j.attempts - 1, 0), run_at = now(), updated_at = now(),
           locked_by = null, locked_until = null, lease = null
      from unnest(p_ids, p_leases) as r(id, lease)
     where j.id = r.id and j.lease = r.lease and j.status = 'running'
    returning 1
  )
  select count(*)::integer from released
$$;

-- ═══ grants ══════════════════════════════════════════════════════════════════════════════════
revoke execute on function private.release_jobs(bigint[], uuid[]) from public, anon, authenticated;
grant execute on function private.release_jobs(bigint[], uuid[]) to service_role;

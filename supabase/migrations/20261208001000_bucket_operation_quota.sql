-- GCS allows a project about one bucket create or delete every two seconds
-- (https://cloud.google.com/storage/quotas#buckets), and every worker of this project shares that
-- budget. A burst of new users (one bucket each) or a bulk mapping would otherwise send dozens of
-- creates at once, collect 429s and spend the jobs' attempts on waiting. Here each bucket waiting to
-- be created (or deleted) gets its own slot, one per interval, handed out under the project's row
-- lock so concurrent workers never share one; a job whose slot is still ahead waits (deferred, its
-- attempt given back) instead of calling GCS.

-- ═══ tables ══════════════════════════════════════════════════════════════════════════════════
create table private.gcs_bucket_quota (
  project text primary key,
  -- The first slot not yet handed out.
  next_slot_at timestamptz not null,
  -- When a worker last went ahead with a create or delete: the next call waits one interval after it.
  last_call_at timestamptz not null
);
comment on table private.gcs_bucket_quota is
  'Per GCS project: the bucket create/delete slots handed out and the last call made (one per interval).';

create table private.gcs_bucket_operations (
  bucket text not null,
  operation text not null check (operation in ('create', 'delete')),
  project text not null references private.gcs_bucket_quota (project),
  -- The slot this bucket's call was given; jobs needing the bucket wait until then.
  slot_at timestamptz not null,
  -- Set while one worker is calling GCS for it; the others wait for its outcome.
  started_at timestamptz,
  calls integer not null default 0,
  -- 429s GCS answered anyway (each moves the bucket to a later slot).
  throttled integer not null default 0,
  last_error text,
  created_at timestamptz not null default now(),
  primary key (bucket, operation)
);
comment on table private.gcs_bucket_operations is
  'Bucket creates and deletes waiting for, or holding, their slot in the project''s GCS quota.';

create index gcs_bucket_operations_project_idx on private.gcs_bucket_operations (project);

-- ═══ functions ═══════════════════════════════════════════════════════════════════════════════

-- Milliseconds, rounded up, as the callers defer jobs by them.
create function private.interval_ms(p interval)
returns integer
language sql
immutable
set search_path = ''
as $$ select greatest(0, ceil(extract(epoch from p) * 1000))::integer $$;

-- May this worker call GCS to create (or delete) p_bucket now? The first caller for a bucket is given
-- the project's next free slot (one per p_interval, in the order asked); a caller whose slot is still
-- ahead, or whose project made a call less than p_interval ago, is told how long to wait; a caller
-- finding another worker in the middle of the call waits one interval for its outcome (or takes over
-- once that call is older than p_stale_after: its worker died). `go` is true for exactly one caller
-- at a time, and calls for one project are at least p_interval apart, whatever the concurrency: the
-- project's row lock orders them.
create function private.claim_bucket_operation(
  p_project text,
  p_bucket text,
  p_operation text,
  p_interval interval,
  p_stale_after interval
)
returns table (go boolean, wait_ms integer, slot_at timestamptz)
language plpgsql
set search_path = ''
as $$
declare
  v_quota private.gcs_bucket_quota;
  v_op private.gcs_bucket_operations;
  v_now timestamptz;
  v_slot timestamptz;
begin
  insert into private.gcs_bucket_quota (project, next_slot_at, last_call_at)
  values (p_project, '-infinity', '-infinity')
  on conflict (project) do nothing;
  select * into v_quota from private.gcs_bucket_quota q where q.project = p_project for update;
  v_now := clock_timestamp(); -- after the lock: the time the decision is made
  select * into v_op from private.gcs_bucket_operations o
   where o.bucket = p_bucket and o.operation = p_operation for update;

  if v_op.bucket is not null and v_op.started_at is not null and v_op.started_at >= v_now - p_stale_after then
    return query select false, private.interval_ms(p_interval), v_op.slot_at;
    return;
  end if;
  if v_op.bucket is null or v_op.started_at is not null then
    v_slot := greatest(v_quota.next_slot_at, v_now);
    update private.gcs_bucket_quota q set next_slot_at = v_slot + p_interval where q.project = p_project;
    v_quota.next_slot_at := v_slot + p_interval;
    insert into private.gcs_bucket_operations as o (bucket, operation, project, slot_at)
    values (p_bucket, p_operation, p_project, v_slot)
    on conflict (bucket, operation) do update set slot_at = excluded.slot_at, started_at = null
    returning * into v_op;
  end if;

  if v_op.slot_at > v_now then
    return query select false, private.interval_ms(v_op.slot_at - v_now), v_op.slot_at;
    return;
  end if;
  if v_quota.last_call_at + p_interval > v_now then
    return query select false, private.interval_ms(v_quota.last_call_at + p_interval - v_now), v_op.slot_at;
    return;
  end if;
  update private.gcs_bucket_quota q
     set last_call_at = v_now, next_slot_at = greatest(q.next_slot_at, v_now + p_interval)
   where q.project = p_project;
  update private.gcs_bucket_operations o set started_at = v_now, calls = o.calls + 1
   where o.bucket = p_bucket and o.operation = p_operation;
  return query select true, 0, v_op.slot_at;
end
$$;

-- The call is done (the bucket exists, or is gone): its slot is spent and nobody waits for it.
create function private.finish_bucket_operation(p_bucket text, p_operation text)
returns void
language sql
set search_path = ''
as $$
  delete from private.gcs_bucket_operations o where o.bucket = p_bucket and o.operation = p_operation
$$;

-- The call failed. After a 429 (p_throttled) GCS has less room than the slots assumed: the project
-- waits one interval from now and the bucket goes to the next free slot, whose wait is returned.
-- After any other failure the call may simply be made again (the job's own retry decides when): 0.
create function private.release_bucket_operation(
  p_project text,
  p_bucket text,
  p_operation text,
  p_interval interval,
  p_throttled boolean,
  p_error text
)
returns integer
language plpgsql
set search_path = ''
as $$
declare
  v_now timestamptz;
  v_slot timestamptz;
begin
  perform 1 from private.gcs_bucket_quota q where q.project = p_project for update;
  v_now := clock_timestamp();
  if not p_throttled then
    update private.gcs_bucket_operations o set started_at = null, last_error = left(p_error, 2000)
     where o.bucket = p_bucket and o.operation = p_operation;
    return 0;
  end if;
  update private.gcs_bucket_quota q
     set last_call_at = greatest(q.last_call_at, v_now),
         next_slot_at = greatest(q.next_slot_at, v_now + p_interval) + p_interval
   where q.project = p_project
  returning q.next_slot_at - p_interval into v_slot;
  update private.gcs_bucket_operations o
     set started_at = null, slot_at = v_slot, throttled = o.throttled + 1, last_error = left(p_error, 2000)
   where o.bucket = p_bucket and o.operation = p_operation;
  return private.interval_ms(v_slot - v_now);
end
$$;

-- ═══ grants ══════════════════════════════════════════════════════════════════════════════════
revoke all on private.gcs_bucket_quota, private.gcs_bucket_operations from public, anon, authenticated;
grant all on private.gcs_bucket_quota, private.gcs_bucket_operations to service_role;
revoke execute on function private.interval_ms(interval) from public, anon, authenticated;
revoke execute on function private.claim_bucket_operation(text, text, text, interval, interval)
  from public, anon, authenticated;
revoke execute on function private.finish_bucket_operation(text, text) from public, anon, authenticated;
revoke execute on function private.release_bucket_operation(text, text, text, interval, boolean, text)
  from public, anon, authenticated;
grant execute on function private.interval_ms(interval) to service_role;
grant execute on function private.claim_bucket_operation(text, text, text, interval, interval) to service_role;
grant execute on function private.finish_bucket_operation(text, text) to service_role;
grant execute on function private.release_bucket_operation(text, text, text, interval, boolean, text)
  to service_role;

-- The outbox job queue: work recorded in the same transaction as the change that caused it,
-- claimed by workers with `for update skip locked` under a visibility timeout, retried with
-- capped exponential backoff and jitter, dead-lettered after max_attempts, replayable.
-- Lives in the private schema: API roles can neither read nor call any of it.

-- ═══ schema ══════════════════════════════════════════════════════════════════════════════════
create schema if not exists private;
revoke all on schema private from public;
revoke all on schema private from anon, authenticated;
comment on schema private is 'Switchboard internals (queue, secrets, ledgers). Never exposed to API roles.';

-- ═══ types ═══════════════════════════════════════════════════════════════════════════════════
create type private.job_status as enum ('queued', 'running', 'completed', 'dead');

-- ═══ tables ══════════════════════════════════════════════════════════════════════════════════
create table private.jobs (
  id bigint generated always as identity primary key,
  kind text not null constraint jobs_kind_format check (kind ~ '^[a-z][a-z0-9_]*(\.[a-z0-9_-]+)*$'),
  payload jsonb not null default '{}'::jsonb,
  -- Unique over the job's whole life: enqueuing the same key again returns the first job.
  idempotency_key text not null constraint jobs_idempotency_key_unique unique
    constraint jobs_idempotency_key_length check (char_length(idempotency_key) between 1 and 500),
  store_id uuid references public.stores (id) on delete set null,
  status private.job_status not null default 'queued',
  run_at timestamptz not null default now(),
  attempts integer not null default 0,
  max_attempts integer not null default 8 constraint jobs_max_attempts_positive check (max_attempts > 0),
  locked_by text,
  locked_until timestamptz,
  lease uuid,
  last_error text,
  replays integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  completed_at timestamptz,
  dead_at timestamptz
);
comment on table private.jobs is 'Outbox queue. Handlers must be idempotent: a job may run more than once.';

-- One row per worker identity: when it last drained the queue, for the health endpoint.
create table private.worker_heartbeats (
  worker text primary key,
  last_run_at timestamptz not null default now(),
  last_claimed integer not null default 0,
  last_error text
);

-- ═══ indexes ═════════════════════════════════════════════════════════════════════════════════
-- Claiming reads the head of these two partial indexes only, however many jobs completed.
create index jobs_queued_run_at_idx on private.jobs (run_at, id) where status = 'queued';
create index jobs_running_locked_until_idx on private.jobs (locked_until) where status = 'running';
create index jobs_dead_idx on private.jobs (dead_at desc) where status = 'dead';
create index jobs_store_id_idx on private.jobs (store_id) where store_id is not null;

-- ═══ functions ═══════════════════════════════════════════════════════════════════════════════

-- Records work inside the caller's transaction. A repeated idempotency key returns the
-- existing job's id and changes nothing, so triggers and webhook retries can enqueue freely.
create function private.enqueue_job(
  p_kind text,
  p_payload jsonb,
  p_idempotency_key text,
  p_store_id uuid default null,
  p_run_at timestamptz default now(),
  p_max_attempts integer default 8
) returns bigint
language plpgsql
set search_path = ''
as $$
declare
  job_id bigint;
begin
  insert into private.jobs (kind, payload, idempotency_key, store_id, run_at, max_attempts)
  values (p_kind, coalesce(p_payload, '{}'::jsonb), p_idempotency_key, p_store_id, coalesce(p_run_at, now()), p_max_attempts)
  on conflict (idempotency_key) do nothing
  returning id into job_id;
  if job_id is null then
    select j.id into job_id from private.jobs j where j.idempotency_key = p_idempotency_key;
  end if;
  return job_id;
end
$$;

-- Claims up to p_limit ready jobs for one worker. A running job whose visibility timeout has
-- passed is claimable again (its worker died); if it has used all its attempts that way it
-- is dead-lettered instead, so a job that crashes its worker cannot loop forever.
create function private.claim_jobs(
  p_worker text,
  p_limit integer default 10,
  p_visibility interval default interval '60 seconds',
  p_kinds text[] default null
) returns setof private.jobs
language plpgsql
set search_path = ''
as $$
begin
  update private.jobs j
     set status = 'dead', dead_at = now(), updated_at = now(), locked_by = null, locked_until = null, lease = null,
         last_error = coalesce(j.last_error || E'\n', '') || format('worker %s stopped responding on the last attempt (visibility timeout)', j.locked_by)
   where j.status = 'running' and j.locked_until < now() and j.attempts >= j.max_attempts
     and (p_kinds is null or j.kind = any (p_kinds));

  -- Each candidate set takes its row locks in the same scan that applies the limit, so
  -- concurrent workers skip past each other's rows instead of all picking the same head and
  -- coming back empty.
  return query
  with expired as (
    select r.id from private.jobs r
    where r.status = 'running' and r.locked_until < now() and (p_kinds is null or r.kind = any (p_kinds))
    order by r.locked_until
    limit p_limit
    for update skip locked
  ), queued as (
    select q.id from private.jobs q
    where q.status = 'queued' and q.run_at <= now() and (p_kinds is null or q.kind = any (p_kinds))
    order by q.run_at, q.id
    limit p_limit
    for update skip locked
  ), picked as (
    select e.id from expired e
    union all
    select q.id from queued q
    limit p_limit
  )
  update private.jobs j
     set status = 'running', attempts = j.attempts + 1, locked_by = p_worker,
         locked_until = now() + p_visibility, lease = gen_random_uuid(), updated_at = now()
    from picked
   where j.id = picked.id
  returning j.*;
end
$$;

-- Marks claimed jobs done. The lease guards against a worker that lost its job to the
-- visibility timeout completing work another worker now owns; returns how many it completed.
create function private.complete_jobs(p_ids bigint[], p_leases uuid[])
returns integer
language sql
set search_path = ''
as $$
  with done as (
    update private.jobs j
       set status = 'completed', completed_at = now(), updated_at = now(),
           locked_by = null, locked_until = null, lease = null
      from unnest(p_ids, p_leases) as c(id, lease)
     where j.id = c.id and j.lease = c.lease and j.status = 'running'
    returning 1
  )
  select count(*)::integer from done
$$;

-- Records a failure. Before max_attempts the job is re-queued after
-- min(cap, base * 2^(attempts-1)) scaled by a random factor in [0.5, 1) ("equal jitter", so
-- a burst of failures does not retry in lockstep), or after p_retry_in when the handler knows
-- better (a Retry-After header). At max_attempts, or when p_permanent, it is dead-lettered.
-- Returns the job's new status, or null when the lease was lost.
create function private.fail_job(
  p_id bigint,
  p_lease uuid,
  p_error text,
  p_retry_in interval default null,
  p_permanent boolean default false,
  p_backoff_base interval default interval '5 seconds',
  p_backoff_cap interval default interval '1 hour'
) returns private.job_status
language plpgsql
set search_path = ''
as $$
declare
  job private.jobs;
  delay interval;
begin
  select * into job from private.jobs j where j.id = p_id and j.lease = p_lease and j.status = 'running' for update;
  if not found then
    return null;
  end if;
  if p_permanent or job.attempts >= job.max_attempts then
    update private.jobs j
       set status = 'dead', dead_at = now(), updated_at = now(), last_error = left(p_error, 4000),
           locked_by = null, locked_until = null, lease = null
     where j.id = p_id;
    return 'dead'::private.job_status;
  end if;
  delay := coalesce(
    p_retry_in,
    least(p_backoff_cap, p_backoff_base * power(2, job.attempts - 1)) * (0.5 + random() * 0.5)
  );
  update private.jobs j
     set status = 'queued', run_at = now() + delay, updated_at = now(), last_error = left(p_error, 4000),
         locked_by = null, locked_until = null, lease = null
   where j.id = p_id;
  return 'queued'::private.job_status;
end
$$;

-- Puts a dead (or completed) job back in the queue with a fresh set of attempts, keeping its
-- last error for the record. Returns false when there is no such job or it is still live.
create function private.replay_job(p_id bigint)
returns boolean
language plpgsql
set search_path = ''
as $$
begin
  update private.jobs j
     set status = 'queued', attempts = 0, run_at = now(), replays = j.replays + 1, updated_at = now(),
         dead_at = null, completed_at = null
   where j.id = p_id and j.status in ('dead', 'completed');
  if not found then
    return false;
  end if;
  perform pg_notify('switchboard_jobs', 'replay');
  return true;
end
$$;

-- Deletes completed jobs past their retention; run as a job kind of its own.
create function private.purge_completed_jobs(p_older_than interval default interval '7 days')
returns integer
language sql
set search_path = ''
as $$
  with gone as (
    delete from private.jobs j where j.status = 'completed' and j.completed_at < now() - p_older_than returning 1
  )
  select count(*)::integer from gone
$$;

-- Wakes local workers when the enqueuing transaction commits (NOTIFY is transactional, so a
-- rolled-back enqueue wakes nobody). At most one enqueuer per 100 ms notifies: NOTIFY takes a
-- global lock at commit that would serialise every enqueuer, and a worker woken a moment ago
-- is still draining (the driver re-runs it while it finds work and ticks for the rest).
-- `skip locked` means a concurrent enqueuer never waits on the one that is notifying.
create unlogged table private.job_wakeups (
  singleton boolean primary key default true constraint job_wakeups_singleton check (singleton),
  last_notified_at timestamptz not null default '-infinity'
);
insert into private.job_wakeups default values;

create function private.notify_jobs_enqueued()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  perform 1 from private.job_wakeups w
   where w.last_notified_at < clock_timestamp() - interval '100 milliseconds'
   for update skip locked;
  if found then
    update private.job_wakeups set last_notified_at = clock_timestamp();
    perform pg_notify('switchboard_jobs', 'enqueued');
  end if;
  return null;
end
$$;

create trigger jobs_notify_enqueued after insert on private.jobs
  for each row when (new.status = 'queued' and new.run_at <= now())
  execute function private.notify_jobs_enqueued();

-- ═══ production scheduling ═══════════════════════════════════════════════════════════════════
-- On a hosted project the worker function is driven by pg_cron + pg_net. Created only when both
-- extensions are installed (they are opt-in on Supabase; absent on the local stack). The URL
-- and service-role key come from Vault secrets so no credential lives in a migration.
do $do$
begin
  if exists (select 1 from pg_extension where extname = 'pg_cron')
     and exists (select 1 from pg_extension where extname = 'pg_net')
     and exists (select 1 from pg_namespace where nspname = 'vault') then
    execute $fn$
      create or replace function private.invoke_jobs_worker()
      returns bigint
      language sql
      security definer
      set search_path = ''
      as $body$
        select net.http_post(
          url := (select decrypted_secret from vault.decrypted_secrets where name = 'switchboard_functions_url') || '/jobs-worker',
          headers := jsonb_build_object(
            'Content-Type', 'application/json',
            'Authorization', 'Bearer ' || (select decrypted_secret from vault.decrypted_secrets where name = 'switchboard_service_role_key')
          ),
          body := '{}'::jsonb,
          timeout_milliseconds := 55000
        )
        where exists (select 1 from private.jobs where status = 'queued' and run_at <= now()
                      or status = 'running' and locked_until < now())
      $body$
    $fn$;
    perform cron.schedule('switchboard-jobs-worker', '5 seconds', 'select private.invoke_jobs_worker()');
  end if;
end
$do$;

-- ═══ grants ══════════════════════════════════════════════════════════════════════════════════
revoke all on all tables in schema private from public, anon, authenticated;
revoke execute on all functions in schema private from public, anon, authenticated;
grant usage on schema private to service_role;
grant all on all tables in schema private to service_role;
grant execute on all functions in schema private to service_role;

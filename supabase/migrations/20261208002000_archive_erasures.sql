-- Erasing a user's WhatsApp archive at any size: one row per erasure records where it is (the
-- step, a cursor or GCS page token, what was found and deleted, the job runs so far), so each run
-- of the `archive.erase_user` job deletes a bounded batch, checkpoints, and leaves the rest to a
-- continuation job instead of starting over. The rows outlive the erasure: they are its progress
-- for the CLI and the admin app, and say how many objects went, never what they held.

-- ═══ tables ══════════════════════════════════════════════════════════════════════════════════

create table public.archive_erasures (
  id uuid primary key default gen_random_uuid(),
  -- No foreign key: the record of an erasure outlives the account whose archive it erased.
  user_id uuid not null,
  -- Who asked (the audit log's actor: user:<id>, cli:<login>, contact-sync:erase:<customer>).
  requested_by text not null,
  -- queued → erasing (→ waiting while GCS throttles the bucket delete) → completed; failed when its
  -- job was dead-lettered (a new request, or replaying the job, resumes it from its checkpoint).
  status text not null default 'queued'
    constraint archive_erasures_status_values check (status in ('queued', 'erasing', 'waiting', 'completed', 'failed')),
  -- recorded_elsewhere: objects recorded for the user outside their bucket (cursor: the last "bucket/name" done);
  -- bucket_objects: everything left in the user's bucket, recorded or not (cursor: the listing's page token);
  -- bucket: the bucket itself; done.
  step text not null default 'recorded_elsewhere'
    constraint archive_erasures_step_values check (step in ('recorded_elsewhere', 'bucket_objects', 'bucket', 'done')),
  bucket text,
  cursor text,
  -- Objects recorded in Postgres when the erasure was requested; found counts every object met
  -- (recorded or not), deleted those this erasure deleted (an object already gone counts as found).
  objects_expected integer not null default 0 constraint archive_erasures_expected_not_negative check (objects_expected >= 0),
  objects_found integer not null default 0 constraint archive_erasures_found_not_negative check (objects_found >= 0),
  objects_deleted integer not null default 0 constraint archive_erasures_deleted_not_negative check (objects_deleted >= 0),
  -- The records forgotten at the end (what the audit entry says).
  messages integer,
  media integer,
  -- How long GCS keeps what was deleted (the bucket's soft delete retention when it was erased): 0 = gone at once.
  soft_delete_seconds integer,
  -- Job runs so far; the run at work holds the lease (a reclaimed job and its continuation never erase at once).
  runs integer not null default 0,
  lease uuid,
  leased_until timestamptz,
  last_error text,
  requested_at timestamptz not null default now(),
  started_at timestamptz,
  updated_at timestamptz not null default now(),
  finished_at timestamptz,
  constraint archive_erasures_completed_has_finished check ((status = 'completed') = (finished_at is not null))
);
comment on table public.archive_erasures is
  'Erasures of users'' WhatsApp archives and their progress (counts and checkpoints, never archived data).';

-- ═══ indexes ═════════════════════════════════════════════════════════════════════════════════
-- One erasure under way per user: asking again returns it (a failed one is resumed).
create unique index archive_erasures_one_open_per_user on public.archive_erasures (user_id) where status <> 'completed';
create index archive_erasures_requested_at_idx on public.archive_erasures (requested_at desc);

-- ═══ functions ═══════════════════════════════════════════════════════════════════════════════

-- Starts (or finds) the erasure of a user's archive and queues its first job in the caller's
-- transaction. Asking twice while one is under way returns that one; one whose job was
-- dead-lettered is queued again and resumes from its checkpoint, so nothing starts over. Called
-- by request_archive_erasure (administrators) and by the customer erasure job.
create function private.start_archive_erasure(p_user_id uuid, p_actor text)
returns uuid
language plpgsql
set search_path = ''
as $$
declare
  v_id uuid;
  v_status text;
  v_runs integer;
begin
  insert into public.archive_erasures (user_id, requested_by, bucket, objects_expected)
  values (p_user_id, p_actor,
          (select b.name from public.archive_buckets b where b.owner_user_id = p_user_id),
          (select count(*) from public.archived_messages m where m.user_id = p_user_id)
            + (select count(*) from public.archived_media x where x.user_id = p_user_id))
  on conflict (user_id) where status <> 'completed' do nothing
  returning id into v_id;
  if v_id is not null then
    perform private.enqueue_job('archive.erase_user',
      jsonb_build_object('erasure_id', v_id, 'user_id', p_user_id, 'actor', p_actor),
      format('archive.erase_user:%s:0', v_id));
    return v_id;
  end if;
  select e.id, e.status, e.runs into v_id, v_status, v_runs
    from public.archive_erasures e where e.user_id = p_user_id and e.status <> 'completed' for update;
  if v_status = 'failed' then
    update public.archive_erasures set status = 'queued', last_error = null, updated_at = now() where id = v_id;
    perform private.enqueue_job('archive.erase_user',
      jsonb_build_object('erasure_id', v_id, 'user_id', p_user_id, 'actor', p_actor),
      format('archive.erase_user:%s:%s:resumed:%s', v_id, v_runs, (extract(epoch from clock_timestamp()) * 1000)::bigint));
  end if;
  return v_id;
end
$$;
comment on function private.start_archive_erasure(uuid, text) is
  'Starts, or returns the one under way, the erasure of a user''s archive (queues its job).';

-- Platform administrators (and operators acting as the service role) erase archives. Returns the
-- erasure, whose row shows its progress; it used to return the job, which now runs in slices.
drop function public.request_archive_erasure(uuid);
create function public.request_archive_erasure(p_user_id uuid)
returns uuid
language plpgsql
security definer
set search_path = ''
as $$
begin
  if not (select public.is_platform_admin()) then
    raise exception 'only platform administrators erase archives' using errcode = 'insufficient_privilege';
  end if;
  perform private.audit('archive.erase_requested', format('user:%s', p_user_id));
  return private.start_archive_erasure(p_user_id, private.audit_actor());
end
$$;
comment on function public.request_archive_erasure(uuid) is
  'Erases a user''s WhatsApp archive in resumable batches (platform administrators); returns the erasure''s id.';

-- ═══ row-level security ══════════════════════════════════════════════════════════════════════
-- Platform administrators read erasures. Nobody writes them through the API: they are created by
-- request_archive_erasure and advanced by the erasure job, so insert, update and delete are absent.
alter table public.archive_erasures enable row level security;

create policy "Platform administrators can read archive erasures" on public.archive_erasures
  for select to authenticated using ((select public.is_platform_admin()));

-- ═══ grants ══════════════════════════════════════════════════════════════════════════════════
revoke all on public.archive_erasures from anon;
revoke insert, update, delete, truncate, references, trigger on public.archive_erasures from authenticated;
grant select on public.archive_erasures to authenticated;
grant all on public.archive_erasures to service_role;
revoke execute on function private.start_archive_erasure(uuid, text) from public, anon, authenticated;
grant execute on function private.start_archive_erasure(uuid, text) to service_role;
revoke execute on function public.request_archive_erasure(uuid) from public, anon;
grant execute on function public.request_archive_erasure(uuid) to authenticated, service_role;

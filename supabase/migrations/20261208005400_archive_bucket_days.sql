-- The archive's objects and bytes per bucket and day archived, kept by triggers on the archive
-- records, so the storage-class estimate (the Overview's storage panel and the gcs_monthly_cost
-- alert, evaluated every minute) reads a few rows per bucket instead of every archived object:
-- on 1,000,000 archived messages it scanned them all (bench:analytics measured it).

-- ═══ tables ══════════════════════════════════════════════════════════════════════════════════
-- A day is the grain GCS lifecycle ages are counted in, so classing by day loses nothing.
create table private.archive_bucket_days (
  bucket text not null,
  day date not null,
  objects bigint not null default 0,
  bytes numeric not null default 0,
  primary key (bucket, day)
);
comment on table private.archive_bucket_days is
  'Archived objects and bytes per bucket and UTC day archived (messages and media), kept by triggers.';

-- ═══ functions ═══════════════════════════════════════════════════════════════════════════════

-- Adds a statement's changed archive records to their bucket-days: once per statement (transition
-- tables), so an archive write costs one small upsert and a bulk erase one grouped update. Rows are
-- taken in key order, so two statements lock the same bucket-days in the same order. Security
-- definer: the archive's writers (the service role) and cascades from any owner reach it alike.
create function private.count_archive_bucket_days()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    insert into private.archive_bucket_days as d (bucket, day, objects, bytes)
    select n.bucket, (n.archived_at at time zone 'UTC')::date, count(*), sum(n.size)
      from new_rows n group by 1, 2 order by 1, 2
    on conflict (bucket, day) do update set objects = d.objects + excluded.objects, bytes = d.bytes + excluded.bytes;
  elsif tg_op = 'DELETE' then
    update private.archive_bucket_days d set objects = d.objects - o.objects, bytes = d.bytes - o.bytes
      from (select bucket, (archived_at at time zone 'UTC')::date as day, count(*) as objects, sum(size) as bytes
              from old_rows group by 1, 2) o
     where d.bucket = o.bucket and d.day = o.day;
  else
    -- A rewrite can move an object to another bucket or change its size: out with the old, in with the new.
    insert into private.archive_bucket_days as d (bucket, day, objects, bytes)
    select bucket, day, sum(objects), sum(bytes) from (
      select n.bucket, (n.archived_at at time zone 'UTC')::date as day, 1 as objects, n.size as bytes from new_rows n
      union all
      select o.bucket, (o.archived_at at time zone 'UTC')::date, -1, -o.size from old_rows o
    ) c group by 1, 2 having sum(objects) <> 0 or sum(bytes) <> 0 order by 1, 2
    on conflict (bucket, day) do update set objects = d.objects + excluded.objects, bytes = d.bytes + excluded.bytes;
  end if;
  return null;
end
$$;

-- As before (20261208004100_alerts.sql), from the bucket-days: archived objects and bytes by the
-- storage class GCS has moved them to by now, aged from the end of their day (an object is never
-- classed older than it is), first match from the oldest as before. Each bucket's lifecycle is read
-- once, its days summed by nested age band in one pass (plain comparisons, grouped by bucket), and
-- a class is its band minus the next older one.
create or replace function private.archive_storage_classes()
returns table (storage_class text, buckets bigint, objects bigint, bytes numeric)
language sql
stable
set search_path = ''
as $$
  with b as materialized (
    select b.name as bucket, b.storage_class,
           t.today - (b.lifecycle ->> 'archive')::integer as archive_through,
           -- Past any later age too (greatest ignores a missing one): the bands nest whatever the ages.
           greatest(t.today - (b.lifecycle ->> 'coldline')::integer, t.today - (b.lifecycle ->> 'archive')::integer)
             as coldline_or_older,
           greatest(t.today - (b.lifecycle ->> 'nearline')::integer, t.today - (b.lifecycle ->> 'coldline')::integer,
                    t.today - (b.lifecycle ->> 'archive')::integer) as nearline_or_older
    from public.archive_buckets b, (select (now() at time zone 'UTC')::date - 1 as today) t
  ), per_bucket as (
    select d.bucket, min(b.storage_class) as storage_class,
           sum(d.objects) filter (where d.day <= b.archive_through) as archive_objects,
           sum(d.bytes) filter (where d.day <= b.archive_through) as archive_bytes,
           sum(d.objects) filter (where d.day <= b.coldline_or_older) as coldline_objects,
           sum(d.bytes) filter (where d.day <= b.coldline_or_older) as coldline_bytes,
           sum(d.objects) filter (where d.day <= b.nearline_or_older) as nearline_objects,
           sum(d.bytes) filter (where d.day <= b.nearline_or_older) as nearline_bytes,
           sum(d.objects) as objects, sum(d.bytes) as bytes
    from private.archive_bucket_days d
    left join b on b.bucket = d.bucket
    where d.objects > 0
    group by d.bucket
  )
  select c.storage_class, count(distinct p.bucket), sum(c.objects)::bigint, sum(c.bytes)
  from per_bucket p
  cross join lateral (values
    ('ARCHIVE', coalesce(p.archive_objects, 0), coalesce(p.archive_bytes, 0)),
    ('COLDLINE', coalesce(p.coldline_objects, 0) - coalesce(p.archive_objects, 0),
                 coalesce(p.coldline_bytes, 0) - coalesce(p.archive_bytes, 0)),
    ('NEARLINE', coalesce(p.nearline_objects, 0) - coalesce(p.coldline_objects, 0),
                 coalesce(p.nearline_bytes, 0) - coalesce(p.coldline_bytes, 0)),
    (coalesce(p.storage_class, 'STANDARD'), p.objects - coalesce(p.nearline_objects, 0),
                                            p.bytes - coalesce(p.nearline_bytes, 0))
  ) as c(storage_class, objects, bytes)
  where c.objects > 0
  group by c.storage_class
$$;

-- ═══ triggers ════════════════════════════════════════════════════════════════════════════════
-- One per table and verb: a trigger with transition tables takes a single event.
create trigger archived_messages_count_insert after insert on public.archived_messages
  referencing new table as new_rows for each statement execute function private.count_archive_bucket_days();
create trigger archived_messages_count_update after update on public.archived_messages
  referencing old table as old_rows new table as new_rows for each statement execute function private.count_archive_bucket_days();
create trigger archived_messages_count_delete after delete on public.archived_messages
  referencing old table as old_rows for each statement execute function private.count_archive_bucket_days();
create trigger archived_media_count_insert after insert on public.archived_media
  referencing new table as new_rows for each statement execute function private.count_archive_bucket_days();
create trigger archived_media_count_update after update on public.archived_media
  referencing old table as old_rows new table as new_rows for each statement execute function private.count_archive_bucket_days();
create trigger archived_media_count_delete after delete on public.archived_media
  referencing old table as old_rows for each statement execute function private.count_archive_bucket_days();

-- What is archived already.
insert into private.archive_bucket_days (bucket, day, objects, bytes)
select bucket, (archived_at at time zone 'UTC')::date, count(*), sum(size)
from (select bucket, archived_at, size from public.archived_messages
      union all
      select bucket, archived_at, size from public.archived_media) o
group by 1, 2;

-- ═══ grants ══════════════════════════════════════════════════════════════════════════════════
-- The trigger function runs as its owner; nobody calls it. The table is service_role's by the
-- private schema's default privileges.
revoke execute on function private.count_archive_bucket_days() from public;

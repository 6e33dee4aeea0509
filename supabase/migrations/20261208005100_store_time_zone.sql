-- Each store's time zone, so figures by day and by hour (store analytics) are in the store's own
-- clock. Optional: a store without one is reported in UTC, and says so.

-- ═══ columns ═════════════════════════════════════════════════════════════════════════════════
alter table public.stores add column time_zone text;
comment on column public.stores.time_zone is
  'IANA time zone name (e.g. Europe/Lisbon) for the store''s analytics; null means UTC.';

-- ═══ functions ═══════════════════════════════════════════════════════════════════════════════

-- A CHECK constraint cannot look names up in pg_timezone_names (no subqueries), and a typo'd zone
-- would only fail later, inside every analytics query; so the name is tried once on write, where
-- Postgres's own error ("time zone … not recognized") tells the writer what is wrong.
create function private.check_store_time_zone()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.time_zone is not null then
    perform pg_catalog.timezone(new.time_zone, pg_catalog.now());
  end if;
  return new;
end
$$;

create trigger stores_check_time_zone before insert or update of time_zone on public.stores
  for each row execute function private.check_store_time_zone();

-- ═══ grants ══════════════════════════════════════════════════════════════════════════════════
revoke execute on function private.check_store_time_zone() from public, anon, authenticated;

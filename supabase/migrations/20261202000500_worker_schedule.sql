-- The worker's schedule on a hosted project: pg_cron calls the jobs-worker function every 5 seconds
-- through pg_net, authenticated with the project's secret key (`sb_secret_…`, in the apikey header)
-- read from Vault. Legacy service_role JWTs are being retired, and new projects' keys are not JWTs
-- (https://supabase.com/docs/guides/api/api-keys), so the jobs migration's version, which sent the
-- service_role key as a bearer, is replaced. Vault secrets: `switchboard_functions_url`
-- (https://<ref>.supabase.co/functions/v1) and `switchboard_secret_key`.
-- pg_cron, pg_net and Vault are opt-in on hosted and absent locally (where the stack's job driver
-- does this), so everything touching them is dynamic SQL, run only when they exist.

-- ═══ functions ═══════════════════════════════════════════════════════════════════════════════

-- (Re)creates private.invoke_jobs_worker() and its cron job. Safe to call again (after enabling the
-- extensions, or rotating the secret's name): the job is replaced, never duplicated. Returns what
-- it did, or raises naming what is missing, so an operator calling it by hand learns the next step.
create function private.schedule_jobs_worker()
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  missing text[] := array[]::text[];
  has_secret boolean;
begin
  if not exists (select 1 from pg_extension where extname = 'pg_cron') then missing := array_append(missing, 'pg_cron'); end if;
  if not exists (select 1 from pg_extension where extname = 'pg_net') then missing := array_append(missing, 'pg_net'); end if;
  if not exists (select 1 from pg_namespace where nspname = 'vault') then missing := array_append(missing, 'vault'); end if;
  if cardinality(missing) > 0 then
    raise exception 'cannot schedule the worker: enable % first (Dashboard → Database → Extensions)',
      array_to_string(missing, ', ') using errcode = 'feature_not_supported';
  end if;
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
          'apikey', (select decrypted_secret from vault.decrypted_secrets where name = 'switchboard_secret_key')
        ),
        body := '{}'::jsonb,
        timeout_milliseconds := 55000
      )
      where exists (select 1 from private.jobs where status = 'queued' and run_at <= now()
                    or status = 'running' and locked_until < now())
    $body$
  $fn$;
  execute 'revoke execute on function private.invoke_jobs_worker() from public, anon, authenticated';
  -- cron.schedule with a job name replaces that job. Schema names go through format() because
  -- neither schema exists where this migration is linted (plpgsql_check resolves constant SQL).
  execute format('select %I.schedule($1, $2, $3)', 'cron')
    using 'switchboard-jobs-worker', '5 seconds', 'select private.invoke_jobs_worker()';
  execute format('select exists (select 1 from %I.decrypted_secrets where name = $1)', 'vault')
    into has_secret using 'switchboard_secret_key';
  if not has_secret then
    return 'scheduled; store the Vault secret switchboard_secret_key (a sb_secret_… key) before it can run';
  end if;
  return 'scheduled: pg_cron calls jobs-worker every 5 seconds with the secret key from Vault';
end
$$;

-- ═══ schedule now, where the extensions already exist ════════════════════════════════════════
do $do$
begin
  if exists (select 1 from pg_extension where extname = 'pg_cron')
     and exists (select 1 from pg_extension where extname = 'pg_net')
     and exists (select 1 from pg_namespace where nspname = 'vault') then
    perform private.schedule_jobs_worker();
  end if;
end
$do$;

-- ═══ grants ══════════════════════════════════════════════════════════════════════════════════
revoke execute on function private.schedule_jobs_worker() from public, anon, authenticated;

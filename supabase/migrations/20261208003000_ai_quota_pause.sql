-- The deployment's AI paused because its OpenAI account ran out of quota (429 insufficient_quota): that error does not
-- clear on retry, so the first job that meets it records the pause here, every reply hands off to people while it
-- lasts, embedding jobs wait, and a probe job asks the API again now and then. An operator's resume (CLI, admin app)
-- or a successful probe ends it. One row at most: the key and endpoint are the deployment's (OPENAI_API_KEY).

-- ═══ tables ══════════════════════════════════════════════════════════════════════════════════

create table private.ai_pause (
  singleton boolean primary key default true constraint ai_pause_singleton check (singleton),
  -- The API's error code (insufficient_quota), the endpoint that met it first and its message.
  code text not null,
  endpoint text not null constraint ai_pause_endpoint check (endpoint in ('chat', 'embeddings', 'transcriptions')),
  reason text not null,
  paused_at timestamptz not null default now(),
  -- Messages handed to people because of it, and the probes that found it still there.
  handoffs integer not null default 0,
  probes integer not null default 0,
  last_probe_at timestamptz,
  last_probe_error text,
  next_probe_at timestamptz
);
comment on table private.ai_pause is
  'Set when the OpenAI account is out of quota; replies hand off and embeddings wait until a probe succeeds or an operator resumes.';

-- ═══ functions ═══════════════════════════════════════════════════════════════════════════════

-- Records the pause the first time a job meets insufficient_quota (later ones find it there), audits it and queues
-- the probe that will try the API again after p_probe_after. True when this call paused the AI.
create function private.pause_ai(p_code text, p_endpoint text, p_reason text, p_probe_after interval)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_paused_at timestamptz;
begin
  insert into private.ai_pause (code, endpoint, reason, next_probe_at)
  values (p_code, p_endpoint, left(p_reason, 2000), now() + p_probe_after)
  on conflict (singleton) do nothing
  returning paused_at into v_paused_at;
  if v_paused_at is null then
    return false;
  end if;
  insert into private.audit_log (actor, action, target, detail)
  values ('switchboard', 'ai.paused', 'ai:openai',
          jsonb_build_object('code', p_code, 'endpoint', p_endpoint, 'reason', left(p_reason, 2000)));
  perform private.enqueue_job('ai.quota_probe', '{}'::jsonb,
                              format('ai.quota_probe:%s', extract(epoch from v_paused_at)), null, now() + p_probe_after);
  return true;
end
$$;

-- Counts a message handed to people because of the pause (what `ai status` and the admin app show).
create function private.count_ai_pause_handoff()
returns void
language sql
security definer
set search_path = ''
as $$
  update private.ai_pause set handoffs = handoffs + 1
$$;

-- A probe found the quota still exhausted (or the API unreachable): when it tried, what it got, when it tries next.
create function private.record_ai_probe(p_error text, p_next_after interval)
returns void
language sql
security definer
set search_path = ''
as $$
  update private.ai_pause
     set probes = probes + 1, last_probe_at = now(), last_probe_error = left(p_error, 2000),
         next_probe_at = now() + p_next_after
$$;

-- Ends the pause (a successful probe, or an operator), audits it with how long it lasted, and wakes the jobs that
-- were waiting for it (embedding jobs deferred with an "AI paused" reason) instead of leaving them to their timers.
create function private.resume_ai(p_actor text, p_how text)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_row private.ai_pause;
begin
  delete from private.ai_pause returning * into v_row;
  if v_row.paused_at is null then
    return false;
  end if;
  insert into private.audit_log (actor, action, target, detail)
  values (p_actor, 'ai.resumed', 'ai:openai',
          jsonb_build_object('how', p_how, 'paused_at', v_row.paused_at, 'code', v_row.code,
                             'handoffs', v_row.handoffs, 'probes', v_row.probes));
  update private.jobs set run_at = now(), updated_at = now()
   where status = 'queued' and run_at > now() and last_error like 'AI paused%';
  perform pg_notify('switchboard_jobs', 'resumed');
  return true;
end
$$;

-- The pause as the admin app and the CLI show it: to platform administrators and members of any store (it concerns
-- every store's bot; it holds no secret), and to backend connections without claims. No row when the AI runs.
create function public.ai_pause_status()
returns table (
  paused_at timestamptz, code text, endpoint text, reason text, handoffs integer, probes integer,
  last_probe_at timestamptz, last_probe_error text, next_probe_at timestamptz
)
language sql
stable
security definer
set search_path = ''
as $$
  select p.paused_at, p.code, p.endpoint, p.reason, p.handoffs, p.probes, p.last_probe_at, p.last_probe_error,
         p.next_probe_at
  from private.ai_pause p
  where coalesce(auth.role(), 'service_role') not in ('authenticated', 'anon')
     or public.is_platform_admin()
     or exists (select 1 from public.authorized_store_ids('viewer'))
$$;

-- An operator's "resume": platform administrators (admin-api) and backend connections (the CLI). False when the AI
-- was not paused. Only the resume is offered to people: pausing is what the API's answer does.
create function public.resume_ai()
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
  if coalesce(auth.role(), 'service_role') in ('authenticated', 'anon') and not public.is_platform_admin() then
    raise exception 'only platform administrators can resume the AI' using errcode = '42501';
  end if;
  return private.resume_ai((select private.audit_actor()), 'operator');
end
$$;

-- ═══ row-level security ══════════════════════════════════════════════════════════════════════
-- Internal: no policy, no grant to API roles; people read it through public.ai_pause_status().
alter table private.ai_pause enable row level security;

-- ═══ grants ══════════════════════════════════════════════════════════════════════════════════
revoke all on private.ai_pause from public, anon, authenticated;
grant all on private.ai_pause to service_role;
revoke execute on function private.pause_ai(text, text, text, interval) from public, anon, authenticated;
revoke execute on function private.count_ai_pause_handoff() from public, anon, authenticated;
revoke execute on function private.record_ai_probe(text, interval) from public, anon, authenticated;
revoke execute on function private.resume_ai(text, text) from public, anon, authenticated;
grant execute on function private.pause_ai(text, text, text, interval) to service_role;
grant execute on function private.count_ai_pause_handoff() to service_role;
grant execute on function private.record_ai_probe(text, interval) to service_role;
grant execute on function private.resume_ai(text, text) to service_role;
revoke execute on function public.ai_pause_status() from public, anon;
grant execute on function public.ai_pause_status() to authenticated, service_role;
revoke execute on function public.resume_ai() from public, anon;
grant execute on function public.resume_ai() to authenticated, service_role;

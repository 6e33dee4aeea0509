-- Token buckets shared by every function instance and worker: one Chatwoot host allows about
-- 3,000 requests/min per client IP, and all tenants on that host share it, so the budget has to
-- live where all callers see it.

-- ═══ tables ══════════════════════════════════════════════════════════════════════════════════
create unlogged table private.rate_limit_buckets (
  key text primary key,
  tokens double precision not null,
  updated_at timestamptz not null default clock_timestamp()
);
comment on table private.rate_limit_buckets is 'Token buckets (unlogged: losing them on a crash only refills them).';

-- ═══ functions ═══════════════════════════════════════════════════════════════════════════════

-- Takes one token from bucket p_key (capacity p_capacity, refilled at p_per_second). Returns 0
-- when a token was taken, else the seconds until one will be available; the caller sleeps and
-- asks again. The row lock makes concurrent takers queue for microseconds, not double-spend.
create function private.take_rate_limit_token(p_key text, p_capacity double precision, p_per_second double precision)
returns double precision
language plpgsql
set search_path = ''
as $$
declare
  v_tokens double precision;
begin
  insert into private.rate_limit_buckets as b (key, tokens, updated_at)
  values (p_key, p_capacity, clock_timestamp())
  on conflict (key) do update
    set tokens = least(p_capacity, b.tokens + extract(epoch from clock_timestamp() - b.updated_at) * p_per_second),
        updated_at = clock_timestamp()
  returning tokens into v_tokens;
  if v_tokens >= 1 then
    update private.rate_limit_buckets set tokens = tokens - 1 where key = p_key;
    return 0;
  end if;
  return (1 - v_tokens) / p_per_second;
end
$$;

-- ═══ grants ══════════════════════════════════════════════════════════════════════════════════
revoke all on private.rate_limit_buckets from public, anon, authenticated;
revoke execute on function private.take_rate_limit_token(text, double precision, double precision) from public, anon, authenticated;
grant all on private.rate_limit_buckets to service_role;
grant execute on function private.take_rate_limit_token(text, double precision, double precision) to service_role;

-- AI replies: each store's Chatwoot agent bot (settings public, token and secret private), who
-- is in charge of each conversation, every decision the bot made (one per incoming message),
-- and the per-store daily token budget.

-- ═══ tables ══════════════════════════════════════════════════════════════════════════════════

create table public.ai_bot_settings (
  store_id uuid primary key references public.stores (id) on delete cascade,
  enabled boolean not null default false,
  -- auto: the bot answers the customer; assist: its answer is a private note for the agent.
  mode text not null default 'auto' constraint ai_bot_settings_mode check (mode in ('auto', 'assist')),
  handoff_message text not null default 'Let me bring in a member of our team to help you with this.'
    constraint ai_bot_settings_handoff_message_length check (char_length(handoff_message) between 1 and 1000),
  -- Chatwoot team to assign on handoff (optional).
  handoff_team_id integer,
  -- Retrieval must find a chunk at least this close (cosine similarity) or this strong a full-text
  -- match, or the bot hands off instead of asking the model.
  min_similarity real not null default 0.35 constraint ai_bot_settings_similarity_range check (min_similarity between 0 and 1),
  min_text_score real not null default 0.5 constraint ai_bot_settings_text_score_range check (min_text_score >= 0),
  top_k integer not null default 5 constraint ai_bot_settings_top_k_range check (top_k between 1 and 20),
  daily_token_budget integer not null default 200000 constraint ai_bot_settings_budget_nonnegative check (daily_token_budget >= 0),
  history_messages integer not null default 10 constraint ai_bot_settings_history_range check (history_messages between 0 and 50),
  -- The Chatwoot agent bot and the inboxes it is attached to (ids in the store's account).
  agent_bot_id integer,
  inbox_ids integer[] not null default '{}',
  updated_at timestamptz not null default now()
);

-- What API roles must never read: the bot's access token, its webhook secret, and the hash of the
-- unguessable URL token that routes a bot delivery to its store.
create table private.ai_bot_secrets (
  store_id uuid primary key references public.stores (id) on delete cascade,
  access_token text not null,
  webhook_secret text,
  route_token_hash bytea not null constraint ai_bot_secrets_route_unique unique
    constraint ai_bot_secrets_route_is_sha256 check (length(route_token_hash) = 32),
  updated_at timestamptz not null default now()
);

-- Who is in charge of a conversation. A human's reply or a handoff pauses the bot there until
-- someone explicitly returns the conversation to it.
create table public.ai_conversations (
  account_ref uuid not null references public.chatwoot_accounts (id) on delete cascade,
  conversation_display_id integer not null,
  store_id uuid not null references public.stores (id) on delete cascade,
  bot_paused boolean not null default false,
  paused_reason text,
  paused_at timestamptz,
  returned_to_bot_at timestamptz,
  -- One reply at a time per conversation: a reply job holds this lease while it decides and posts,
  -- so a second message waits and sees the first one's handoff.
  busy_until timestamptz,
  primary key (account_ref, conversation_display_id)
);

-- Every decision, one per incoming message (the primary key is what makes a reply exactly-once
-- whatever retries happen): what was retrieved and with which scores, the model and its tokens,
-- the latency, the action, the reason, and what was posted.
create table public.ai_decisions (
  account_ref uuid not null references public.chatwoot_accounts (id) on delete cascade,
  message_id bigint not null,
  store_id uuid not null references public.stores (id) on delete cascade,
  conversation_display_id integer not null,
  status text not null default 'deciding' constraint ai_decisions_status check (status in ('deciding', 'posting', 'posted', 'skipped')),
  action text constraint ai_decisions_action check (action in ('reply', 'assist', 'handoff', 'skip')),
  reason text,
  question text,
  answer text,
  cited_chunk_ids bigint[] not null default '{}',
  chunks jsonb not null default '[]'::jsonb,
  retrieval_mode text,
  model text,
  prompt_tokens integer not null default 0,
  completion_tokens integer not null default 0,
  latency_ms integer,
  posted_message_ids integer[] not null default '{}',
  created_at timestamptz not null default now(),
  decided_at timestamptz,
  primary key (account_ref, message_id)
);

create table public.ai_usage_daily (
  store_id uuid not null references public.stores (id) on delete cascade,
  day date not null,
  tokens integer not null default 0,
  requests integer not null default 0,
  primary key (store_id, day)
);

-- ═══ indexes ═════════════════════════════════════════════════════════════════════════════════
create index ai_conversations_store_id_idx on public.ai_conversations (store_id);
create index ai_decisions_store_id_idx on public.ai_decisions (store_id, created_at desc);
create index ai_decisions_conversation_idx on public.ai_decisions (account_ref, conversation_display_id, created_at);

-- ═══ functions ═══════════════════════════════════════════════════════════════════════════════

-- Adds a model call's tokens to the store's day and says whether the day's budget still holds.
create function private.record_ai_usage(p_store_id uuid, p_tokens integer)
returns boolean
language sql
security definer
set search_path = ''
as $$
  with u as (
    insert into public.ai_usage_daily as d (store_id, day, tokens, requests)
    values (p_store_id, (now() at time zone 'utc')::date, p_tokens, 1)
    on conflict (store_id, day) do update set tokens = d.tokens + excluded.tokens, requests = d.requests + 1
    returning d.tokens)
  select u.tokens <= coalesce((select s.daily_token_budget from public.ai_bot_settings s where s.store_id = p_store_id), 0)
  from u
$$;

-- "Return to bot": the explicit act that hands a paused conversation back to the store's bot.
-- Checked here (store admins and agents of the conversation's store, platform administrators),
-- audited; the caller then sets the conversation pending in Chatwoot.
create function public.return_conversation_to_bot(p_account_ref uuid, p_conversation_display_id integer)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_store uuid;
begin
  select a.store_id into v_store from public.chatwoot_accounts a where a.id = p_account_ref;
  if v_store is null then
    raise exception 'unknown Chatwoot account' using errcode = 'no_data_found';
  end if;
  -- API roles carry JWT claims; a backend connection without claims (the CLI, jobs) is trusted.
  if coalesce(auth.role(), 'service_role') in ('authenticated', 'anon')
     and not (v_store in (select public.authorized_store_ids('agent')) or public.is_platform_admin()) then
    raise exception 'only the store''s agents and admins can return a conversation to the bot' using errcode = '42501';
  end if;
  insert into public.ai_conversations as c (account_ref, conversation_display_id, store_id, bot_paused, returned_to_bot_at)
  values (p_account_ref, p_conversation_display_id, v_store, false, now())
  on conflict (account_ref, conversation_display_id) do update
    set bot_paused = false, paused_reason = null, paused_at = null, returned_to_bot_at = now();
  insert into private.audit_log (actor, action, target, detail)
  values (coalesce(auth.uid()::text, 'service_role'), 'ai.return_to_bot',
          format('conversation:%s:%s', p_account_ref, p_conversation_display_id), jsonb_build_object('store_id', v_store));
  return true;
end
$$;

-- The store and bot a chatwoot-bot delivery belongs to, by the hash of its URL token; shaped like
-- private.chatwoot_account_by_route_token so the receiver shares the webhook's authentication.
create function private.ai_bot_by_route_token(p_token text)
returns table (account_ref uuid, store_id uuid, account_id integer, webhook_secret text, accepts_unsigned boolean)
language sql
stable
set search_path = ''
as $$
  select a.id, a.store_id, a.account_id, s.webhook_secret, false
  from private.ai_bot_secrets s
  join public.chatwoot_accounts a on a.store_id = s.store_id
  where s.route_token_hash = extensions.digest(convert_to(p_token, 'UTF8'), 'sha256')
$$;

create trigger ai_bot_settings_touch_updated_at before update on public.ai_bot_settings
  for each row execute function public.touch_updated_at();

-- ═══ row-level security ══════════════════════════════════════════════════════════════════════
alter table public.ai_bot_settings enable row level security;
alter table private.ai_bot_secrets enable row level security;
alter table public.ai_conversations enable row level security;
alter table public.ai_decisions enable row level security;
alter table public.ai_usage_daily enable row level security;

-- Settings: members read, store admins change mode, message, thresholds and budget (enabling,
-- which creates the Chatwoot bot, goes through admin-api / the CLI). Conversations, decisions and
-- usage: members read; only the bot's jobs write them (no write policy for API roles).
create policy "Store members can read their store's AI settings" on public.ai_bot_settings
  for select to authenticated using (store_id in (select public.authorized_store_ids('viewer')));
create policy "Platform administrators can read every AI setting" on public.ai_bot_settings
  for select to authenticated using ((select public.is_platform_admin()));
create policy "Store admins can change their store's AI settings" on public.ai_bot_settings
  for update to authenticated
  using (store_id in (select public.authorized_store_ids('admin')))
  with check (store_id in (select public.authorized_store_ids('admin')));

create policy "Store members can read their store's AI conversations" on public.ai_conversations
  for select to authenticated using (store_id in (select public.authorized_store_ids('viewer')));
create policy "Platform administrators can read every AI conversation" on public.ai_conversations
  for select to authenticated using ((select public.is_platform_admin()));

create policy "Store members can read their store's AI decisions" on public.ai_decisions
  for select to authenticated using (store_id in (select public.authorized_store_ids('viewer')));
create policy "Platform administrators can read every AI decision" on public.ai_decisions
  for select to authenticated using ((select public.is_platform_admin()));

create policy "Store members can read their store's AI usage" on public.ai_usage_daily
  for select to authenticated using (store_id in (select public.authorized_store_ids('viewer')));
create policy "Platform administrators can read every store's AI usage" on public.ai_usage_daily
  for select to authenticated using ((select public.is_platform_admin()));

-- ═══ grants ══════════════════════════════════════════════════════════════════════════════════
revoke all on public.ai_bot_settings, public.ai_conversations, public.ai_decisions, public.ai_usage_daily from anon;
-- Store admins may tune the bot, not switch it on or re-point it: that creates Chatwoot state.
revoke insert, update, delete, truncate on public.ai_bot_settings from authenticated;
grant update (mode, handoff_message, handoff_team_id, min_similarity, min_text_score, top_k, daily_token_budget,
              history_messages) on public.ai_bot_settings to authenticated;
revoke insert, update, delete, truncate on public.ai_conversations, public.ai_decisions, public.ai_usage_daily from authenticated;
revoke all on private.ai_bot_secrets from public, anon, authenticated;
grant all on private.ai_bot_secrets to service_role;
revoke execute on function private.record_ai_usage(uuid, integer) from public, anon, authenticated;
revoke execute on function private.ai_bot_by_route_token(text) from public, anon, authenticated;
grant execute on function private.ai_bot_by_route_token(text) to service_role;
grant execute on function private.record_ai_usage(uuid, integer) to service_role;
revoke execute on function public.return_conversation_to_bot(uuid, integer) from public, anon;
grant execute on function public.return_conversation_to_bot(uuid, integer) to authenticated, service_role;

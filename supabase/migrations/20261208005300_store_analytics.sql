-- Store analytics, read from the Chatwoot mirror: conversations per day by channel, first response
-- and resolution times, who answered (the bot, people after a handoff, people), the busiest hours
-- and CSAT. Each figure is one function the admin app calls as the signed-in user: security
-- invoker, so RLS on the mirror decides which rows exist for the caller, and each first checks
-- with the project's helper that the caller administers the store (owners, admins, platform
-- administrators), so a viewer or agent gets a refusal rather than a silently partial answer.
-- Definitions (also in README "Store analytics"):
--   · a conversation belongs to the day (in the store's time zone) it was created;
--   · first response: from the conversation's first incoming message to the first outgoing,
--     non-private message after it sent by a person (a Chatwoot user, or the WhatsApp Business app
--     on the phone: an echo) or a bot (agent bot, Captain); templates, automations and private
--     notes do not count;
--   · resolution: from the conversation's creation to when it became resolved (resolved_at),
--     for conversations resolved now;
--   · who answered, for conversations with at least one incoming message: handed_off when the
--     store's AI bot handed it off to people; else people when a person replied; else bot when a
--     bot replied; else unanswered;
--   · busiest hours: incoming messages by weekday (ISO, Monday = 1) and hour, in the store's time
--     zone (stores.time_zone), else UTC;
--   · CSAT: Chatwoot's survey messages (content_type input_csat) whose content_attributes carry
--     submitted_values.csat_survey_response.rating (1–5), dated by when the survey was sent.
-- Ranges are half-open, [p_from, p_to).

-- ═══ indexes ═════════════════════════════════════════════════════════════════════════════════
-- created_at never changes once a conversation is mirrored, so this index leaves ingestion's
-- frequent conversation updates heap-only (see the mirror migration's note on store_id alone).
create index chatwoot_conversations_store_created_idx on public.chatwoot_conversations (store_id, created_at);
-- Busiest hours read a store's incoming messages in a range; CSAT its few survey messages.
create index chatwoot_messages_store_incoming_idx on public.chatwoot_messages (store_id, created_at)
  where message_type = 'incoming';
create index chatwoot_messages_store_csat_idx on public.chatwoot_messages (store_id, created_at)
  where content_type = 'input_csat';

-- ═══ functions ═══════════════════════════════════════════════════════════════════════════════

-- The check every analytics function starts with, and the zone its days and hours are in. Invoker
-- like its callers: the store row is read under the caller's RLS (a store they cannot see has no
-- zone, and is refused by the helper anyway).
create function public.analytics_store_time_zone(p_store_id uuid, p_from timestamptz, p_to timestamptz)
returns text
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  v_tz text;
begin
  if not (select public.can_administer_store(p_store_id)) then
    raise exception 'only the store''s owners and admins see its analytics' using errcode = '42501';
  end if;
  if p_from is null or p_to is null or p_to <= p_from then
    raise exception 'the range must end after it starts' using errcode = '22023';
  end if;
  select coalesce(s.time_zone, 'UTC') into v_tz from public.stores s where s.id = p_store_id;
  return coalesce(v_tz, 'UTC');
end
$$;
comment on function public.analytics_store_time_zone(uuid, timestamptz, timestamptz) is
  'Checks the caller administers the store and the range is sound; returns the store''s time zone (UTC when unset).';

-- Conversations created per day (store's time zone) and channel ("Whatsapp", "WebWidget", …).
create function public.analytics_conversations_per_day(p_store_id uuid, p_from timestamptz, p_to timestamptz)
returns table (day date, channel text, conversations bigint)
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  v_tz text := public.analytics_store_time_zone(p_store_id, p_from, p_to);
begin
  return query
    select (c.created_at at time zone v_tz)::date,
           coalesce(pg_catalog.replace(c.channel, 'Channel::', ''), 'Unknown'),
           count(*)
    from public.chatwoot_conversations c
    where c.store_id = p_store_id and c.created_at >= p_from and c.created_at < p_to
    group by 1, 2
    order by 1, 2;
end
$$;

-- First response and resolution times (seconds) for conversations created in the range: how many
-- were measured, p50 and p90, and how many are still waiting (an incoming message and no response
-- yet; not resolved yet). Each conversation's first messages are found through the mirror's
-- (account, conversation, created_at) index, so the cost follows the store's conversations.
create function public.analytics_response_times(p_store_id uuid, p_from timestamptz, p_to timestamptz)
returns table (measure text, conversations bigint, waiting bigint, p50_seconds numeric, p90_seconds numeric)
language plpgsql
stable
security invoker
set search_path = ''
as $$
begin
  perform public.analytics_store_time_zone(p_store_id, p_from, p_to);
  return query
    with conv as (
      select c.account_ref, c.display_id, c.created_at, c.resolved_at
      from public.chatwoot_conversations c
      where c.store_id = p_store_id and c.created_at >= p_from and c.created_at < p_to
    ), first_in as (
      select conv.account_ref, conv.display_id, fi.created_at as first_incoming_at
      from conv cross join lateral (
        select m.created_at from public.chatwoot_messages m
        where m.account_ref = conv.account_ref and m.conversation_display_id = conv.display_id
          and m.message_type = 'incoming'
        order by m.created_at limit 1) fi
    ), responded as (
      select extract(epoch from fr.created_at - f.first_incoming_at)::double precision as seconds
      from first_in f left join lateral (
        select m.created_at from public.chatwoot_messages m
        where m.account_ref = f.account_ref and m.conversation_display_id = f.display_id
          and m.message_type = 'outgoing' and not m.private
          and (m.sender_type in ('user', 'agent_bot', 'captain_assistant') or m.echo)
          and m.created_at >= f.first_incoming_at
        order by m.created_at limit 1) fr on true
    )
    select 'first_response'::text, count(r.seconds), count(*) - count(r.seconds),
           round(percentile_cont(0.5) within group (order by r.seconds)::numeric, 1),
           round(percentile_cont(0.9) within group (order by r.seconds)::numeric, 1)
    from responded r
    union all
    select 'resolution'::text, count(s.seconds), count(*) - count(s.seconds),
           round(percentile_cont(0.5) within group (order by s.seconds)::numeric, 1),
           round(percentile_cont(0.9) within group (order by s.seconds)::numeric, 1)
    from (select extract(epoch from conv.resolved_at - conv.created_at)::double precision as seconds from conv) s;
end
$$;

-- Who answered the conversations created in the range that have an incoming message: one row
-- per outcome (bot, handed_off, people, unanswered, always all four) with its count and share.
create function public.analytics_answer_share(p_store_id uuid, p_from timestamptz, p_to timestamptz)
returns table (outcome text, conversations bigint, share numeric)
language plpgsql
stable
security invoker
set search_path = ''
as $$
begin
  perform public.analytics_store_time_zone(p_store_id, p_from, p_to);
  return query
    with classified as (
      -- One pass over each conversation's messages (its index range) decides everything but the handoff.
      select case
        when exists (select 1 from public.ai_decisions d
                     where d.account_ref = c.account_ref and d.conversation_display_id = c.display_id
                       and d.action = 'handoff') then 'handed_off'
        when f.person then 'people'
        when f.bot then 'bot'
        else 'unanswered' end as outcome
      from public.chatwoot_conversations c
      cross join lateral (
        select bool_or(m.message_type = 'incoming') as customer,
               bool_or(m.message_type = 'outgoing' and not m.private and (m.sender_type = 'user' or m.echo)) as person,
               bool_or(m.message_type = 'outgoing' and not m.private
                       and m.sender_type in ('agent_bot', 'captain_assistant')) as bot
        from public.chatwoot_messages m
        where m.account_ref = c.account_ref and m.conversation_display_id = c.display_id) f
      where c.store_id = p_store_id and c.created_at >= p_from and c.created_at < p_to and f.customer
    ), counted as (
      select o.outcome, o.ord, count(k.outcome) as n
      from (values ('bot', 1), ('handed_off', 2), ('people', 3), ('unanswered', 4)) o (outcome, ord)
      left join classified k on k.outcome = o.outcome
      group by o.outcome, o.ord
    )
    select k.outcome, k.n,
           coalesce(round(k.n::numeric / nullif(sum(k.n) over (), 0), 4), 0)
    from counted k
    order by k.ord;
end
$$;

-- Incoming messages by ISO weekday (Monday = 1) and hour, in the store's time zone; only the
-- weekday/hour cells that had any.
create function public.analytics_busiest_hours(p_store_id uuid, p_from timestamptz, p_to timestamptz)
returns table (weekday integer, hour integer, incoming_messages bigint)
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  v_tz text := public.analytics_store_time_zone(p_store_id, p_from, p_to);
begin
  return query
    select extract(isodow from m.created_at at time zone v_tz)::integer,
           extract(hour from m.created_at at time zone v_tz)::integer,
           count(*)
    from public.chatwoot_messages m
    where m.store_id = p_store_id and m.message_type = 'incoming'
      and m.created_at >= p_from and m.created_at < p_to
    group by 1, 2
    order by 1, 2;
end
$$;

-- Every CSAT survey answered, newest first: the conversation, the rating (1–5), the customer's
-- comment, and when the survey was sent. A rating that is not 1–5 is left out rather than failing
-- the page.
create function public.analytics_csat_responses(p_store_id uuid, p_from timestamptz, p_to timestamptz)
returns table (conversation_display_id integer, rating integer, feedback text, sent_at timestamptz)
language plpgsql
stable
security invoker
set search_path = ''
as $$
begin
  perform public.analytics_store_time_zone(p_store_id, p_from, p_to);
  return query
    select r.conversation_display_id, r.rating::integer, r.feedback, r.created_at
    from (
      select m.conversation_display_id, m.created_at,
             m.content_attributes #>> '{submitted_values,csat_survey_response,rating}' as rating,
             nullif(m.content_attributes #>> '{submitted_values,csat_survey_response,feedback_message}', '') as feedback
      from public.chatwoot_messages m
      where m.store_id = p_store_id and m.content_type = 'input_csat'
        and m.created_at >= p_from and m.created_at < p_to
    ) r
    where r.rating ~ '^[1-5]$'
    order by r.created_at desc;
end
$$;

-- ═══ grants ══════════════════════════════════════════════════════════════════════════════════
revoke execute on function public.analytics_store_time_zone(uuid, timestamptz, timestamptz),
  public.analytics_conversations_per_day(uuid, timestamptz, timestamptz),
  public.analytics_response_times(uuid, timestamptz, timestamptz),
  public.analytics_answer_share(uuid, timestamptz, timestamptz),
  public.analytics_busiest_hours(uuid, timestamptz, timestamptz),
  public.analytics_csat_responses(uuid, timestamptz, timestamptz) from public, anon;
grant execute on function public.analytics_store_time_zone(uuid, timestamptz, timestamptz),
  public.analytics_conversations_per_day(uuid, timestamptz, timestamptz),
  public.analytics_response_times(uuid, timestamptz, timestamptz),
  public.analytics_answer_share(uuid, timestamptz, timestamptz),
  public.analytics_busiest_hours(uuid, timestamptz, timestamptz),
  public.analytics_csat_responses(uuid, timestamptz, timestamptz) to authenticated;

// bench:analytics — the store analytics page's queries (supabase/migrations/…_store_analytics.sql)
// on 1,000,000 messages across 100,000 conversations and 200 stores: p50/p95 of each, as a platform
// administrator and as each store's owner under RLS (role and claims set per transaction, as
// PostgREST and admin-api do), against a `select 1` round trip and a primary-key lookup measured in
// the same transactions in the same run.

import postgres from "postgres";
import { benchDatabase, percentile, printTable, saveResult } from "./harness.ts";

const STORES = Number(Deno.env.get("BENCH_STORES") ?? 200);
const CONVERSATIONS = Number(Deno.env.get("BENCH_CONVERSATIONS") ?? 100_000);
const MESSAGES_PER_CONVERSATION = Number(Deno.env.get("BENCH_MESSAGES_PER_CONVERSATION") ?? 10);
const SAMPLES = Number(Deno.env.get("BENCH_SAMPLES") ?? 200);
const DAYS = 90;
const GOAL_P95_MS = 100;

type Sql = postgres.Sql;

interface Fixture {
  stores: { id: string; owner: string }[];
  platformAdmin: string;
  conversationKeys: { account_ref: string; display_id: number }[];
}

/** The dataset, generated in SQL: per store 500 conversations over the last 90 days on four
 * channels, each with an incoming message, a reply (bot or person, some handed off), more turns, a
 * CSAT answer on some, and 70% resolved. */
async function load(sql: Sql): Promise<Fixture> {
  const perStore = Math.ceil(CONVERSATIONS / STORES);
  await sql`insert into public.stores (slug, name, time_zone)
            select 'bench-' || i, 'Bench store ' || i,
                   (array[null, 'Europe/Lisbon', 'America/New_York', 'Asia/Kolkata'])[1 + i % 4]
            from generate_series(1, ${STORES}) i`;
  await sql`insert into public.chatwoot_accounts (store_id, chatwoot_url, account_id)
            select id, 'https://chat.example.com', row_number() over (order by slug) from public.stores
            where slug like 'bench-%'`;
  await sql`insert into auth.users (id, email)
            select gen_random_uuid(), 'owner-' || s.slug || '@bench.test' from public.stores s where s.slug like 'bench-%'`;
  await sql`insert into public.store_members (store_id, user_id, role)
            select s.id, u.id, 'owner' from public.stores s join auth.users u on u.email = 'owner-' || s.slug || '@bench.test'`;
  const platformAdmin = crypto.randomUUID();
  await sql`insert into auth.users (id, email) values (${platformAdmin}, 'platform@bench.test')`;

  // Conversations: display ids 1..perStore per account, created over the last DAYS days.
  await sql`
    insert into public.chatwoot_conversations (account_ref, display_id, store_id, inbox_id, channel, status,
                                               created_at, version)
    select a.id, d, a.store_id, 1 + d % 4,
           (array['Channel::Whatsapp', 'Channel::WebWidget', 'Channel::Email', 'Channel::Api'])[1 + d % 4],
           case when d % 10 < 7 then 'resolved' else 'open' end,
           c.created_at,
           (extract(epoch from c.created_at + make_interval(mins => 5 + (d * 37) % 2000)) * 1000)::bigint
    from public.chatwoot_accounts a
    cross join generate_series(1, ${perStore}) d
    cross join lateral (select now() - make_interval(secs => ((d * 7919 + a.account_id * 104729) % (${DAYS} * 86400))) as created_at) c`;
  // Messages: the first incoming, then a reply (bot for even conversations, a person otherwise),
  // then alternating turns; the last message of every third conversation is an answered survey.
  const start = performance.now();
  await sql`
    insert into public.chatwoot_messages (account_ref, message_id, store_id, conversation_display_id, inbox_id,
                                          message_type, private, sender_type, content, content_type,
                                          content_attributes, created_at, version_fingerprint)
    select c.account_ref, c.display_id::bigint * 100 + k, c.store_id, c.display_id, c.inbox_id,
           case when k = ${MESSAGES_PER_CONVERSATION - 1} and c.display_id % 3 = 0 then 'template'
                when k % 2 = 0 then 'incoming' else 'outgoing' end,
           k = 3,
           case when k = ${MESSAGES_PER_CONVERSATION - 1} and c.display_id % 3 = 0 then null
                when k % 2 = 0 then 'contact'
                when k = 1 and c.display_id % 2 = 0 then 'agent_bot' else 'user' end,
           'message ' || k,
           case when k = ${MESSAGES_PER_CONVERSATION - 1} and c.display_id % 3 = 0 then 'input_csat' else 'text' end,
           case when k = ${MESSAGES_PER_CONVERSATION - 1} and c.display_id % 3 = 0
                then jsonb_build_object('submitted_values', jsonb_build_object('csat_survey_response',
                       jsonb_build_object('rating', 1 + c.display_id % 5, 'feedback_message', 'thanks')))
                else '{}'::jsonb end,
           c.created_at + make_interval(secs => k * (30 + c.display_id % 600)),
           'bench-' || k
    from public.chatwoot_conversations c
    cross join generate_series(0, ${MESSAGES_PER_CONVERSATION - 1}) k
    where c.store_id in (select id from public.stores where slug like 'bench-%')`;
  // The bot handed off every tenth even conversation.
  await sql`
    insert into public.ai_decisions (account_ref, message_id, store_id, conversation_display_id, status, action)
    select c.account_ref, c.display_id::bigint * 100, c.store_id, c.display_id, 'posted', 'handoff'
    from public.chatwoot_conversations c where c.display_id % 20 = 0`;
  console.log(`loaded messages in ${((performance.now() - start) / 1000).toFixed(1)} s`);
  await sql`vacuum analyze`;

  const stores = await sql<{ id: string; owner: string }[]>`
    select s.id, m.user_id as owner from public.stores s join public.store_members m on m.store_id = s.id
    where s.slug like 'bench-%' order by s.slug`;
  const conversationKeys = await sql<{ account_ref: string; display_id: number }[]>`
    select account_ref, display_id from public.chatwoot_conversations order by random() limit 1000`;
  return { stores: [...stores], platformAdmin, conversationKeys: [...conversationKeys] };
}

interface Query {
  name: string;
  run(tx: postgres.TransactionSql, storeId: string, i: number, f: Fixture): Promise<unknown>;
}

const range = (tx: postgres.TransactionSql) => tx`now() - interval '90 days'`;
const ANALYTICS_FUNCTIONS = [
  "analytics_conversations_per_day",
  "analytics_response_times",
  "analytics_answer_share",
  "analytics_busiest_hours",
  "analytics_csat_responses",
];
const QUERIES: Query[] = [
  { name: "select 1 (baseline)", run: (tx) => tx`select 1` },
  {
    name: "primary-key lookup (baseline)",
    run: (tx, _s, i, f) => {
      const k = f.conversationKeys[i % f.conversationKeys.length];
      return tx`select status from public.chatwoot_conversations
                where account_ref = ${k.account_ref} and display_id = ${k.display_id}`;
    },
  },
  ...[
    ["conversations per day by channel", "analytics_conversations_per_day"],
    ["first response and resolution p50/p90", "analytics_response_times"],
    ["who answered (bot, handed off, people)", "analytics_answer_share"],
    ["busiest hours", "analytics_busiest_hours"],
    ["CSAT answers", "analytics_csat_responses"],
  ].map(([name, fn]): Query => ({
    name: `${name} (90 days)`,
    run: (tx, s) => tx`select * from ${tx("public")}.${tx(fn)}(${s}, ${range(tx)}, now())`,
  })),
  {
    // What GET /stores/<slug>/analytics runs: the check, then all five, in one transaction.
    name: "the whole page: all five (90 days)",
    run: async (tx, s) => {
      await tx`select public.analytics_store_time_zone(${s}, ${range(tx)}, now())`;
      for (const fn of ANALYTICS_FUNCTIONS) {
        await tx`select * from ${tx("public")}.${tx(fn)}(${s}, ${range(tx)}, now())`;
      }
    },
  },
];

async function timeQuery(
  sql: Sql,
  q: Query,
  f: Fixture,
  as: "platform admin" | "store owner",
): Promise<number[]> {
  const sample = async (i: number) => {
    const store = f.stores[i % f.stores.length];
    const claims = as === "platform admin"
      ? { sub: f.platformAdmin, role: "authenticated", app_metadata: { platform_admin: true } }
      : { sub: store.owner, role: "authenticated", app_metadata: {} };
    await sql.begin(async (tx) => {
      await tx`select set_config('role', 'authenticated', true),
                      set_config('request.jwt.claims', ${JSON.stringify(claims)}, true)`;
      await q.run(tx, store.id, i, f);
    });
  };
  for (let i = 0; i < 20; i++) await sample(i + 7);
  const out: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const t0 = performance.now();
    await sample(i);
    out.push(performance.now() - t0);
  }
  return out.sort((a, b) => a - b);
}

export async function benchAnalytics() {
  const db = await benchDatabase();
  const sql = postgres(db.url, { max: 1, onnotice: () => {} });
  try {
    const t0 = performance.now();
    const fixture = await load(sql);
    const [counts] = await sql`select (select count(*) from public.chatwoot_messages)::int as messages,
                                      (select count(*) from public.chatwoot_conversations)::int as conversations,
                                      (select count(*) from public.stores where slug like 'bench-%')::int as stores`;
    console.log(
      `dataset: ${counts.messages} messages, ${counts.conversations} conversations, ${counts.stores} stores ` +
        `(${((performance.now() - t0) / 1000).toFixed(1)} s); ${SAMPLES} samples per row, one transaction each`,
    );
    const rows: Record<string, string | number>[] = [];
    for (const as of ["platform admin", "store owner"] as const) {
      let baseline = NaN;
      for (const q of QUERIES) {
        const d = await timeQuery(sql, q, fixture, as);
        const p50 = percentile(d, 50), p95 = percentile(d, 95);
        if (q.name.startsWith("select 1")) baseline = p95;
        rows.push({
          as,
          query: q.name,
          "p50 ms": Number(p50.toFixed(2)),
          "p95 ms": Number(p95.toFixed(2)),
          "p95 vs select 1": Number((p95 / baseline).toFixed(1)),
          goal: q.name.includes("baseline") ? "—" : p95 <= GOAL_P95_MS ? "met" : "MISSED",
        });
      }
    }
    printTable(rows);
    console.log(`saved ${await saveResult("analytics", { counts, samples: SAMPLES, rows })}`);
  } finally {
    await sql.end();
    await db.close();
  }
}

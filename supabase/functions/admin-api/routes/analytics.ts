// A store's analytics for a time range, read from the Chatwoot mirror as the caller: conversations
// per day by channel, first response and resolution p50/p90, who answered, busiest hours and CSAT.
// The SQL functions (…_store_analytics.sql) check that the caller administers the store; RLS does
// the rest. Definitions are in the migration and in the README's "Store analytics".

import { z } from "zod";
import { ApiError, parse } from "../../_shared/platform/http.ts";
import { dbError, route, storeBySlug } from "../route.ts";

const DAY_MS = 86_400_000;
/** A year and a bit: enough for any comparison a store makes, and a bound on what one call reads. */
export const MAX_RANGE_DAYS = 400;

const rangeQuery = z.object({
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
});

/** [from, to) from the query; the last 30 days when absent. */
export function analyticsRange(params: URLSearchParams, now = new Date()): { from: Date; to: Date } {
  const q = parse(rangeQuery, Object.fromEntries(params), "range");
  const to = q.to ? new Date(q.to) : now;
  const from = q.from ? new Date(q.from) : new Date(to.getTime() - 30 * DAY_MS);
  if (to.getTime() <= from.getTime()) throw new ApiError(400, "invalid_input", "The range must end after it starts.");
  if (to.getTime() - from.getTime() > MAX_RANGE_DAYS * DAY_MS) {
    throw new ApiError(400, "invalid_input", `The range can cover at most ${MAX_RANGE_DAYS} days.`);
  }
  return { from, to };
}

export const analyticsRoutes = [
  route("GET", "/stores/:slug/analytics", ({ params, url, asCaller }) => {
    const { from, to } = analyticsRange(url.searchParams);
    return asCaller(async (tx) => {
      const store = await storeBySlug(tx, params.slug);
      const [zone] = await tx`
        select public.analytics_store_time_zone(${store.id}, ${from}, ${to}) as time_zone,
               (select s.time_zone from public.stores s where s.id = ${store.id}) as store_time_zone`
        .catch(dbError);
      const perDay = await tx`
        select day::text as day, channel, conversations::int as conversations
        from public.analytics_conversations_per_day(${store.id}, ${from}, ${to})`;
      const times = await tx`
        select measure, conversations::int as conversations, waiting::int as waiting,
               p50_seconds::float8 as p50_seconds, p90_seconds::float8 as p90_seconds
        from public.analytics_response_times(${store.id}, ${from}, ${to})`;
      const share = await tx`
        select outcome, conversations::int as conversations, share::float8 as share
        from public.analytics_answer_share(${store.id}, ${from}, ${to})`;
      const hours = await tx`
        select weekday, hour, incoming_messages::int as incoming_messages
        from public.analytics_busiest_hours(${store.id}, ${from}, ${to})`;
      const csat = await tx`
        select conversation_display_id, rating, feedback, sent_at
        from public.analytics_csat_responses(${store.id}, ${from}, ${to})`;
      return {
        store: { slug: store.slug, time_zone: zone.store_time_zone ?? null },
        time_zone: zone.time_zone,
        range: { from: from.toISOString(), to: to.toISOString() },
        conversations_per_day: perDay,
        response_times: times,
        answer_share: share,
        busiest_hours: hours,
        csat: csat.map((r) => ({ ...r, sent_at: new Date(r.sent_at).toISOString() })),
      };
    });
  }),
];

// The Overview and alerts for platform administrators: the alerts (firing first), acknowledging one, the rules and
// changing a rule's threshold, window, settings or switch. RLS decides: anyone else reads no row
// and changes nothing (a 403 says so rather than an empty page).

import { z } from "zod";
import type { TransactionSql } from "../../_shared/platform/db.ts";
import { ApiError, body, parse } from "../../_shared/platform/http.ts";
import { dbError, route } from "../route.ts";

const alertFilters = z.object({
  state: z.enum(["firing", "resolved", "all"]).default("all"),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

const overviewQuery = z.object({ range: z.enum(["hour", "day", "week", "month"]).default("day") });

const rulePatch = z.object({
  threshold: z.number().finite().optional(),
  window_minutes: z.number().int().min(1).max(10080).optional(),
  params: z.record(z.string(), z.unknown()).optional(),
  enabled: z.boolean().optional(),
}).strict().refine((p) => Object.keys(p).length > 0, { message: "nothing to change" });

async function requirePlatformAdmin(tx: TransactionSql): Promise<void> {
  const [r] = await tx`select public.is_platform_admin() as ok`;
  if (!r.ok) throw new ApiError(403, "forbidden", "Only platform administrators see and manage alerts.");
}

export const alertRoutes = [
  // The Overview page: rollups over the range and what is true now (public.platform_overview).
  route("GET", "/overview", async ({ url, asCaller }) => {
    const q = parse(overviewQuery, Object.fromEntries(url.searchParams), "range");
    const [row] = await asCaller((tx) => tx`select public.platform_overview(${q.range}) as overview`).catch(dbError);
    return row.overview;
  }),

  route("GET", "/alerts", ({ url, asCaller }) => {
    const q = parse(alertFilters, Object.fromEntries(url.searchParams), "filters");
    return asCaller(async (tx) => {
      await requirePlatformAdmin(tx);
      const alerts = await tx`
        select a.id::int, a.rule, a.subject, a.state, a.value, a.threshold, r.unit, a.message, a.fired_at,
               a.resolved_at, a.acknowledged_at, a.acknowledged_by, a.notified_fired_at, a.notified_resolved_at
        from public.alerts a join public.alert_rules r on r.id = a.rule
        where ${q.state} = 'all' or a.state = ${q.state}
        order by a.state = 'firing' desc, a.fired_at desc
        limit ${q.limit}`;
      return { alerts };
    });
  }),

  route("POST", "/alerts/:id(\\d+)/ack", async ({ params, claims, asCaller }) => {
    const [alert] = await asCaller(async (tx) => {
      await requirePlatformAdmin(tx);
      return await tx`
        update public.alerts set acknowledged_at = coalesce(acknowledged_at, now()),
                                 acknowledged_by = coalesce(acknowledged_by, ${claims.sub ?? null}::uuid)
         where id = ${params.id}
        returning id::int, rule, subject, state, acknowledged_at, acknowledged_by`;
    }).catch(dbError);
    if (!alert) throw new ApiError(404, "not_found", "No such alert.");
    return { alert };
  }),

  route("GET", "/alert-rules", ({ asCaller }) =>
    asCaller(async (tx) => {
      await requirePlatformAdmin(tx);
      const rules = await tx`
        select id, description, threshold, unit, window_minutes, params, enabled, updated_at, updated_by
        from public.alert_rules order by id`;
      return { rules };
    })),

  route("POST", "/alert-rules/:id([a-z][a-z0-9_]*)", async ({ req, params, claims, asCaller }) => {
    const patch = parse(rulePatch, await body(req), "rule");
    const [rule] = await asCaller(async (tx) => {
      await requirePlatformAdmin(tx);
      return await tx`
        update public.alert_rules set
          threshold = coalesce(${patch.threshold ?? null}::float8, threshold),
          window_minutes = coalesce(${patch.window_minutes ?? null}::int, window_minutes),
          params = coalesce(${patch.params ? tx.json(patch.params as never) : null}::jsonb, params),
          enabled = coalesce(${patch.enabled ?? null}::boolean, enabled),
          updated_at = now(), updated_by = ${claims.sub ?? null}::uuid
         where id = ${params.id}
        returning id, description, threshold, unit, window_minutes, params, enabled, updated_at, updated_by`;
    }).catch(dbError);
    if (!rule) throw new ApiError(404, "not_found", `No alert rule "${params.id}".`);
    return { rule };
  }),
];

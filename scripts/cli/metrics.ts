// `switchboard metrics` and `switchboard alerts list|ack|rules|set`: the figures the metrics
// endpoint exposes, as text for a person, and the alerts the worker fires, straight from the
// database (as the CLI does everything else).

import { parseArgs } from "node:util";
import { CliContext, CliError, table } from "./context.ts";
import { readMetrics } from "../../supabase/functions/_shared/metrics/snapshot.ts";
import { histogramQuantile, type MetricFamily } from "../../supabase/functions/_shared/metrics/exposition.ts";

function labelText(labels: Record<string, string>): string {
  const entries = Object.entries(labels);
  return entries.length ? entries.map(([k, v]) => `${k}=${v}`).join(" ") : "";
}

function figure(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return v.toLocaleString("en-US");
  return v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(2) : v.toPrecision(3);
}

/** Every family as "name  labels  value"; a histogram as its count, mean, p50 and p95. */
export function metricsText(families: MetricFamily[]): string {
  const rows: Record<string, string>[] = [];
  for (const f of families) {
    if (f.type === "histogram") {
      for (const s of f.samples) {
        const p50 = histogramQuantile(0.5, f.bounds, s.buckets);
        const p95 = histogramQuantile(0.95, f.bounds, s.buckets);
        rows.push({
          metric: f.name,
          labels: labelText(s.labels),
          value: `n=${figure(s.count)} mean=${s.count ? figure(s.sum / s.count) : "-"} p50=${
            p50 === null ? "-" : figure(p50)
          } p95=${p95 === null ? "-" : figure(p95)}`,
        });
      }
    } else if (f.samples.length === 0) {
      rows.push({ metric: f.name, labels: "", value: "(none)" });
    } else {
      for (const s of f.samples) rows.push({ metric: f.name, labels: labelText(s.labels), value: figure(s.value) });
    }
  }
  return table(rows, ["metric", "labels", "value"]);
}

export async function metricsCommand(ctx: CliContext, args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { grep: { type: "string" } }, strict: true });
  const families = await readMetrics(ctx.sql);
  ctx.out(metricsText(values.grep ? families.filter((f) => f.name.includes(values.grep!)) : families));
}

export async function alertsCommand(ctx: CliContext, args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === "list") return await listAlerts(ctx, rest);
  if (sub === "ack") return await ackAlerts(ctx, rest);
  if (sub === "rules") return await listRules(ctx);
  if (sub === "set") return await setRule(ctx, rest);
  throw new CliError("usage: switchboard alerts <list|ack|rules|set>", 2);
}

async function listAlerts(ctx: CliContext, args: string[]) {
  const { values } = parseArgs({
    args,
    options: { state: { type: "string", default: "firing" }, limit: { type: "string", default: "50" } },
    strict: true,
  });
  if (!["firing", "resolved", "all"].includes(values.state!)) {
    throw new CliError("--state must be firing, resolved or all", 2);
  }
  const limit = Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new CliError("--limit must be a positive integer", 2);
  const rows = await ctx.sql`
    select a.id, a.state, a.rule, a.subject, round(a.value::numeric, 3) || ' ' || r.unit as value,
           a.threshold || ' ' || r.unit as threshold, a.fired_at, a.resolved_at,
           case when a.acknowledged_at is null then '' else 'yes' end as acked, a.message
    from public.alerts a join public.alert_rules r on r.id = a.rule
    where ${values.state!} = 'all' or a.state = ${values.state!}
    order by a.state = 'firing' desc, a.fired_at desc limit ${limit}`;
  ctx.out(table(rows, ["id", "state", "rule", "subject", "value", "threshold", "fired_at", "resolved_at", "acked"]));
}

async function ackAlerts(ctx: CliContext, args: string[]) {
  const { positionals, values } = parseArgs({
    args,
    options: { "all-firing": { type: "boolean" } },
    allowPositionals: true,
    strict: true,
  });
  if (!values["all-firing"] && positionals.length === 0) {
    throw new CliError("usage: switchboard alerts ack <id…> | --all-firing", 2);
  }
  const bad = positionals.filter((id) => !/^\d+$/.test(id));
  if (bad.length) throw new CliError(`not an alert id: ${bad.join(", ")}`, 2);
  const rows = values["all-firing"]
    ? await ctx.sql`update public.alerts set acknowledged_at = now()
                    where state = 'firing' and acknowledged_at is null returning id`
    : await ctx.sql`update public.alerts set acknowledged_at = coalesce(acknowledged_at, now())
                    where id = any(${positionals.map(Number)}::bigint[]) returning id`;
  ctx.out(`acknowledged ${rows.length} alert${rows.length === 1 ? "" : "s"}`);
  if (!values["all-firing"] && rows.length < positionals.length) {
    throw new CliError(`${positionals.length - rows.length} alert(s) not found`);
  }
}

async function listRules(ctx: CliContext) {
  const rows = await ctx.sql`
    select id, enabled, threshold || ' ' || unit as threshold, window_minutes as window_min, description
    from public.alert_rules order by id`;
  ctx.out(table(rows, ["id", "enabled", "threshold", "window_min", "description"]));
}

async function setRule(ctx: CliContext, args: string[]) {
  const { positionals, values } = parseArgs({
    args,
    options: {
      threshold: { type: "string" },
      window: { type: "string" },
      enable: { type: "boolean" },
      disable: { type: "boolean" },
    },
    allowPositionals: true,
    strict: true,
  });
  const [id] = positionals;
  if (!id) {
    throw new CliError(
      "usage: switchboard alerts set <rule> [--threshold x] [--window minutes] [--enable|--disable]",
      2,
    );
  }
  const threshold = values.threshold === undefined ? null : Number(values.threshold);
  if (threshold !== null && !Number.isFinite(threshold)) throw new CliError("--threshold must be a number", 2);
  const window = values.window === undefined ? null : Number(values.window);
  if (window !== null && !(Number.isInteger(window) && window >= 1)) {
    throw new CliError("--window must be a whole number of minutes", 2);
  }
  const enabled = values.enable ? true : values.disable ? false : null;
  const [rule] = await ctx.sql`
    update public.alert_rules set threshold = coalesce(${threshold}::float8, threshold),
      window_minutes = coalesce(${window}::int, window_minutes), enabled = coalesce(${enabled}::boolean, enabled),
      updated_at = now(), updated_by = null
    where id = ${id} returning id, enabled, threshold || ' ' || unit as threshold, window_minutes as window_min`;
  if (!rule) throw new CliError(`no alert rule "${id}" (see: switchboard alerts rules)`);
  ctx.out(table([rule], ["id", "enabled", "threshold", "window_min"]));
}

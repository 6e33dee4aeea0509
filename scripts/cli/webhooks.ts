// `switchboard webhooks kept|replay`: the authenticated deliveries the receiver kept without
// applying them (schema misses, account mismatches, bodies that were not JSON, unknown events),
// and running them through ingestion again once the cause is fixed.

import { parseArgs } from "node:util";
import { keptDeliveries, replayKeptDelivery } from "../../supabase/functions/_shared/chatwoot/delivery_replay.ts";
import { createLogger } from "../../supabase/functions/_shared/platform/log.ts";
import { type CliContext, CliError, table } from "./context.ts";

const USAGE = "usage: switchboard webhooks kept [--store s] [--limit n] | " +
  "webhooks replay --store s (--delivery id… | --all)";

export async function webhooksCommand(ctx: CliContext, args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === "kept") return await listKept(ctx, rest);
  if (sub === "replay") return await replay(ctx, rest);
  throw new CliError(USAGE, 2);
}

async function accountRefOf(ctx: CliContext, slug: string | undefined): Promise<string | null> {
  if (slug === undefined) return null;
  const [row] = await ctx.sql`select a.id from public.chatwoot_accounts a join public.stores s on s.id = a.store_id
                              where s.slug = ${slug}`;
  if (!row) throw new CliError(`no store "${slug}" with a linked Chatwoot account`);
  return row.id;
}

async function listKept(ctx: CliContext, args: string[]) {
  const { values } = parseArgs({
    args,
    options: { store: { type: "string" }, limit: { type: "string", default: "100" } },
    strict: true,
  });
  const limit = Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new CliError("--limit must be a positive integer", 2);
  const rows = await ctx.sql`
    select st.slug as store, d.delivery_id, d.event, d.outcome, d.received_at, d.replayed_at,
           d.detail ->> 'reason' as reason, d.detail -> 'issues' ->> 0 as first_issue
    from private.chatwoot_deliveries d
    join public.chatwoot_accounts a on a.id = d.account_ref
    join public.stores st on st.id = a.store_id
    where d.outcome in ('rejected', 'unknown_event', 'too_large')
      and (${values.store ?? null}::text is null or st.slug = ${values.store ?? null})
    order by d.received_at limit ${limit}`;
  ctx.out(table(rows, ["store", "delivery_id", "event", "outcome", "received_at", "reason", "first_issue"]));
}

async function replay(ctx: CliContext, args: string[]) {
  const { values } = parseArgs({
    args,
    options: { store: { type: "string" }, delivery: { type: "string", multiple: true }, all: { type: "boolean" } },
    strict: true,
  });
  if (!values.store || (!values.all && !values.delivery?.length)) throw new CliError(USAGE, 2);
  const accountRef = (await accountRefOf(ctx, values.store))!;
  const ids = values.all
    ? (await keptDeliveries(ctx.sql, { accountRef, limit: 100_000 })).map((d) => d.delivery_id)
    : values.delivery!;
  // What is still kept is in the table below; the receiver's own warnings would repeat it.
  const log = createLogger({ fn: "cli" }, "error");
  const results = [];
  let missing = 0;
  for (const deliveryId of ids) {
    const r = await replayKeptDelivery({ sql: ctx.sql, log }, { accountRef, deliveryId });
    if (r) results.push({ ...r, issues: r.issues?.join("; ") ?? "" });
    else {
      missing++;
      ctx.out(`delivery ${deliveryId}: not kept for ${values.store} (only rejected or unknown events are replayed)`);
    }
  }
  ctx.out(table(results, ["delivery_id", "event", "before", "after", "issues"]));
  const applied = results.filter((r) => ["applied", "stale", "noise", "ignored"].includes(r.after)).length;
  ctx.out(`replayed ${results.length}: ${applied} applied, ${results.length - applied} still kept`);
  if (missing) throw new CliError(`${missing} delivery id(s) were not kept deliveries`);
}

// `switchboard contacts sync --store <slug> | --all`: every customer of the stores through the
// contact sync, resumable (run it again after an interrupt), within the shared rate limit,
// with a progress bar and a final report. `contacts conflicts` lists what needs an admin.

import { parseArgs } from "node:util";
import { type CliContext, CliError, table } from "./context.ts";
import { progressBar } from "./progress.ts";
import { postgresRateLimiter } from "../../supabase/functions/_shared/chatwoot/rate_limit.ts";
import { backfillContacts } from "../../supabase/functions/_shared/contact_sync/backfill.ts";

export async function contactsCommand(ctx: CliContext, args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === "sync") return await sync(ctx, rest);
  if (sub === "conflicts") return await conflicts(ctx, rest);
  throw new CliError("usage: switchboard contacts <sync|conflicts>", 2);
}

async function storeIds(ctx: CliContext, slug: string | undefined, all: boolean | undefined) {
  if (!slug === !all) throw new CliError("pass either --store <slug> or --all", 2);
  const rows = all
    ? await ctx.sql`select s.id, s.slug, (a.id is not null) as linked from public.stores s
                    left join public.chatwoot_accounts a on a.store_id = s.id order by s.slug`
    : await ctx.sql`select s.id, s.slug, (a.id is not null) as linked from public.stores s
                    left join public.chatwoot_accounts a on a.store_id = s.id where s.slug = ${slug!}`;
  if (!rows.length) throw new CliError(`no store with slug "${slug}"`);
  return rows;
}

async function sync(ctx: CliContext, args: string[]) {
  const { values } = parseArgs({
    args,
    options: { store: { type: "string" }, all: { type: "boolean" }, concurrency: { type: "string", default: "4" } },
    strict: true,
  });
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    throw new CliError("--concurrency must be an integer from 1 to 64", 2);
  }
  const stores = await storeIds(ctx, values.store, values.all);
  for (const s of stores.filter((s) => !s.linked)) {
    ctx.out(`store ${s.slug}: no Chatwoot account yet (provisioning, or \`switchboard accounts link\`): skipped`);
  }
  const linked = stores.filter((s) => s.linked);
  if (!linked.length) return;

  const limiter = postgresRateLimiter(ctx.sql, {
    perMinute: Number(Deno.env.get("CHATWOOT_REQUESTS_PER_MINUTE") ?? 3000),
  });
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  let bar: ReturnType<typeof progressBar> | null = null;
  const t0 = performance.now();
  try {
    const report = await backfillContacts({ sql: ctx.sql, limiter }, {
      storeIds: linked.map((s) => s.id),
      concurrency,
      signal: abort.signal,
      onProgress: (r) => {
        bar ??= progressBar("contacts", r.total, "{requests} requests");
        bar.update(r.done, { requests: r.requests });
      },
    });
    (bar as ReturnType<typeof progressBar> | null)?.stop();
    const seconds = (performance.now() - t0) / 1000;
    ctx.out(table([{
      stores: linked.length,
      customers: report.total,
      created: report.created,
      updated: report.updated,
      linked: report.linked,
      unchanged: report.unchanged,
      skipped: report.skipped,
      conflicts: report.conflicts,
      failed: report.failed,
      requests: report.requests,
      "rate-limit wait s": (report.rateLimitWaitMs / 1000).toFixed(1),
      seconds: seconds.toFixed(1),
    }], [
      "stores",
      "customers",
      "created",
      "updated",
      "linked",
      "unchanged",
      "skipped",
      "conflicts",
      "failed",
      "requests",
      "rate-limit wait s",
      "seconds",
    ]));
    ctx.out(
      `summary: created=${report.created} updated=${report.updated} linked=${report.linked} ` +
        `unchanged=${report.unchanged} skipped=${report.skipped} conflicts=${report.conflicts} ` +
        `failed=${report.failed} requests=${report.requests}`,
    );
    for (const f of report.failures.slice(0, 20)) ctx.out(`failed ${f.customerId}: ${f.error}`);
    if (abort.signal.aborted) {
      throw new CliError(`interrupted after ${report.done}/${report.total}: run the same command again to resume`, 130);
    }
    if (report.failed) throw new CliError(`${report.failed} customer(s) failed; run again to retry them`);
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
  }
}

async function conflicts(ctx: CliContext, args: string[]) {
  const { values } = parseArgs({
    args,
    options: { store: { type: "string" }, limit: { type: "string", default: "50" } },
    strict: true,
  });
  const rows = await ctx.sql`
    select s.slug as store, c.created_at, c.field, c.resolution, c.contact_id, c.other_contact_id,
           cu.external_id as customer, c.detail
    from public.contact_sync_conflicts c
    join public.stores s on s.id = c.store_id
    left join public.customers cu on cu.id = c.customer_id
    where (${values.store ?? null}::text is null or s.slug = ${values.store ?? null})
    order by c.created_at desc limit ${Number(values.limit)}`;
  ctx.out(
    table(rows, ["store", "created_at", "customer", "field", "resolution", "contact_id", "other_contact_id", "detail"]),
  );
}

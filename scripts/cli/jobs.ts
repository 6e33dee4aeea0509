// `switchboard jobs list|dead|replay`: the queue as an operator sees it.

import { parseArgs } from "node:util";
import { CliContext, CliError, table } from "./context.ts";

export async function jobsCommand(ctx: CliContext, args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === "list") return await listJobs(ctx, rest, null);
  if (sub === "dead") return await listJobs(ctx, rest, "dead");
  if (sub === "replay") return await replay(ctx, rest);
  throw new CliError("usage: switchboard jobs <list|dead|replay>", 2);
}

const STATUSES = ["queued", "running", "completed", "dead"];

async function listJobs(ctx: CliContext, args: string[], forced: string | null) {
  const { values } = parseArgs({
    args,
    options: { status: { type: "string" }, kind: { type: "string" }, limit: { type: "string", default: "50" } },
    strict: true,
  });
  const status = forced ?? values.status ?? null;
  if (status && !STATUSES.includes(status)) throw new CliError(`--status must be one of ${STATUSES.join(", ")}`, 2);
  const limit = Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new CliError("--limit must be a positive integer", 2);
  const rows = await ctx.sql`
    select id, kind, status::text as status, attempts || '/' || max_attempts as attempts, run_at, last_error,
           idempotency_key
    from private.jobs
    where (${status}::text is null or status::text = ${status})
      and (${values.kind ?? null}::text is null or kind = ${values.kind ?? null})
    order by id desc limit ${limit}`;
  ctx.out(table(rows, ["id", "kind", "status", "attempts", "run_at", "last_error"]));
}

async function replay(ctx: CliContext, args: string[]) {
  const { values, positionals } = parseArgs({
    args,
    options: { "all-dead": { type: "boolean" }, kind: { type: "string" } },
    allowPositionals: true,
    strict: true,
  });
  let ids: string[];
  if (values["all-dead"]) {
    const rows = await ctx.sql`
      select id::text from private.jobs where status = 'dead'
        and (${values.kind ?? null}::text is null or kind = ${values.kind ?? null}) order by id`;
    ids = rows.map((r) => r.id);
  } else {
    ids = positionals;
    if (ids.length === 0) throw new CliError("usage: switchboard jobs replay <id…> | --all-dead [--kind k]", 2);
    const bad = ids.filter((id) => !/^\d+$/.test(id));
    if (bad.length) throw new CliError(`not a job id: ${bad.join(", ")}`, 2);
  }
  let replayed = 0;
  for (const id of ids) {
    const [row] = await ctx.sql`select private.replay_job(${id}::bigint) as ok`;
    if (row.ok) replayed++;
    else ctx.out(`job ${id}: not found, or still queued/running (only dead or completed jobs can be replayed)`);
  }
  ctx.out(`replayed ${replayed} job${replayed === 1 ? "" : "s"}`);
  if (replayed < ids.length) throw new CliError(`${ids.length - replayed} job(s) could not be replayed`);
}

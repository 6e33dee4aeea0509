// `switchboard archive queue|map|ignore|erase|erasures`: the WhatsApp archive's review queue and the
// decisions on it, and erasures with their progress, from the command line, through the same modules
// and checked SQL functions as admin-api, acting as the operator (asOperator: service_role, audited
// as cli:<login>).

import { parseArgs } from "node:util";
import {
  ignoreContact,
  listReviewQueue,
  mapContact,
  queueFilters,
  requestErasure,
} from "../../supabase/functions/_shared/archive/review.ts";
import {
  erasureProgress,
  type ErasureView,
  getErasure,
  listErasures,
} from "../../supabase/functions/_shared/archive/erasure.ts";
import { normalizePhoneE164 } from "../../supabase/functions/_shared/platform/phone.ts";
import type { TransactionSql } from "../../supabase/functions/_shared/platform/db.ts";
import { asOperator, CliContext, CliError, table } from "./context.ts";

async function storeId(tx: TransactionSql, slug: string | undefined): Promise<string> {
  if (!slug) throw new CliError("--store <slug> is required", 2);
  const [s] = await tx`select id from public.stores where slug = ${slug}`;
  if (!s) throw new CliError(`no store with slug "${slug}"`);
  return s.id;
}

function phoneArg(raw: string | undefined): string {
  const p = normalizePhoneE164(raw);
  if (!p) throw new CliError(`--phone must be a valid phone number (got ${raw ?? "nothing"})`, 2);
  return p;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function uuidArg(raw: string | undefined, what: string): string {
  if (!raw || !UUID.test(raw)) throw new CliError(`${what} must be a UUID (got ${raw ?? "nothing"})`, 2);
  return raw;
}

const number = (n: number) => n.toLocaleString("en-US");

/** One line of an erasure's progress: "erasing · bucket objects · 12,000 of ~20,000 objects (60%) · 13 runs". */
export function erasureLine(e: ErasureView): string {
  const { total, percent } = erasureProgress(e);
  const objects = e.status === "completed"
    ? `${number(e.objects_deleted)} objects deleted`
    : `${number(e.objects_deleted)} of ~${number(total)} objects deleted (${percent}%)`;
  const step = e.status === "completed" ? null : e.step.replaceAll("_", " ");
  return [e.status, step, objects, `${e.runs} job run${e.runs === 1 ? "" : "s"}`].filter(Boolean).join(" · ");
}

function erasureReport(e: ErasureView): string {
  const softDelete = e.soft_delete_seconds === null
    ? null
    : e.soft_delete_seconds === 0
    ? "off (deleted objects are gone at once)"
    : `${Math.round(e.soft_delete_seconds / 86_400)} days (GCS keeps deleted objects until then)`;
  const rows: [string, unknown][] = [
    ["erasure", e.id],
    ["user", [e.full_name, e.email, e.user_id].filter(Boolean).join(" · ")],
    ["requested by", e.requested_by],
    ["progress", erasureLine(e)],
    ["bucket", e.bucket ?? "(none)"],
    ["soft delete", softDelete],
    ["records forgotten", e.status === "completed" ? `${e.messages ?? 0} messages, ${e.media ?? 0} media` : null],
    ["requested", e.requested_at],
    ["started", e.started_at],
    ["finished", e.finished_at],
    ["last error", e.last_error],
  ];
  return rows.filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${k.padEnd(18)}${v instanceof Date ? v.toISOString().replace(/\.\d+Z$/, "Z") : v}`).join("\n");
}

/** `archive erase status <erasure> | --user <uuid> [--wait]`: the erasure's progress, until it ends with --wait. */
async function erasureStatus(ctx: CliContext, args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: { user: { type: "string" }, wait: { type: "boolean" } },
    allowPositionals: true,
    strict: true,
  });
  const find = async () => {
    if (positionals[0]) return await asOperator(ctx, (tx) => getErasure(tx, uuidArg(positionals[0], "the erasure")));
    if (!values.user) {
      throw new CliError("usage: switchboard archive erase status <erasure-id> | --user <uuid> [--wait]", 2);
    }
    const [latest] = await asOperator(
      ctx,
      (tx) => listErasures(tx, { limit: 1, userId: uuidArg(values.user, "--user") }),
    );
    return latest ?? null;
  };
  let e = await find();
  if (!e) {
    throw new CliError(positionals[0] ? `no erasure ${positionals[0]}` : `no erasure of ${values.user}'s archive`);
  }
  if (values.wait) {
    let last = "";
    while (e.status !== "completed" && e.status !== "failed") {
      const line = erasureLine(e);
      if (line !== last) ctx.out(line);
      last = line;
      await new Promise((r) => setTimeout(r, 1000));
      e = (await find())!;
    }
  }
  ctx.out(erasureReport(e));
  if (e.status === "failed") throw new CliError(`the erasure failed: ${e.last_error ?? "see the Jobs page"}`);
}

export async function archiveCommand(ctx: CliContext, args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === "erase" && rest[0] === "status") return await erasureStatus(ctx, rest.slice(1));
  const { values } = parseArgs({
    args: rest,
    options: {
      store: { type: "string" },
      phone: { type: "string" },
      user: { type: "string" },
      q: { type: "string" },
      "has-media": { type: "boolean" },
      limit: { type: "string" },
    },
    strict: true,
  });
  if (sub === "queue") {
    const page = await asOperator(ctx, async (tx) =>
      listReviewQueue(
        tx,
        queueFilters.parse({
          store_id: values.store ? await storeId(tx, values.store) : undefined,
          q: values.q,
          has_media: values["has-media"] ? "true" : undefined,
          limit: values.limit ?? 50,
        }),
      ));
    ctx.out(table(page.contacts, ["store_slug", "phone_e164", "contact_name", "messages", "media", "last_message_at"]));
    return;
  }
  if (sub === "map") {
    if (!values.user) {
      throw new CliError("usage: switchboard archive map --store <slug> --phone <number> --user <uuid>", 2);
    }
    const jobId = await asOperator(
      ctx,
      async (tx) =>
        mapContact(tx, {
          storeId: await storeId(tx, values.store),
          phone: phoneArg(values.phone),
          userId: values.user!,
        }),
    );
    ctx.out(`mapped; moving the archive to the user's bucket (job ${jobId})`);
    return;
  }
  if (sub === "ignore") {
    await asOperator(
      ctx,
      async (tx) => ignoreContact(tx, { storeId: await storeId(tx, values.store), phone: phoneArg(values.phone) }),
    );
    ctx.out("ignored: the contact's archive stays in the holding bucket");
    return;
  }
  if (sub === "erase") {
    if (!values.user) throw new CliError("usage: switchboard archive erase --user <uuid>", 2);
    const userId = uuidArg(values.user, "--user");
    const erasureId = await asOperator(ctx, (tx) => requestErasure(tx, userId));
    ctx.out(`erasing the archive of ${userId}: erasure ${erasureId}`);
    ctx.out(`follow it with: switchboard archive erase status ${erasureId} --wait`);
    return;
  }
  if (sub === "erasures") {
    const limit = Number(values.limit ?? 20);
    if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw new CliError("--limit must be 1–200", 2);
    const rows = await asOperator(
      ctx,
      (tx) => listErasures(tx, { limit, userId: values.user ? uuidArg(values.user, "--user") : null }),
    );
    ctx.out(table(
      rows.map((e) => {
        const { total, percent } = erasureProgress(e);
        return {
          ...e,
          user: e.email ?? e.user_id,
          deleted: `${number(e.objects_deleted)}/${number(total)}`,
          done: `${percent}%`,
        };
      }),
      ["id", "user", "status", "step", "deleted", "done", "runs", "requested_at", "finished_at"],
    ));
    return;
  }
  throw new CliError("usage: switchboard archive <queue|map|ignore|erase|erasures>", 2);
}

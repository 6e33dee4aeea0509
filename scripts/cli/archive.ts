// `switchboard archive queue|map|ignore|erase`: the WhatsApp archive's review queue and the
// decisions on it, from the command line, through the same module and checked SQL functions as
// admin-api, acting as the operator (asOperator: service_role, audited as cli:<login>).

import { parseArgs } from "node:util";
import {
  ignoreContact,
  listReviewQueue,
  mapContact,
  queueFilters,
  requestErasure,
} from "../../supabase/functions/_shared/archive/review.ts";
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

export async function archiveCommand(ctx: CliContext, args: string[]): Promise<void> {
  const [sub, ...rest] = args;
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
    const jobId = await asOperator(ctx, (tx) => requestErasure(tx, values.user!));
    ctx.out(`erasing the archive of ${values.user} (job ${jobId})`);
    return;
  }
  throw new CliError("usage: switchboard archive <queue|map|ignore|erase>", 2);
}

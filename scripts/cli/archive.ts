// `switchboard archive queue|map|ignore|erase`: the WhatsApp archive's review queue and the
// decisions on it, from the command line (the same code the archive-admin function runs).

import { parseArgs } from "node:util";
import {
  ignoreContact,
  listReviewQueue,
  mapContact,
  queueFilters,
  requestErasure,
  ReviewError,
} from "../../supabase/functions/_shared/archive/review.ts";
import { normalizePhoneE164 } from "../../supabase/functions/_shared/platform/phone.ts";
import { CliContext, CliError, table } from "./context.ts";

const ACTOR = `cli:${Deno.env.get("USER") ?? "operator"}`;

async function storeId(ctx: CliContext, slug: string | undefined): Promise<string> {
  if (!slug) throw new CliError("--store <slug> is required", 2);
  const [s] = await ctx.sql`select id from public.stores where slug = ${slug}`;
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
  try {
    if (sub === "queue") {
      const f = queueFilters.parse({
        store_id: values.store ? await storeId(ctx, values.store) : undefined,
        q: values.q,
        has_media: values["has-media"] ? "true" : undefined,
        limit: values.limit ?? 50,
      });
      const page = await listReviewQueue(ctx.sql, f);
      ctx.out(
        table(page.contacts, ["store_slug", "phone_e164", "contact_name", "messages", "media", "last_message_at"]),
      );
      return;
    }
    if (sub === "map") {
      if (!values.user) {
        throw new CliError("usage: switchboard archive map --store <slug> --phone <number> --user <uuid>", 2);
      }
      const r = await mapContact(ctx.sql, {
        storeId: await storeId(ctx, values.store),
        phone: phoneArg(values.phone),
        userId: values.user,
        actor: ACTOR,
      });
      ctx.out(`mapped; moving the archive to the user's bucket (job ${r.jobId})`);
      return;
    }
    if (sub === "ignore") {
      await ignoreContact(ctx.sql, {
        storeId: await storeId(ctx, values.store),
        phone: phoneArg(values.phone),
        actor: ACTOR,
      });
      ctx.out("ignored: the contact's archive stays in the holding bucket");
      return;
    }
    if (sub === "erase") {
      if (!values.user) throw new CliError("usage: switchboard archive erase --user <uuid>", 2);
      const r = await requestErasure(ctx.sql, { userId: values.user, actor: ACTOR });
      ctx.out(`erasing the archive of ${values.user} (job ${r.jobId})`);
      return;
    }
  } catch (err) {
    if (err instanceof ReviewError) throw new CliError(err.message);
    throw err;
  }
  throw new CliError("usage: switchboard archive <queue|map|ignore|erase>", 2);
}

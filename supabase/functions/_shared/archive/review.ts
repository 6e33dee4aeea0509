// The review queue of WhatsApp numbers that match no user, and the decisions on it, for admin-api
// (and archive-admin, its alias) and the CLI alike. Everything takes a transaction under the
// caller's RLS (withRls): reads see only the caller's stores; decisions are the checked SQL
// functions of admin.sql, which check the caller's rights and write the audit log themselves.

import { z } from "zod";
import type { TransactionSql } from "../platform/db.ts";

export const queueFilters = z.object({
  store_id: z.uuid().optional(),
  q: z.string().trim().min(1).max(100).optional(),
  has_media: z.enum(["true", "false"]).transform((v) => v === "true").optional(),
  min_age_days: z.coerce.number().int().min(0).max(3650).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  /** Keyset cursor from the previous page: stays fast however deep the queue is. */
  after: z.string().regex(/^\d+(\.\d+)?\|[0-9a-f-]{36}\|\+\d{2,15}$/).optional(),
});
export type QueueFilters = z.infer<typeof queueFilters>;

export async function listReviewQueue(tx: TransactionSql, f: QueueFilters) {
  const [afterTs, afterStore, afterPhone] = f.after ? f.after.split("|") : [null, null, null];
  const like = f.q ? `%${f.q.replace(/[%_\\]/g, "\\$&")}%` : null;
  const rows = await tx`
    select c.store_id, s.slug as store_slug, c.phone_e164, c.contact_name, c.contact_email, c.messages, c.media,
           c.first_seen_at, c.last_message_at,
           extract(epoch from coalesce(c.last_message_at, c.first_seen_at))::float8 as sort_key
    from public.archive_contacts c join public.stores s on s.id = c.store_id
    where c.status = 'unmapped'
      and (${f.store_id ?? null}::uuid is null or c.store_id = ${f.store_id ?? null}::uuid)
      and (${like}::text is null or c.phone_e164 like ${like} or c.contact_name ilike ${like})
      and (${f.has_media ?? null}::boolean is null or (c.media > 0) = ${f.has_media ?? null}::boolean)
      and (${f.min_age_days ?? null}::int is null or c.first_seen_at <= now() - make_interval(days => ${
    f.min_age_days ?? 0
  }))
      and (${afterTs}::float8 is null or (extract(epoch from coalesce(c.last_message_at, c.first_seen_at))::float8, c.store_id, c.phone_e164)
           < (${afterTs}::float8, ${afterStore}::uuid, ${afterPhone}::text))
    order by sort_key desc, c.store_id desc, c.phone_e164 desc
    limit ${f.limit}`;
  const last = rows.at(-1);
  return {
    contacts: rows.map(({ sort_key: _k, ...r }) => r),
    next: rows.length === f.limit && last ? `${last.sort_key}|${last.store_id}|${last.phone_e164}` : null,
  };
}

/** One contact with its latest 100 archived messages and the users it might be: null when the
 * caller cannot see it (or it does not exist). */
export async function reviewContact(tx: TransactionSql, storeId: string, phone: string) {
  const [contact] =
    await tx`select * from public.archive_contacts where store_id = ${storeId} and phone_e164 = ${phone}`;
  if (!contact) return null;
  const messages = await tx`
    select m.message_id, cm.content, cm.message_type, cm.created_at,
           (select count(*)::int from public.archived_media x where x.account_ref = m.account_ref and x.message_id = m.message_id) as media
    from public.archived_messages m
    left join public.chatwoot_messages cm on cm.account_ref = m.account_ref and cm.message_id = m.message_id
    where m.store_id = ${storeId} and m.phone_e164 = ${phone} order by cm.created_at desc nulls last limit 100`;
  const suggestions = await tx`select * from public.archive_contact_suggestions(${storeId}, ${phone})`;
  return { contact, messages, suggestions };
}

/** Maps the number to a user; its archive then moves to their bucket (the job's id is returned). */
export async function mapContact(
  tx: TransactionSql,
  input: { storeId: string; phone: string; userId: string },
): Promise<string> {
  const [r] = await tx`
    select public.map_archive_contact(${input.storeId}, ${input.phone}, ${input.userId})::text as job_id`;
  return r.job_id;
}

/** Keeps the number's archive held, out of the queue. */
export async function ignoreContact(tx: TransactionSql, input: { storeId: string; phone: string }): Promise<void> {
  await tx`select public.ignore_archive_contact(${input.storeId}, ${input.phone})`;
}

/** Erases a user's archive (platform administrators only) in resumable job runs; returns the erasure's
 * id (public.archive_erasures shows its progress). Asking again while it runs returns the same one. */
export async function requestErasure(tx: TransactionSql, userId: string): Promise<string> {
  const [r] = await tx`select public.request_archive_erasure(${userId})::text as erasure_id`;
  return r.erasure_id;
}

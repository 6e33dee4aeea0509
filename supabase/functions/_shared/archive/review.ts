// The review queue of WhatsApp numbers that match no user, and the decisions on it: map a
// number to a user (its archive then moves, as a job), ignore it (it stays held), erase a
// user's archive. Shared by the archive-admin function and the CLI; every decision is audited.

import { z } from "zod";
import type { Sql, TransactionSql } from "../platform/db.ts";
import { enqueueJob } from "../jobs/queue.ts";

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

export async function listReviewQueue(sql: Sql | TransactionSql, f: QueueFilters) {
  const [afterTs, afterStore, afterPhone] = f.after ? f.after.split("|") : [null, null, null];
  const like = f.q ? `%${f.q.replace(/[%_\\]/g, "\\$&")}%` : null;
  const rows = await sql`
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

export class ReviewError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

export async function mapContact(
  sql: Sql,
  input: { storeId: string; phone: string; userId: string; actor: string },
): Promise<{ jobId: string }> {
  return await sql.begin(async (tx) => {
    const [user] = await tx`select 1 from auth.users where id = ${input.userId}`;
    if (!user) throw new ReviewError(`no user ${input.userId}`, 404);
    const [row] = await tx`
      update public.archive_contacts set status = 'mapped', user_id = ${input.userId}, mapped_by = 'admin', updated_at = now()
      where store_id = ${input.storeId} and phone_e164 = ${input.phone}
      returning store_id`;
    if (!row) throw new ReviewError(`no archived contact ${input.phone} in store ${input.storeId}`, 404);
    await tx`insert into private.audit_log (actor, action, target, detail)
             values (${input.actor}, 'archive.map_contact', ${`contact:${input.storeId}:${input.phone}`},
                     ${tx.json({ user_id: input.userId })})`;
    const jobId = await enqueueJob(tx, {
      kind: "archive.map_contact",
      payload: { store_id: input.storeId, phone_e164: input.phone },
      idempotencyKey: `archive.map_contact:${input.storeId}:${input.phone}:${input.userId}:${Date.now()}`,
      storeId: input.storeId,
    });
    return { jobId };
  });
}

export async function ignoreContact(sql: Sql, input: { storeId: string; phone: string; actor: string }): Promise<void> {
  await sql.begin(async (tx) => {
    const [row] = await tx`
      update public.archive_contacts set status = 'ignored', updated_at = now()
      where store_id = ${input.storeId} and phone_e164 = ${input.phone} and status <> 'mapped'
      returning 1`;
    if (!row) throw new ReviewError(`no unmapped contact ${input.phone} in store ${input.storeId}`, 404);
    await tx`insert into private.audit_log (actor, action, target)
             values (${input.actor}, 'archive.ignore_contact', ${`contact:${input.storeId}:${input.phone}`})`;
  });
}

export async function requestErasure(sql: Sql, input: { userId: string; actor: string }): Promise<{ jobId: string }> {
  return await sql.begin(async (tx) => {
    await tx`insert into private.audit_log (actor, action, target)
             values (${input.actor}, 'archive.erase_requested', ${`user:${input.userId}`})`;
    const jobId = await enqueueJob(tx, {
      kind: "archive.erase_user",
      payload: { user_id: input.userId, actor: input.actor },
      idempotencyKey: `archive.erase_user:${input.userId}:${Date.now()}`,
    });
    return { jobId };
  });
}

// archive-admin (verify_jwt = true): the review queue of unmapped WhatsApp contacts and the
// decisions on it, for platform administrators. Reads run under RLS as the caller.
//   GET  /queue?store_id&q&has_media&min_age_days&limit&after     unmapped contacts, keyset-paged
//   GET  /contacts/<store_id>/<phone>                             one contact, messages, suggestions
//   POST /contacts/<store_id>/<phone>/map   {"user_id": "…"}      map (the archive moves as a job)
//   POST /contacts/<store_id>/<phone>/ignore                      keep it held, out of the queue
//   POST /users/<user_id>/erase                                   erase a user's archive (a job)

import { z } from "zod";
import { type Claims, verifiedClaims } from "../_shared/platform/auth.ts";
import { type Sql, withRls } from "../_shared/platform/db.ts";
import { errorResponse, json, subPath } from "../_shared/platform/http.ts";
import type { Logger } from "../_shared/platform/log.ts";
import {
  ignoreContact,
  listReviewQueue,
  mapContact,
  queueFilters,
  requestErasure,
  ReviewError,
} from "../_shared/archive/review.ts";

export interface ArchiveAdminDeps {
  sql: Sql;
  log: Logger;
}

const uuid = z.uuid();
const phone = z.string().regex(/^\+[1-9]\d{1,14}$/);

function isPlatformAdmin(c: Claims | null): boolean {
  return c?.role === "service_role" || (c?.role === "authenticated" && c.app_metadata?.platform_admin === true);
}

function actorOf(c: Claims): string {
  return c.sub ? `user:${c.sub}` : `role:${c.role}`;
}

export async function handler(req: Request, deps: ArchiveAdminDeps): Promise<Response> {
  const claims = verifiedClaims(req);
  if (!claims || !isPlatformAdmin(claims)) {
    return errorResponse(403, "forbidden", "The archive review is for platform administrators.");
  }
  const path = subPath(req, "archive-admin");
  const url = new URL(req.url);
  try {
    if (req.method === "GET" && path === "/queue") {
      const f = queueFilters.safeParse(Object.fromEntries(url.searchParams));
      if (!f.success) {
        return errorResponse(
          400,
          "invalid_filters",
          "Unexpected filters.",
          f.error.issues.map((i) => `${i.path}: ${i.message}`),
        );
      }
      return json(await withRls(deps.sql, claims, (tx) => listReviewQueue(tx, f.data)));
    }
    const contact = path.match(/^\/contacts\/([^/]+)\/([^/]+)(?:\/(map|ignore))?$/);
    if (contact) {
      const store = uuid.safeParse(contact[1]);
      const number = phone.safeParse(decodeURIComponent(contact[2]));
      if (!store.success || !number.success) {
        return errorResponse(400, "invalid_contact", "Use /contacts/<store uuid>/<+E.164>.");
      }
      if (req.method === "GET" && !contact[3]) {
        return json(
          await withRls(deps.sql, claims, async (tx) => {
            const [c] =
              await tx`select * from public.archive_contacts where store_id = ${store.data} and phone_e164 = ${number.data}`;
            if (!c) return null;
            const messages = await tx`
            select m.message_id, m.object_name, m.bucket, m.archived_at, cm.content, cm.message_type, cm.created_at,
                   (select count(*)::int from public.archived_media x where x.account_ref = m.account_ref and x.message_id = m.message_id) as media
            from public.archived_messages m
            left join public.chatwoot_messages cm on cm.account_ref = m.account_ref and cm.message_id = m.message_id
            where m.store_id = ${store.data} and m.phone_e164 = ${number.data} order by cm.created_at desc limit 50`;
            const suggestions =
              await tx`select * from public.archive_contact_suggestions(${store.data}, ${number.data})`;
            return { contact: c, messages, suggestions };
          }).then((r) => r ?? Promise.reject(new ReviewError("No such archived contact.", 404))),
        );
      }
      if (req.method === "POST" && contact[3] === "map") {
        const body = z.object({ user_id: uuid }).safeParse(await req.json().catch(() => null));
        if (!body.success) return errorResponse(400, "invalid_body", 'Send {"user_id": "<uuid>"}.');
        const r = await mapContact(deps.sql, {
          storeId: store.data,
          phone: number.data,
          userId: body.data.user_id,
          actor: actorOf(claims),
        });
        return json({ status: "mapping", job_id: r.jobId }, 202);
      }
      if (req.method === "POST" && contact[3] === "ignore") {
        await ignoreContact(deps.sql, { storeId: store.data, phone: number.data, actor: actorOf(claims) });
        return json({ status: "ignored" });
      }
    }
    const erase = path.match(/^\/users\/([^/]+)\/erase$/);
    if (req.method === "POST" && erase) {
      const user = uuid.safeParse(erase[1]);
      if (!user.success) return errorResponse(400, "invalid_user", "Use /users/<uuid>/erase.");
      const r = await requestErasure(deps.sql, { userId: user.data, actor: actorOf(claims) });
      return json({ status: "erasing", job_id: r.jobId }, 202);
    }
    return errorResponse(404, "not_found", `No route ${req.method} ${path}.`);
  } catch (err) {
    if (err instanceof ReviewError) return errorResponse(err.status, "not_found", err.message);
    throw err;
  }
}

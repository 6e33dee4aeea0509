// The WhatsApp archive by user: who has an archive, one user's timeline, a short-lived signed URL
// for one medium, and erasing a user's archive with its progress (platform administrators; an
// erasure runs as resumable jobs and is followed by its id).

import type { Storage } from "@google-cloud/storage";
import { z } from "zod";
import { ApiError, parse } from "../../_shared/platform/http.ts";
import { ArchiveNotConfigured, signedDownloadUrl } from "../../_shared/archive/storage.ts";
import { requestErasure } from "../../_shared/archive/review.ts";
import { erasureProgress, type ErasureView, getErasure, listErasures } from "../../_shared/archive/erasure.ts";
import { dbError, route, uuid } from "../route.ts";

export interface ArchiveRouteDeps {
  storage: Storage;
  signedUrlTtlSeconds: number;
}

/** By name, for archive-admin's alias. */
export const eraseUserArchive = route("POST", "/archive/users/:user/erase", async ({ params, asCaller }) => {
  const userId = parse(uuid, params.user, "user id");
  const erasureId = await asCaller((tx) => requestErasure(tx, userId)).catch(dbError);
  return { status: "erasing", erasure_id: erasureId };
}, 202);

const withProgress = (e: ErasureView) => ({ ...e, ...erasureProgress(e) });

export function archiveRoutes(deps: ArchiveRouteDeps) {
  return [
    route("GET", "/archive/users", ({ url, asCaller }) => {
      const q = url.searchParams.get("q");
      const like = q ? `%${q.replace(/[%_\\]/g, "\\$&")}%` : null;
      return asCaller(async (tx) => ({
        users: await tx`
          select m.user_id, p.full_name, p.email, p.phone_e164, count(*)::int as messages,
                 (select count(*)::int from public.archived_media x where x.user_id = m.user_id) as media, min(m.bucket) as bucket
          from public.archived_messages m left join public.profiles p on p.user_id = m.user_id
          where m.user_id is not null and (${like}::text is null or p.full_name ilike ${like} or p.email ilike ${like} or p.phone_e164 like ${like})
          group by m.user_id, p.full_name, p.email, p.phone_e164 order by max(m.archived_at) desc limit 100`,
      }));
    }),

    route("GET", "/archive/users/:user/timeline", ({ params, url, asCaller }) => {
      const userId = parse(uuid, params.user, "user id");
      const limit = parse(
        z.coerce.number().int().min(1).max(200).default(50),
        url.searchParams.get("limit") ?? undefined,
        "limit",
      );
      return asCaller(async (tx) => ({
        messages: await tx`
          select m.account_ref, m.message_id, s.slug as store_slug, cm.conversation_display_id, cm.message_type, cm.content,
                 cm.created_at,
                 coalesce((select jsonb_agg(jsonb_build_object('account_ref', x.account_ref, 'attachment_id', x.attachment_id,
                     'content_type', x.content_type, 'size', x.size) order by x.attachment_id)
                   from public.archived_media x where x.account_ref = m.account_ref and x.message_id = m.message_id), '[]') as media
          from public.archived_messages m
          join public.stores s on s.id = m.store_id
          left join public.chatwoot_messages cm on cm.account_ref = m.account_ref and cm.message_id = m.message_id
          where m.user_id = ${userId} order by cm.created_at desc nulls last limit ${limit}`,
        next: null,
      }));
    }),

    route("GET", "/archive/media/:ref/:attachment(\\d+)/url", async ({ params, asCaller }) => {
      const ref = parse(uuid, params.ref, "account ref");
      const [m] = await asCaller((tx) =>
        tx`select bucket, object_name from public.archived_media
           where account_ref = ${ref} and attachment_id = ${params.attachment}`
      );
      if (!m) throw new ApiError(404, "not_found", "No such medium (or it is not in your stores).");
      // Signing may ask GCS (IAM signBlob without a private key): after the transaction.
      const url = await signedDownloadUrl(deps.storage, m.bucket, m.object_name, deps.signedUrlTtlSeconds)
        .catch((err) => {
          if (err instanceof ArchiveNotConfigured) throw new ApiError(503, "archive_not_configured", err.message);
          throw err;
        });
      return { url, expires_at: new Date(Date.now() + deps.signedUrlTtlSeconds * 1000).toISOString() };
    }),

    eraseUserArchive,

    // Erasures, newest first (RLS: platform administrators only; anyone else gets an empty list).
    route("GET", "/archive/erasures", ({ url, asCaller }) => {
      const limit = parse(
        z.coerce.number().int().min(1).max(200).default(50),
        url.searchParams.get("limit") ?? undefined,
        "limit",
      );
      const userId = url.searchParams.get("user_id");
      return asCaller(async (tx) => ({
        erasures: (await listErasures(tx, { limit, userId: userId ? parse(uuid, userId, "user id") : null }))
          .map(withProgress),
      }));
    }),

    route("GET", "/archive/erasures/:id", async ({ params, asCaller }) => {
      const id = parse(uuid, params.id, "erasure id");
      const erasure = await asCaller((tx) => getErasure(tx, id));
      if (!erasure) throw new ApiError(404, "not_found", "No such erasure (or you cannot see it).");
      return withProgress(erasure);
    }),
  ];
}

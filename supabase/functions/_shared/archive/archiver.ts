// Archiving one WhatsApp message: who it belongs to (the contact's number → a user, or the
// holding bucket), that user's bucket (created once), each attachment streamed from its
// data_url, and a JSON document per message, written under generation preconditions and
// rewritten when the message changes (transcript, status, deletion). Reads the mirror, so a
// duplicate or out-of-order job archives the newest state.

import type { Storage } from "@google-cloud/storage";
import { z } from "zod";
import type { Sql } from "../platform/db.ts";
import { Deferred, type Job, jobKind, type JobRegistry, PermanentFailure, RetryLater } from "../jobs/queue.ts";
import { normalizePhoneE164 } from "../platform/phone.ts";
import type { Fetched, Row } from "../platform/rows.ts";
import { type BucketPolicy, holdingBucketName, mediaObjectName, messageObjectName, userBucketName } from "./buckets.ts";
import { resolveArchiveContact } from "./contacts.ts";
import {
  ArchiveNotConfigured,
  confirmStoredCopy,
  copyObject,
  deleteObject,
  ensureBucket,
  ForeignBucketError,
  MediaError,
  objectGeneration,
  type StoredObject,
  streamUrlToObject,
  writeObject,
} from "./storage.ts";
import { withBucketSlot } from "./bucket_quota.ts";
import type { CpuTimer } from "../platform/cpu_timer.ts";

export interface ArchiveDeps {
  sql: Sql;
  storage: Storage;
  /** For bucket creates: single requests (no SDK retries), each on a slot of the project's quota.
   * Defaults to `storage`. */
  bucketStorage?: Storage;
  /** The GCS project's bucket create/delete budget, shared by every worker (bucket_quota.ts). */
  bucketQuota: { project: string; intervalMs: number };
  /** Why the archive cannot run at all (GCS not configured): its jobs wait, with this as their reason. */
  unavailable?: string | null;
  policy: BucketPolicy;
  fetch?: typeof fetch;
  mediaMaxBytes: number;
  mediaTimeoutMs: number;
}

/** Attachment kinds whose bytes are archived; the rest (location, contact cards) are data. */
const MEDIA_TYPES = new Set(["image", "audio", "video", "file", "sticker"]);

export type ArchiveOutcome = "archived" | "unchanged" | "not_whatsapp";

/** The mirrored message with what the archive needs of its conversation, contact and account. */
type MessageToArchive =
  & Fetched<Row<"chatwoot_messages">, "created_at" | "mirrored_at", "message_id" | "version_updated_at_ms">
  & Pick<Row<"chatwoot_conversations">, "channel" | "contact_inbox_source_id">
  & {
    conversation_contact_id: Row<"chatwoot_conversations">["contact_id"];
    conv_inbox_id: Row<"chatwoot_conversations">["inbox_id"] | null;
    contact_name: Row<"chatwoot_contacts">["name"];
    contact_email: Row<"chatwoot_contacts">["email"];
    contact_phone: Row<"chatwoot_contacts">["phone_number"];
    identifier: Row<"chatwoot_contacts">["identifier"];
    chatwoot_account_id: Row<"chatwoot_accounts">["account_id"];
  };
type MirroredAttachment = Fetched<
  Row<"chatwoot_attachments">,
  "mirrored_at",
  "attachment_id" | "message_id" | "file_size"
>;
type ArchivedObject = Pick<Row<"archived_media">, "bucket" | "object_name">;
type RecordedMedium = Fetched<
  Pick<
    Row<"archived_media">,
    "attachment_id" | "bucket" | "object_name" | "generation" | "size" | "sha256" | "crc32c" | "content_type"
  >,
  never,
  "attachment_id" | "generation" | "size"
>;

async function loadMessage(sql: Sql, accountRef: string, messageId: number) {
  const [m] = await sql<MessageToArchive[]>`
    select m.*, c.channel, c.contact_id as conversation_contact_id, c.contact_inbox_source_id, c.inbox_id as conv_inbox_id,
           ct.name as contact_name, ct.email as contact_email, ct.phone_number as contact_phone, ct.identifier,
           a.account_id as chatwoot_account_id
    from public.chatwoot_messages m
    join public.chatwoot_accounts a on a.id = m.account_ref
    left join public.chatwoot_conversations c on c.account_ref = m.account_ref and c.display_id = m.conversation_display_id
    -- The customer: the sender of an incoming message, else the conversation's contact.
    left join public.chatwoot_contacts ct on ct.account_ref = m.account_ref
      and ct.contact_id = case when m.sender_type = 'contact' then m.sender_id else c.contact_id end
    where m.account_ref = ${accountRef} and m.message_id = ${messageId}`;
  if (!m) return null;
  const attachments = await sql<MirroredAttachment[]>`select * from public.chatwoot_attachments
                                where account_ref = ${accountRef} and message_id = ${messageId} order by attachment_id`;
  return { m, attachments };
}

export async function archiveMessage(
  deps: ArchiveDeps,
  accountRef: string,
  messageId: number,
  /** The job's CPU meter: media hashing is charged to the worker run's budget. */
  cpu?: CpuTimer,
): Promise<ArchiveOutcome> {
  const loaded = await loadMessage(deps.sql, accountRef, messageId);
  if (!loaded) throw new PermanentFailure(`message ${messageId} of account ${accountRef} is not in the mirror`);
  const { m, attachments } = loaded;
  if (!m.is_whatsapp || m.private) return "not_whatsapp";

  const phone = normalizePhoneE164(m.contact_phone) ?? normalizePhoneE164(m.contact_inbox_source_id);
  if (!phone) {
    throw new PermanentFailure(
      `message ${messageId}: the contact has no usable phone number (${
        m.contact_phone ?? m.contact_inbox_source_id ?? "none"
      })`,
    );
  }
  const contact = await resolveArchiveContact(deps.sql, {
    storeId: m.store_id,
    phone,
    name: m.contact_name,
    email: m.contact_email,
  });
  const userId = contact.status === "mapped" ? contact.userId : null;
  const bucket = await archiveBucket(deps, userId);

  const [existing] = await deps.sql<
    Fetched<
      Pick<Row<"archived_messages">, "bucket" | "object_name" | "generation" | "message_fingerprint">,
      never,
      "generation"
    >[]
  >`select bucket, object_name, generation::text, message_fingerprint from public.archived_messages
    where account_ref = ${accountRef} and message_id = ${messageId}`;
  // A transcript can arrive without the message changing (our own transcription of a voice note
  // writes it on the attachment), so the transcripts count in the state too.
  const transcripts = attachments.filter((a) => a.transcribed_text).length;
  const state = `${m.version_fingerprint}:${m.status ?? ""}${transcripts ? `:t${transcripts}` : ""}`;
  if (existing && existing.bucket === bucket && existing.message_fingerprint === state) return "unchanged";

  const where = { storeId: m.store_id, phone, displayId: m.conversation_display_id, messageId };
  // What an earlier run stored: a re-archive (a transcript, a status, a move to the mapped user's
  // bucket) reuses each medium's recorded hashes once GCS confirms the object holds those bytes,
  // instead of downloading it again to recompute its SHA-256.
  const recordedMedia = new Map(
    (await deps.sql<RecordedMedium[]>`
      select attachment_id, bucket, object_name, generation::text, size, sha256, crc32c, content_type
      from public.archived_media where account_ref = ${accountRef} and message_id = ${messageId}`)
      .map((r) => [Number(r.attachment_id), r]),
  );
  const media: (StoredObject & { attachmentId: number })[] = [];
  const archivedAttachments = [];
  for (const a of attachments) {
    let stored: StoredObject | null = null;
    let skipped: string | null = null;
    if (MEDIA_TYPES.has(a.file_type) && a.data_url && !m.deleted) {
      try {
        const name = mediaObjectName(where, Number(a.attachment_id), a.extension);
        const recorded = recordedMedia.get(Number(a.attachment_id));
        if (recorded?.object_name === name) {
          stored = await confirmStoredCopy(deps.storage, bucket, {
            bucket: recorded.bucket,
            name,
            generation: recorded.generation,
            size: Number(recorded.size),
            sha256: recorded.sha256,
            crc32c: recorded.crc32c,
            contentType: recorded.content_type,
          });
        }
        stored ??= await streamUrlToObject(
          deps.storage,
          deps.fetch ?? fetch,
          a.data_url,
          bucket,
          name,
          {
            maxBytes: deps.mediaMaxBytes,
            timeoutMs: deps.mediaTimeoutMs,
            contentType: a.content_type,
            cpu,
          },
        );
        media.push({ ...stored, attachmentId: Number(a.attachment_id) });
      } catch (err) {
        if (!(err instanceof MediaError) || !err.permanent) throw err; // retried by the job
        skipped = err.message; // kept as a fact in the document rather than failing forever
      }
    }
    archivedAttachments.push({
      id: Number(a.attachment_id),
      file_type: a.file_type,
      content_type: a.content_type,
      file_size: a.file_size === null ? null : Number(a.file_size),
      transcribed_text: a.transcribed_text,
      location: a.file_type === "location"
        ? { latitude: a.coordinates_lat, longitude: a.coordinates_long, title: a.fallback_title, url: a.data_url }
        : null,
      shared_contact: a.file_type === "contact" ? { phone: a.fallback_title, meta: a.meta } : null,
      object: stored
        ? { bucket, name: stored.name, generation: stored.generation, sha256: stored.sha256, crc32c: stored.crc32c }
        : null,
      not_archived_reason: skipped,
    });
  }

  const document = {
    schema: "switchboard.whatsapp-message/1",
    store_id: m.store_id,
    chatwoot: {
      account_id: m.chatwoot_account_id,
      inbox_id: m.inbox_id,
      conversation_id: m.conversation_display_id,
      message_id: messageId,
    },
    contact: {
      id: m.conversation_contact_id,
      name: m.contact_name,
      phone_e164: phone,
      email: m.contact_email,
      mapped_user_id: userId,
    },
    message: {
      type: m.message_type,
      content: m.content,
      content_type: m.content_type,
      status: m.status,
      source_id: m.source_id,
      sender: { type: m.sender_type, id: m.sender_id },
      echo: m.echo,
      deleted: m.deleted,
      content_attributes: m.content_attributes,
      created_at: m.created_at,
    },
    attachments: archivedAttachments,
    archived_at: new Date().toISOString(),
  };
  const body = new TextEncoder().encode(JSON.stringify(document, null, 2));
  const name = messageObjectName(where);
  // First write: only if absent. A rewrite replaces exactly the generation on record (or the one
  // an earlier, unrecorded attempt left), so two workers never clobber each other silently.
  let precondition: string | 0 = existing && existing.bucket === bucket ? existing.generation : 0;
  let written = await writeObject(deps.storage, bucket, name, body, {
    contentType: "application/json",
    ifGenerationMatch: precondition,
  });
  if (!written) {
    precondition = (await objectGeneration(deps.storage, bucket, name)) ?? 0;
    written = await writeObject(deps.storage, bucket, name, body, {
      contentType: "application/json",
      ifGenerationMatch: precondition,
    });
    if (!written) throw new Error(`object ${bucket}/${name} changed while archiving; will retry`);
  }

  await deps.sql.begin(async (tx) => {
    await tx`
      insert into public.archived_messages (account_ref, message_id, store_id, phone_e164, user_id, bucket, object_name,
        generation, size, sha256, crc32c, message_fingerprint)
      values (${accountRef}, ${messageId}, ${m.store_id}, ${phone}, ${userId}, ${bucket}, ${name}, ${
      written!.generation
    },
        ${written!.size}, ${written!.sha256}, ${written!.crc32c}, ${state})
      on conflict (account_ref, message_id) do update set user_id = excluded.user_id, bucket = excluded.bucket,
        object_name = excluded.object_name, generation = excluded.generation, size = excluded.size, sha256 = excluded.sha256,
        crc32c = excluded.crc32c, message_fingerprint = excluded.message_fingerprint, updated_at = now()`;
    for (const s of media) {
      await tx`
        insert into public.archived_media (account_ref, attachment_id, message_id, store_id, user_id, bucket, object_name,
          generation, content_type, size, sha256, crc32c)
        values (${accountRef}, ${s.attachmentId}, ${messageId}, ${m.store_id}, ${userId}, ${bucket}, ${s.name}, ${s.generation},
          ${s.contentType}, ${s.size}, ${s.sha256}, ${s.crc32c})
        on conflict (account_ref, attachment_id) do update set user_id = excluded.user_id, bucket = excluded.bucket,
          object_name = excluded.object_name, generation = excluded.generation, size = excluded.size,
          sha256 = excluded.sha256, crc32c = excluded.crc32c`;
    }
    if (!existing) {
      await tx`update public.archive_contacts set messages = messages + 1, media = media + ${media.length},
               last_message_at = greatest(last_message_at, ${m.created_at}) where store_id = ${m.store_id} and phone_e164 = ${phone}`;
    }
  });
  return "archived";
}

/** The bucket a user's archive lives in (or the holding bucket), created on first use. The
 * recorded bucket wins over the computed name, so a later change of prefix or salt never splits
 * a user's archive; two jobs racing to create it both end up with the one that was recorded. */
async function archiveBucket(deps: ArchiveDeps, userId: string | null): Promise<string> {
  const recorded = () =>
    userId
      ? deps.sql<
        Pick<Row<"archive_buckets">, "name">[]
      >`select name from public.archive_buckets where owner_user_id = ${userId}`
      : deps.sql<Pick<Row<"archive_buckets">, "name">[]>`
        select name from public.archive_buckets where name = ${holdingBucketName(deps.policy)}`;
  const [known] = await recorded();
  if (known) return known.name;
  const name = userId ? userBucketName(deps.policy, userId) : holdingBucketName(deps.policy);
  // GCS allows the project about one bucket create per 2 s: this job waits for the bucket's slot (in
  // place when it is a few seconds off, else deferred on the queue); a job that waited while another
  // created the bucket finds it recorded and creates nothing.
  await withBucketSlot(
    { sql: deps.sql, ...deps.bucketQuota },
    name,
    "create",
    () =>
      ensureBucket(deps.bucketStorage ?? deps.storage, name, deps.policy, {
        switchboard: userId ? "user-archive" : "holding",
      }),
    async () => (await recorded()).length > 0 ? undefined : null,
  );
  await deps.sql`
    insert into public.archive_buckets (name, owner_user_id, kind, location, storage_class, lifecycle)
    values (${name}, ${userId}, ${userId ? "user" : "holding"}, ${deps.policy.location}, ${deps.policy.storageClass},
            ${
    deps.sql.json({
      nearline: deps.policy.nearlineDays,
      coldline: deps.policy.coldlineDays,
      archive: deps.policy.archiveDays,
    })
  })
    on conflict do nothing`;
  const [now] = await recorded();
  return now?.name ?? name;
}

/** Moves everything archived for (store, phone) into the mapped user's bucket: copies media
 * (no re-download), rewrites each message document there with the mapping, then deletes the old
 * objects. Every step is idempotent, so a job killed midway resumes cleanly. */
export async function moveContactArchive(deps: ArchiveDeps, storeId: string, phone: string): Promise<number> {
  const [contact] = await deps.sql<Pick<Row<"archive_contacts">, "status" | "user_id">[]>`
    select status, user_id from public.archive_contacts where store_id = ${storeId} and phone_e164 = ${phone}`;
  if (!contact || contact.status !== "mapped") return 0;
  const target = await archiveBucket(deps, contact.user_id);
  const messages = await deps.sql<
    Fetched<
      Pick<Row<"archived_messages">, "account_ref" | "message_id" | "bucket" | "object_name">,
      never,
      "message_id"
    >[]
  >`select account_ref, message_id, bucket, object_name from public.archived_messages
                                  where store_id = ${storeId} and phone_e164 = ${phone} and bucket <> ${target}`;
  for (const msg of messages) {
    const media = await deps.sql<ArchivedObject[]>`select bucket, object_name from public.archived_media
                                 where account_ref = ${msg.account_ref} and message_id = ${msg.message_id} and bucket <> ${target}`;
    for (const f of media) await copyObject(deps.storage, { bucket: f.bucket, name: f.object_name }, target);
    await archiveMessage(deps, msg.account_ref, Number(msg.message_id));
    for (const f of media) await deleteObject(deps.storage, f.bucket, f.object_name);
    await deleteObject(deps.storage, msg.bucket, msg.object_name);
  }
  return messages.length;
}

/** How long a job waits for an archive that is not configured: half its age, between a minute and
 * an hour, so a backlog piling up before GCS is set up costs few runs and still resumes soon after. */
export function unconfiguredWaitMs(job: Pick<Job, "created_at">, now = Date.now()): number {
  const age = now - new Date(job.created_at).getTime();
  return Math.min(3_600_000, Math.max(60_000, Math.round(age / 2)));
}

/** What a GCS failure means for the job: an archive that is not configured waits (deferred, its
 * reason recorded, its attempts kept); a 429 waits a little (deferred: throttling is not a failure);
 * a 503 is retried with backoff; a bucket name another project owns can never succeed. */
function gcsOutcome(job: Pick<Job, "created_at">) {
  return (err: unknown): never => {
    if (err instanceof ArchiveNotConfigured) throw new Deferred(err.message, unconfiguredWaitMs(job));
    if (err instanceof ForeignBucketError) throw new PermanentFailure(err.message);
    if (err instanceof Deferred) throw err;
    const status = (err as { code?: number })?.code;
    if (status === 429) {
      throw new Deferred(`GCS answered 429: ${(err as Error).message}`, 2000 + Math.floor(Math.random() * 2000));
    }
    if (status === 503) {
      throw new RetryLater(`GCS answered 503: ${(err as Error).message}`, 2000 + Math.floor(Math.random() * 2000));
    }
    throw err;
  };
}

/** A job that needs GCS, when GCS is not configured: wait, saying why. */
function whenConfigured(deps: ArchiveDeps, job: Pick<Job, "created_at">): void {
  if (deps.unavailable) throw new Deferred(deps.unavailable, unconfiguredWaitMs(job));
}

/** The archive's job kinds and their payloads, for the job registry (_shared/jobs/registry.ts); erasing
 * an archive is erasure.ts's. */
export function archiveJobHandlers(deps: ArchiveDeps): JobRegistry {
  return {
    "archive.map_contact": jobKind(
      z.object({ store_id: z.guid(), phone_e164: z.string().min(1) }),
      async (job, ctx) => {
        const { payload } = job;
        whenConfigured(deps, job);
        const moved = await moveContactArchive(deps, payload.store_id, payload.phone_e164).catch(gcsOutcome(job));
        ctx.log.info("archive moved to the mapped user", { store_id: payload.store_id, messages: moved });
      },
    ),
    "archive.message": jobKind(
      z.object({ account_ref: z.guid(), message_id: z.number().int() }),
      async (job, ctx) => {
        const { payload } = job;
        whenConfigured(deps, job);
        const outcome = await archiveMessage(deps, payload.account_ref, payload.message_id, ctx.cpu)
          .catch(gcsOutcome(job));
        ctx.log.debug("archive.message", { ...payload, outcome });
      },
    ),
  };
}

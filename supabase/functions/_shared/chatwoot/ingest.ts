// Turning a normalised Chatwoot event into mirror rows and applying it, exactly once, in one
// database round trip (private.ingest_chatwoot_delivery). Used by the webhook receiver and by
// reconciliation, so both follow the same idempotency and ordering rules.

import type { Sql, TransactionSql } from "../platform/db.ts";
import type { Insert, PublicTable } from "../platform/rows.ts";
import type {
  AttachmentRecord,
  ContactRecord,
  ConversationRecord,
  MessageRecord,
  NormalizedChatwootEvent,
} from "./normalize.ts";

export type IngestOutcome =
  | "applied"
  | "stale"
  | "duplicate"
  | "noise"
  | "unknown_event"
  | "rejected"
  | "ignored"
  /** Authenticated, but past WEBHOOK_MAX_BODY_BYTES: only its arrival is recorded. */
  | "too_large";

/** A mirror table's row as ingest_chatwoot_delivery reads it from JSON (jsonb_populate_record): the generated
 * insert type, timestamps as ISO strings, without what SQL sets itself (account_ref and store_id from the route). */
export type MirrorRow<T extends PublicTable> = Omit<Insert<T>, "account_ref" | "store_id" | "mirrored_at">;

export type MirrorRows = {
  contact?: MirrorRow<"chatwoot_contacts">;
  conversation?: MirrorRow<"chatwoot_conversations">;
  message?: MirrorRow<"chatwoot_messages">;
  attachments?: MirrorRow<"chatwoot_attachments">[];
};

/** What JSON.stringify would make of the Date anyway, said in the type. */
function iso(d: Date | null): string | null {
  return d ? d.toISOString() : null;
}

export function contactRow(c: ContactRecord): MirrorRow<"chatwoot_contacts"> {
  return {
    contact_id: c.contact_id,
    name: c.name,
    email: c.email,
    phone_number: c.phone_number,
    identifier: c.identifier,
    custom_attributes: c.custom_attributes,
    additional_attributes: c.additional_attributes,
    blocked: c.blocked,
    source_updated_at: iso(c.updated_at),
  };
}

export function conversationRow(c: ConversationRecord): MirrorRow<"chatwoot_conversations"> {
  return {
    display_id: c.display_id,
    inbox_id: c.inbox_id,
    channel: c.channel,
    status: c.status,
    priority: c.priority,
    assignee_type: c.assignee?.type ?? null,
    assignee_id: c.assignee?.id ?? null,
    team_id: c.team_id,
    labels: c.labels,
    contact_id: c.contact_id,
    contact_inbox_source_id: c.contact_inbox_source_id,
    custom_attributes: c.custom_attributes,
    additional_attributes: c.additional_attributes,
    created_at: iso(c.created_at),
    last_activity_at: iso(c.last_activity_at),
    waiting_since: iso(c.waiting_since),
    snoozed_until: iso(c.snoozed_until),
    version: c.version,
  };
}

export function messageRow(m: MessageRecord): MirrorRow<"chatwoot_messages"> {
  return {
    message_id: m.message_id,
    conversation_display_id: m.conversation_display_id,
    inbox_id: m.inbox_id,
    message_type: m.message_type,
    content: m.content,
    content_type: m.content_type,
    private: m.private,
    status: m.status,
    source_id: m.source_id,
    sender_type: m.sender.type,
    sender_id: m.sender.id,
    content_attributes: m.content_attributes,
    additional_attributes: m.additional_attributes,
    echo: m.echo,
    deleted: m.deleted,
    is_whatsapp: m.is_whatsapp,
    created_at: m.created_at.toISOString(),
    version_progress: m.version.progress,
    version_updated_at_ms: m.version.updated_at_ms,
    version_fingerprint: m.version.fingerprint,
  };
}

export function attachmentRow(a: AttachmentRecord): MirrorRow<"chatwoot_attachments"> {
  return {
    attachment_id: a.attachment_id,
    message_id: a.message_id,
    file_type: a.file_type,
    content_type: a.content_type,
    extension: a.extension,
    data_url: a.data_url,
    thumb_url: a.thumb_url,
    file_size: a.file_size,
    width: a.width,
    height: a.height,
    coordinates_lat: a.coordinates_lat,
    coordinates_long: a.coordinates_long,
    fallback_title: a.fallback_title,
    transcribed_text: a.transcribed_text,
    meta: a.meta,
  };
}

/** What an event contributes to the mirror; inbox and typing-only facts are not mirrored. */
export function mirrorRows(n: NormalizedChatwootEvent): MirrorRows {
  const rows: MirrorRows = {};
  if (n.contact) rows.contact = contactRow(n.contact);
  if (n.conversation) rows.conversation = conversationRow(n.conversation);
  if (n.message) {
    rows.message = messageRow(n.message);
    rows.attachments = n.attachments.map(attachmentRow);
  }
  return rows;
}

export interface IngestInput {
  accountRef: string;
  deliveryId: string;
  event: string;
  rows?: MirrorRows;
  /** Record without applying: unknown_event, rejected, noise, ignored, too_large. */
  outcome?: Exclude<IngestOutcome, "applied" | "stale" | "duplicate">;
  /** Why it was not applied; with an applied delivery, what was noted (NULs stripped, header issues). */
  detail?: unknown;
  /** Kept only with a recorded outcome, so an unprocessable delivery can be replayed later. */
  payload?: unknown;
}

export async function ingestDelivery(sql: Sql | TransactionSql, input: IngestInput): Promise<IngestOutcome> {
  const [row] = await sql<{ outcome: IngestOutcome }[]>`
    select private.ingest_chatwoot_delivery(
      ${input.accountRef}::uuid, ${input.deliveryId}, ${input.event},
      ${sql.json(input.rows ?? {})}, ${input.outcome ?? null},
      ${input.detail === undefined ? null : sql.json(input.detail as never)},
      ${input.payload === undefined ? null : sql.json(input.payload as never)}
    ) as outcome`;
  return row.outcome;
}

// Turns a parsed Chatwoot webhook event into plain records (contact, conversation, message, attachments, inbox…)
// ready to upsert, with the versions the mirror orders them by. Pure: no I/O, no clock. Which version wins is decided
// in SQL (private.ingest_chatwoot_delivery); what an inbox's channel row may keep is inbox_channels.ts's.
//
// The account id always comes from the caller (the route the webhook was delivered to): conversation payloads carry
// no account at all, and a payload's own `account.id` is only a cross-check (see `payloadAccountId`).

import type { Row } from "../platform/rows.ts";
import {
  type AttachmentFileType,
  type ChangedAttributes,
  type ChatwootAttachment,
  type ChatwootContact,
  type ChatwootConversation,
  type ChatwootEvent,
  type ChatwootEventName,
  type ChatwootInboxEvent,
  type ChatwootMessageEvent,
  type ChatwootNestedMessage,
  type ChatwootSender,
  chatwootTimestamp,
  type ChatwootTypingEvent,
  type ChatwootWebwidgetTriggeredEvent,
  type ConversationPriority,
  type ConversationStatus,
  isContactEvent,
  isConversationEvent,
  isInboxEvent,
  isMessageEvent,
  isTypingEvent,
  type JsonObject,
  type MessageStatus,
  type MessageType,
} from "./events.ts";
import { inferChannelType, safeInboxSettings, sanitizeInboxChannel } from "./inbox_channels.ts";

// ---------------------------------------------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------------------------------------------
// A record shares its columns with its mirror table (ingest.ts turns it into the row): those are picked from the
// generated types, so a renamed column fails `deno check` here. The rest is the record's own (the route's account id,
// Dates where the payload has a time, wire enums narrower than the column's text).

export interface ContactRecord extends
  Pick<
    Row<"chatwoot_contacts">,
    "contact_id" | "name" | "email" | "phone_number" | "identifier" | "blocked"
  > {
  account_id: number;
  custom_attributes: JsonObject;
  additional_attributes: JsonObject;
  /** null when the payload does not say (older Chatwoot); never guess `false`. */
  blocked: boolean | null;
  /** Known only from `changed_attributes` (contact_updated) or shapes that carry it; null = unknown, keep stored. */
  updated_at: Date | null;
  last_activity_at: Date | null;
}

export type AssigneeType = "user" | "agent_bot" | "captain_assistant";

export interface ConversationRecord extends
  Pick<
    Row<"chatwoot_conversations">,
    "display_id" | "inbox_id" | "channel" | "team_id" | "labels" | "contact_id" | "contact_inbox_source_id" | "version"
  > {
  account_id: number;
  /** Chatwoot's per-account conversation number: the `id` of every conversation payload and REST route. */
  display_id: number;
  /** "Channel::Whatsapp", "Channel::WebWidget", "Channel::Api", … */
  channel: string | null;
  status: ConversationStatus;
  priority: ConversationPriority | null;
  assignee: { type: AssigneeType; id: number } | null;
  /** WhatsApp: wa_id (digits, no "+"); Twilio WhatsApp: "whatsapp:+E164"; widget/API: a UUID. */
  contact_inbox_source_id: string | null;
  custom_attributes: JsonObject;
  additional_attributes: JsonObject;
  created_at: Date | null;
  last_activity_at: Date | null;
  /** From the float seconds, with ms precision. */
  updated_at: Date;
  waiting_since: Date | null;
  snoozed_until: Date | null;
  /** `updated_at` in epoch ms: an event applies when its version is >= the stored one (ties re-apply, because
   * Chatwoot moves `last_activity_at` with `update_columns`, which leaves `updated_at` alone). */
  version: number;
}

export type SenderType = "contact" | "user" | "agent_bot" | "captain_assistant";
export interface SenderRef {
  /** null with a null id: no sender (system/template messages, WhatsApp app echoes). */
  type: SenderType | null;
  id: number | null;
}

export interface MessageVersion {
  /** Count of lifecycle facts that only ever become true for a message (see `messageVersion`). Compared first. */
  progress: Row<"chatwoot_messages">["version_progress"];
  /** The message's own `updated_at` in epoch ms, only when the payload really carries it; else null. */
  updated_at_ms: Row<"chatwoot_messages">["version_updated_at_ms"];
  /** `created_at` in epoch ms; constant for a message, kept for logging and as the row's anchor. */
  created_at_ms: number;
  /** Hash of the state the record carries; equal fingerprints mean a duplicate delivery. */
  fingerprint: Row<"chatwoot_messages">["version_fingerprint"];
}

export interface MessageRecord extends
  Pick<
    Row<"chatwoot_messages">,
    | "message_id"
    | "conversation_display_id"
    | "inbox_id"
    | "content"
    | "content_type"
    | "private"
    | "source_id"
    | "echo"
    | "deleted"
    | "is_whatsapp"
  > {
  account_id: number;
  message_type: MessageType;
  /** Top-level payloads (v4.13) carry no status; known only when the payload describes this same message. */
  status: MessageStatus | null;
  sender: SenderRef;
  content_attributes: JsonObject;
  additional_attributes: JsonObject;
  created_at: Date;
  updated_at: Date | null;
  /** `content_attributes.external_echo`: sent from the WhatsApp Business app, not from Chatwoot. */
  echo: boolean;
  /** `content_attributes.deleted`: soft-deleted in Chatwoot (content replaced, attachments gone). */
  deleted: boolean;
  version: MessageVersion;
}

export interface AttachmentRecord extends
  Pick<
    Row<"chatwoot_attachments">,
    | "attachment_id"
    | "message_id"
    | "content_type"
    | "extension"
    | "data_url"
    | "thumb_url"
    | "file_size"
    | "width"
    | "height"
    | "coordinates_lat"
    | "coordinates_long"
    | "fallback_title"
    | "transcribed_text"
  > {
  account_id: number;
  file_type: AttachmentFileType;
  /** Redirect URL to storage (or the external URL); null when empty. */
  data_url: string | null;
  /** Audio only; Chatwoot sends "" until transcription finishes, normalised to null. */
  transcribed_text: string | null;
  meta: JsonObject | null;
}

// Inbox, widget and typing facts have no mirror table.
export interface InboxRecord {
  account_id: number;
  /** v4.13's inbox payload has no inbox id or name; filled only when a payload carries them. */
  inbox_id: number | null;
  name: string | null;
  /** Id in the channel's own table (channel_web_widgets, channel_whatsapp, …): pair it with `channel_type`. */
  channel_id: number | null;
  /** Stated by the payload when present, else inferred from the channel row's columns; null when unsure. */
  channel_type: string | null;
  /** Inbox configuration (greeting, auto-assignment, business hours, …). */
  settings: Record<string, unknown>;
  /** The channel row with every credential dropped: only allow-listed, non-secret columns survive. */
  channel: Record<string, unknown>;
  created_at: Date | null;
  updated_at: Date | null;
}

export interface WebwidgetTriggerRecord {
  account_id: number;
  contact_inbox_id: number;
  contact_id: number;
  inbox_id: number | null;
  source_id: string | null;
  initiated_at: Date | null;
  referer: string | null;
  widget_language: string | null;
  browser_language: string | null;
  browser: JsonObject | null;
}

export interface TypingRecord {
  account_id: number;
  conversation_display_id: number;
  inbox_id: number;
  typing: boolean;
  is_private: boolean;
  actor: SenderRef;
}

export interface ChangedAttribute {
  attr: string;
  previous_value: unknown;
  current_value: unknown;
}

export interface NormalizedChatwootEvent {
  event: ChatwootEventName;
  account_id: number;
  contact: ContactRecord | null;
  conversation: ConversationRecord | null;
  message: MessageRecord | null;
  attachments: AttachmentRecord[];
  inbox: InboxRecord | null;
  webwidget: WebwidgetTriggerRecord | null;
  typing: TypingRecord | null;
  /** Flattened `changed_attributes`; [] when Chatwoot sent null (always so for conversation_status_changed). */
  changed_attributes: ChangedAttribute[];
  /** See `isLastActivityNoise`. */
  last_activity_noise: boolean;
}

// ---------------------------------------------------------------------------------------------------------------------
// Whole events
// ---------------------------------------------------------------------------------------------------------------------

/** Every record an event carries. The nested `conversation.messages[]` is never turned into a message record. */
export function normalizeChatwootEvent(event: ChatwootEvent, accountId: number): NormalizedChatwootEvent {
  const out: NormalizedChatwootEvent = {
    event: event.event,
    account_id: accountId,
    contact: null,
    conversation: null,
    message: null,
    attachments: [],
    inbox: null,
    webwidget: null,
    typing: null,
    changed_attributes: [],
    last_activity_noise: isLastActivityNoise(event),
  };
  if (isMessageEvent(event)) {
    out.message = normalizeMessage(event, accountId);
    out.attachments = normalizeAttachments(event, accountId);
    out.conversation = normalizeConversation(event.conversation, accountId);
    const contact = isContactSender(event.sender) ? event.sender : event.conversation.meta?.sender;
    out.contact = contact ? normalizeContact(contact, accountId) : null;
  } else if (isConversationEvent(event)) {
    out.changed_attributes = flattenChangedAttributes(event.changed_attributes);
    out.conversation = normalizeConversation(event, accountId, out.changed_attributes);
    out.contact = event.meta?.sender ? normalizeContact(event.meta.sender, accountId) : null;
  } else if (isContactEvent(event)) {
    const changed = event.event === "contact_updated" ? event.changed_attributes : null;
    out.contact = normalizeContact(event, accountId, changed);
    out.changed_attributes = flattenChangedAttributes(changed);
  } else if (isInboxEvent(event)) {
    out.inbox = normalizeInbox(event, accountId);
    out.changed_attributes = flattenChangedAttributes(event.changed_attributes);
  } else if (isTypingEvent(event)) {
    out.typing = normalizeTyping(event, accountId);
    out.conversation = normalizeConversation(event.conversation, accountId);
  } else {
    out.webwidget = normalizeWebwidgetTrigger(event, accountId);
    out.contact = normalizeContact(event.contact, accountId);
    out.conversation = event.current_conversation ? normalizeConversation(event.current_conversation, accountId) : null;
  }
  return out;
}

/**
 * The account id the payload itself names, for cross-checking against the route's account: `account.id` on
 * message/contact/widget payloads; for conversation and typing payloads (which carry no account) a fork's
 * `account_id` or the nested message's `account_id`; the channel row's `account_id` for inbox payloads.
 */
export function payloadAccountId(event: ChatwootEvent): number | null {
  if (isMessageEvent(event)) {
    return event.account?.id ?? event.conversation.account?.id ?? event.sender?.account?.id ?? null;
  }
  if (isContactEvent(event)) return event.account?.id ?? null;
  if (isInboxEvent(event)) return event.account?.id ?? event.channel.account_id ?? null;
  if (isConversationEvent(event)) return conversationAccountId(event);
  if (isTypingEvent(event)) return conversationAccountId(event.conversation);
  return event.account?.id ?? event.contact.account?.id ?? null;
}

/** Conversation payloads carry a top-level `account: {id, name}` on Chatwoot's develop branch
 * (PR #12445, for issues #11753/#12442); 4.13 has none, so then a fork's `account_id` or the
 * nested message's. */
function conversationAccountId(conversation: ChatwootConversation): number | null {
  if (conversation.account) return conversation.account.id;
  const own = conversation.account_id;
  if (typeof own === "number") return own;
  return conversation.messages?.find((m) => typeof m.account_id === "number")?.account_id ?? null;
}

/**
 * True for a contact_updated that only moved `last_activity_at` / `updated_at`: Chatwoot writes last_activity_at on
 * every inbound message (issue #11973), so these are a flood with nothing to mirror beyond a timestamp.
 * A contact_updated without a usable change list is not called noise: it is processed rather than dropped.
 */
export function isLastActivityNoise(event: ChatwootEvent): boolean {
  if (event.event !== "contact_updated") return false;
  const changed = flattenChangedAttributes(event.changed_attributes);
  if (changed.length === 0) return false;
  return changed.every((c) => c.attr === "last_activity_at" || c.attr === "updated_at");
}

export function flattenChangedAttributes(changed: ChangedAttributes): ChangedAttribute[] {
  if (!changed) return [];
  return changed.flatMap((entry) =>
    Object.entries(entry).map(([attr, diff]) => ({
      attr,
      previous_value: diff?.previous_value ?? null,
      current_value: diff?.current_value ?? null,
    }))
  );
}

// ---------------------------------------------------------------------------------------------------------------------
// Contacts
// ---------------------------------------------------------------------------------------------------------------------

/** A contact from `Contact#webhook_data`, `meta.sender`, a message's contact sender or a widget's `contact`. */
export function normalizeContact(
  contact: ChatwootContact | ChatwootSender,
  accountId: number,
  changedAttributes?: ChangedAttributes,
): ContactRecord {
  const changed = new Map(flattenChangedAttributes(changedAttributes).map((c) => [c.attr, c.current_value]));
  const record = contact as ChatwootContact;
  return {
    account_id: accountId,
    contact_id: contact.id,
    name: contact.name ?? null,
    email: contact.email ?? null,
    phone_number: contact.phone_number ?? null,
    identifier: contact.identifier ?? null,
    custom_attributes: contact.custom_attributes ?? {},
    additional_attributes: contact.additional_attributes ?? {},
    blocked: typeof contact.blocked === "boolean" ? contact.blocked : null,
    updated_at: chatwootTimestamp(changed.get("updated_at") ?? record.updated_at),
    last_activity_at: chatwootTimestamp(changed.get("last_activity_at") ?? record.last_activity_at),
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// Conversations
// ---------------------------------------------------------------------------------------------------------------------

/**
 * The labels a label change names in `changed_attributes`: Conversation#allowed_keys? lists
 * `label_list` (acts-as-taggable-on's list, an array), and the saved column is `cached_label_list`
 * (TagList#to_s, "a, b") — Chatwoot: app/models/conversation.rb#list_of_keys. Null when neither is there.
 */
export function changedLabels(changed: ChangedAttribute[]): string[] | null {
  for (const attr of ["label_list", "cached_label_list"]) {
    const value = changed.find((c) => c.attr === attr)?.current_value;
    if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string");
    if (typeof value === "string") return value.split(",").map((v) => v.trim()).filter((v) => v !== "");
    if (value === null && changed.some((c) => c.attr === attr)) return [];
  }
  return null;
}

export function normalizeConversation(
  conversation: ChatwootConversation,
  accountId: number,
  changed: ChangedAttribute[] = [],
): ConversationRecord {
  const updatedAt = chatwootTimestamp(conversation.updated_at);
  // The schema refuses an unreadable updated_at, so this only fires on hand-built input.
  if (!updatedAt) throw new TypeError(`conversation ${conversation.id}: unreadable updated_at`);
  return {
    account_id: accountId,
    display_id: conversation.id,
    inbox_id: conversation.inbox_id,
    channel: conversation.channel ?? null,
    status: conversation.status,
    priority: conversation.priority ?? null,
    assignee: conversationAssignee(conversation),
    team_id: conversation.meta?.team?.id ?? null,
    // `labels` (push_data's label_list) is built with the payload, so it is the newest; the change
    // list says the same when a payload leaves `labels` out.
    labels: conversation.labels ?? changedLabels(changed) ?? [],
    contact_id: conversation.meta?.sender?.id ?? conversation.contact_inbox?.contact_id ?? null,
    contact_inbox_source_id: conversation.contact_inbox?.source_id ?? null,
    custom_attributes: conversation.custom_attributes ?? {},
    additional_attributes: conversation.additional_attributes ?? {},
    created_at: chatwootTimestamp(conversation.created_at),
    last_activity_at: chatwootTimestamp(conversation.last_activity_at),
    updated_at: updatedAt,
    waiting_since: chatwootTimestamp(conversation.waiting_since),
    snoozed_until: chatwootTimestamp(conversation.snoozed_until),
    version: updatedAt.getTime(),
  };
}

function conversationAssignee(conversation: ChatwootConversation): ConversationRecord["assignee"] {
  const assignee = conversation.meta?.assignee;
  if (!assignee) return null;
  const type = assigneeType(assignee.type) ?? assigneeType(conversation.meta?.assignee_type);
  return type ? { type, id: assignee.id } : null;
}

function assigneeType(raw: string | null | undefined): AssigneeType | null {
  switch (raw) {
    case "user":
    case "User":
      return "user";
    case "agent_bot":
    case "AgentBot":
      return "agent_bot";
    case "captain_assistant":
    case "Captain::Assistant":
      return "captain_assistant";
    default:
      return null;
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------------------------------

/**
 * The event's message, from the TOP-LEVEL fields only. `conversation.messages[0]` is the conversation's last public
 * message at the time the job ran (issues #13608, #15602), not necessarily this one; it is consulted only for
 * `status`/`updated_at`, and only when its id is this message's id.
 */
export function normalizeMessage(event: ChatwootMessageEvent, accountId: number): MessageRecord {
  const twin = sameMessageInConversation(event);
  const contentAttributes = event.content_attributes ?? {};
  const createdAt = chatwootTimestamp(event.created_at);
  if (!createdAt) throw new TypeError(`message ${event.id}: unreadable created_at`);
  const record: Omit<MessageRecord, "version"> = {
    account_id: accountId,
    message_id: event.id,
    conversation_display_id: event.conversation.id,
    inbox_id: event.inbox?.id ?? event.conversation.inbox_id,
    message_type: event.message_type,
    content: event.content ?? null,
    content_type: event.content_type ?? "text",
    private: event.private,
    status: event.status ?? twin?.status ?? null,
    source_id: event.source_id ?? null,
    sender: normalizeSender(event.sender),
    content_attributes: contentAttributes,
    additional_attributes: event.additional_attributes ?? {},
    created_at: createdAt,
    updated_at: chatwootTimestamp(event.updated_at ?? twin?.updated_at),
    echo: contentAttributes.external_echo === true,
    deleted: contentAttributes.deleted === true,
    is_whatsapp: isWhatsAppConversation(event.conversation),
  };
  return { ...record, version: messageVersion(record, event.attachments ?? []) };
}

function sameMessageInConversation(event: ChatwootMessageEvent): ChatwootNestedMessage | undefined {
  return event.conversation.messages?.find((m) => m.id === event.id);
}

/** Chatwoot WhatsApp (360dialog / Cloud) or Twilio's WhatsApp medium, whose contact_inbox source_id is "whatsapp:+…". */
export function isWhatsAppConversation(conversation: ChatwootConversation): boolean {
  if (conversation.channel === "Channel::Whatsapp") return true;
  return conversation.contact_inbox?.source_id?.startsWith("whatsapp:") ?? false;
}

/** A Contact's webhook_data has no `type`; push_event_data shapes say `type: "contact"`. */
export function normalizeSender(sender: ChatwootSender | null | undefined): SenderRef {
  if (!sender) return { type: null, id: null };
  switch (sender.type) {
    case undefined:
    case "contact":
      return { type: "contact", id: sender.id };
    case "user":
    case "agent_bot":
    case "captain_assistant":
      return { type: sender.type, id: sender.id };
    default:
      // A sender kind this module does not know: keep the id, refuse to guess the kind.
      return { type: null, id: sender.id };
  }
}

function isContactSender(sender: ChatwootSender | null | undefined): sender is ChatwootSender {
  return !!sender && (sender.type === undefined || sender.type === "contact");
}

/**
 * A message's version, which private.ingest_chatwoot_delivery orders (the one place that decides). A message row
 * changes when its status moves, when the provider id (`source_id`) arrives after sending, when a voice note's
 * transcript lands, or when it is deleted; each change fires message_updated, and deliveries can arrive out of order
 * or twice.
 *
 * Why not simply "updated_at, else created_at": the top-level webhook has no updated_at, and the nested copy exists
 * only when the message happens to be the conversation's last one. So two events about one message would often be
 * timed by different clocks — the transcript update (timed by created_at because a newer message arrived meanwhile)
 * would lose to the earlier message_created (timed by its later updated_at). Instead:
 *  1. `progress` counts facts that only ever become true in a message's life and that every payload shows at top
 *     level: source_id present (+1), each attachment with a non-empty transcript (+1), deleted (+100, dominating,
 *     since deletion also removes attachments). Higher progress is newer, whatever else the payloads know.
 *  2. At equal progress, `updated_at_ms` decides — only when BOTH payloads carry the message's own updated_at.
 *  3. Otherwise the two are unordered; `fingerprint` tells a duplicate (equal) from a different state.
 * Status is deliberately left out of the version: v4.13 payloads rarely know it, and an unknown status would rank
 * as "older". SQL merges it on its own by rank (private.message_status_rank), never moving it backwards.
 */
export function messageVersion(
  record:
    & Pick<
      MessageRecord,
      "content" | "content_type" | "private" | "status" | "source_id" | "content_attributes" | "deleted" | "created_at"
    >
    & { updated_at: Date | null },
  attachments: readonly ChatwootAttachment[],
): MessageVersion {
  const transcripts = attachments.filter((a) => typeof a.transcribed_text === "string" && a.transcribed_text !== "");
  const progress = (record.source_id ? 1 : 0) + transcripts.length + (record.deleted ? 100 : 0);
  const fingerprint = fnv1a64(stableStringify({
    content: record.content,
    content_type: record.content_type,
    private: record.private,
    status: record.status,
    source_id: record.source_id,
    content_attributes: record.content_attributes,
    // URLs are left out: signed blob URLs can change without the attachment changing.
    attachments: attachments.map((a) => ({
      id: a.id,
      file_type: a.file_type,
      file_size: a.file_size ?? null,
      transcribed_text: a.transcribed_text || null,
      coordinates: [a.coordinates_lat ?? null, a.coordinates_long ?? null],
      fallback_title: a.fallback_title ?? null,
    })),
  }));
  return {
    progress,
    updated_at_ms: record.updated_at?.getTime() ?? null,
    created_at_ms: record.created_at.getTime(),
    fingerprint,
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// Attachments
// ---------------------------------------------------------------------------------------------------------------------

/** The top-level `attachments` of a message event (the key is absent when there are none). */
export function normalizeAttachments(event: ChatwootMessageEvent, accountId: number): AttachmentRecord[] {
  return (event.attachments ?? []).map((a) => normalizeAttachment(a, event.id, accountId));
}

export function normalizeAttachment(
  attachment: ChatwootAttachment,
  messageId: number,
  accountId: number,
): AttachmentRecord {
  return {
    account_id: accountId,
    attachment_id: attachment.id,
    message_id: attachment.message_id ?? messageId,
    file_type: attachment.file_type,
    content_type: nonEmpty(attachment.content_type),
    extension: nonEmpty(attachment.extension),
    data_url: nonEmpty(attachment.data_url),
    thumb_url: nonEmpty(attachment.thumb_url),
    file_size: toNumber(attachment.file_size),
    width: toNumber(attachment.width),
    height: toNumber(attachment.height),
    coordinates_lat: toNumber(attachment.coordinates_lat),
    coordinates_long: toNumber(attachment.coordinates_long),
    fallback_title: nonEmpty(attachment.fallback_title),
    transcribed_text: nonEmpty(attachment.transcribed_text),
    meta: attachment.meta ?? null,
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// Inboxes
// ---------------------------------------------------------------------------------------------------------------------

export function normalizeInbox(event: ChatwootInboxEvent, accountId: number): InboxRecord {
  return {
    account_id: accountId,
    inbox_id: event.id ?? null,
    name: event.name ?? null,
    channel_id: event.channel.id ?? null,
    channel_type: event.channel_type ?? inferChannelType(event.channel),
    settings: safeInboxSettings(event),
    channel: sanitizeInboxChannel(event.channel),
    created_at: chatwootTimestamp(event.created_at),
    updated_at: chatwootTimestamp(event.updated_at),
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// Widget and typing
// ---------------------------------------------------------------------------------------------------------------------

export function normalizeWebwidgetTrigger(
  event: ChatwootWebwidgetTriggeredEvent,
  accountId: number,
): WebwidgetTriggerRecord {
  const info = event.event_info;
  return {
    account_id: accountId,
    contact_inbox_id: event.id,
    contact_id: event.contact.id,
    inbox_id: event.inbox?.id ?? event.current_conversation?.inbox_id ?? null,
    source_id: event.source_id ?? null,
    initiated_at: chatwootTimestamp(info?.initiated_at?.timestamp),
    referer: info?.referer ?? null,
    widget_language: info?.widget_language ?? null,
    browser_language: info?.browser_language ?? null,
    browser: info?.browser ?? null,
  };
}

export function normalizeTyping(event: ChatwootTypingEvent, accountId: number): TypingRecord {
  return {
    account_id: accountId,
    conversation_display_id: event.conversation.id,
    inbox_id: event.conversation.inbox_id,
    typing: event.event === "conversation_typing_on",
    is_private: event.is_private ?? false,
    actor: normalizeSender(event.user),
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// Small pure helpers
// ---------------------------------------------------------------------------------------------------------------------

function nonEmpty(value: string | null | undefined): string | null {
  return value === undefined || value === null || value === "" ? null : value;
}

function toNumber(value: number | string | null | undefined): number | null {
  if (value === null || value === undefined || value === "") return null;
  const n = typeof value === "number" ? value : Number(value);
  return Number.isFinite(n) ? n : null;
}

/** JSON with object keys sorted, so equal states hash equally whatever the key order on the wire. */
function stableStringify(value: unknown): string {
  if (value === undefined) return "null";
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(",")}]`;
  const entries = Object.entries(value as JsonObject).filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(",")}}`;
}

/**
 * FNV-1a, 64 bit, over UTF-8: a cheap, synchronous, stable fingerprint (not a security hash). Kept
 * in four 16-bit limbs with plain integer arithmetic: a BigInt per byte cost seconds for an e-mail's
 * megabytes of HTML (the hosted runtime allows 2 s of CPU per request). Same output as the BigInt form.
 */
export function fnv1a64(text: string): string {
  // offset basis 0xcbf29ce484222325; prime 0x100000001b3 = 2^40 + 0x1b3
  let h0 = 0x2325, h1 = 0x8422, h2 = 0x9ce4, h3 = 0xcbf2;
  const step = (byte: number) => {
    h0 ^= byte;
    const r0 = h0 * 0x1b3;
    const r1 = h1 * 0x1b3 + (r0 >>> 16);
    const r2 = h2 * 0x1b3 + (h0 << 8) + (r1 >>> 16);
    const r3 = h3 * 0x1b3 + (h1 << 8) + (r2 >>> 16);
    h0 = r0 & 0xffff;
    h1 = r1 & 0xffff;
    h2 = r2 & 0xffff;
    h3 = r3 & 0xffff;
  };
  // UTF-8 encoded a slice at a time into one small buffer, so a large state costs no copy of its
  // bytes; a slice never ends between the two halves of a surrogate pair.
  const encoder = new TextEncoder();
  const buffer = new Uint8Array(3 * 16_384);
  for (let at = 0; at < text.length;) {
    let end = Math.min(text.length, at + 16_384);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--;
    const { written } = encoder.encodeInto(text.slice(at, end), buffer);
    for (let i = 0; i < written; i++) step(buffer[i]);
    at = end;
  }
  return [h3, h2, h1, h0].map((h) => h.toString(16).padStart(4, "0")).join("");
}

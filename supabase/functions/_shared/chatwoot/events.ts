// The shape of Chatwoot's 12 account-webhook events (v4.13), as zod schemas and the types inferred from them.
// Owns parsing only: turning a parsed event into rows lives in normalize.ts.
//
// Schemas are loose (unknown keys pass through) and require only what Chatwoot always sends, so a real payload
// is never rejected; the types are honest about the wire format (string vs integer message_type, four timestamp
// encodings, contact senders without a `type`, `changed_attributes: null`).

import { z } from "zod";
import type { Json } from "../platform/rows.ts";

// ---------------------------------------------------------------------------------------------------------------------
// Event names
// ---------------------------------------------------------------------------------------------------------------------

/** `ALLOWED_WEBHOOK_EVENTS` in app/models/webhook.rb (v4.13). */
export const CHATWOOT_EVENT_NAMES = [
  "conversation_status_changed",
  "conversation_updated",
  "conversation_created",
  "contact_created",
  "contact_updated",
  "message_created",
  "message_updated",
  "webwidget_triggered",
  "inbox_created",
  "inbox_updated",
  "conversation_typing_on",
  "conversation_typing_off",
] as const;
export type ChatwootEventName = (typeof CHATWOOT_EVENT_NAMES)[number];

export function isChatwootEventName(name: unknown): name is ChatwootEventName {
  return typeof name === "string" && (CHATWOOT_EVENT_NAMES as readonly string[]).includes(name);
}

// ---------------------------------------------------------------------------------------------------------------------
// Timestamps
// ---------------------------------------------------------------------------------------------------------------------

/** Any timestamp encoding Chatwoot puts on the wire; convert with `chatwootTimestamp`. */
export const wireTimestamp = z.union([z.string(), z.number()]).nullish();
export type WireTimestamp = z.infer<typeof wireTimestamp>;

const MONTHS: Record<string, number> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
};
// JS `Date.prototype.toString()`, sent by the widget in webwidget_triggered `event_info.initiated_at.timestamp`:
// "Mon Apr 20 2026 09:10:02 GMT-0500 (Central Daylight Time)". Parsed by hand: engines only promise to read it back
// in the engine that wrote it, and the offset is what makes it an instant.
const JS_DATE_STRING =
  /^(?:[A-Za-z]{3},? )?([A-Za-z]{3}) (\d{1,2}) (\d{4}) (\d{1,2}):(\d{2}):(\d{2}) GMT([+-])(\d{2}):?(\d{2})/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?/;
const ISO_HAS_ZONE = /(Z|[+-]\d{2}:?\d{2})$/i;

/**
 * Turn any Chatwoot timestamp into a Date (ms precision), or null when it means "not set".
 * - number: unix seconds, int (`created_at`, `last_activity_at`, `waiting_since`; `0` means null) or float
 *   (`updated_at`, e.g. 1776695040.33 → …040.330 Z; sub-millisecond digits are truncated, as Rails does);
 * - string: ISO-8601 (message `created_at`, contact_inbox times; a zone-less ISO string is read as UTC, as Rails
 *   writes UTC), JS `Date.toString()` (widget), or a string of digits (unix seconds);
 * - Date: passed through if valid. Anything unreadable gives null rather than an Invalid Date.
 */
export function chatwootTimestamp(value: unknown): Date | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : new Date(value.getTime());
  if (typeof value === "number") return fromUnixSeconds(value);
  if (typeof value !== "string") return null;
  const text = value.trim();
  if (text === "") return null;
  if (/^\d+(\.\d+)?$/.test(text)) return fromUnixSeconds(Number(text));
  if (ISO_DATE.test(text)) {
    // Also reads Ruby's `Time#to_s` ("2026-04-20 14:02:11 UTC", "… +0000"); zone-less times are UTC, as Rails writes.
    const iso = text.replace(/^(\S+) (?=\d)/, "$1T").replace(/ ?UTC$/i, "Z").replace(/ (?=[+-]\d{2}:?\d{2}$)/, "");
    return validDate(Date.parse(ISO_HAS_ZONE.test(iso) || !iso.includes(":") ? iso : `${iso}Z`));
  }
  const js = JS_DATE_STRING.exec(text);
  if (js) {
    const [, mon, day, year, hh, mm, ss, sign, offH, offM] = js;
    const month = MONTHS[mon.slice(0, 1).toUpperCase() + mon.slice(1).toLowerCase()];
    if (month === undefined) return null;
    const offsetMinutes = (sign === "-" ? -1 : 1) * (Number(offH) * 60 + Number(offM));
    const utc = Date.UTC(Number(year), month, Number(day), Number(hh), Number(mm), Number(ss));
    return validDate(utc - offsetMinutes * 60_000);
  }
  // Last resort for other human formats (RFC 2822 and the like).
  return validDate(Date.parse(text));
}

function fromUnixSeconds(seconds: number): Date | null {
  if (!Number.isFinite(seconds) || seconds <= 0) return null;
  // Truncate to the millisecond like Rails' ISO-8601 output (`xmlschema(3)`), so a float updated_at and the ISO
  // string of the same instant give the same Date. Going through whole microseconds (exact below 2^53) keeps binary
  // float noise (…467.99999 for …468) from truncating a millisecond away.
  return validDate(Math.floor(Math.round(seconds * 1e6) / 1000));
}

function validDate(ms: number): Date | null {
  return Number.isFinite(ms) ? new Date(ms) : null;
}

// ---------------------------------------------------------------------------------------------------------------------
// Shared building blocks
// ---------------------------------------------------------------------------------------------------------------------

const id = z.number().int();
// Values are not checked (a payload comes from JSON.parse, so it is JSON): typed as Json so they go into jsonb as is.
const jsonObject = z.record(z.string(), z.custom<Json>());
/** A JSON object from the wire (custom_attributes, content_attributes, a channel row, …). */
export type JsonObject = z.infer<typeof jsonObject>;
const nullableString = z.string().nullish();

/** The Rails enum `{incoming: 0, outgoing: 1, activity: 2, template: 3}` in app/models/message.rb. */
export const MESSAGE_TYPES = ["incoming", "outgoing", "activity", "template"] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];
const messageTypeName = z.enum(MESSAGE_TYPES);
/** Top-level `message_type` of message_created/updated: the enum NAME. */
export const topLevelMessageType = messageTypeName;
/** `conversation.messages[].message_type`: the enum VALUE (0..3), mapped to the same names. */
export const nestedMessageType = z.number().int().min(0).max(3).transform((n): MessageType => MESSAGE_TYPES[n]);

export const MESSAGE_STATUSES = ["sent", "delivered", "read", "failed"] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

export const CONVERSATION_STATUSES = ["open", "resolved", "pending", "snoozed"] as const;
export type ConversationStatus = (typeof CONVERSATION_STATUSES)[number];

export const CONVERSATION_PRIORITIES = ["low", "medium", "high", "urgent"] as const;
export type ConversationPriority = (typeof CONVERSATION_PRIORITIES)[number];

/** Known `attachments[].file_type` values; the schema accepts any string so a new type never drops a message. */
export const KNOWN_FILE_TYPES = [
  "image",
  "audio",
  "video",
  "file",
  "location",
  "fallback",
  "share",
  "story_mention",
  "contact",
  "ig_reel",
  "ig_post",
  "ig_story",
  "embed",
] as const;
// `string & {}` keeps editor completion for the known names while still admitting any string.
// deno-lint-ignore ban-types
export type AttachmentFileType = (typeof KNOWN_FILE_TYPES)[number] | (string & {});

export const accountRefSchema = z.looseObject({ id, name: nullableString });
export const inboxRefSchema = z.looseObject({ id, name: nullableString });

/**
 * `changed_attributes`: null (conversation_status_changed on Rails 7.1, always) or
 * `[{<attr>: {previous_value, current_value}}, …]` built from `previous_changes`.
 */
export const changedAttributesSchema = z
  .array(
    z.record(
      z.string(),
      z.looseObject({ previous_value: z.unknown().optional(), current_value: z.unknown().optional() }),
    ),
  )
  .nullish();
export type ChangedAttributes = z.infer<typeof changedAttributesSchema>;

/** `Contact#webhook_data` (no `type` key); also `meta.sender` (with `type: "contact"`). */
export const contactSchema = z.looseObject({
  id,
  name: nullableString,
  email: nullableString,
  phone_number: nullableString,
  identifier: nullableString,
  avatar: nullableString,
  thumbnail: nullableString,
  blocked: z.boolean().nullish(),
  custom_attributes: jsonObject.nullish(),
  additional_attributes: jsonObject.nullish(),
  account: accountRefSchema.nullish(),
  type: z.string().optional(),
  // Not in webhook_data (v4.13), but REST/ActionCable contact shapes carry them; read them when present.
  last_activity_at: wireTimestamp,
  created_at: wireTimestamp,
  updated_at: wireTimestamp,
});
export type ChatwootContact = z.infer<typeof contactSchema>;

/**
 * A message `sender`, or the `user` of a typing event: a Contact (no `type`, or `type: "contact"` in push_event_data),
 * a User (`type: "user"`), an AgentBot (`"agent_bot"`) or a Captain::Assistant (`"captain_assistant"`).
 */
export const senderSchema = z.looseObject({
  id,
  type: z.string().optional(),
  name: nullableString,
  email: nullableString,
  phone_number: nullableString,
  identifier: nullableString,
  blocked: z.boolean().nullish(),
  custom_attributes: jsonObject.nullish(),
  additional_attributes: jsonObject.nullish(),
  account: accountRefSchema.nullish(),
});
export type ChatwootSender = z.infer<typeof senderSchema>;

const numberish = z.union([z.number(), z.string()]).nullish();

/** `Attachment#push_event_data`: base keys plus the ones of its file_type (file fields, location, contact card…). */
export const attachmentSchema = z.looseObject({
  id,
  message_id: id.nullish(),
  account_id: id.nullish(),
  file_type: z.string(),
  extension: nullableString,
  content_type: nullableString,
  data_url: nullableString,
  thumb_url: nullableString,
  file_size: numberish,
  width: numberish,
  height: numberish,
  coordinates_lat: numberish,
  coordinates_long: numberish,
  fallback_title: nullableString,
  transcribed_text: nullableString,
  meta: jsonObject.nullish(),
});
export type ChatwootAttachment = z.infer<typeof attachmentSchema>;

/** `conversation.messages[]`: `Message#push_event_data` (integer message_type, int created_at, ISO updated_at). */
export const nestedMessageSchema = z.looseObject({
  id,
  content: nullableString,
  account_id: id.nullish(),
  inbox_id: id.nullish(),
  conversation_id: id.nullish(),
  message_type: nestedMessageType,
  created_at: wireTimestamp,
  updated_at: wireTimestamp,
  private: z.boolean().nullish(),
  status: z.enum(MESSAGE_STATUSES).nullish(),
  source_id: nullableString,
  content_type: nullableString,
  content_attributes: jsonObject.nullish(),
  additional_attributes: jsonObject.nullish(),
  sender_type: nullableString,
  sender_id: id.nullish(),
  sender: senderSchema.nullish(),
  attachments: z.array(attachmentSchema).optional(),
});
export type ChatwootNestedMessage = z.infer<typeof nestedMessageSchema>;

/** `Conversations::EventDataPresenter` webhook_data. `id` is the display_id; 4.13 sends no account,
 * develop adds a top-level `account: {id, name}` (PR #12445). */
export const conversationSchema = z.looseObject({
  id,
  account: accountRefSchema.nullish(),
  inbox_id: id,
  status: z.enum(CONVERSATION_STATUSES),
  channel: nullableString,
  can_reply: z.boolean().nullish(),
  additional_attributes: jsonObject.nullish(),
  custom_attributes: jsonObject.nullish(),
  labels: z.array(z.string()).nullish(),
  priority: z.enum(CONVERSATION_PRIORITIES).nullish(),
  contact_inbox: z
    .looseObject({
      id: id.nullish(),
      contact_id: id.nullish(),
      inbox_id: id.nullish(),
      source_id: nullableString,
    })
    .nullish(),
  meta: z
    .looseObject({
      sender: contactSchema.nullish(),
      assignee: z.looseObject({ id, type: z.string().optional(), name: nullableString }).nullish(),
      assignee_type: nullableString,
      team: z.looseObject({ id, name: nullableString }).nullish(),
      hmac_verified: z.boolean().nullish(),
    })
    .nullish(),
  messages: z.array(nestedMessageSchema).nullish(),
  unread_count: z.number().nullish(),
  snoozed_until: wireTimestamp,
  first_reply_created_at: wireTimestamp,
  waiting_since: wireTimestamp,
  agent_last_seen_at: wireTimestamp,
  contact_last_seen_at: wireTimestamp,
  last_activity_at: wireTimestamp,
  timestamp: wireTimestamp,
  created_at: wireTimestamp,
  // Float seconds; required (and must be readable) because it is the conversation's ordering version.
  updated_at: z.union([z.number(), z.string()]).refine((v) => chatwootTimestamp(v) !== null, {
    message: "expected a readable timestamp (unix seconds or ISO-8601)",
  }),
});
export type ChatwootConversation = z.infer<typeof conversationSchema>;

// ---------------------------------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------------------------------

/** message_created / message_updated: `Message#webhook_data`. No `status` at top level in v4.13 (PR #15908 adds it). */
const messageEventBase = z.looseObject({
  id,
  account: accountRefSchema.nullish(),
  inbox: inboxRefSchema.nullish(),
  conversation: conversationSchema,
  message_type: topLevelMessageType,
  content: nullableString,
  content_type: nullableString,
  content_attributes: jsonObject.nullish(),
  additional_attributes: jsonObject.nullish(),
  private: z.boolean(),
  // ISO string; required (and must be readable) because it anchors the message's ordering version.
  created_at: z.union([z.string(), z.number()]).refine((v) => chatwootTimestamp(v) !== null, {
    message: "expected a readable timestamp (ISO-8601 or unix seconds)",
  }),
  updated_at: wireTimestamp,
  sender: senderSchema.nullish(),
  source_id: nullableString,
  status: z.enum(MESSAGE_STATUSES).nullish(),
  attachments: z.array(attachmentSchema).nullish(),
});

const conversationEventBase = conversationSchema.extend({ changed_attributes: changedAttributesSchema });

const contactEventBase = contactSchema.extend({ changed_attributes: changedAttributesSchema });

/** `ContactInbox#webhook_data` + `event_info` from the widget. */
const webwidgetEventBase = z.looseObject({
  id,
  contact: contactSchema,
  inbox: inboxRefSchema.nullish(),
  account: accountRefSchema.nullish(),
  current_conversation: conversationSchema.nullish(),
  source_id: nullableString,
  event_info: z
    .looseObject({
      initiated_at: z.looseObject({ timestamp: wireTimestamp }).nullish(),
      referer: nullableString,
      widget_language: nullableString,
      browser_language: nullableString,
      browser: jsonObject.nullish(),
    })
    .nullish(),
});

/**
 * `Inbox::EventDataPresenter#push_data`: inbox config plus `channel`, the WHOLE channel row — which can hold
 * `hmac_token`, `secret`, `provider_config`, access tokens. v4.13 sends no inbox `id` or `name`; accepted if present.
 */
const inboxEventBase = z.looseObject({
  id: id.nullish(),
  // develop: inbox webhook payloads carry `account: {id, name}` too (PR #12445).
  account: accountRefSchema.nullish(),
  name: nullableString,
  channel_type: nullableString,
  channel: z.looseObject({ id: id.nullish(), account_id: id.nullish() }),
  allow_messages_after_resolved: z.boolean().nullish(),
  lock_to_single_conversation: z.boolean().nullish(),
  enable_auto_assignment: z.boolean().nullish(),
  enable_email_collect: z.boolean().nullish(),
  greeting_enabled: z.boolean().nullish(),
  greeting_message: nullableString,
  csat_survey_enabled: z.boolean().nullish(),
  business_name: nullableString,
  sender_name_type: z.union([z.string(), z.number()]).nullish(),
  timezone: nullableString,
  out_of_office_message: nullableString,
  working_hours_enabled: z.boolean().nullish(),
  created_at: wireTimestamp,
  updated_at: wireTimestamp,
  changed_attributes: changedAttributesSchema,
});

/** `{event, user: <User|Contact|AgentBot webhook_data>, conversation, is_private}`. */
const typingEventBase = z.looseObject({
  user: senderSchema.nullish(),
  conversation: conversationSchema,
  is_private: z.boolean().nullish(),
});

export const messageCreatedSchema = messageEventBase.extend({ event: z.literal("message_created") });
export const messageUpdatedSchema = messageEventBase.extend({ event: z.literal("message_updated") });
export const conversationCreatedSchema = conversationEventBase.extend({ event: z.literal("conversation_created") });
export const conversationUpdatedSchema = conversationEventBase.extend({ event: z.literal("conversation_updated") });
export const conversationStatusChangedSchema = conversationEventBase.extend({
  event: z.literal("conversation_status_changed"),
});
export const contactCreatedSchema = contactEventBase.extend({ event: z.literal("contact_created") });
export const contactUpdatedSchema = contactEventBase.extend({ event: z.literal("contact_updated") });
export const webwidgetTriggeredSchema = webwidgetEventBase.extend({ event: z.literal("webwidget_triggered") });
export const inboxCreatedSchema = inboxEventBase.extend({ event: z.literal("inbox_created") });
export const inboxUpdatedSchema = inboxEventBase.extend({ event: z.literal("inbox_updated") });
export const conversationTypingOnSchema = typingEventBase.extend({ event: z.literal("conversation_typing_on") });
export const conversationTypingOffSchema = typingEventBase.extend({ event: z.literal("conversation_typing_off") });

export const chatwootEventSchema = z.discriminatedUnion("event", [
  conversationStatusChangedSchema,
  conversationUpdatedSchema,
  conversationCreatedSchema,
  contactCreatedSchema,
  contactUpdatedSchema,
  messageCreatedSchema,
  messageUpdatedSchema,
  webwidgetTriggeredSchema,
  inboxCreatedSchema,
  inboxUpdatedSchema,
  conversationTypingOnSchema,
  conversationTypingOffSchema,
]);

export type ChatwootEvent = z.infer<typeof chatwootEventSchema>;
export type ChatwootMessageEvent = z.infer<typeof messageCreatedSchema> | z.infer<typeof messageUpdatedSchema>;
export type ChatwootConversationEvent =
  | z.infer<typeof conversationCreatedSchema>
  | z.infer<typeof conversationUpdatedSchema>
  | z.infer<typeof conversationStatusChangedSchema>;
export type ChatwootContactEvent = z.infer<typeof contactCreatedSchema> | z.infer<typeof contactUpdatedSchema>;
export type ChatwootWebwidgetTriggeredEvent = z.infer<typeof webwidgetTriggeredSchema>;
export type ChatwootInboxEvent = z.infer<typeof inboxCreatedSchema> | z.infer<typeof inboxUpdatedSchema>;
export type ChatwootTypingEvent =
  | z.infer<typeof conversationTypingOnSchema>
  | z.infer<typeof conversationTypingOffSchema>;

export function isMessageEvent(event: ChatwootEvent): event is ChatwootMessageEvent {
  return event.event === "message_created" || event.event === "message_updated";
}
export function isConversationEvent(event: ChatwootEvent): event is ChatwootConversationEvent {
  return event.event === "conversation_created" || event.event === "conversation_updated" ||
    event.event === "conversation_status_changed";
}
export function isContactEvent(event: ChatwootEvent): event is ChatwootContactEvent {
  return event.event === "contact_created" || event.event === "contact_updated";
}
export function isInboxEvent(event: ChatwootEvent): event is ChatwootInboxEvent {
  return event.event === "inbox_created" || event.event === "inbox_updated";
}
export function isTypingEvent(event: ChatwootEvent): event is ChatwootTypingEvent {
  return event.event === "conversation_typing_on" || event.event === "conversation_typing_off";
}

// ---------------------------------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------------------------------

export type ParseChatwootEventResult =
  | { ok: true; event: ChatwootEvent }
  /** A well-formed body whose `event` is not one of the 12 (e.g. agent-bot-only `conversation_opened`): ignore, 2xx. */
  | { ok: false; kind: "unknown_event"; eventName: string }
  /** Not a Chatwoot event we can use; `issues` are "path: message" lines a person can act on. */
  | { ok: false; kind: "invalid"; issues: string[] };

/** Validate an already JSON-parsed webhook body. Never throws. */
export function parseChatwootEvent(json: unknown): ParseChatwootEventResult {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return { ok: false, kind: "invalid", issues: [`(root): expected a JSON object, received ${describe(json)}`] };
  }
  const eventName = (json as Record<string, unknown>).event;
  if (typeof eventName !== "string" || eventName === "") {
    return {
      ok: false,
      kind: "invalid",
      issues: [`event: expected the event name as a non-empty string, received ${describe(eventName)}`],
    };
  }
  if (!isChatwootEventName(eventName)) return { ok: false, kind: "unknown_event", eventName };
  const parsed = chatwootEventSchema.safeParse(json);
  if (parsed.success) return { ok: true, event: parsed.data };
  return { ok: false, kind: "invalid", issues: formatIssues(parsed.error.issues) };
}

/** zod issues → ["conversation.messages[0].message_type: Too big: expected number to be <=3", …]. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out === "" ? "(root)" : out;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value;
}

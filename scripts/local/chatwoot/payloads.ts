// Chatwoot's event serializers (chatwoot-api.md §1.3–1.4): `webhook_data` and `push_event_data` of messages,
// conversations, contacts, users, bots and attachments, with Chatwoot's mixed encodings kept on purpose:
// string vs integer message_type, ISO vs unix-int vs float timestamps, display_id as conversation id.

import {
  type AgentBot,
  type Attachment,
  type Contact,
  type ContactInbox,
  type Conversation,
  type Inbox,
  type JsonObject,
  type Message,
  MESSAGE_TYPE_NAMES,
  MESSAGE_TYPES,
  type SandboxState,
  type User,
} from "./state.ts";

/** Rails `TimeWithZone#as_json`: "2026-04-20T14:02:11.455Z". */
export const iso = (ms: number): string => new Date(ms).toISOString();
export const isoOrNull = (ms: number | null): string | null => ms === null ? null : iso(ms);
/** `time.to_i`, with Chatwoot's `nil.to_i == 0`. */
export const unixInt = (ms: number | null): number => ms === null ? 0 : Math.floor(ms / 1000);
/** `time.to_f`, e.g. 1776693731.468. */
export const unixFloat = (ms: number): number => ms / 1000;

/** Columns whose change records hold datetimes, rendered as ISO strings like Rails does. */
export const DATETIME_COLUMNS = new Set([
  "created_at",
  "updated_at",
  "last_activity_at",
  "waiting_since",
  "first_reply_created_at",
  "snoozed_until",
  "agent_last_seen_at",
  "contact_last_seen_at",
  "assignee_last_seen_at",
]);

export type ChangedAttributes = Record<string, { previous_value: unknown; current_value: unknown }>[];

export interface PayloadContext {
  state: SandboxState;
  /** FRONTEND_URL of the Chatwoot installation: the base of every data_url. */
  frontendUrl(): string;
  now(): number;
}

export function blobSignedId(blobId: number, key: string): string {
  return `${btoa(JSON.stringify({ _rails: { data: blobId, pur: "blob_id" } }))}--${key.slice(0, 16)}`;
}

export function parseBlobSignedId(signedId: string): { blobId: number; digest: string } | undefined {
  const [data, digest] = signedId.split("--");
  try {
    const parsed = JSON.parse(atob(data));
    const blobId = Number(parsed?._rails?.data);
    return Number.isInteger(blobId) && digest ? { blobId, digest } : undefined;
  } catch {
    return undefined;
  }
}

export class Payloads {
  constructor(readonly ctx: PayloadContext) {}

  get #state() {
    return this.ctx.state;
  }

  accountRef(accountId: number): { id: number; name: string } {
    const account = this.#state.accounts.get(accountId);
    return { id: accountId, name: account?.name ?? "" };
  }

  /** `Contact#webhook_data` — note: no `type` key. */
  contactWebhookData(contact: Contact): JsonObject {
    return {
      account: this.accountRef(contact.account_id),
      additional_attributes: contact.additional_attributes,
      avatar: "",
      custom_attributes: contact.custom_attributes,
      email: contact.email,
      id: contact.id,
      identifier: contact.identifier,
      name: contact.name,
      phone_number: contact.phone_number,
      thumbnail: "",
      blocked: contact.blocked,
    };
  }

  /** `Contact#push_event_data` (nested in conversations and messages[0]). */
  contactPushEventData(contact: Contact): JsonObject {
    return {
      additional_attributes: contact.additional_attributes,
      custom_attributes: contact.custom_attributes,
      email: contact.email,
      id: contact.id,
      identifier: contact.identifier,
      name: contact.name,
      phone_number: contact.phone_number,
      thumbnail: "",
      blocked: contact.blocked,
      type: "contact",
    };
  }

  userWebhookData(user: User): JsonObject {
    return { id: user.id, name: user.name, email: user.email, type: "user" };
  }

  userPushEventData(user: User): JsonObject {
    return {
      id: user.id,
      name: user.name,
      available_name: user.display_name || user.name,
      avatar_url: "",
      type: "user",
      availability_status: user.availability_status,
      thumbnail: "",
    };
  }

  botWebhookData(bot: AgentBot): JsonObject {
    return { id: bot.id, name: bot.name, type: "agent_bot" };
  }

  botPushEventData(bot: AgentBot): JsonObject {
    return { id: bot.id, name: bot.name, avatar_url: bot.avatar_url, type: "agent_bot" };
  }

  senderWebhookData(message: Message): JsonObject | null {
    const sender = this.#sender(message);
    if (!sender) return null;
    if (sender.kind === "contact") return this.contactWebhookData(sender.row);
    if (sender.kind === "user") return this.userWebhookData(sender.row);
    return this.botWebhookData(sender.row);
  }

  senderPushEventData(message: Message): JsonObject | null {
    const sender = this.#sender(message);
    if (!sender) return null;
    if (sender.kind === "contact") return this.contactPushEventData(sender.row);
    if (sender.kind === "user") return this.userPushEventData(sender.row);
    return this.botPushEventData(sender.row);
  }

  #sender(message: Message) {
    const s = this.#state;
    if (message.sender_type === "Contact") {
      const row = s.contacts.get(message.sender_id);
      return row ? { kind: "contact" as const, row } : undefined;
    }
    if (message.sender_type === "User") {
      const row = s.users.get(message.sender_id);
      return row ? { kind: "user" as const, row } : undefined;
    }
    if (message.sender_type === "AgentBot") {
      const row = s.agentBots.get(message.sender_id);
      return row ? { kind: "bot" as const, row } : undefined;
    }
    return undefined;
  }

  /** `Attachment#push_event_data`, identical in webhooks and REST. */
  attachmentData(attachment: Attachment, message: Message): JsonObject {
    const base: JsonObject = {
      id: attachment.id,
      message_id: message.id,
      file_type: attachment.file_type,
      account_id: message.account_id,
    };
    if (attachment.file_type === "location") {
      return {
        ...base,
        coordinates_lat: attachment.coordinates_lat,
        coordinates_long: attachment.coordinates_long,
        fallback_title: attachment.fallback_title,
        data_url: attachment.external_url,
      };
    }
    if (attachment.file_type === "contact") {
      return { ...base, fallback_title: attachment.fallback_title, meta: attachment.meta };
    }
    if (attachment.file_type === "fallback") {
      return { ...base, fallback_title: attachment.fallback_title, data_url: attachment.external_url };
    }
    if (attachment.file_type === "embed") return { ...base, data_url: attachment.external_url };
    const blob = this.#state.blobs.get(attachment.blob_id);
    if (!blob) return { ...base, data_url: attachment.external_url, thumb_url: "" };
    const signedId = blobSignedId(blob.id, blob.key);
    const root = this.ctx.frontendUrl().replace(/\/$/, "");
    const name = encodeURIComponent(blob.filename);
    const dot = blob.filename.lastIndexOf(".");
    const file: JsonObject = {
      ...base,
      extension: dot > 0 ? blob.filename.slice(dot + 1) : null,
      content_type: blob.content_type,
      data_url: `${root}/rails/active_storage/blobs/redirect/${signedId}/${name}`,
      thumb_url: attachment.file_type === "image"
        ? `${root}/rails/active_storage/representations/redirect/${signedId}/${name}`
        : "",
      file_size: blob.byte_size,
      width: attachment.width,
      height: attachment.height,
    };
    if (attachment.file_type === "audio") file.transcribed_text = String(attachment.meta.transcribed_text ?? "");
    return file;
  }

  /** `Message#push_event_data`: every column, integer message_type, int created_at, ISO updated_at. */
  messagePushEventData(message: Message): JsonObject {
    const conversation = this.#state.conversations.get(message.conversation_id)!;
    const contactInbox = this.#state.contactInboxes.get(conversation.contact_inbox_id);
    const data: JsonObject = {
      id: message.id,
      content: message.content,
      account_id: message.account_id,
      inbox_id: message.inbox_id,
      conversation_id: conversation.display_id,
      message_type: message.message_type,
      created_at: unixInt(message.created_at),
      updated_at: iso(message.updated_at),
      private: message.private,
      status: message.status,
      source_id: message.source_id,
      content_type: message.content_type,
      content_attributes: message.content_attributes,
      sender_type: message.sender_type,
      sender_id: message.sender_id,
      external_source_ids: message.external_source_ids,
      additional_attributes: message.additional_attributes,
      processed_message_content: message.content,
      sentiment: {},
      conversation: {
        assignee_id: conversation.assignee_id,
        unread_count: this.unreadCount(conversation),
        last_activity_at: unixInt(conversation.last_activity_at),
        contact_inbox: { source_id: contactInbox?.source_id ?? null },
      },
    };
    const sender = this.senderPushEventData(message);
    if (sender) data.sender = sender;
    if (message.attachments.length) data.attachments = message.attachments.map((a) => this.attachmentData(a, message));
    return data;
  }

  /** `Message#webhook_data`: string message_type, ISO created_at, no `status`. */
  messageWebhookData(message: Message): JsonObject {
    const inbox = this.#state.inboxes.get(message.inbox_id);
    const data: JsonObject = {
      account: this.accountRef(message.account_id),
      additional_attributes: message.additional_attributes,
      content_attributes: message.content_attributes,
      content_type: message.content_type,
      content: message.content,
      conversation: this.conversationWebhookData(this.#state.conversations.get(message.conversation_id)!),
      created_at: iso(message.created_at),
      id: message.id,
      inbox: { id: message.inbox_id, name: inbox?.name ?? "" },
      message_type: MESSAGE_TYPE_NAMES[message.message_type],
      private: message.private,
      sender: this.senderWebhookData(message),
      source_id: message.source_id,
    };
    if (message.attachments.length) data.attachments = message.attachments.map((a) => this.attachmentData(a, message));
    return data;
  }

  contactInboxWebhookData(contactInbox: ContactInbox): JsonObject {
    return {
      id: contactInbox.id,
      contact_id: contactInbox.contact_id,
      inbox_id: contactInbox.inbox_id,
      source_id: contactInbox.source_id,
      created_at: iso(contactInbox.created_at),
      updated_at: iso(contactInbox.updated_at),
      hmac_verified: contactInbox.hmac_verified,
      pubsub_token: contactInbox.pubsub_token,
    };
  }

  /** The last message that is neither private nor activity (`messages.chat.last`). */
  lastChatMessage(conversation: Conversation): Message | undefined {
    const messages = this.#state.messages.by(conversation.id);
    for (let i = messages.length - 1; i >= 0; i--) {
      const m = messages[i];
      if (!m.private && m.message_type !== MESSAGE_TYPES.activity) return m;
    }
    return undefined;
  }

  /** Incoming messages the agents have not seen (all of them while agent_last_seen_at is null). */
  unreadCount(conversation: Conversation): number {
    const seen = conversation.agent_last_seen_at;
    return this.#state.messages.by(conversation.id).filter((m) =>
      m.message_type === MESSAGE_TYPES.incoming && (seen === null || m.created_at > seen)
    ).length;
  }

  canReply(conversation: Conversation): boolean {
    const inbox = this.#state.inboxes.get(conversation.inbox_id);
    if (inbox?.channel_type !== "Channel::Whatsapp") return true;
    const incoming = this.#state.messages.by(conversation.id).filter((m) => m.message_type === MESSAGE_TYPES.incoming);
    const last = incoming.at(-1);
    return !!last && this.ctx.now() - last.created_at < 24 * 3600 * 1000;
  }

  assigneeData(conversation: Conversation): { assignee: JsonObject | null; assignee_type: string | null } {
    const user = this.#state.users.get(conversation.assignee_id);
    if (user) return { assignee: this.userPushEventData(user), assignee_type: "User" };
    const bot = this.#state.agentBots.get(conversation.assignee_agent_bot_id);
    if (bot) return { assignee: this.botPushEventData(bot), assignee_type: "AgentBot" };
    return { assignee: null, assignee_type: null };
  }

  /** Chatwoot's develop branch adds `account: {id, name}` to conversation and inbox webhook
   * payloads (PR #12445, for issues #11753/#12442); 4.13 sends none. Per account, sandbox-only. */
  #developAccount(accountId: number): JsonObject {
    return this.#state.accounts.get(accountId)?.develop_payloads ? { account: this.accountRef(accountId) } : {};
  }

  /** `Conversations::EventDataPresenter#webhook_data`: id is the display_id, no account (4.13). */
  conversationWebhookData(conversation: Conversation): JsonObject {
    const s = this.#state;
    const inbox = s.inboxes.get(conversation.inbox_id);
    const contact = s.contacts.get(conversation.contact_id);
    const contactInbox = s.contactInboxes.get(conversation.contact_inbox_id);
    const last = this.lastChatMessage(conversation);
    return {
      ...this.#developAccount(conversation.account_id),
      additional_attributes: conversation.additional_attributes,
      can_reply: this.canReply(conversation),
      channel: inbox?.channel_type ?? null,
      contact_inbox: contactInbox ? this.contactInboxWebhookData(contactInbox) : null,
      id: conversation.display_id,
      inbox_id: conversation.inbox_id,
      messages: last ? [this.messagePushEventData(last)] : [],
      labels: conversation.labels,
      meta: {
        sender: contact ? this.contactPushEventData(contact) : null,
        ...this.assigneeData(conversation),
        team: null,
        hmac_verified: contactInbox?.hmac_verified ?? false,
      },
      status: conversation.status,
      custom_attributes: conversation.custom_attributes,
      snoozed_until: isoOrNull(conversation.snoozed_until),
      unread_count: this.unreadCount(conversation),
      first_reply_created_at: isoOrNull(conversation.first_reply_created_at),
      priority: conversation.priority,
      waiting_since: unixInt(conversation.waiting_since),
      agent_last_seen_at: unixInt(conversation.agent_last_seen_at),
      contact_last_seen_at: unixInt(conversation.contact_last_seen_at),
      last_activity_at: unixInt(conversation.last_activity_at),
      timestamp: unixInt(conversation.last_activity_at),
      created_at: unixInt(conversation.created_at),
      updated_at: unixFloat(conversation.updated_at),
    };
  }

  /** `ContactInbox#webhook_data` for webwidget_triggered. */
  webwidgetTriggered(contactInbox: ContactInbox, eventInfo: JsonObject): JsonObject {
    const s = this.#state;
    const contact = s.contacts.get(contactInbox.contact_id)!;
    const inbox = s.inboxes.get(contactInbox.inbox_id)!;
    const current = s.conversations.by(contact.account_id)
      .filter((c) => c.contact_inbox_id === contactInbox.id).at(-1);
    return {
      id: contactInbox.id,
      contact: this.contactWebhookData(contact),
      inbox: { id: inbox.id, name: inbox.name },
      account: this.accountRef(inbox.account_id),
      current_conversation: current ? this.conversationWebhookData(current) : null,
      source_id: contactInbox.source_id,
      event_info: eventInfo,
    };
  }

  /** The channel row as ActiveRecord `as_json` renders it (secrets included — Chatwoot does that too). */
  channelRecord(inbox: Inbox): JsonObject {
    const out: JsonObject = {};
    for (const [key, value] of Object.entries(inbox.channel)) {
      out[key] = DATETIME_COLUMNS.has(key) && typeof value === "number" ? iso(value) : value;
    }
    return out;
  }

  /** `Inbox::EventDataPresenter#push_data` — no inbox id or name, the full channel row. */
  inboxEventData(inbox: Inbox): JsonObject {
    return {
      ...this.#developAccount(inbox.account_id),
      allow_messages_after_resolved: inbox.allow_messages_after_resolved,
      lock_to_single_conversation: inbox.lock_to_single_conversation,
      add_label_to_resolve_conversation: false,
      auto_assignment_config: {},
      enable_auto_assignment: inbox.enable_auto_assignment,
      enable_email_collect: inbox.enable_email_collect,
      greeting_enabled: inbox.greeting_enabled,
      greeting_message: inbox.greeting_message,
      csat_survey_enabled: inbox.csat_survey_enabled,
      business_name: inbox.business_name,
      sender_name_type: inbox.sender_name_type,
      timezone: inbox.timezone,
      out_of_office_message: inbox.out_of_office_message,
      working_hours_enabled: inbox.working_hours_enabled,
      working_hours: [],
      created_at: iso(inbox.created_at),
      updated_at: iso(inbox.updated_at),
      channel: this.channelRecord(inbox),
    };
  }
}

// Chatwoot's conversation domain: contacts and contact inboxes, conversations and messages — validations with
// Rails' full messages, and the callbacks that dispatch events (activity, first reply, SendReplyJob, reopen).

import { ApiError, type FieldError, ValidationError } from "./http.ts";
import type { ChangedAttributes } from "./payloads.ts";
import { CONVERSATION_MESSAGES_PER_MINUTE } from "./rate_limits.ts";
import { type Actor, applyChanges, blank, EMAIL_RE, hexToken, type ModelDeps } from "./records.ts";
import {
  type Account,
  type Attachment,
  type Contact,
  type ContactInbox,
  type Conversation,
  type ConversationStatus,
  type Inbox,
  type JsonObject,
  type Message,
  MESSAGE_TYPES,
  type MessageStatus,
  type SandboxState,
  secureToken,
} from "./state.ts";

export type { Actor, ModelDeps } from "./records.ts";

export interface AttachmentInput {
  file_type: string;
  blob?: { filename: string; content_type: string; data: Uint8Array };
  external_url?: string | null;
  coordinates_lat?: number | null;
  coordinates_long?: number | null;
  fallback_title?: string | null;
  meta?: JsonObject;
  width?: number | null;
  height?: number | null;
}

export interface MessageInput {
  message_type: number;
  content?: string | null;
  content_type?: string;
  content_attributes?: JsonObject;
  additional_attributes?: JsonObject;
  private?: boolean;
  source_id?: string | null;
  status?: MessageStatus;
  sender?: { type: "Contact" | "User" | "AgentBot"; id: number } | null;
  attachments?: AttachmentInput[];
  external_source_ids?: JsonObject;
}

export interface ContactInput {
  name?: string | null;
  email?: string | null;
  phone_number?: string | null;
  identifier?: string | null;
  blocked?: boolean;
  additional_attributes?: JsonObject;
  custom_attributes?: JsonObject;
  last_activity_at?: number | null;
}

/** `Conversation#allowed_keys?`: only these changes produce a conversation_updated event. */
const CONVERSATION_UPDATE_KEYS = new Set([
  "team_id",
  "assignee_id",
  "assignee_agent_bot_id",
  "status",
  "snoozed_until",
  "custom_attributes",
  "labels",
  "waiting_since",
  "first_reply_created_at",
  "priority",
]);

/** `conversations.activity.agent_bot.error_moved_to_open` (config/locales/en.yml). */
export const BOT_ERROR_MOVED_TO_OPEN = "Conversation was marked open by system due to an error with the agent bot.";

export const CONVERSATION_STATUSES: ConversationStatus[] = ["open", "resolved", "pending", "snoozed"];
export const MESSAGE_STATUSES: MessageStatus[] = ["sent", "delivered", "read", "failed"];
export const PRIORITIES = ["low", "medium", "high", "urgent"];
export const CONTENT_TYPES = [
  "text",
  "input_text",
  "input_textarea",
  "input_email",
  "input_select",
  "cards",
  "form",
  "article",
  "incoming_email",
  "input_csat",
  "integrations",
  "sticker",
  "voice_call",
];

/** Contact phone format — deliberately unanchored at the start, exactly like Chatwoot's `/\+[1-9]\d{1,14}\z/`. */
const E164_RE = /\+[1-9]\d{1,14}$/;

export class ChatwootModel {
  constructor(private readonly deps: ModelDeps) {}

  get #s(): SandboxState {
    return this.deps.state;
  }

  #now(): number {
    return this.deps.now();
  }

  #apply<T extends { updated_at: number }>(row: T, patch: Partial<T>): ChangedAttributes {
    return applyChanges(row, patch, this.#now());
  }

  #timestamps() {
    const now = this.#now();
    return { created_at: now, updated_at: now };
  }

  // ---------------------------------------------------------------- contacts

  #normalizeContact(input: ContactInput): ContactInput {
    const out = { ...input };
    for (const key of ["email", "phone_number", "identifier"] as const) {
      if (key in out && blank(out[key])) out[key] = null;
    }
    if (typeof out.email === "string") out.email = out.email.trim().toLowerCase();
    return out;
  }

  #contactErrors(accountId: number, c: ContactInput, ownId: number | null): FieldError[] {
    const errors: FieldError[] = [];
    const others = this.#s.contacts.by(accountId).filter((o) => o.id !== ownId);
    if (c.email) {
      if (!EMAIL_RE.test(c.email)) errors.push({ attribute: "email", message: "Email Invalid email" });
      else if (others.some((o) => o.email?.toLowerCase() === c.email)) {
        errors.push({ attribute: "email", message: "Email has already been taken" });
      }
    }
    if (c.identifier && others.some((o) => o.identifier === c.identifier)) {
      errors.push({ attribute: "identifier", message: "Identifier has already been taken" });
    }
    if (c.phone_number) {
      if (!E164_RE.test(c.phone_number)) {
        errors.push({ attribute: "phone_number", message: "Phone number should be in e164 format" });
      } else if (others.some((o) => o.phone_number === c.phone_number)) {
        errors.push({ attribute: "phone_number", message: "Phone number has already been taken" });
      }
    }
    return errors;
  }

  createContact(account: Account, input: ContactInput): Contact {
    const c = this.#normalizeContact(input);
    const errors = this.#contactErrors(account.id, c, null);
    if (errors.length) throw new ValidationError(errors);
    const contact = this.#s.contacts.insert({
      account_id: account.id,
      name: c.name ?? "",
      email: c.email ?? null,
      phone_number: c.phone_number ?? null,
      identifier: c.identifier ?? null,
      blocked: c.blocked ?? false,
      additional_attributes: c.additional_attributes ?? {},
      custom_attributes: c.custom_attributes ?? {},
      last_activity_at: c.last_activity_at ?? null,
      ...this.#timestamps(),
    });
    this.deps.events.emit({ name: "contact_created", contactId: contact.id });
    return contact;
  }

  /** PATCH semantics: custom_attributes and additional_attributes are merged, not replaced. */
  updateContact(contact: Contact, input: ContactInput, opts: { replaceAttributes?: boolean } = {}): ChangedAttributes {
    const c = this.#normalizeContact(input);
    const errors = this.#contactErrors(contact.account_id, { ...contact, ...c }, contact.id);
    if (errors.length) throw new ValidationError(errors);
    const merge = (current: JsonObject, next: JsonObject | undefined) =>
      next === undefined ? undefined : opts.replaceAttributes ? next : { ...current, ...next };
    const changes = this.#apply(contact, {
      name: c.name ?? undefined,
      email: c.email,
      phone_number: c.phone_number,
      identifier: c.identifier,
      blocked: c.blocked,
      last_activity_at: c.last_activity_at,
      additional_attributes: merge(contact.additional_attributes, c.additional_attributes),
      custom_attributes: merge(contact.custom_attributes, c.custom_attributes),
    });
    // WebhookListener#contact_updated returns early when nothing changed.
    if (changes.length) this.deps.events.emit({ name: "contact_updated", contactId: contact.id, changed: changes });
    return changes;
  }

  destroyCustomAttributes(contact: Contact, keys: string[]): void {
    const next = { ...contact.custom_attributes };
    for (const key of keys) delete next[key];
    this.updateContact(contact, { custom_attributes: next }, { replaceAttributes: true });
  }

  deleteContact(contact: Contact): void {
    if (this.#s.onlineContacts.has(contact.id)) {
      const name = contact.name ? contact.name[0].toUpperCase() + contact.name.slice(1) : "";
      throw new ApiError(422, { message: `${name} is Online, please try again later` });
    }
    const s = this.#s;
    for (const c of s.conversations.by(contact.account_id).filter((c) => c.contact_id === contact.id)) {
      s.messages.deleteWhere((m) => m.conversation_id === c.id);
      s.conversations.delete(c.id);
    }
    s.contactInboxes.deleteWhere((ci) => ci.contact_id === contact.id);
    s.contacts.delete(contact.id);
    // Chatwoot has no contact_deleted webhook.
  }

  /** ContactMergeAction: moves everything to base, destroys mergee, base attributes win. */
  mergeContacts(base: Contact, mergee: Contact): Contact {
    if (base.id === mergee.id) throw new ApiError(422, { error: "Base contact and mergee contact cannot be the same" });
    const s = this.#s;
    for (const c of s.conversations.by(base.account_id).filter((c) => c.contact_id === mergee.id)) {
      c.contact_id = base.id;
    }
    for (const ci of s.contactInboxes.filter((ci) => ci.contact_id === mergee.id)) ci.contact_id = base.id;
    for (const conversation of s.conversations.by(base.account_id).filter((c) => c.contact_id === base.id)) {
      for (const m of s.messages.by(conversation.id)) {
        if (m.sender_type === "Contact" && m.sender_id === mergee.id) m.sender_id = base.id;
      }
    }
    const pickPresent = (c: Contact) => {
      const out: ContactInput = {};
      for (const key of ["identifier", "name", "email", "phone_number"] as const) if (!blank(c[key])) out[key] = c[key];
      return out;
    };
    const merged: ContactInput = {
      ...pickPresent(mergee),
      ...pickPresent(base),
      additional_attributes: deepMerge(mergee.additional_attributes, base.additional_attributes),
      custom_attributes: deepMerge(mergee.custom_attributes, base.custom_attributes),
    };
    s.contacts.delete(mergee.id);
    s.onlineContacts.delete(mergee.id);
    this.updateContact(base, merged, { replaceAttributes: true });
    return base;
  }

  /** ContactInboxBuilder: generates the channel's source_id when none is given. */
  findOrCreateContactInbox(
    contact: Contact,
    inbox: Inbox,
    sourceId?: string | null,
    hmacVerified = false,
  ): ContactInbox {
    const s = this.#s;
    let source = sourceId ?? null;
    if (!source) {
      const existing = s.contactInboxes.find((ci) => ci.contact_id === contact.id && ci.inbox_id === inbox.id);
      if (existing) return existing;
      if (inbox.channel_type === "Channel::Whatsapp") {
        if (!contact.phone_number) throw new ApiError(422, { error: "contact phone number required" });
        source = contact.phone_number.replace(/^\+/, "");
      } else if (inbox.channel_type === "Channel::Email") {
        if (!contact.email) throw new ApiError(422, { error: "contact email required" });
        source = contact.email;
      } else {
        source = crypto.randomUUID();
      }
    }
    const found = s.contactInboxes.find((ci) => ci.inbox_id === inbox.id && ci.source_id === source);
    if (found) return found;
    return s.contactInboxes.insert({
      contact_id: contact.id,
      inbox_id: inbox.id,
      source_id: source,
      hmac_verified: hmacVerified,
      pubsub_token: secureToken(),
      ...this.#timestamps(),
    });
  }

  // ---------------------------------------------------------------- conversations

  /** `Conversation#determine_conversation_status`: pending while a bot is active on the inbox. */
  defaultStatus(inbox: Inbox): ConversationStatus {
    return inbox.agent_bot_id ? "pending" : "open";
  }

  createConversation(
    account: Account,
    inbox: Inbox,
    contactInbox: ContactInbox,
    attrs: Partial<Pick<Conversation, "status" | "assignee_id" | "additional_attributes" | "custom_attributes">> & {
      snoozed_until?: number | null;
    } = {},
  ): Conversation {
    if (attrs.status && !CONVERSATION_STATUSES.includes(attrs.status)) {
      throw new ApiError(422, { error: `'${attrs.status}' is not a valid status` });
    }
    const now = this.#now();
    account.display_id_seq++;
    const conversation = this.#s.conversations.insert({
      display_id: account.display_id_seq,
      account_id: account.id,
      inbox_id: inbox.id,
      contact_id: contactInbox.contact_id,
      contact_inbox_id: contactInbox.id,
      uuid: crypto.randomUUID(),
      status: attrs.status ?? this.defaultStatus(inbox),
      assignee_id: attrs.assignee_id ?? null,
      assignee_agent_bot_id: null,
      priority: null,
      additional_attributes: attrs.additional_attributes ?? {},
      custom_attributes: attrs.custom_attributes ?? {},
      labels: [],
      snoozed_until: attrs.snoozed_until ?? null,
      waiting_since: now,
      first_reply_created_at: null,
      agent_last_seen_at: null,
      contact_last_seen_at: null,
      assignee_last_seen_at: null,
      last_activity_at: now,
      created_at: now,
      updated_at: now,
    });
    this.deps.events.emit({ name: "conversation_created", conversationId: conversation.id });
    return conversation;
  }

  /** Saves changes and runs Conversation's after_update_commit callbacks, in Chatwoot's order. */
  updateConversation(conversation: Conversation, patch: Partial<Conversation>, actor?: Actor): ChangedAttributes {
    const previousStatus = conversation.status;
    const previousAssignee = conversation.assignee_id;
    const changes = this.#apply(conversation, patch);
    if (!changes.length) return changes;
    const keys = new Set(changes.map((c) => Object.keys(c)[0]));
    const ev = this.deps.events;
    if (keys.has("status")) {
      if (conversation.status === "open") ev.emit({ name: "conversation_opened", conversationId: conversation.id });
      if (conversation.status === "resolved") {
        ev.emit({ name: "conversation_resolved", conversationId: conversation.id });
      }
      ev.emit({ name: "conversation_status_changed", conversationId: conversation.id });
    }
    if ([...keys].some((k) => CONVERSATION_UPDATE_KEYS.has(k))) {
      ev.emit({ name: "conversation_updated", conversationId: conversation.id, changed: changes });
    }
    if (actor && keys.has("status")) this.#statusActivity(conversation, previousStatus, actor);
    if (actor && keys.has("assignee_id")) this.#assigneeActivity(conversation, previousAssignee, actor);
    return changes;
  }

  /**
   * Conversation#update_labels → acts-as-taggable-on with a cached list: the save changes
   * `cached_label_list` ("a, b", TagList#to_s) and `label_list` is what Conversation#allowed_keys?
   * lists, so conversation_updated carries both in changed_attributes (app/models/conversation.rb).
   */
  updateLabels(conversation: Conversation, labels: string[]): ChangedAttributes {
    const next = [...new Set(labels.map((l) => l.trim().toLowerCase()).filter((l) => l !== ""))];
    const previous = conversation.labels;
    if (JSON.stringify(previous) === JSON.stringify(next)) return [];
    const before = conversation.updated_at;
    conversation.labels = next;
    conversation.updated_at = Math.max(this.#now(), before + 1);
    const changes: ChangedAttributes = [
      { cached_label_list: { previous_value: previous.join(", "), current_value: next.join(", ") } },
      { label_list: { previous_value: previous, current_value: next } },
      {
        updated_at: {
          previous_value: new Date(before).toISOString(),
          current_value: new Date(conversation.updated_at).toISOString(),
        },
      },
    ];
    this.deps.events.emit({ name: "conversation_updated", conversationId: conversation.id, changed: changes });
    return changes;
  }

  #actorName(actor: Actor): string {
    return actor.kind === "user" ? actor.user.name : actor.kind === "bot" ? actor.bot.name : "System";
  }

  #statusActivity(conversation: Conversation, _previous: ConversationStatus, actor: Actor): void {
    const who = this.#actorName(actor);
    const content = actor.kind === "system" ? `System reopened the conversation due to a new incoming message.` : {
      open: `Conversation was reopened by ${who}`,
      resolved: `Conversation was marked resolved by ${who}`,
      pending: `Conversation was marked as pending by ${who}`,
      snoozed: `Conversation was snoozed by ${who}`,
    }[conversation.status];
    this.createActivity(conversation, content);
  }

  #assigneeActivity(conversation: Conversation, _previous: number | null, actor: Actor): void {
    const assignee = this.#s.users.get(conversation.assignee_id);
    const who = this.#actorName(actor);
    const content = !assignee
      ? `Conversation unassigned by ${who}`
      : actor.kind === "user" && actor.user.id === assignee.id
      ? `${who} self-assigned this conversation`
      : `Assigned to ${assignee.name} by ${who}`;
    this.createActivity(conversation, content);
  }

  createActivity(conversation: Conversation, content: string): Message {
    return this.createMessage(conversation, { message_type: MESSAGE_TYPES.activity, content, sender: null }, {
      skipFloodGuard: true,
    });
  }

  // ---------------------------------------------------------------- messages

  /** Message creation with its callbacks: flood guard, conversation/contact activity, events, SendReplyJob. */
  createMessage(conversation: Conversation, input: MessageInput, opts: { skipFloodGuard?: boolean } = {}): Message {
    const s = this.#s;
    // Rails timestamps have microseconds; keep them strictly increasing within a conversation.
    const previous = s.messages.by(conversation.id).at(-1);
    const now = Math.max(this.#now(), previous ? previous.created_at + 1 : 0);
    if ((input.content?.length ?? 0) > 150_000) {
      throw new ApiError(422, { error: "Validation failed: Content is too long (maximum is 150000 characters)" });
    }
    if (!opts.skipFloodGuard) {
      const messages = s.messages.by(conversation.id);
      let recent = 0;
      for (let i = messages.length - 1; i >= 0 && messages[i].created_at >= now - 60_000; i--) recent++;
      if (recent >= CONVERSATION_MESSAGES_PER_MINUTE) {
        throw new ApiError(422, { error: "Validation failed: Too many messages" });
      }
    }
    const contentType = input.content_type ?? "text";
    if (!CONTENT_TYPES.includes(contentType)) {
      throw new ApiError(422, { error: `'${contentType}' is not a valid content_type` });
    }
    const message = s.messages.insert({
      account_id: conversation.account_id,
      inbox_id: conversation.inbox_id,
      conversation_id: conversation.id,
      message_type: input.message_type,
      content: input.content ?? null,
      content_type: contentType,
      content_attributes: input.content_attributes ?? {},
      additional_attributes: input.additional_attributes ?? {},
      private: input.private ?? false,
      status: input.status ?? "sent",
      source_id: input.source_id ?? null,
      sender_type: input.sender?.type ?? null,
      sender_id: input.sender?.id ?? null,
      external_source_ids: input.external_source_ids ?? {},
      attachments: (input.attachments ?? []).map((a) => this.#attachment(a)),
      created_at: now,
      updated_at: now,
    });
    const isActivity = message.message_type === MESSAGE_TYPES.activity;
    // update_columns(last_activity_at) + belongs_to touch: no conversation event for these.
    if (!isActivity) conversation.last_activity_at = now;
    conversation.updated_at = Math.max(now, conversation.updated_at + 1);
    if (!isActivity) this.#openPendingForHumanResponse(conversation, message);
    this.deps.events.emit({ name: "message_created", messageId: message.id });
    if (isActivity) return message;

    if (message.message_type === MESSAGE_TYPES.incoming) {
      const contact = message.sender_type === "Contact" ? s.contacts.get(message.sender_id) : undefined;
      // Message#update_contact_activity: contact_updated on every inbound message (issue #11973).
      if (contact) this.updateContact(contact, { last_activity_at: now });
      const patch: Partial<Conversation> = {};
      if (conversation.waiting_since === null) patch.waiting_since = now;
      // Message#reopen_conversation: a snoozed conversation opens (open!, bot or not; the
      // snooze ends: Conversation#ensure_snooze_until_reset); a resolved one goes back to its
      // default status (pending while a bot is active: reopen_resolved_conversation).
      if (conversation.status === "snoozed") {
        patch.status = "open";
        patch.snoozed_until = null;
      } else if (conversation.status === "resolved") {
        patch.status = this.defaultStatus(s.inboxes.get(conversation.inbox_id)!);
      }
      this.updateConversation(conversation, patch, patch.status ? { kind: "system" } : undefined);
    } else if (message.sender_type === "User" && !message.private) {
      // Human first reply: first_reply_created_at set and waiting_since cleared.
      const patch: Partial<Conversation> = { waiting_since: null };
      if (conversation.first_reply_created_at === null) patch.first_reply_created_at = now;
      this.updateConversation(conversation, patch);
    } else if (
      message.sender_type === "AgentBot" && !message.private && message.message_type === MESSAGE_TYPES.outgoing
    ) {
      // Message#update_waiting_since: a bot_response? clears waiting_since but is never a first reply.
      this.updateConversation(conversation, { waiting_since: null });
    }
    this.#scheduleSendReply(message);
    return message;
  }

  /**
   * Enterprise::Message#mark_pending_conversation_as_open_for_human_response. Chatwoot 4.13 runs it only for
   * Captain inboxes, so the sandbox runs it only when the account opts in (`open_pending_on_human_reply`); with
   * an external agent bot a human reply leaves the conversation pending until someone toggles the status.
   */
  #openPendingForHumanResponse(conversation: Conversation, message: Message): void {
    if (!this.#s.accounts.get(conversation.account_id)?.open_pending_on_human_reply) return;
    const human = message.message_type === MESSAGE_TYPES.outgoing && message.sender_type === "User" &&
      !message.private && message.content_type !== "input_csat";
    if (!human || conversation.status !== "pending") return;
    // Runs without Current.user, so no "reopened by" activity (Captain's own auto-open note is not emulated).
    this.updateConversation(conversation, { status: "open" });
  }

  /**
   * Webhooks::Trigger#update_conversation_status: once a bot's message delivery has failed for good (after
   * the 429/500 retries, or at once on a timeout or any other error), a pending conversation is opened —
   * `conversation.open!`, no actor — and an activity note is added, unless the account keeps it pending.
   */
  openAfterBotFailure(messageId: number): void {
    const message = this.#s.messages.get(messageId);
    const conversation = message && this.#s.conversations.get(message.conversation_id);
    if (!conversation || conversation.status !== "pending") return;
    if (this.#s.accounts.get(conversation.account_id)?.keep_pending_on_bot_failure) return;
    this.updateConversation(conversation, { status: "open" });
    this.createActivity(conversation, BOT_ERROR_MOVED_TO_OPEN);
  }

  #attachment(input: AttachmentInput): Attachment {
    let blobId: number | null = null;
    if (input.blob) {
      const blob = this.#s.blobs.insert({
        key: secureToken(28).toLowerCase(),
        filename: input.blob.filename,
        content_type: input.blob.content_type,
        byte_size: input.blob.data.byteLength,
        data_base64: bytesToBase64(input.blob.data),
        created_at: this.#now(),
      });
      blobId = blob.id;
    }
    return {
      id: ++this.#s.counters.attachment,
      file_type: input.file_type,
      blob_id: blobId,
      external_url: input.external_url ?? null,
      coordinates_lat: input.coordinates_lat ?? null,
      coordinates_long: input.coordinates_long ?? null,
      fallback_title: input.fallback_title ?? null,
      meta: input.meta ?? {},
      width: input.width ?? null,
      height: input.height ?? null,
    };
  }

  /** SendReplyJob → SendOnWhatsappService → `message.update!(source_id: wamid)` → message_updated. */
  #scheduleSendReply(message: Message): void {
    const inbox = this.#s.inboxes.get(message.inbox_id);
    const outbound = message.message_type === MESSAGE_TYPES.outgoing || message.message_type === MESSAGE_TYPES.template;
    if (
      inbox?.channel_type !== "Channel::Whatsapp" || !outbound || message.private || message.source_id ||
      message.content_attributes.external_echo
    ) return;
    this.deps.schedule(this.deps.sendReplyDelayMs, () => {
      const current = this.#s.messages.get(message.id);
      if (current && !current.source_id) this.updateMessage(current, { source_id: fakeWamid() });
    });
  }

  /**
   * Messages::AudioTranscriptionJob: writes attachment.meta.transcribed_text, then `send_update_event`
   * (a message_updated without any column change, so updated_at stays put).
   */
  transcribeAudio(message: Message, text: string): void {
    for (const a of message.attachments) if (a.file_type === "audio") a.meta = { ...a.meta, transcribed_text: text };
    this.deps.events.emit({ name: "message_updated", messageId: message.id });
  }

  updateMessage(message: Message, patch: Partial<Message>): ChangedAttributes {
    const changes = this.#apply(message, patch);
    if (changes.length) this.deps.events.emit({ name: "message_updated", messageId: message.id });
    return changes;
  }

  /** Messages::StatusUpdateService: unknown statuses and read→delivered are ignored. */
  updateMessageStatus(message: Message, status: unknown, externalError?: unknown): boolean {
    if (!MESSAGE_STATUSES.includes(status as MessageStatus)) return false;
    if (message.status === "read" && status === "delivered") return false;
    const patch: Partial<Message> = { status: status as MessageStatus };
    if (status === "failed" && !blank(externalError)) {
      patch.content_attributes = { ...message.content_attributes, external_error: String(externalError) };
    }
    this.updateMessage(message, patch);
    return true;
  }

  /** A failed API-inbox webhook marks the message failed (which itself fires message_updated). */
  markDeliveryFailed(messageId: number, error: string): void {
    const message = this.#s.messages.get(messageId);
    if (!message || message.status === "failed") return;
    this.updateMessageStatus(message, "failed", error);
  }

  /** Soft delete: content replaced, `deleted` flag set, attachments removed. */
  deleteMessage(message: Message): void {
    this.updateMessage(message, {
      content: "This message was deleted",
      content_attributes: { ...message.content_attributes, deleted: true },
      attachments: [],
    });
  }

  typing(conversation: Conversation, actor: Actor, on: boolean, isPrivate: boolean): void {
    this.deps.events.emit({
      name: on ? "conversation_typing_on" : "conversation_typing_off",
      conversationId: conversation.id,
      actor: actor.kind === "user"
        ? { type: "user", id: actor.user.id }
        : actor.kind === "bot"
        ? { type: "agent_bot", id: actor.bot.id }
        : null,
      isPrivate,
    });
  }

  webwidgetTriggered(contactInbox: ContactInbox, eventInfo: JsonObject): void {
    this.deps.events.emit({ name: "webwidget_triggered", contactInboxId: contactInbox.id, eventInfo });
  }
}

export function deepMerge(a: JsonObject, b: JsonObject): JsonObject {
  const out: JsonObject = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = prev && v && typeof prev === "object" && typeof v === "object" && !Array.isArray(prev) && !Array.isArray(v)
      ? deepMerge(prev as JsonObject, v as JsonObject)
      : v;
  }
  return out;
}

export function bytesToBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export function base64ToBytes(b64: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/** A plausible WhatsApp message id ("wamid." + base64). */
export function fakeWamid(): string {
  return `wamid.${btoa(hexToken(18).toUpperCase()).replace(/=+$/, "")}==`;
}

// Scripted traffic: what customers, agents and Meta do to a Chatwoot — inbound WhatsApp messages (text,
// voice note with a later transcription, image, location, contact share, echo from the phone), widget visits
// and messages from identified contacts, agent replies, status changes — plus replay of the fixture payloads.

import { Buffer } from "node:buffer";
import { createHmac, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { ApiError } from "./http.ts";
import { type AttachmentInput, type ChatwootModel, fakeWamid } from "./model.ts";
import { hexToken } from "./records.ts";
import type {
  Account,
  ChannelType,
  Contact,
  ContactInbox,
  Conversation,
  Inbox,
  JsonObject,
  Message,
  SandboxState,
  User,
} from "./state.ts";
import { MESSAGE_TYPES } from "./state.ts";
import type { DeliveryRecord, WebhookSender } from "./webhooks.ts";

const Media = z.object({
  base64: z.string(),
  content_type: z.string().optional(),
  filename: z.string().optional(),
});

export const WhatsAppInbound = z.object({
  inbox_id: z.number().int(),
  /** The customer's wa_id (digits; a leading "+" is accepted and stripped). */
  from: z.string().regex(/^\+?\d{6,15}$/),
  /** contacts[0].profile.name */
  name: z.string().optional(),
  kind: z.enum(["text", "voice", "image", "location", "contact", "echo"]).default("text"),
  text: z.string().optional(),
  caption: z.string().optional(),
  /** Voice notes: the Whisper transcript that arrives later as message_updated. */
  transcription: z.string().optional(),
  transcription_delay_ms: z.number().int().min(0).optional(),
  location: z.object({
    latitude: z.number(),
    longitude: z.number(),
    name: z.string().optional(),
    address: z.string().optional(),
    url: z.string().optional(),
  }).optional(),
  shared_contact: z.object({
    formatted_name: z.string(),
    first_name: z.string().optional(),
    last_name: z.string().optional(),
    phones: z.array(z.string()).min(1),
  }).optional(),
  /** The WhatsApp message id; generated when omitted. A repeated wamid is deduplicated, as Chatwoot does. */
  wamid: z.string().optional(),
  /** wamid of the quoted message (context.id). */
  reply_to: z.string().optional(),
  media: Media.optional(),
});
export type WhatsAppInbound = z.input<typeof WhatsAppInbound>;

export const WhatsAppStatus = z.object({
  message_id: z.number().int(),
  status: z.enum(["sent", "delivered", "read", "failed"]),
  /** For failed: "code: title", stored in content_attributes.external_error. */
  error: z.string().optional(),
});
export type WhatsAppStatus = z.input<typeof WhatsAppStatus>;

const Browser = z.object({
  browser_name: z.string(),
  browser_version: z.string(),
  device_name: z.string(),
  platform_name: z.string(),
  platform_version: z.string(),
});

export const WidgetOpen = z.object({
  inbox_id: z.number().int(),
  /** setUser identifier; omitted = an anonymous visitor. */
  identifier: z.string().optional(),
  name: z.string().optional(),
  email: z.string().optional(),
  referer: z.string().default("https://example.com/"),
  /** setUser's identifier_hash: hex HMAC-SHA256(inbox hmac_token, identifier); verified like Chatwoot does. */
  identifier_hash: z.string().optional(),
  browser: Browser.optional(),
});
export type WidgetOpen = z.input<typeof WidgetOpen>;

export const WidgetMessage = WidgetOpen.extend({
  phone_number: z.string().optional(),
  custom_attributes: z.record(z.string(), z.unknown()).optional(),
  content: z.string(),
});
export type WidgetMessage = z.input<typeof WidgetMessage>;

export const AgentReply = z.object({
  account_id: z.number().int(),
  /** The conversation's display_id. */
  conversation_id: z.number().int(),
  /** Defaults to the account's first administrator. */
  user_id: z.number().int().optional(),
  content: z.string(),
  private: z.boolean().default(false),
  content_type: z.string().optional(),
});
export type AgentReply = z.input<typeof AgentReply>;

export const IncomingMessage = z.object({
  inbox_id: z.number().int(),
  /** Write into this conversation (display_id) — a resolved one reopens (pending while a bot is active). */
  conversation_id: z.number().int().optional(),
  /** Otherwise: this contact, or the contact_inbox with this source_id, or a new contact named `name`. */
  contact_id: z.number().int().optional(),
  source_id: z.string().min(1).optional(),
  name: z.string().optional(),
  content: z.string().optional(),
  /** A voice note: one `audio` attachment whose transcribed_text stays "" unless `transcription` is given. */
  audio: Media.partial({ base64: true }).extend({
    transcription: z.string().optional(),
    transcription_delay_ms: z.number().int().min(0).optional(),
  }).optional(),
});
export type IncomingMessage = z.input<typeof IncomingMessage>;

export const StatusChange = z.object({
  account_id: z.number().int(),
  conversation_id: z.number().int(),
  status: z.enum(["open", "resolved", "pending", "snoozed"]),
  user_id: z.number().int().optional(),
});
export type StatusChange = z.input<typeof StatusChange>;

export const LabelsChange = z.object({
  account_id: z.number().int(),
  conversation_id: z.number().int(),
  /** The conversation's labels afterwards (POST …/conversations/:id/labels replaces the list). */
  labels: z.array(z.string()),
});
export type LabelsChange = z.input<typeof LabelsChange>;

export const FixtureReplay = z.object({
  account_id: z.number().int(),
  /** Deliver to this webhook only (whatever its subscriptions); default: every subscribed account webhook. */
  webhook_id: z.number().int().optional(),
});
export type FixtureReplay = z.input<typeof FixtureReplay>;

export interface TrafficDeps {
  state: SandboxState;
  model: ChatwootModel;
  sender: WebhookSender;
  now(): number;
  schedule(ms: number, fn: () => void): void;
  changed(): void;
  fixturesDir: string;
  transcriptionDelayMs: number;
}

export interface TrafficResult {
  contact: Contact;
  contactInbox: ContactInbox;
  conversation?: Conversation;
  message?: Message;
}

/** A valid 1×1 PNG, so archived "images" open. */
const PNG_1X1 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

function oggBytes(size = 2048): Uint8Array {
  const bytes = new Uint8Array(size);
  crypto.getRandomValues(bytes);
  bytes.set([0x4f, 0x67, 0x67, 0x53, 0x00, 0x02]); // "OggS" capture pattern
  return bytes;
}

function decodeMedia(media: z.output<typeof Media> | undefined, fallback: () => Uint8Array): Uint8Array {
  return media ? Uint8Array.from(atob(media.base64), (c) => c.charCodeAt(0)) : fallback();
}

const VISITOR_WORDS = ["quiet", "restless", "misty", "bold", "autumn", "silent", "wild", "proud"];
const VISITOR_NOUNS = ["river", "sun", "meadow", "forest", "breeze", "moon", "lake", "snow"];

export class Traffic {
  constructor(private readonly deps: TrafficDeps) {}

  #inbox(id: number, type: ChannelType): { inbox: Inbox; account: Account } {
    const inbox = this.deps.state.inboxes.get(id);
    if (!inbox) throw new ApiError(404, { error: `inbox ${id} not found` });
    if (inbox.channel_type !== type) {
      throw new ApiError(422, { error: `inbox ${id} is a ${inbox.channel_type}, not ${type}` });
    }
    const account = this.deps.state.accounts.get(inbox.account_id)!;
    return { inbox, account };
  }

  #conversation(accountId: number, displayId: number): Conversation {
    const c = this.deps.state.conversations.by(accountId).find((c) => c.display_id === displayId);
    if (!c) throw new ApiError(404, { error: `conversation ${displayId} not found in account ${accountId}` });
    return c;
  }

  #agent(accountId: number, userId?: number): User {
    const members = this.deps.state.accountUsers.by(accountId);
    const member = userId === undefined
      ? members.find((m) => m.role === "administrator") ?? members[0]
      : members.find((m) => m.user_id === userId);
    const user = member && this.deps.state.users.get(member.user_id);
    if (!user) throw new ApiError(422, { error: `account ${accountId} has no such agent` });
    return user;
  }

  /** Reuses the contact_inbox's open conversation unless the last one is resolved (or the inbox locks to one). */
  #currentConversation(account: Account, inbox: Inbox, contactInbox: ContactInbox, attrs: JsonObject = {}) {
    const conversations = this.deps.state.conversations.by(account.id).filter((c) =>
      c.contact_inbox_id === contactInbox.id
    );
    const existing = inbox.lock_to_single_conversation
      ? conversations.at(-1)
      : conversations.filter((c) => c.status !== "resolved").at(-1);
    return existing ??
      this.deps.model.createConversation(account, inbox, contactInbox, { additional_attributes: attrs });
  }

  /** Whatsapp::IncomingMessageBaseService, from Meta's webhook to Chatwoot's records and events. */
  whatsappInbound(raw: WhatsAppInbound): TrafficResult {
    const input = WhatsAppInbound.parse(raw);
    const { inbox, account } = this.#inbox(input.inbox_id, "Channel::Whatsapp");
    const s = this.deps.state;
    const model = this.deps.model;
    const waId = input.from.replace(/^\+/, "");
    const wamid = input.wamid ?? fakeWamid();

    const duplicate = s.messages.find((m) => m.inbox_id === inbox.id && m.source_id === wamid);
    if (duplicate) {
      const conversation = s.conversations.get(duplicate.conversation_id)!;
      const contactInbox = s.contactInboxes.get(conversation.contact_inbox_id)!;
      return { contact: s.contacts.get(conversation.contact_id)!, contactInbox, conversation, message: duplicate };
    }

    let contactInbox = s.contactInboxes.find((ci) => ci.inbox_id === inbox.id && ci.source_id === waId);
    let contact = contactInbox ? s.contacts.get(contactInbox.contact_id)! : undefined;
    if (!contact) {
      contact = s.contacts.by(account.id).find((c) => c.phone_number === `+${waId}`) ??
        model.createContact(account, { name: input.name ?? `+${waId}`, phone_number: `+${waId}` });
    }
    if (!contactInbox) contactInbox = model.findOrCreateContactInbox(contact, inbox, waId);
    if (input.name && contact.name === contact.phone_number) model.updateContact(contact, { name: input.name });

    const conversation = this.#currentConversation(account, inbox, contactInbox);
    const contentAttributes: JsonObject = {};
    if (input.reply_to) {
      contentAttributes.in_reply_to_external_id = input.reply_to;
      const quoted = s.messages.find((m) => m.inbox_id === inbox.id && m.source_id === input.reply_to);
      if (quoted) contentAttributes.in_reply_to = quoted.id;
    }
    let content: string | null = input.caption ?? null;
    const attachments: AttachmentInput[] = [];
    switch (input.kind) {
      case "text":
      case "echo":
        content = input.text ?? "";
        break;
      case "voice":
        attachments.push({
          file_type: "audio",
          blob: {
            filename: input.media?.filename ?? "voice.ogg",
            content_type: input.media?.content_type ?? "audio/ogg",
            data: decodeMedia(input.media, () => oggBytes()),
          },
          meta: { transcribed_text: "" },
        });
        break;
      case "image":
        attachments.push({
          file_type: "image",
          blob: {
            filename: input.media?.filename ?? `${hexToken(8)}.png`,
            content_type: input.media?.content_type ?? "image/png",
            data: decodeMedia(input.media, () => Uint8Array.from(atob(PNG_1X1), (c) => c.charCodeAt(0))),
          },
          width: input.media ? null : 1,
          height: input.media ? null : 1,
        });
        break;
      case "location": {
        const loc = input.location ?? { latitude: 25.6866, longitude: -100.3161, name: "Monterrey", address: "NL" };
        content = null;
        attachments.push({
          file_type: "location",
          coordinates_lat: loc.latitude,
          coordinates_long: loc.longitude,
          fallback_title: loc.name || loc.address ? [loc.name, loc.address].filter(Boolean).join(", ") : "",
          external_url: loc.url ?? null,
        });
        break;
      }
      case "contact": {
        const shared = input.shared_contact ?? { formatted_name: "Shared Contact", phones: ["+5215500000000"] };
        content = shared.formatted_name;
        for (const phone of shared.phones) {
          attachments.push({
            file_type: "contact",
            fallback_title: phone,
            meta: { firstName: shared.first_name ?? shared.formatted_name, lastName: shared.last_name ?? "" },
          });
        }
        break;
      }
    }

    const message = input.kind === "echo"
      // Coexistence echoes (smb_message_echoes, PR #13371): sent from the WhatsApp Business app, so
      // outgoing, no sender, already delivered, `external_echo: true` — and nothing else: a quoted
      // reply's context is not recorded for echoes (issue #15325).
      ? model.createMessage(conversation, {
        message_type: MESSAGE_TYPES.outgoing,
        content,
        content_attributes: { external_echo: true },
        source_id: wamid,
        status: "delivered",
        sender: null,
      })
      : model.createMessage(conversation, {
        message_type: MESSAGE_TYPES.incoming,
        content,
        content_attributes: contentAttributes,
        source_id: wamid,
        sender: { type: "Contact", id: contact.id },
        attachments,
      });

    if (input.kind === "voice" && input.transcription !== undefined) {
      const text = input.transcription;
      this.deps.schedule(input.transcription_delay_ms ?? this.deps.transcriptionDelayMs, () => {
        const current = s.messages.get(message.id);
        if (current) model.transcribeAudio(current, text);
      });
    }
    this.deps.changed();
    return { contact, contactInbox, conversation, message };
  }

  /** Meta `statuses[]`: sent → delivered → read, or failed with "code: title". */
  whatsappStatus(raw: WhatsAppStatus): Message {
    const input = WhatsAppStatus.parse(raw);
    const message = this.deps.state.messages.get(input.message_id);
    if (!message) throw new ApiError(404, { error: `message ${input.message_id} not found` });
    this.deps.model.updateMessageStatus(message, input.status, input.error);
    this.deps.changed();
    return message;
  }

  /**
   * Widget::ContactsController#set_user: verified when identifier_hash is sent or the inbox has
   * hmac_mandatory; a mismatch is 401 "HMAC failed: Invalid Identifier Hash Provided".
   */
  #verifyIdentity(inbox: Inbox, input: z.output<typeof WidgetOpen>): boolean {
    if (!input.identifier) return false;
    if (input.identifier_hash === undefined && !inbox.channel.hmac_mandatory) return false;
    const expected = createHmac("sha256", String(inbox.channel.hmac_token)).update(input.identifier).digest("hex");
    const given = Buffer.from(input.identifier_hash ?? "");
    if (given.length !== expected.length || !timingSafeEqual(given, Buffer.from(expected))) {
      throw new ApiError(401, { error: "HMAC failed: Invalid Identifier Hash Provided" });
    }
    return true;
  }

  #widgetContact(account: Account, inbox: Inbox, input: z.output<typeof WidgetOpen> & { phone_number?: string }) {
    const s = this.deps.state;
    const model = this.deps.model;
    const verified = this.#verifyIdentity(inbox, input);
    let contact = input.identifier
      ? s.contacts.by(account.id).find((c) => c.identifier === input.identifier)
      : undefined;
    if (!contact) {
      const visitor = `${VISITOR_WORDS[Math.floor(Math.random() * 8)]}-${
        VISITOR_NOUNS[Math.floor(Math.random() * 8)]
      }-${Math.floor(Math.random() * 1000)}`;
      contact = model.createContact(account, {
        name: input.name ?? visitor,
        email: input.email,
        identifier: input.identifier,
        phone_number: input.phone_number,
        additional_attributes: { created_at_ip: "203.0.113.9" },
      });
    } else if (input.name || input.email) {
      // setUser on a known contact: discard_invalid_attrs, so bad values keep the old ones.
      try {
        model.updateContact(contact, { name: input.name, email: input.email });
      } catch { /* Chatwoot keeps the old values silently */ }
    }
    const existing = s.contactInboxes.find((ci) => ci.contact_id === contact.id && ci.inbox_id === inbox.id);
    const contactInbox = existing ?? model.findOrCreateContactInbox(contact, inbox, null, false);
    if (verified && !contactInbox.hmac_verified) {
      contactInbox.hmac_verified = true;
      contactInbox.updated_at = this.deps.now();
    }
    return { contact, contactInbox };
  }

  #eventInfo(input: z.output<typeof WidgetOpen>): JsonObject {
    return {
      initiated_at: { timestamp: new Date(this.deps.now()).toString() },
      referer: input.referer,
      widget_language: "en",
      browser_language: "en",
      browser: input.browser ?? {
        browser_name: "Chrome",
        browser_version: "124.0.0.0",
        device_name: "Unknown",
        platform_name: "macOS",
        platform_version: "10.15.7",
      },
    };
  }

  /** The widget bubble opens: webwidget_triggered. */
  widgetOpen(raw: WidgetOpen): TrafficResult {
    const input = WidgetOpen.parse(raw);
    const { inbox, account } = this.#inbox(input.inbox_id, "Channel::WebWidget");
    const { contact, contactInbox } = this.#widgetContact(account, inbox, input);
    this.deps.model.webwidgetTriggered(contactInbox, this.#eventInfo(input));
    this.deps.changed();
    return { contact, contactInbox };
  }

  /** A message typed into the widget by a contact identified with setUser. */
  widgetMessage(raw: WidgetMessage): TrafficResult {
    const input = WidgetMessage.parse(raw);
    const { inbox, account } = this.#inbox(input.inbox_id, "Channel::WebWidget");
    const { contact, contactInbox } = this.#widgetContact(account, inbox, input);
    if (input.custom_attributes) this.deps.model.updateContact(contact, { custom_attributes: input.custom_attributes });
    const info = this.#eventInfo(input);
    const conversation = this.#currentConversation(account, inbox, contactInbox, {
      browser_language: info.browser_language,
      browser: info.browser,
      initiated_at: info.initiated_at,
      referer: info.referer,
    });
    const message = this.deps.model.createMessage(conversation, {
      message_type: MESSAGE_TYPES.incoming,
      content: input.content,
      content_attributes: { in_reply_to: null },
      sender: { type: "Contact", id: contact.id },
    });
    this.deps.changed();
    return { contact, contactInbox, conversation, message };
  }

  /**
   * A customer writes into any inbox (API, widget, e-mail, or WhatsApp when continuing a conversation):
   * the channel-neutral core of every incoming-message service, with the same callbacks and events.
   */
  incomingMessage(raw: IncomingMessage): TrafficResult {
    const input = IncomingMessage.parse(raw);
    const s = this.deps.state;
    const model = this.deps.model;
    const inbox = s.inboxes.get(input.inbox_id);
    if (!inbox) throw new ApiError(404, { error: `inbox ${input.inbox_id} not found` });
    const account = s.accounts.get(inbox.account_id)!;
    let conversation: Conversation | undefined;
    let contactInbox: ContactInbox | undefined;
    let contact: Contact | undefined;
    if (input.conversation_id !== undefined) {
      conversation = this.#conversation(account.id, input.conversation_id);
      if (conversation.inbox_id !== inbox.id) {
        throw new ApiError(422, { error: `conversation ${input.conversation_id} is not in inbox ${inbox.id}` });
      }
      contactInbox = s.contactInboxes.get(conversation.contact_inbox_id)!;
      contact = s.contacts.get(conversation.contact_id)!;
    } else {
      if (inbox.channel_type === "Channel::Whatsapp") {
        throw new ApiError(422, { error: "start WhatsApp conversations with /_control/traffic/whatsapp" });
      }
      if (input.source_id) {
        contactInbox = s.contactInboxes.find((ci) => ci.inbox_id === inbox.id && ci.source_id === input.source_id);
      }
      contact = contactInbox ? s.contacts.get(contactInbox.contact_id) : s.contacts.get(input.contact_id);
      if (contact && contact.account_id !== account.id) throw new ApiError(404, { error: "contact not found" });
      contact ??= model.createContact(account, { name: input.name ?? `Customer ${s.contacts.seq + 1}` });
      contactInbox ??= model.findOrCreateContactInbox(contact, inbox, input.source_id ?? null);
      conversation = this.#currentConversation(account, inbox, contactInbox);
    }
    const attachments: AttachmentInput[] = [];
    if (input.audio) {
      attachments.push({
        file_type: "audio",
        blob: {
          filename: input.audio.filename ?? "voice.ogg",
          content_type: input.audio.content_type ?? "audio/ogg",
          data: input.audio.base64 ? decodeMedia({ base64: input.audio.base64 }, oggBytes) : oggBytes(),
        },
        meta: { transcribed_text: "" },
      });
    }
    const message = model.createMessage(conversation, {
      message_type: MESSAGE_TYPES.incoming,
      content: input.content ?? null,
      source_id: inbox.channel_type === "Channel::Whatsapp" ? fakeWamid() : null,
      sender: { type: "Contact", id: contact.id },
      attachments,
    });
    if (input.audio?.transcription !== undefined) {
      const text = input.audio.transcription;
      this.deps.schedule(input.audio.transcription_delay_ms ?? this.deps.transcriptionDelayMs, () => {
        const current = s.messages.get(message.id);
        if (current) model.transcribeAudio(current, text);
      });
    }
    this.deps.changed();
    return { contact, contactInbox, conversation, message };
  }

  /** A conversation as a test reads it: the record and every message, oldest first. */
  conversationWithMessages(accountId: number, displayId: number): { conversation: Conversation; messages: Message[] } {
    const conversation = this.#conversation(accountId, displayId);
    return { conversation, messages: this.deps.state.messages.by(conversation.id) };
  }

  /** An agent answers from the dashboard (on WhatsApp the wamid arrives later via message_updated). */
  agentReply(raw: AgentReply): Message {
    const input = AgentReply.parse(raw);
    const conversation = this.#conversation(input.account_id, input.conversation_id);
    const user = this.#agent(input.account_id, input.user_id);
    const message = this.deps.model.createMessage(conversation, {
      message_type: MESSAGE_TYPES.outgoing,
      content: input.content,
      content_type: input.content_type,
      private: input.private,
      sender: { type: "User", id: user.id },
    });
    this.deps.changed();
    return message;
  }

  /** An agent changes the status in the dashboard. */
  statusChange(raw: StatusChange): Conversation {
    const input = StatusChange.parse(raw);
    const conversation = this.#conversation(input.account_id, input.conversation_id);
    const user = this.#agent(input.account_id, input.user_id);
    this.deps.model.updateConversation(conversation, {
      status: input.status,
      snoozed_until: input.status === "snoozed" ? conversation.snoozed_until : null,
    }, { kind: "user", user });
    this.deps.changed();
    return conversation;
  }

  /** An agent sets the conversation's labels in the dashboard (Conversation#update_labels). */
  labelsChange(raw: LabelsChange): Conversation {
    const input = LabelsChange.parse(raw);
    const conversation = this.#conversation(input.account_id, input.conversation_id);
    this.deps.model.updateLabels(conversation, input.labels);
    this.deps.changed();
    return conversation;
  }

  async listFixtures(): Promise<string[]> {
    const names: string[] = [];
    try {
      for await (const entry of Deno.readDir(this.deps.fixturesDir)) {
        if (entry.isFile && entry.name.endsWith(".json")) names.push(entry.name);
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    return names.sort();
  }

  /**
   * Sends a fixture file as a signed delivery, rewritten to the target account: `account{id,name}`,
   * `account_id`, and the inbox ids (mapped to the account's inbox of the same channel, when it has one).
   */
  async replayFixture(name: string, raw: FixtureReplay): Promise<DeliveryRecord[]> {
    const input = FixtureReplay.parse(raw);
    const file = name.endsWith(".json") ? name : `${name}.json`;
    if (!(await this.listFixtures()).includes(file)) {
      throw new ApiError(404, { error: `fixture ${file} not found in ${this.deps.fixturesDir}` });
    }
    const s = this.deps.state;
    const account = s.accounts.get(input.account_id);
    if (!account) throw new ApiError(404, { error: `account ${input.account_id} not found` });
    const payload = JSON.parse(await Deno.readTextFile(`${this.deps.fixturesDir}/${file}`)) as JsonObject;
    const event = String(payload.event ?? "");

    const channel = (payload.channel ?? (payload.conversation as JsonObject)?.channel ??
      (payload.current_conversation as JsonObject)?.channel ??
      (event === "webwidget_triggered" ? "Channel::WebWidget" : undefined)) as ChannelType | undefined;
    const target = channel ? s.inboxes.by(account.id).find((i) => i.channel_type === channel) : undefined;
    const rewrite = (value: unknown, key?: string): unknown => {
      if (Array.isArray(value)) return value.map((v) => rewrite(v));
      if (value && typeof value === "object") {
        const obj = value as JsonObject;
        if (key === "account" && "id" in obj && "name" in obj) return { id: account.id, name: account.name };
        if (key === "inbox" && target && "id" in obj && "name" in obj) return { id: target.id, name: target.name };
        return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, rewrite(v, k)]));
      }
      if (key === "account_id" && typeof value === "number") return account.id;
      if (key === "inbox_id" && target && typeof value === "number") return target.id;
      return value;
    };
    const rewritten = rewrite(payload) as JsonObject;

    const webhooks = input.webhook_id !== undefined
      ? s.webhooks.by(account.id).filter((w) => w.id === input.webhook_id)
      : s.webhooks.by(account.id).filter((w) => w.subscriptions.includes(event));
    if (input.webhook_id !== undefined && !webhooks.length) {
      throw new ApiError(404, { error: `webhook ${input.webhook_id} not found in account ${account.id}` });
    }
    return webhooks.flatMap((w) =>
      this.deps.sender.enqueue({
        kind: "fixture_replay",
        url: w.url,
        secret: w.secret,
        accountId: account.id,
        event,
        webhookId: w.id,
      }, rewritten)
    );
  }
}

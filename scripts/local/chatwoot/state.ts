// The sandbox's in-memory Chatwoot database: row types shaped like Chatwoot's tables, id sequences,
// the platform app's permissibles, and a JSON snapshot so the state survives a restart.

export type JsonObject = Record<string, unknown>;
export type Role = "agent" | "administrator";
export type ConversationStatus = "open" | "resolved" | "pending" | "snoozed";
export type MessageStatus = "sent" | "delivered" | "read" | "failed";
export type ChannelType = "Channel::WebWidget" | "Channel::Api" | "Channel::Email" | "Channel::Whatsapp";

/** Chatwoot's `Message.message_types` enum: names in webhooks, integers in REST and nested payloads. */
export const MESSAGE_TYPES = { incoming: 0, outgoing: 1, activity: 2, template: 3 } as const;
export type MessageTypeName = keyof typeof MESSAGE_TYPES;
export const MESSAGE_TYPE_NAMES = ["incoming", "outgoing", "activity", "template"] as const;

/** All timestamps are epoch milliseconds; serializers render them the way each Chatwoot view does. */
export interface Account {
  id: number;
  name: string;
  locale: string;
  domain: string | null;
  support_email: string | null;
  status: "active" | "suspended";
  custom_attributes: JsonObject;
  limits: JsonObject;
  features: Record<string, boolean>;
  /** Sandbox-only: emulate Chatwoot < 4.11.2, which sends no signature headers. */
  unsigned_webhooks: boolean;
  /**
   * Sandbox-only: this is a Chatwoot Cloud account on the free ("Hacker") plan, whose `api_and_webhooks` feature
   * is off (PR #14973, July 2026): token-authenticated account API calls get 403 and account webhooks stop.
   */
  cloud_free_plan?: boolean;
  /** Chatwoot account setting: a failed bot webhook leaves a pending conversation pending. */
  keep_pending_on_bot_failure?: boolean;
  /**
   * Sandbox-only: a human's public reply opens a pending conversation. Chatwoot 4.13 does this only in
   * enterprise, for Captain inboxes (`Enterprise::Message#mark_pending_conversation_as_open_for_human_response`),
   * never for an external agent bot; off by default, so the sandbox behaves like a bot inbox.
   */
  open_pending_on_human_reply?: boolean;
  /** Sandbox-only: send develop's payload shapes (conversation and inbox payloads carry `account`, PR #12445). */
  develop_payloads?: boolean;
  display_id_seq: number;
  created_at: number;
  updated_at: number;
}

export interface User {
  id: number;
  name: string;
  display_name: string | null;
  email: string;
  /** Never returned; kept only so a PATCH can be validated like Devise would. */
  password_set: boolean;
  custom_attributes: JsonObject;
  access_token: string;
  pubsub_token: string;
  availability_status: "online" | "offline" | "busy";
  created_at: number;
  updated_at: number;
}

export interface AccountUser {
  id: number;
  account_id: number;
  user_id: number;
  role: Role;
  inviter_id: number | null;
  active_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface AgentBot {
  id: number;
  name: string;
  description: string | null;
  outgoing_url: string | null;
  account_id: number | null;
  avatar_url: string;
  bot_type: "webhook";
  bot_config: JsonObject;
  access_token: string;
  /** When the AccessToken row was last regenerated (reset_access_token); absent = never. */
  access_token_updated_at?: number;
  secret: string;
  created_at: number;
  updated_at: number;
}

export interface Inbox {
  id: number;
  account_id: number;
  name: string;
  channel_type: ChannelType;
  channel_id: number;
  /** The channel row (Channel::WebWidget, Channel::Api, …) as Chatwoot stores it. */
  channel: JsonObject;
  greeting_enabled: boolean;
  greeting_message: string | null;
  enable_email_collect: boolean;
  csat_survey_enabled: boolean;
  enable_auto_assignment: boolean;
  working_hours_enabled: boolean;
  out_of_office_message: string | null;
  timezone: string;
  allow_messages_after_resolved: boolean;
  lock_to_single_conversation: boolean;
  sender_name_type: string;
  business_name: string | null;
  agent_bot_id: number | null;
  created_at: number;
  updated_at: number;
}

export interface Contact {
  id: number;
  account_id: number;
  name: string;
  email: string | null;
  phone_number: string | null;
  identifier: string | null;
  blocked: boolean;
  additional_attributes: JsonObject;
  custom_attributes: JsonObject;
  last_activity_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface ContactInbox {
  id: number;
  contact_id: number;
  inbox_id: number;
  source_id: string;
  hmac_verified: boolean;
  pubsub_token: string;
  created_at: number;
  updated_at: number;
}

export interface Conversation {
  id: number;
  display_id: number;
  account_id: number;
  inbox_id: number;
  contact_id: number;
  contact_inbox_id: number;
  uuid: string;
  status: ConversationStatus;
  assignee_id: number | null;
  assignee_agent_bot_id: number | null;
  priority: string | null;
  additional_attributes: JsonObject;
  custom_attributes: JsonObject;
  labels: string[];
  snoozed_until: number | null;
  waiting_since: number | null;
  first_reply_created_at: number | null;
  agent_last_seen_at: number | null;
  contact_last_seen_at: number | null;
  assignee_last_seen_at: number | null;
  last_activity_at: number;
  created_at: number;
  updated_at: number;
}

export interface Attachment {
  id: number;
  file_type: string;
  blob_id: number | null;
  external_url: string | null;
  coordinates_lat: number | null;
  coordinates_long: number | null;
  fallback_title: string | null;
  meta: JsonObject;
  width: number | null;
  height: number | null;
}

export interface Message {
  id: number;
  account_id: number;
  inbox_id: number;
  conversation_id: number;
  message_type: number;
  content: string | null;
  content_type: string;
  content_attributes: JsonObject;
  additional_attributes: JsonObject;
  private: boolean;
  status: MessageStatus;
  source_id: string | null;
  sender_type: "Contact" | "User" | "AgentBot" | null;
  sender_id: number | null;
  external_source_ids: JsonObject;
  attachments: Attachment[];
  created_at: number;
  updated_at: number;
}

/** An ActiveStorage blob: the bytes behind an attachment's data_url. */
export interface Blob {
  id: number;
  key: string;
  filename: string;
  content_type: string;
  byte_size: number;
  data_base64: string;
  created_at: number;
}

export interface Webhook {
  id: number;
  account_id: number;
  inbox_id: number | null;
  name: string | null;
  url: string;
  subscriptions: string[];
  secret: string;
  created_at: number;
  updated_at: number;
}

export interface CustomAttributeDefinition {
  id: number;
  account_id: number;
  attribute_display_name: string;
  attribute_key: string;
  attribute_model: "conversation_attribute" | "contact_attribute";
  attribute_display_type: string;
  attribute_description: string | null;
  attribute_values: unknown[];
  regex_pattern: string | null;
  regex_cue: string | null;
  default_value: unknown;
  created_at: number;
  updated_at: number;
}

type WithId = { id: number };

/** A table with its own id sequence and, optionally, an index on one immutable column. */
export class Table<T extends WithId> {
  #rows = new Map<number, T>();
  #index = new Map<unknown, Set<number>>();
  seq = 0;

  constructor(readonly indexKey?: keyof T) {}

  insert(row: Omit<T, "id">): T {
    const full = { ...row, id: ++this.seq } as T;
    this.#rows.set(full.id, full);
    this.#addToIndex(full);
    return full;
  }

  get(id: number | string | null | undefined): T | undefined {
    if (id === null || id === undefined || id === "") return undefined;
    const n = typeof id === "number" ? id : Number(id);
    return Number.isInteger(n) ? this.#rows.get(n) : undefined;
  }

  find(pred: (row: T) => boolean): T | undefined {
    for (const row of this.#rows.values()) if (pred(row)) return row;
    return undefined;
  }

  filter(pred: (row: T) => boolean): T[] {
    const out: T[] = [];
    for (const row of this.#rows.values()) if (pred(row)) out.push(row);
    return out;
  }

  /** Rows whose indexed column equals `value`, in id order. */
  by(value: unknown): T[] {
    const ids = this.#index.get(value);
    if (!ids) return [];
    return [...ids].map((id) => this.#rows.get(id)!).filter(Boolean);
  }

  all(): T[] {
    return [...this.#rows.values()];
  }

  get size(): number {
    return this.#rows.size;
  }

  delete(id: number): T | undefined {
    const row = this.#rows.get(id);
    if (!row) return undefined;
    this.#rows.delete(id);
    if (this.indexKey) this.#index.get(row[this.indexKey])?.delete(id);
    return row;
  }

  deleteWhere(pred: (row: T) => boolean): T[] {
    const gone = this.filter(pred);
    for (const row of gone) this.delete(row.id);
    return gone;
  }

  dump(): { seq: number; rows: T[] } {
    return { seq: this.seq, rows: this.all() };
  }

  load(data: { seq: number; rows: T[] } | undefined): void {
    this.#rows.clear();
    this.#index.clear();
    this.seq = data?.seq ?? 0;
    for (const row of data?.rows ?? []) {
      this.#rows.set(row.id, row);
      this.#addToIndex(row);
    }
  }

  #addToIndex(row: T): void {
    if (!this.indexKey) return;
    const key = row[this.indexKey];
    let ids = this.#index.get(key);
    if (!ids) this.#index.set(key, ids = new Set());
    ids.add(row.id);
  }
}

const BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/** Rails `has_secure_token`: 24 characters of base58. */
export function secureToken(length = 24): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  let out = "";
  for (const b of bytes) out += BASE58[b % 58];
  return out;
}

export const SNAPSHOT_VERSION = 1;

export class SandboxState {
  platformAppToken: string;
  /** `platform_app_permissibles` rows as "Type:id" (Account, User, AgentBot). */
  permissibles = new Set<string>();
  /** Contacts with a live widget presence (`OnlineStatusTracker`); DELETE refuses them. */
  onlineContacts = new Set<number>();

  accounts = new Table<Account>();
  users = new Table<User>();
  accountUsers = new Table<AccountUser>("account_id");
  agentBots = new Table<AgentBot>();
  inboxes = new Table<Inbox>("account_id");
  contacts = new Table<Contact>("account_id");
  contactInboxes = new Table<ContactInbox>();
  conversations = new Table<Conversation>("account_id");
  messages = new Table<Message>("conversation_id");
  blobs = new Table<Blob>();
  webhooks = new Table<Webhook>("account_id");
  customAttributeDefinitions = new Table<CustomAttributeDefinition>("account_id");
  /** Sequences shared by several tables (channel rows, attachments). */
  counters = { channel: 0, attachment: 0 };

  constructor(platformAppToken = secureToken()) {
    this.platformAppToken = platformAppToken;
  }

  #tables() {
    return {
      accounts: this.accounts,
      users: this.users,
      accountUsers: this.accountUsers,
      agentBots: this.agentBots,
      inboxes: this.inboxes,
      contacts: this.contacts,
      contactInboxes: this.contactInboxes,
      conversations: this.conversations,
      messages: this.messages,
      blobs: this.blobs,
      webhooks: this.webhooks,
      customAttributeDefinitions: this.customAttributeDefinitions,
    } as const;
  }

  permit(type: "Account" | "User" | "AgentBot", id: number): void {
    this.permissibles.add(`${type}:${id}`);
  }

  isPermitted(type: "Account" | "User" | "AgentBot", id: number): boolean {
    return this.permissibles.has(`${type}:${id}`);
  }

  /** Resolves an `api_access_token` to the user or agent bot that owns it. */
  tokenOwner(token: string): { kind: "user"; user: User } | { kind: "bot"; bot: AgentBot } | undefined {
    if (!token) return undefined;
    const user = this.users.find((u) => u.access_token === token);
    if (user) return { kind: "user", user };
    const bot = this.agentBots.find((b) => b.access_token === token);
    return bot ? { kind: "bot", bot } : undefined;
  }

  /** Empties every table; the platform app token survives. */
  clear(): void {
    for (const table of Object.values(this.#tables())) table.load(undefined);
    this.permissibles.clear();
    this.onlineContacts.clear();
    this.counters = { channel: 0, attachment: 0 };
  }

  toSnapshot(): JsonObject {
    const tables: JsonObject = {};
    for (const [name, table] of Object.entries(this.#tables())) tables[name] = table.dump();
    return {
      version: SNAPSHOT_VERSION,
      platformAppToken: this.platformAppToken,
      permissibles: [...this.permissibles],
      onlineContacts: [...this.onlineContacts],
      counters: this.counters,
      tables,
    };
  }

  static fromSnapshot(snapshot: JsonObject): SandboxState {
    if (snapshot.version !== SNAPSHOT_VERSION) {
      throw new Error(`unsupported sandbox snapshot version ${snapshot.version}; delete the file to start afresh`);
    }
    const state = new SandboxState(String(snapshot.platformAppToken));
    state.permissibles = new Set(snapshot.permissibles as string[]);
    state.onlineContacts = new Set(snapshot.onlineContacts as number[]);
    state.counters = { ...state.counters, ...(snapshot.counters as typeof state.counters) };
    const tables = snapshot.tables as Record<string, { seq: number; rows: never[] }>;
    for (const [name, table] of Object.entries(state.#tables())) table.load(tables[name]);
    return state;
  }
}

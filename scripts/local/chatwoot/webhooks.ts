// Webhook delivery as Chatwoot 4.13 does it: WebhookListener/AgentBotListener routing (who receives which
// event), payloads built when the "job" runs, signed single-attempt POSTs with a 5 s timeout, agent-bot
// retries on 429/500, and a delivery log for tests. Fault rules can drop, duplicate, delay or reorder.

import { delay } from "../kit/faults.ts";
import { type FaultInjector, type FaultRule, faultsForDelivery } from "./faults.ts";
import { type ChangedAttributes, iso, type Payloads } from "./payloads.ts";
import { type Inbox, type JsonObject, MESSAGE_TYPES, type SandboxState } from "./state.ts";

/** Chatwoot's `ALLOWED_WEBHOOK_EVENTS` (app/models/webhook.rb, v4.13). */
export const ALLOWED_WEBHOOK_EVENTS = [
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

/** Events are carried by id and reloaded when delivered, as Chatwoot's jobs reload records. */
export type DomainEvent =
  | { name: "message_created" | "message_updated"; messageId: number }
  | { name: "conversation_created"; conversationId: number }
  | { name: "conversation_updated"; conversationId: number; changed: ChangedAttributes }
  | { name: "conversation_status_changed" | "conversation_opened" | "conversation_resolved"; conversationId: number }
  | { name: "contact_created"; contactId: number }
  | { name: "contact_updated"; contactId: number; changed: ChangedAttributes }
  | { name: "inbox_created"; inboxId: number }
  | { name: "inbox_updated"; inboxId: number; changed: ChangedAttributes }
  | { name: "webwidget_triggered"; contactInboxId: number; eventInfo: JsonObject }
  | {
    name: "conversation_typing_on" | "conversation_typing_off";
    conversationId: number;
    /** Who toggled typing: an agent, or an agent bot with its own token (Current.user is the bot). */
    actor: { type: "user" | "agent_bot"; id: number } | null;
    isPrivate: boolean;
  };

const API_INBOX_EVENTS = new Set([
  "message_created",
  "message_updated",
  "conversation_created",
  "conversation_updated",
  "conversation_status_changed",
  "webwidget_triggered",
  "conversation_typing_on",
  "conversation_typing_off",
]);
const AGENT_BOT_EVENTS = new Set([
  "message_created",
  "message_updated",
  "conversation_opened",
  "conversation_resolved",
  "conversation_status_changed",
  "conversation_updated",
  "webwidget_triggered",
]);

export type DeliveryKind = "account_webhook" | "api_inbox" | "agent_bot" | "fixture_replay";
export type DeliveryState = "pending" | "held" | "delivered" | "failed" | "dropped";

export interface DeliveryRecord {
  seq: number;
  delivery_id: string;
  kind: DeliveryKind;
  event: string;
  account_id: number;
  url: string;
  webhook_id: number | null;
  agent_bot_id: number | null;
  inbox_id: number | null;
  /** The exact request: headers as sent and the raw body the signature covers. */
  headers: Record<string, string>;
  body: string;
  state: DeliveryState;
  status: number | null;
  error: string | null;
  /** Fault modes applied to this delivery, e.g. ["duplicate"]. */
  faults: string[];
  attempts: number;
  enqueued_at: string;
  sent_at: string | null;
  duration_ms: number | null;
}

export interface DeliveryTarget {
  kind: DeliveryKind;
  url: string;
  secret: string | null;
  accountId: number;
  event: string;
  webhookId?: number;
  agentBotId?: number;
  inboxId?: number;
  /**
   * Message deliveries (API inbox and agent bot): the message whose failure handling runs when the POST
   * finally fails — marked failed (API inbox) or its pending conversation opened (agent bot).
   */
  messageId?: number;
}

export interface SenderOptions {
  faults: FaultInjector;
  fetch: typeof fetch;
  now: () => number;
  /** Chatwoot's WEBHOOK_TIMEOUT (default 5 s). */
  timeoutMs: number;
  /** AgentBots::WebhookJob `retry_on … wait: 3.seconds, attempts: 3`. */
  botRetryDelayMs: number;
  isUnsigned: (accountId: number) => boolean;
  /** The delivery log keeps this many records (oldest dropped), so long benchmarks stay in bounded memory. */
  maxLog?: number;
  onApiInboxFailure: (messageId: number, error: string) => void;
  /** Webhooks::Trigger#update_conversation_status: a bot's message delivery failed for good. */
  onAgentBotFailure?: (messageId: number, error: string) => void;
  log?: (entry: JsonObject) => void;
}

const USER_AGENT = "rest-client/2.1.0 (linux x86_64) ruby/3.4.4p34";
const encoder = new TextEncoder();

/** `sha256=` + hex HMAC-SHA256(secret, "{timestamp}.{body}") — Webhooks::Trigger's signature. */
export async function signWebhook(secret: string, timestamp: number | string, body: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(`${timestamp}.${body}`));
  return "sha256=" + [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export class WebhookSender {
  readonly log: DeliveryRecord[] = [];
  #seq = 0;
  #pending = new Set<Promise<unknown>>();
  #held = new Map<
    string,
    {
      batch: (() => Promise<void>)[];
      timer: ReturnType<typeof setTimeout> | undefined;
      release: (send?: boolean) => void;
    }
  >();
  #closed = false;

  constructor(private readonly opts: SenderOptions) {}

  /** Queues one delivery (or none, or two, or a held one, as the fault rules decide). */
  enqueue(target: DeliveryTarget, payload: JsonObject): DeliveryRecord[] {
    if (this.#closed) return [];
    const body = JSON.stringify(payload);
    const fired = faultsForDelivery(this.opts.faults, target.url, target.event);
    const modes = fired.map((r) => r.mode);
    if (modes.includes("drop")) {
      const dropped = this.#record(target, body, modes);
      dropped.state = "dropped";
      return [dropped];
    }
    const delayMs = fired.filter((r) => r.mode === "delay").reduce((sum, r) => sum + (r.ms ?? 0), 0);
    const reorder = fired.find((r) => r.mode === "reorder");
    const copies = modes.includes("duplicate") ? 2 : 1;
    const sameId = fired.some((r) => r.mode === "duplicate" && r.same_delivery_id);
    const records: DeliveryRecord[] = [];
    for (let i = 0; i < copies; i++) {
      const record = this.#record(target, body, modes, sameId ? records[0]?.delivery_id : undefined);
      records.push(record);
      const send = async () => {
        if (delayMs) await delay(delayMs);
        await this.#send(record, target);
      };
      if (reorder) this.#hold(reorder, record, send);
      else this.#track(send());
    }
    return records;
  }

  get busy(): boolean {
    return this.#pending.size > 0;
  }

  /** Resolves once every queued, delayed, held and retried delivery has finished. */
  async settle(): Promise<void> {
    while (this.#pending.size) await Promise.allSettled([...this.#pending]);
  }

  /** Releases every held reorder batch now, newest first (or abandons them with `send = false`). */
  releaseHeld(send = true): void {
    for (const held of [...this.#held.values()]) held.release(send);
  }

  clear(): void {
    this.log.length = 0;
  }

  /** Stops sending: held deliveries are abandoned, in-flight ones finish. */
  close(): void {
    this.#closed = true;
    this.releaseHeld(false);
  }

  #record(target: DeliveryTarget, body: string, faults: string[], deliveryId?: string): DeliveryRecord {
    const record: DeliveryRecord = {
      seq: ++this.#seq,
      delivery_id: deliveryId ?? crypto.randomUUID(),
      kind: target.kind,
      event: target.event,
      account_id: target.accountId,
      url: target.url,
      webhook_id: target.webhookId ?? null,
      agent_bot_id: target.agentBotId ?? null,
      inbox_id: target.inboxId ?? null,
      headers: {},
      body,
      state: "pending",
      status: null,
      error: null,
      faults,
      attempts: 0,
      enqueued_at: iso(this.opts.now()),
      sent_at: null,
      duration_ms: null,
    };
    this.log.push(record);
    const max = this.opts.maxLog ?? 10_000;
    if (this.log.length > max) this.log.splice(0, this.log.length - max);
    return record;
  }

  #track(p: Promise<unknown>): void {
    const tracked = p.catch((e) => this.opts.log?.({ msg: "delivery crashed", error: String(e) }))
      .finally(() => this.#pending.delete(tracked));
    this.#pending.add(tracked);
  }

  #hold(rule: FaultRule, record: DeliveryRecord, send: () => Promise<void>): void {
    record.state = "held";
    let held = this.#held.get(rule.id);
    if (!held) {
      let resolveBatch!: () => void;
      const done = new Promise<void>((r) => resolveBatch = r);
      this.#track(done);
      const entry = {
        batch: [] as (() => Promise<void>)[],
        timer: undefined as ReturnType<typeof setTimeout> | undefined,
        release: (send = true) => {
          clearTimeout(entry.timer);
          this.#held.delete(rule.id);
          const batch = entry.batch.reverse();
          // Sequential, newest first: the receiver sees them strictly out of order.
          if (send) {
            this.#track((async () => {
              for (const fn of batch) await fn();
            })());
          }
          resolveBatch();
        },
      };
      entry.timer = setTimeout(() => entry.release(), rule.ms ?? 1000);
      this.#held.set(rule.id, entry);
      held = entry;
    }
    held.batch.push(send);
    if (held.batch.length >= (rule.hold ?? 2)) held.release();
  }

  async #send(record: DeliveryRecord, target: DeliveryTarget): Promise<void> {
    const maxAttempts = target.kind === "agent_bot" ? 3 : 1;
    while (true) {
      record.attempts++;
      record.state = "pending";
      const headers: Record<string, string> = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
        "X-Chatwoot-Delivery": record.delivery_id,
      };
      if (target.secret && !this.opts.isUnsigned(target.accountId)) {
        const ts = Math.floor(this.opts.now() / 1000);
        headers["X-Chatwoot-Timestamp"] = String(ts);
        headers["X-Chatwoot-Signature"] = await signWebhook(target.secret, ts, record.body);
      }
      record.headers = headers;
      const started = performance.now();
      record.sent_at = iso(this.opts.now());
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), this.opts.timeoutMs);
      try {
        const res = await this.opts.fetch(target.url, {
          method: "POST",
          headers,
          body: record.body,
          signal: abort.signal,
          redirect: "manual",
        });
        await res.body?.cancel().catch(() => {});
        record.status = res.status;
        record.error = res.ok ? null : `${res.status} ${res.statusText}`.trim();
      } catch (e) {
        record.status = null;
        record.error = abort.signal.aborted ? "Timed out reading data from server" : String(e);
      } finally {
        clearTimeout(timer);
      }
      record.duration_ms = Math.round(performance.now() - started);
      record.state = record.error ? "failed" : "delivered";
      this.opts.log?.({
        msg: "webhook delivery",
        kind: record.kind,
        event: record.event,
        url: record.url,
        status: record.status,
        error: record.error,
        delivery_id: record.delivery_id,
      });
      const retryable = record.status === 429 || record.status === 500;
      if (record.state === "failed" && retryable && record.attempts < maxAttempts) {
        await delay(this.opts.botRetryDelayMs);
        continue;
      }
      break;
    }
    if (record.state === "failed" && target.kind === "api_inbox" && target.messageId !== undefined) {
      this.opts.onApiInboxFailure(target.messageId, record.error ?? "delivery failed");
    }
    // Only message events carry a message id (Trigger's SUPPORTED_ERROR_HANDLE_EVENTS); a failed or timed-out
    // conversation event leaves the conversation as it is.
    if (record.state === "failed" && target.kind === "agent_bot" && target.messageId !== undefined) {
      this.opts.onAgentBotFailure?.(target.messageId, record.error ?? "delivery failed");
    }
  }
}

/**
 * Turns domain events into deliveries. Events emitted during one model operation are drained together
 * afterwards, so — like Chatwoot's jobs — a payload reflects the records as they are when it is built.
 */
export class EventDispatcher {
  #queue: DomainEvent[] = [];
  #scheduled = false;
  /** The last 10 000 events emitted, for tests that assert on what Chatwoot would have dispatched. */
  readonly emitted: DomainEvent[] = [];

  constructor(
    private readonly state: SandboxState,
    private readonly payloads: Payloads,
    private readonly sender: WebhookSender,
  ) {}

  get pending(): number {
    return this.#queue.length;
  }

  emit(event: DomainEvent): void {
    this.emitted.push(event);
    if (this.emitted.length > 10_000) this.emitted.splice(0, this.emitted.length - 10_000);
    this.#queue.push(event);
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => this.drain());
    }
  }

  /** Builds and enqueues every pending event now. */
  drain(): void {
    this.#scheduled = false;
    const events = this.#queue.splice(0);
    for (const event of events) this.#deliver(event);
  }

  #deliver(event: DomainEvent): void {
    const built = this.#build(event);
    if (!built) return; // the record is gone: Chatwoot's job would discard on DeserializationError
    const { payload, accountId, inbox, conversationBotId, messageId } = built;
    const name = event.name;

    if ((ALLOWED_WEBHOOK_EVENTS as readonly string[]).includes(name)) {
      for (const webhook of this.state.webhooks.by(accountId)) {
        if (!webhook.subscriptions.includes(name)) continue;
        this.sender.enqueue({
          kind: "account_webhook",
          url: webhook.url,
          secret: webhook.secret,
          accountId,
          event: name,
          webhookId: webhook.id,
        }, payload);
      }
    }

    const webhookUrl = inbox?.channel_type === "Channel::Api" ? String(inbox.channel.webhook_url ?? "") : "";
    if (inbox && webhookUrl && API_INBOX_EVENTS.has(name)) {
      this.sender.enqueue({
        kind: "api_inbox",
        url: webhookUrl,
        secret: (inbox.channel.secret as string) || null,
        accountId,
        event: name,
        inboxId: inbox.id,
        messageId: name.startsWith("message_") ? messageId : undefined,
      }, payload);
    }

    if (inbox && AGENT_BOT_EVENTS.has(name)) {
      const botIds = new Set([inbox.agent_bot_id, conversationBotId].filter((id): id is number => id != null));
      for (const botId of botIds) {
        const bot = this.state.agentBots.get(botId);
        if (!bot?.outgoing_url) continue;
        this.sender.enqueue({
          kind: "agent_bot",
          url: bot.outgoing_url,
          secret: bot.secret || null,
          accountId,
          event: name,
          agentBotId: bot.id,
          inboxId: inbox.id,
          messageId: name.startsWith("message_") ? messageId : undefined,
        }, payload);
      }
    }
  }

  #build(event: DomainEvent):
    | {
      payload: JsonObject;
      accountId: number;
      inbox?: Inbox;
      conversationBotId?: number | null;
      messageId?: number;
    }
    | undefined {
    const s = this.state;
    const p = this.payloads;
    switch (event.name) {
      case "message_created":
      case "message_updated": {
        const message = s.messages.get(event.messageId);
        // webhook_sendable? = incoming || outgoing || template: activity messages never leave.
        if (!message || message.message_type === MESSAGE_TYPES.activity) return undefined;
        const conversation = s.conversations.get(message.conversation_id);
        if (!conversation) return undefined;
        return {
          payload: { ...p.messageWebhookData(message), event: event.name },
          accountId: message.account_id,
          inbox: s.inboxes.get(message.inbox_id),
          conversationBotId: conversation.assignee_agent_bot_id,
          messageId: message.id,
        };
      }
      case "conversation_created":
      case "conversation_updated":
      case "conversation_status_changed":
      case "conversation_opened":
      case "conversation_resolved": {
        const conversation = s.conversations.get(event.conversationId);
        if (!conversation) return undefined;
        const payload: JsonObject = { ...p.conversationWebhookData(conversation), event: event.name };
        if (event.name === "conversation_updated") payload.changed_attributes = event.changed;
        // Rails 7.1: the un-prefixed attribute_change is nil after save, so this is always null.
        if (event.name === "conversation_status_changed") payload.changed_attributes = null;
        return {
          payload,
          accountId: conversation.account_id,
          inbox: s.inboxes.get(conversation.inbox_id),
          conversationBotId: conversation.assignee_agent_bot_id,
        };
      }
      case "contact_created":
      case "contact_updated": {
        const contact = s.contacts.get(event.contactId);
        if (!contact) return undefined;
        const payload: JsonObject = { ...p.contactWebhookData(contact), event: event.name };
        if (event.name === "contact_updated") payload.changed_attributes = event.changed;
        return { payload, accountId: contact.account_id };
      }
      case "inbox_created":
      case "inbox_updated": {
        const inbox = s.inboxes.get(event.inboxId);
        if (!inbox) return undefined;
        const payload: JsonObject = { ...p.inboxEventData(inbox), event: event.name };
        if (event.name === "inbox_updated") payload.changed_attributes = event.changed;
        // Inbox events go to account webhooks only, so no inbox routing here.
        return { payload, accountId: inbox.account_id };
      }
      case "webwidget_triggered": {
        const contactInbox = s.contactInboxes.get(event.contactInboxId);
        const inbox = contactInbox && s.inboxes.get(contactInbox.inbox_id);
        if (!contactInbox || !inbox || !s.contacts.get(contactInbox.contact_id)) return undefined;
        const { event_info: _, ...rest } = p.webwidgetTriggered(contactInbox, event.eventInfo);
        return {
          payload: { ...rest, event: event.name, event_info: event.eventInfo },
          accountId: inbox.account_id,
          inbox,
        };
      }
      case "conversation_typing_on":
      case "conversation_typing_off": {
        const conversation = s.conversations.get(event.conversationId);
        if (!conversation) return undefined;
        // WebhookListener#handle_typing_status sends `user: user.webhook_data`, whatever the user is:
        // for a bot's toggle_typing_status that is AgentBot#webhook_data {id, name, type: "agent_bot"}.
        const user = event.actor?.type === "user" ? s.users.get(event.actor.id) : undefined;
        const bot = event.actor?.type === "agent_bot" ? s.agentBots.get(event.actor.id) : undefined;
        return {
          payload: {
            event: event.name,
            user: user ? p.userWebhookData(user) : bot ? p.botWebhookData(bot) : null,
            conversation: p.conversationWebhookData(conversation),
            is_private: event.isPrivate,
          },
          accountId: conversation.account_id,
          inbox: s.inboxes.get(conversation.inbox_id),
        };
      }
    }
  }
}

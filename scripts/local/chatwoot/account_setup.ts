// How an account is set up in Chatwoot: accounts, users, memberships and agent bots (Platform API), inboxes
// and their channel rows, account webhooks, custom attribute definitions — with Rails' validation messages.

import { ApiError, type FieldError, ValidationError } from "./http.ts";
import type { ChangedAttributes } from "./payloads.ts";
import { applyChanges, blank, EMAIL_RE, hexToken, type ModelDeps } from "./records.ts";
import {
  type Account,
  type AccountUser,
  type AgentBot,
  type ChannelType,
  type CustomAttributeDefinition,
  type Inbox,
  type JsonObject,
  type Role,
  type SandboxState,
  secureToken,
  type User,
  type Webhook,
} from "./state.ts";
import { ALLOWED_WEBHOOK_EVENTS } from "./webhooks.ts";

/** Webhook subscriptions column default. */
const DEFAULT_SUBSCRIPTIONS = [
  "conversation_status_changed",
  "conversation_updated",
  "conversation_created",
  "contact_created",
  "contact_updated",
  "message_created",
  "message_updated",
  "webwidget_triggered",
];
const STANDARD_CONTACT_ATTRIBUTES = [
  "name",
  "email",
  "phone_number",
  "identifier",
  "country_code",
  "city",
  "created_at",
  "last_activity_at",
  "referer",
  "blocked",
];
const STANDARD_CONVERSATION_ATTRIBUTES = ["status", "priority", "assignee_id", "inbox_id", "team_id", "display_id"];
/** URI::DEFAULT_PARSER.make_regexp(%w[http https]), approximately. */
const HTTP_URL_RE = /^https?:\/\/[^\s/$.?#][^\s]*$/i;

export class AccountSetup {
  constructor(private readonly deps: Pick<ModelDeps, "state" | "events" | "now">) {}

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

  // ---------------------------------------------------------------- accounts, users, bots (Platform API)

  createAccount(params: JsonObject): Account {
    const errors: FieldError[] = [];
    if (blank(params.name)) errors.push({ attribute: "name", message: "Name can't be blank" });
    const status = (params.status ?? "active") as Account["status"];
    if (!["active", "suspended"].includes(status)) {
      errors.push({ attribute: "status", message: "Status is not included in the list" });
    }
    const limits = this.#limits(params.limits, errors);
    if (errors.length) throw new ValidationError(errors);
    return this.#s.accounts.insert({
      name: String(params.name),
      locale: String(params.locale ?? "en"),
      domain: (params.domain as string) ?? null,
      support_email: (params.support_email as string) ?? null,
      status,
      custom_attributes: (params.custom_attributes as JsonObject) ?? {},
      limits,
      features: (params.features as Record<string, boolean>) ?? {},
      unsigned_webhooks: false,
      display_id_seq: 0,
      ...this.#timestamps(),
    });
  }

  #limits(value: unknown, errors: FieldError[]): JsonObject {
    if (value === undefined || value === null) return {};
    const ok = typeof value === "object" && !Array.isArray(value) &&
      Object.values(value as JsonObject).every((v) => typeof v === "number");
    if (!ok) errors.push({ attribute: "limits", message: "Limits is invalid" });
    return ok ? value as JsonObject : {};
  }

  updateAccount(account: Account, params: JsonObject): Account {
    const errors: FieldError[] = [];
    if ("name" in params && blank(params.name)) errors.push({ attribute: "name", message: "Name can't be blank" });
    if ("status" in params && !["active", "suspended"].includes(String(params.status))) {
      errors.push({ attribute: "status", message: "Status is not included in the list" });
    }
    const limits = "limits" in params ? this.#limits(params.limits, errors) : undefined;
    if (errors.length) throw new ValidationError(errors);
    this.#apply(account, {
      name: params.name as string | undefined,
      locale: params.locale as string | undefined,
      domain: params.domain as string | undefined,
      support_email: params.support_email as string | undefined,
      status: params.status as Account["status"] | undefined,
      limits: limits ? { ...account.limits, ...limits } : undefined,
      custom_attributes: params.custom_attributes
        ? { ...account.custom_attributes, ...(params.custom_attributes as JsonObject) }
        : undefined,
      features: params.features ? { ...account.features, ...(params.features as Record<string, boolean>) } : undefined,
    });
    return account;
  }

  deleteAccount(account: Account): void {
    const s = this.#s;
    const id = account.id;
    for (const conversation of s.conversations.by(id)) {
      s.messages.deleteWhere((m) => m.conversation_id === conversation.id);
    }
    s.conversations.deleteWhere((c) => c.account_id === id);
    const inboxIds = new Set(s.inboxes.by(id).map((i) => i.id));
    s.contactInboxes.deleteWhere((ci) => inboxIds.has(ci.inbox_id));
    s.inboxes.deleteWhere((i) => i.account_id === id);
    s.contacts.deleteWhere((c) => c.account_id === id);
    s.webhooks.deleteWhere((w) => w.account_id === id);
    s.customAttributeDefinitions.deleteWhere((d) => d.account_id === id);
    s.accountUsers.deleteWhere((au) => au.account_id === id);
    s.agentBots.deleteWhere((b) => b.account_id === id);
    s.accounts.delete(id);
    s.permissibles.delete(`Account:${id}`);
  }

  /** Devise validatable + devise-secure_password (1 upper, 1 lower, 1 digit, 1 special, 6..128). */
  #passwordErrors(password: unknown): FieldError[] {
    if (blank(password)) return [{ attribute: "password", message: "Password can't be blank" }];
    const p = String(password);
    const errors: string[] = [];
    if (p.length < 6) errors.push("Password is too short (minimum is 6 characters)");
    if (p.length > 128) errors.push("Password is too long (maximum is 128 characters)");
    if (!/[A-Z]/.test(p)) errors.push("Password must contain at least 1 uppercase letter");
    if (!/[a-z]/.test(p)) errors.push("Password must contain at least 1 lowercase letter");
    if (!/[0-9]/.test(p)) errors.push("Password must contain at least 1 number");
    if (!/[^A-Za-z0-9]/.test(p)) errors.push("Password must contain at least 1 special character");
    return errors.map((message) => ({ attribute: "password", message }));
  }

  #emailErrors(email: string | null, ownId: number | null): FieldError[] {
    if (!email) return [{ attribute: "email", message: "Email can't be blank" }];
    if (!EMAIL_RE.test(email)) return [{ attribute: "email", message: "Email is invalid" }];
    if (this.#s.users.find((u) => u.email === email && u.id !== ownId)) {
      return [{ attribute: "email", message: "Email has already been taken" }];
    }
    return [];
  }

  /** Platform `POST /users`: an existing e-mail returns that user (`User.from_email`). */
  findOrCreateUser(params: JsonObject): { user: User; created: boolean } {
    const email = blank(params.email) ? null : String(params.email).trim().toLowerCase();
    const existing = email ? this.#s.users.find((u) => u.email === email) : undefined;
    if (existing) return { user: existing, created: false };
    const errors: FieldError[] = [];
    if (blank(params.name)) errors.push({ attribute: "name", message: "Name can't be blank" });
    errors.push(...this.#emailErrors(email, null), ...this.#passwordErrors(params.password));
    if (errors.length) throw new ValidationError(errors);
    const user = this.#s.users.insert({
      name: String(params.name),
      display_name: (params.display_name as string) ?? null,
      email: email!,
      password_set: true,
      custom_attributes: (params.custom_attributes as JsonObject) ?? {},
      access_token: secureToken(),
      pubsub_token: secureToken(),
      availability_status: "online",
      ...this.#timestamps(),
    });
    return { user, created: true };
  }

  updateUser(user: User, params: JsonObject): User {
    const errors: FieldError[] = [];
    if ("name" in params && blank(params.name)) errors.push({ attribute: "name", message: "Name can't be blank" });
    const email = "email" in params
      ? (blank(params.email) ? null : String(params.email).trim().toLowerCase())
      : undefined;
    if (email !== undefined) errors.push(...this.#emailErrors(email, user.id));
    if ("password" in params) errors.push(...this.#passwordErrors(params.password));
    if (errors.length) throw new ValidationError(errors);
    this.#apply(user, {
      name: params.name as string | undefined,
      display_name: params.display_name as string | undefined,
      email: email ?? undefined,
      custom_attributes: params.custom_attributes
        ? { ...user.custom_attributes, ...(params.custom_attributes as JsonObject) }
        : undefined,
    });
    return user;
  }

  deleteUser(user: User): void {
    const s = this.#s;
    s.accountUsers.deleteWhere((au) => au.user_id === user.id);
    for (const c of s.conversations.filter((c) => c.assignee_id === user.id)) c.assignee_id = null;
    s.users.delete(user.id);
    s.permissibles.delete(`User:${user.id}`);
  }

  /** `find_or_initialize_by(user_id)` then role: also changes an existing member's role. */
  upsertAccountUser(account: Account, userId: unknown, role: unknown, inviterId: number | null = null): AccountUser {
    const user = this.#s.users.get(userId as number);
    if (!user) throw new ValidationError([{ attribute: "user", message: "User must exist" }]);
    const r = (blank(role) ? "agent" : String(role)) as Role;
    if (!["agent", "administrator"].includes(r)) throw new ApiError(422, { error: `'${r}' is not a valid role` });
    const existing = this.#s.accountUsers.by(account.id).find((au) => au.user_id === user.id);
    if (existing) {
      this.#apply(existing, { role: r });
      return existing;
    }
    return this.#s.accountUsers.insert({
      account_id: account.id,
      user_id: user.id,
      role: r,
      inviter_id: inviterId,
      active_at: null,
      ...this.#timestamps(),
    });
  }

  removeAccountUser(account: Account, userId: unknown): void {
    const au = this.#s.accountUsers.by(account.id).find((m) => m.user_id === Number(userId));
    if (!au) throw new ApiError(404, { error: "Resource could not be found" });
    this.#s.accountUsers.delete(au.id);
  }

  createAgentBot(params: JsonObject, accountId: number | null): AgentBot {
    if (blank(params.name)) throw new ValidationError([{ attribute: "name", message: "Name can't be blank" }]);
    return this.#s.agentBots.insert({
      name: String(params.name),
      description: (params.description as string) ?? null,
      outgoing_url: (params.outgoing_url as string) ?? null,
      account_id: accountId,
      avatar_url: (params.avatar_url as string) ?? "",
      bot_type: "webhook",
      bot_config: (params.bot_config as JsonObject) ?? {},
      access_token: secureToken(),
      secret: secureToken(),
      ...this.#timestamps(),
    });
  }

  updateAgentBot(bot: AgentBot, params: JsonObject): AgentBot {
    if ("name" in params && blank(params.name)) {
      throw new ValidationError([{ attribute: "name", message: "Name can't be blank" }]);
    }
    this.#apply(bot, {
      name: params.name as string | undefined,
      description: params.description as string | undefined,
      outgoing_url: params.outgoing_url as string | undefined,
      avatar_url: params.avatar_url as string | undefined,
      bot_config: params.bot_config as JsonObject | undefined,
    });
    return bot;
  }

  /** `bot.access_token.regenerate_token`: the old token stops working at once. */
  resetAgentBotAccessToken(bot: AgentBot): AgentBot {
    bot.access_token = secureToken();
    bot.access_token_updated_at = this.#now();
    return bot;
  }

  resetAgentBotSecret(bot: AgentBot): AgentBot {
    this.#apply(bot, { secret: secureToken() });
    return bot;
  }

  deleteAgentBot(bot: AgentBot): void {
    for (const inbox of this.#s.inboxes.filter((i) => i.agent_bot_id === bot.id)) inbox.agent_bot_id = null;
    for (const c of this.#s.conversations.filter((c) => c.assignee_agent_bot_id === bot.id)) {
      c.assignee_agent_bot_id = null;
    }
    this.#s.agentBots.delete(bot.id);
    this.#s.permissibles.delete(`AgentBot:${bot.id}`);
  }

  // ---------------------------------------------------------------- inboxes

  createInbox(account: Account, params: JsonObject): Inbox {
    const channel = (params.channel ?? {}) as JsonObject;
    const type = String(channel.type ?? "");
    const channelType = ({
      web_widget: "Channel::WebWidget",
      api: "Channel::Api",
      email: "Channel::Email",
      whatsapp: "Channel::Whatsapp",
    } as Record<string, ChannelType>)[type];
    if (!channelType) {
      throw new ApiError(422, {
        error: ["line", "telegram", "sms"].includes(type)
          ? `Channel type '${type}' needs a live provider and is not emulated by the Chatwoot sandbox`
          : "Invalid channel type",
      });
    }
    const limit = account.limits.inboxes;
    if (typeof limit === "number" && this.#s.inboxes.by(account.id).length >= limit) {
      throw new ApiError(402, { error: "Account limit exceeded. Please purchase more licenses" });
    }
    const errors: FieldError[] = [];
    if (blank(params.name)) errors.push({ attribute: "name", message: "Name can't be blank" });
    const row = this.#channelRow(account, channelType, channel, errors);
    if (errors.length) throw new ValidationError(errors);
    const inbox = this.#s.inboxes.insert({
      account_id: account.id,
      name: String(params.name),
      channel_type: channelType,
      channel_id: row.id as number,
      channel: row,
      greeting_enabled: Boolean(params.greeting_enabled ?? false),
      greeting_message: (params.greeting_message as string) ?? null,
      enable_email_collect: Boolean(params.enable_email_collect ?? true),
      csat_survey_enabled: Boolean(params.csat_survey_enabled ?? false),
      enable_auto_assignment: Boolean(params.enable_auto_assignment ?? true),
      working_hours_enabled: Boolean(params.working_hours_enabled ?? false),
      out_of_office_message: (params.out_of_office_message as string) ?? null,
      timezone: String(params.timezone ?? "UTC"),
      allow_messages_after_resolved: Boolean(params.allow_messages_after_resolved ?? true),
      lock_to_single_conversation: Boolean(params.lock_to_single_conversation ?? false),
      sender_name_type: String(params.sender_name_type ?? "friendly"),
      business_name: (params.business_name as string) ?? null,
      agent_bot_id: null,
      ...this.#timestamps(),
    });
    this.deps.events.emit({ name: "inbox_created", inboxId: inbox.id });
    return inbox;
  }

  #channelRow(account: Account, type: ChannelType, p: JsonObject, errors: FieldError[]): JsonObject {
    const base = { id: ++this.#s.counters.channel, account_id: account.id, ...this.#timestamps() };
    switch (type) {
      case "Channel::WebWidget":
        if (blank(p.website_url)) errors.push({ attribute: "website_url", message: "Website url can't be blank" });
        return {
          ...base,
          website_url: p.website_url ?? null,
          website_token: secureToken(),
          widget_color: p.widget_color ?? "#1f93ff",
          welcome_title: p.welcome_title ?? null,
          welcome_tagline: p.welcome_tagline ?? null,
          feature_flags: 7,
          selected_feature_flags: p.selected_feature_flags ?? ["attachments", "emoji_picker", "end_conversation"],
          reply_time: p.reply_time ?? "in_a_few_minutes",
          hmac_token: secureToken(),
          hmac_mandatory: Boolean(p.hmac_mandatory ?? false),
          pre_chat_form_enabled: Boolean(p.pre_chat_form_enabled ?? false),
          pre_chat_form_options: p.pre_chat_form_options ??
            { pre_chat_message: "Share your queries or comments here.", pre_chat_fields: [] },
          continuity_via_email: Boolean(p.continuity_via_email ?? true),
          allowed_domains: p.allowed_domains ?? "",
        };
      case "Channel::Api":
        return {
          ...base,
          webhook_url: p.webhook_url ?? null,
          identifier: secureToken(),
          hmac_token: secureToken(),
          hmac_mandatory: Boolean(p.hmac_mandatory ?? false),
          additional_attributes: p.additional_attributes ?? {},
          secret: secureToken(),
        };
      case "Channel::Email": {
        const email = blank(p.email) ? null : String(p.email).toLowerCase();
        if (!email) errors.push({ attribute: "email", message: "Email can't be blank" });
        else if (this.#s.inboxes.find((i) => i.channel_type === type && i.channel.email === email)) {
          errors.push({ attribute: "email", message: "Email has already been taken" });
        }
        const imapSmtp: JsonObject = {};
        for (const [k, v] of Object.entries(p)) if (/^(imap|smtp)_/.test(k)) imapSmtp[k] = v;
        return {
          ...base,
          email,
          forward_to_email: `${hexToken()}@${account.domain || "inbound.chatwoot.sandbox"}`,
          imap_enabled: false,
          smtp_enabled: false,
          ...imapSmtp,
          provider: p.provider ?? null,
          provider_config: {},
        };
      }
      case "Channel::Whatsapp": {
        const phone = blank(p.phone_number) ? null : String(p.phone_number);
        if (!phone) errors.push({ attribute: "phone_number", message: "Phone number can't be blank" });
        else if (this.#s.inboxes.find((i) => i.channel_type === type && i.channel.phone_number === phone)) {
          errors.push({ attribute: "phone_number", message: "Phone number has already been taken" });
        }
        return {
          ...base,
          phone_number: phone,
          provider: p.provider ?? "whatsapp_cloud",
          provider_config: p.provider_config ?? {},
          message_templates: [],
          message_templates_last_updated: null,
        };
      }
    }
  }

  updateInbox(inbox: Inbox, params: JsonObject): Inbox {
    const errors: FieldError[] = [];
    if ("name" in params && blank(params.name)) errors.push({ attribute: "name", message: "Name can't be blank" });
    if (errors.length) throw new ValidationError(errors);
    const pick = <K extends keyof Inbox>(key: K) => params[key as string] as Inbox[K] | undefined;
    const changes = this.#apply(inbox, {
      name: pick("name"),
      greeting_enabled: pick("greeting_enabled"),
      greeting_message: pick("greeting_message"),
      enable_email_collect: pick("enable_email_collect"),
      csat_survey_enabled: pick("csat_survey_enabled"),
      enable_auto_assignment: pick("enable_auto_assignment"),
      working_hours_enabled: pick("working_hours_enabled"),
      out_of_office_message: pick("out_of_office_message"),
      timezone: pick("timezone"),
      allow_messages_after_resolved: pick("allow_messages_after_resolved"),
      lock_to_single_conversation: pick("lock_to_single_conversation"),
      sender_name_type: pick("sender_name_type"),
      business_name: pick("business_name"),
    });
    const channelParams = (params.channel ?? {}) as JsonObject;
    const editable = new Set(Object.keys(inbox.channel)).difference(
      new Set(["id", "account_id", "created_at", "updated_at", "website_token", "hmac_token", "identifier", "secret"]),
    );
    const channelPatch: JsonObject = {};
    for (const [k, v] of Object.entries(channelParams)) if (editable.has(k)) channelPatch[k] = v;
    const channelChanges = this.#apply(inbox.channel as { updated_at: number }, channelPatch);
    if (channelChanges.length && !changes.length) {
      // Only the channel row changed; Chatwoot still reports the inbox as updated.
      inbox.updated_at = Math.max(this.#now(), inbox.updated_at + 1);
      changes.push(...channelChanges);
    }
    if (changes.length) this.deps.events.emit({ name: "inbox_updated", inboxId: inbox.id, changed: changes });
    return inbox;
  }

  resetInboxSecret(inbox: Inbox): Inbox {
    this.#apply(inbox.channel as { updated_at: number; secret?: string }, { secret: secureToken() });
    return inbox;
  }

  deleteInbox(inbox: Inbox): void {
    const s = this.#s;
    for (const c of s.conversations.by(inbox.account_id).filter((c) => c.inbox_id === inbox.id)) {
      s.messages.deleteWhere((m) => m.conversation_id === c.id);
      s.conversations.delete(c.id);
    }
    s.contactInboxes.deleteWhere((ci) => ci.inbox_id === inbox.id);
    s.webhooks.deleteWhere((w) => w.inbox_id === inbox.id);
    s.inboxes.delete(inbox.id);
  }

  setAgentBot(inbox: Inbox, botId: unknown): void {
    if (blank(botId)) {
      inbox.agent_bot_id = null;
      return;
    }
    const bot = this.#s.agentBots.get(botId as number);
    if (!bot || (bot.account_id !== null && bot.account_id !== inbox.account_id)) {
      throw new ApiError(404, { error: "Resource could not be found" });
    }
    inbox.agent_bot_id = bot.id;
  }

  // ---------------------------------------------------------------- account webhooks

  #webhookErrors(account: Account, url: unknown, subscriptions: unknown, ownId: number | null): FieldError[] {
    const errors: FieldError[] = [];
    if (blank(url) || !HTTP_URL_RE.test(String(url))) errors.push({ attribute: "url", message: "Url is invalid" });
    else if (this.#s.webhooks.by(account.id).find((w) => w.url === url && w.id !== ownId)) {
      errors.push({ attribute: "url", message: "Url has already been taken" });
    }
    const ok = Array.isArray(subscriptions) && subscriptions.length > 0 &&
      subscriptions.every((e) => (ALLOWED_WEBHOOK_EVENTS as readonly unknown[]).includes(e));
    if (!ok) errors.push({ attribute: "subscriptions", message: "Subscriptions Invalid events" });
    return errors;
  }

  #webhookInbox(account: Account, inboxId: unknown): number | null {
    if (blank(inboxId)) return null;
    const inbox = this.#s.inboxes.get(inboxId as number);
    if (!inbox || inbox.account_id !== account.id) throw new ApiError(404, { error: "Resource could not be found" });
    return inbox.id;
  }

  createWebhook(account: Account, params: JsonObject): Webhook {
    const subscriptions = params.subscriptions ?? DEFAULT_SUBSCRIPTIONS;
    const errors = this.#webhookErrors(account, params.url, subscriptions, null);
    if (errors.length) throw new ValidationError(errors);
    return this.#s.webhooks.insert({
      account_id: account.id,
      inbox_id: this.#webhookInbox(account, params.inbox_id),
      name: (params.name as string) ?? null,
      url: String(params.url),
      subscriptions: subscriptions as string[],
      secret: secureToken(),
      ...this.#timestamps(),
    });
  }

  updateWebhook(account: Account, webhook: Webhook, params: JsonObject): Webhook {
    const url = params.url ?? webhook.url;
    const subscriptions = params.subscriptions ?? webhook.subscriptions;
    const errors = this.#webhookErrors(account, url, subscriptions, webhook.id);
    if (errors.length) throw new ValidationError(errors);
    this.#apply(webhook, {
      url: String(url),
      subscriptions: subscriptions as string[],
      name: params.name as string | undefined,
      inbox_id: "inbox_id" in params ? this.#webhookInbox(account, params.inbox_id) : undefined,
    });
    return webhook;
  }

  // ---------------------------------------------------------------- custom attribute definitions

  createCustomAttributeDefinition(account: Account, params: JsonObject): CustomAttributeDefinition {
    const model = params.attribute_model === "contact_attribute" || params.attribute_model === 1 ||
        params.attribute_model === "1"
      ? "contact_attribute"
      : "conversation_attribute";
    const key = String(params.attribute_key ?? "");
    const errors: FieldError[] = [];
    if (blank(params.attribute_display_name)) {
      errors.push({ attribute: "attribute_display_name", message: "Attribute display name can't be blank" });
    }
    if (!key) errors.push({ attribute: "attribute_key", message: "Attribute key can't be blank" });
    else if (!/^[\p{L}\p{N}_.\-]+$/u.test(key)) {
      errors.push({ attribute: "attribute_key", message: "Attribute key is invalid" });
    } else if (
      this.#s.customAttributeDefinitions.by(account.id).some((d) =>
        d.attribute_key === key && d.attribute_model === model
      )
    ) errors.push({ attribute: "attribute_key", message: "Attribute key has already been taken" });
    else if (
      (model === "contact_attribute" ? STANDARD_CONTACT_ATTRIBUTES : STANDARD_CONVERSATION_ATTRIBUTES).includes(key)
    ) {
      errors.push({
        attribute: "attribute_key",
        message: "Attribute key The provided key is not allowed as it might conflict with default attributes.",
      });
    }
    const displayType = String(params.attribute_display_type ?? "text");
    const types = ["text", "number", "currency", "percent", "link", "date", "list", "checkbox"];
    if (!types.includes(displayType)) {
      errors.push({
        attribute: "attribute_display_type",
        message: "Attribute display type is not included in the list",
      });
    }
    if (errors.length) throw new ValidationError(errors);
    return this.#s.customAttributeDefinitions.insert({
      account_id: account.id,
      attribute_display_name: String(params.attribute_display_name),
      attribute_key: key,
      attribute_model: model,
      attribute_display_type: displayType,
      attribute_description: (params.attribute_description as string) ?? null,
      attribute_values: (params.attribute_values as unknown[]) ?? [],
      regex_pattern: (params.regex_pattern as string) ?? null,
      regex_cue: (params.regex_cue as string) ?? null,
      default_value: params.default_value ?? null,
      ...this.#timestamps(),
    });
  }
}

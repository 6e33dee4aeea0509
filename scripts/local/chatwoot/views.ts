// Chatwoot's REST views (the jbuilder partials of the Platform and Application APIs): what a GET, POST or
// PATCH answers with. Event payloads live in payloads.ts; these reuse its push_event_data where Chatwoot does.

import { iso, isoOrNull, type Payloads, unixFloat, unixInt } from "./payloads.ts";
import type {
  Account,
  AccountUser,
  AgentBot,
  Contact,
  ContactInbox,
  Conversation,
  CustomAttributeDefinition,
  Inbox,
  JsonObject,
  Message,
  SandboxState,
  User,
  Webhook,
} from "./state.ts";

export class Views {
  constructor(
    readonly state: SandboxState,
    readonly payloads: Payloads,
    /** MAILER_INBOUND_EMAIL_DOMAIN, or null when the installation has none. */
    readonly inboundEmailDomain: () => string | null = () => null,
  ) {}

  // ---- Platform API (app/views/platform/api/v1/models) ----

  platformAccount(account: Account): JsonObject {
    return {
      id: account.id,
      name: account.name,
      locale: account.locale,
      domain: account.domain,
      support_email: account.support_email,
      features: account.features,
      custom_attributes: account.custom_attributes,
      limits: account.limits,
      status: account.status,
    };
  }

  platformUser(user: User): JsonObject {
    const memberships = this.state.accountUsers.filter((au) => au.user_id === user.id);
    const active = memberships[0];
    const out: JsonObject = {
      access_token: user.access_token,
      account_id: active?.account_id ?? null,
      available_name: user.display_name || user.name,
      avatar_url: "",
      confirmed: true,
      display_name: user.display_name,
      message_signature: null,
      email: user.email,
      id: user.id,
      name: user.name,
      provider: "email",
      pubsub_token: user.pubsub_token,
      custom_attributes: user.custom_attributes,
      role: active?.role ?? null,
      ui_settings: {},
      uid: user.email,
      accounts: memberships.map((au) => ({
        id: au.account_id,
        name: this.state.accounts.get(au.account_id)?.name ?? "",
        active_at: isoOrNull(au.active_at),
        role: au.role,
      })),
    };
    return out;
  }

  /** AccountUser rendered as the raw row (`render json: @account_user`). */
  accountUserRow(au: AccountUser): JsonObject {
    return {
      id: au.id,
      account_id: au.account_id,
      user_id: au.user_id,
      role: au.role,
      inviter_id: au.inviter_id,
      created_at: iso(au.created_at),
      updated_at: iso(au.updated_at),
      active_at: isoOrNull(au.active_at),
      availability: "online",
      auto_offline: true,
      custom_role_id: null,
      agent_capacity_policy_id: null,
    };
  }

  /** Platform agent bot: has the access token, never the secret. */
  platformAgentBot(bot: AgentBot): JsonObject {
    return {
      id: bot.id,
      name: bot.name,
      description: bot.description,
      outgoing_url: bot.outgoing_url,
      account_id: bot.account_id,
      access_token: bot.access_token,
    };
  }

  // ---- Application API (app/views/api/v1) ----

  /**
   * Account API agent bot (`api/v1/models/_agent_bot.json.jbuilder`, 4.13). `json.access_token
   * resource.access_token` renders the AccessToken record itself, so it is an object whose `token` is the
   * key; the secret only for administrators and non-system bots.
   */
  accountAgentBot(bot: AgentBot, isAdmin: boolean): JsonObject {
    const out: JsonObject = {
      id: bot.id,
      name: bot.name,
      description: bot.description,
      thumbnail: bot.avatar_url,
    };
    if (bot.account_id !== null) out.outgoing_url = bot.outgoing_url;
    out.bot_type = bot.bot_type;
    out.bot_config = bot.bot_config;
    out.account_id = bot.account_id;
    out.access_token = {
      id: bot.id,
      owner_type: "AgentBot",
      owner_id: bot.id,
      token: bot.access_token,
      created_at: iso(bot.created_at),
      updated_at: iso(bot.access_token_updated_at ?? bot.created_at),
    };
    if (isAdmin && bot.account_id !== null) out.secret = bot.secret;
    out.system_bot = bot.account_id === null;
    return out;
  }

  inbox(inbox: Inbox, isAdmin: boolean): JsonObject {
    const ch = inbox.channel;
    const out: JsonObject = {
      id: inbox.id,
      avatar_url: "",
      channel_id: inbox.channel_id,
      name: inbox.name,
      channel_type: inbox.channel_type,
      greeting_enabled: inbox.greeting_enabled,
      greeting_message: inbox.greeting_message,
      working_hours_enabled: inbox.working_hours_enabled,
      enable_email_collect: inbox.enable_email_collect,
      csat_survey_enabled: inbox.csat_survey_enabled,
      enable_auto_assignment: inbox.enable_auto_assignment,
      auto_assignment_config: {},
      out_of_office_message: inbox.out_of_office_message,
      working_hours: [],
      timezone: inbox.timezone,
      callback_webhook_url: null,
      allow_messages_after_resolved: inbox.allow_messages_after_resolved,
      lock_to_single_conversation: inbox.lock_to_single_conversation,
      sender_name_type: inbox.sender_name_type,
      business_name: inbox.business_name,
      widget_color: ch.widget_color ?? null,
      website_url: ch.website_url ?? null,
      hmac_mandatory: ch.hmac_mandatory ?? null,
      welcome_title: ch.welcome_title ?? null,
      welcome_tagline: ch.welcome_tagline ?? null,
      web_widget_script: inbox.channel_type === "Channel::WebWidget" ? this.widgetScript(inbox) : null,
      website_token: ch.website_token ?? null,
      selected_feature_flags: ch.selected_feature_flags ?? null,
      reply_time: ch.reply_time ?? null,
      messaging_service_sid: null,
      phone_number: ch.phone_number ?? null,
      provider: ch.provider ?? null,
    };
    if (inbox.channel_type === "Channel::WebWidget") {
      if (isAdmin) out.hmac_token = ch.hmac_token;
      out.pre_chat_form_enabled = ch.pre_chat_form_enabled;
      out.pre_chat_form_options = ch.pre_chat_form_options;
      out.continuity_via_email = ch.continuity_via_email;
    }
    if (inbox.channel_type === "Channel::Email") {
      out.email = ch.email;
      // _inbox.json.jbuilder (develop): `forwarding_enabled ENV.fetch('MAILER_INBOUND_EMAIL_DOMAIN', '').present?`,
      // and `forward_to_email` only then: without an inbound mail domain nothing can be forwarded to it.
      const forwarding = Boolean(this.inboundEmailDomain());
      out.forwarding_enabled = forwarding;
      if (forwarding) out.forward_to_email = ch.forward_to_email;
      if (isAdmin) {
        for (const key of Object.keys(ch)) if (/^(imap|smtp)_/.test(key)) out[key] = ch[key];
      }
    }
    if (inbox.channel_type === "Channel::Api") {
      if (isAdmin) {
        out.hmac_token = ch.hmac_token;
        out.secret = ch.secret;
      }
      out.webhook_url = ch.webhook_url;
      out.inbox_identifier = ch.identifier;
      out.additional_attributes = ch.additional_attributes;
    }
    if (inbox.channel_type === "Channel::Whatsapp") {
      out.message_templates = ch.message_templates ?? [];
      if (isAdmin) out.provider_config = ch.provider_config;
    }
    return out;
  }

  /** The inbox as a raw ActiveRecord row (`json.inbox @contact_inbox.inbox`). */
  inboxRow(inbox: Inbox): JsonObject {
    return {
      id: inbox.id,
      channel_id: inbox.channel_id,
      account_id: inbox.account_id,
      name: inbox.name,
      created_at: iso(inbox.created_at),
      updated_at: iso(inbox.updated_at),
      channel_type: inbox.channel_type,
      enable_auto_assignment: inbox.enable_auto_assignment,
      greeting_enabled: inbox.greeting_enabled,
      greeting_message: inbox.greeting_message,
      email_address: null,
      working_hours_enabled: inbox.working_hours_enabled,
      out_of_office_message: inbox.out_of_office_message,
      timezone: inbox.timezone,
      enable_email_collect: inbox.enable_email_collect,
      csat_survey_enabled: inbox.csat_survey_enabled,
      allow_messages_after_resolved: inbox.allow_messages_after_resolved,
      auto_assignment_config: {},
      lock_to_single_conversation: inbox.lock_to_single_conversation,
      portal_id: null,
      sender_name_type: inbox.sender_name_type,
      business_name: inbox.business_name,
    };
  }

  widgetScript(inbox: Inbox): string {
    const base = this.payloads.ctx.frontendUrl().replace(/\/$/, "");
    return `
    <script>
      (function(d,t) {
        var BASE_URL="${base}";
        var g=d.createElement(t),s=d.getElementsByTagName(t)[0];
        g.src=BASE_URL+"/packs/js/sdk.js";
        g.defer = true;
        g.async = true;
        s.parentNode.insertBefore(g,s);
        g.onload=function(){
          window.chatwootSDK.run({
            websiteToken: '${inbox.channel.website_token}',
            baseUrl: BASE_URL
          })
        }
      })(document,"script");
    </script>
    `;
  }

  webhook(webhook: Webhook): JsonObject {
    const out: JsonObject = {
      id: webhook.id,
      name: webhook.name,
      url: webhook.url,
      account_id: webhook.account_id,
      subscriptions: webhook.subscriptions,
      secret: webhook.secret,
    };
    const inbox = this.state.inboxes.get(webhook.inbox_id);
    if (inbox) out.inbox = { id: inbox.id, name: inbox.name };
    return out;
  }

  contact(contact: Contact, withContactInboxes: boolean, isAdmin = false): JsonObject {
    const out: JsonObject = {
      additional_attributes: contact.additional_attributes,
      availability_status: this.state.onlineContacts.has(contact.id) ? "online" : "offline",
      email: contact.email,
      id: contact.id,
      name: contact.name,
      phone_number: contact.phone_number,
      blocked: contact.blocked,
      identifier: contact.identifier,
      thumbnail: "",
      custom_attributes: contact.custom_attributes,
      created_at: unixInt(contact.created_at),
    };
    if (contact.last_activity_at !== null) out.last_activity_at = unixInt(contact.last_activity_at);
    if (withContactInboxes) {
      out.contact_inboxes = this.state.contactInboxes.filter((ci) => ci.contact_id === contact.id)
        .map((ci) => this.contactInbox(ci, isAdmin));
    }
    return out;
  }

  contactInbox(ci: ContactInbox, isAdmin: boolean): JsonObject {
    const inbox = this.state.inboxes.get(ci.inbox_id);
    return { source_id: ci.source_id, inbox: inbox ? this.inbox(inbox, isAdmin) : null };
  }

  agent(user: User, accountId: number): JsonObject {
    const au = this.state.accountUsers.by(accountId).find((m) => m.user_id === user.id);
    return {
      id: user.id,
      account_id: accountId,
      availability_status: user.availability_status,
      auto_offline: true,
      confirmed: true,
      email: user.email,
      available_name: user.display_name || user.name,
      name: user.name,
      role: au?.role ?? null,
      thumbnail: "",
      custom_role_id: null,
    };
  }

  /** `api/v1/conversations/partials/_conversation.json.jbuilder`. */
  conversation(conversation: Conversation): JsonObject {
    const s = this.state;
    const contact = s.contacts.get(conversation.contact_id);
    const inbox = s.inboxes.get(conversation.inbox_id);
    const contactInbox = s.contactInboxes.get(conversation.contact_inbox_id);
    const assignee = s.users.get(conversation.assignee_id);
    const meta: JsonObject = {
      sender: contact ? this.contact(contact, false) : null,
      channel: inbox?.channel_type ?? null,
    };
    // _conversation.json.jbuilder (develop): an agent-bot assignee as agent_bot_slim, a user as agent, each with
    // `assignee_type`; `team` when the conversation has one (teams are not emulated: never here).
    const bot = s.agentBots.get(conversation.assignee_agent_bot_id);
    if (bot) {
      meta.assignee = {
        id: bot.id,
        name: bot.name,
        description: bot.description,
        thumbnail: bot.avatar_url ?? "",
        ...(bot.account_id === null ? {} : { outgoing_url: bot.outgoing_url }),
        bot_type: bot.bot_type,
        assignee_type: "AgentBot",
      };
      meta.assignee_type = "AgentBot";
    } else if (assignee) {
      meta.assignee = this.agent(assignee, conversation.account_id);
      meta.assignee_type = "User";
    }
    meta.hmac_verified = contactInbox?.hmac_verified ?? false;
    const messages = s.messages.by(conversation.id);
    const last = messages.at(-1);
    const lastNonActivity = [...messages].reverse().find((m) => m.message_type !== 2);
    return {
      meta,
      id: conversation.display_id,
      messages: last ? [this.payloads.messagePushEventData(last)] : [],
      account_id: conversation.account_id,
      uuid: conversation.uuid,
      additional_attributes: conversation.additional_attributes,
      agent_last_seen_at: unixInt(conversation.agent_last_seen_at),
      assignee_last_seen_at: unixInt(conversation.assignee_last_seen_at),
      can_reply: this.payloads.canReply(conversation),
      contact_last_seen_at: unixInt(conversation.contact_last_seen_at),
      custom_attributes: conversation.custom_attributes,
      inbox_id: conversation.inbox_id,
      labels: conversation.labels,
      muted: false,
      snoozed_until: isoOrNull(conversation.snoozed_until),
      status: conversation.status,
      created_at: unixInt(conversation.created_at),
      updated_at: unixFloat(conversation.updated_at),
      timestamp: unixInt(conversation.last_activity_at),
      first_reply_created_at: unixInt(conversation.first_reply_created_at),
      unread_count: this.payloads.unreadCount(conversation),
      last_non_activity_message: lastNonActivity ? this.payloads.messagePushEventData(lastNonActivity) : null,
      last_activity_at: unixInt(conversation.last_activity_at),
      priority: conversation.priority,
      waiting_since: unixInt(conversation.waiting_since),
      sla_policy_id: null,
    };
  }

  /** `api/v1/models/_message.json.jbuilder`: integer message_type and created_at. */
  message(message: Message): JsonObject {
    const conversation = this.state.conversations.get(message.conversation_id)!;
    const out: JsonObject = {
      id: message.id,
      content: message.content,
      inbox_id: message.inbox_id,
      conversation_id: conversation.display_id,
      message_type: message.message_type,
      content_type: message.content_type,
      status: message.status,
      content_attributes: message.content_attributes,
      created_at: unixInt(message.created_at),
      private: message.private,
      source_id: message.source_id,
    };
    const sender = this.payloads.senderPushEventData(message);
    if (sender) out.sender = sender;
    if (message.attachments.length) {
      out.attachments = message.attachments.map((a) => this.payloads.attachmentData(a, message));
    }
    return out;
  }

  customAttributeDefinition(def: CustomAttributeDefinition): JsonObject {
    return {
      id: def.id,
      attribute_display_name: def.attribute_display_name,
      attribute_display_type: def.attribute_display_type,
      attribute_description: def.attribute_description,
      attribute_key: def.attribute_key,
      regex_pattern: def.regex_pattern,
      regex_cue: def.regex_cue,
      attribute_values: def.attribute_values,
      attribute_model: def.attribute_model,
      default_value: def.default_value,
      created_at: iso(def.created_at),
      updated_at: iso(def.updated_at),
    };
  }
}

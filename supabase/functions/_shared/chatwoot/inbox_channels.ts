// Chatwoot's channel rows as inbox_created/inbox_updated carry them (the row is sent whole, credentials included):
// the allow-lists of channel columns and inbox settings safe to keep, and what a channel row's columns say about its type.

/** A channel row or inbox payload: only ever picked from, never stored whole. */
type WireObject = Record<string, unknown>;

/**
 * Channel columns that are safe to store. The channel row is sent whole, so this is an allow-list: a credential
 * column Chatwoot adds tomorrow is dropped by default. Deliberately absent: hmac_token, secret, provider_config,
 * every *_token / *_secret / password / sid column, webhook_url (may embed credentials), identifier and
 * website_token (they let anyone post into the inbox), message_templates (bulk).
 */
export const SAFE_CHANNEL_KEYS = [
  "id",
  "account_id",
  "created_at",
  "updated_at",
  "website_url",
  "widget_color",
  "welcome_title",
  "welcome_tagline",
  "reply_time",
  "pre_chat_form_enabled",
  "continuity_via_email",
  "hmac_mandatory",
  "feature_flags",
  "allowed_domains",
  "phone_number",
  "provider",
  "medium",
  "email",
  "bot_name",
  "page_id",
  "instagram_id",
] as const;

/** Inbox configuration kept from the payload's top level (greeting, auto-assignment, business hours, …). */
export const SAFE_INBOX_SETTING_KEYS = [
  "allow_messages_after_resolved",
  "lock_to_single_conversation",
  "add_label_to_resolve_conversation",
  "auto_assignment_config",
  "enable_auto_assignment",
  "enable_email_collect",
  "greeting_enabled",
  "greeting_message",
  "csat_survey_enabled",
  "csat_config",
  "business_name",
  "sender_name_type",
  "timezone",
  "out_of_office_message",
  "working_hours_enabled",
  "working_hours",
] as const;

export function sanitizeInboxChannel(channel: WireObject): WireObject {
  return pick(channel, SAFE_CHANNEL_KEYS);
}

export function safeInboxSettings(inbox: WireObject): WireObject {
  return pick(inbox, SAFE_INBOX_SETTING_KEYS);
}

/**
 * The channel row has no `type`; its columns give it away. Checked most-distinctive first (WhatsApp and Bandwidth SMS
 * both have phone_number + provider_config; only WhatsApp has message_templates).
 */
export function inferChannelType(channel: WireObject): string | null {
  const has = (key: string) => Object.hasOwn(channel, key);
  if (has("website_token") || has("widget_color")) return "Channel::WebWidget";
  if (has("message_templates") || has("message_templates_last_updated")) return "Channel::Whatsapp";
  if (has("account_sid") || has("messaging_service_sid")) return "Channel::TwilioSms";
  if (has("bot_token")) return "Channel::Telegram";
  if (has("line_channel_id")) return "Channel::Line";
  if (has("page_id") || has("page_access_token")) return "Channel::FacebookPage";
  if (has("imap_address") || has("forward_to_email")) return "Channel::Email";
  if (has("twitter_access_token") || has("profile_id")) return "Channel::TwitterProfile";
  if (has("instagram_id")) return "Channel::Instagram";
  if (has("webhook_url") && has("identifier")) return "Channel::Api";
  if (has("phone_number") && has("provider_config")) return "Channel::Sms";
  return null;
}

function pick(source: WireObject, keys: readonly string[]): WireObject {
  const out: WireObject = {};
  for (const key of keys) if (Object.hasOwn(source, key)) out[key] = source[key];
  return out;
}

// Tests for normalize.ts: what a fixture turns into, field by field, the versions it computes (which version wins is
// SQL's: supabase/tests/04-chatwoot-mirror.sql), and the filtering rules (never trust messages[0], drop inbox secrets,
// last-activity noise).

import assert from "node:assert/strict";
import { type ChatwootEvent, parseChatwootEvent } from "./events.ts";
import { inferChannelType } from "./inbox_channels.ts";
import {
  changedLabels,
  flattenChangedAttributes,
  fnv1a64,
  isLastActivityNoise,
  normalizeChatwootEvent,
  payloadAccountId,
} from "./normalize.ts";

const FIXTURES = new URL("../../../../fixtures/chatwoot/", import.meta.url);
type Json = Record<string, unknown>;
const ACCOUNT = 3;

function fixture(name: string): Json {
  return JSON.parse(Deno.readTextFileSync(new URL(name, FIXTURES)));
}

function parsed(json: unknown): ChatwootEvent {
  const result = parseChatwootEvent(json);
  if (!result.ok) assert.fail(`expected ok, got ${JSON.stringify(result)}`);
  return result.event;
}

function normalized(json: unknown, accountId = ACCOUNT) {
  return normalizeChatwootEvent(parsed(json), accountId);
}

function messageOf(json: unknown) {
  const out = normalized(json);
  assert.ok(out.message, "expected a message record");
  return out.message;
}

const date = (iso: string) => new Date(iso);
const unix = (seconds: number) => new Date(seconds * 1000);

const MARIA = {
  account_id: ACCOUNT,
  contact_id: 1045,
  name: "María López",
  email: null,
  phone_number: "+5215512345678",
  identifier: null,
  custom_attributes: {},
  additional_attributes: {},
  blocked: false,
  updated_at: null,
  last_activity_at: null,
};

// ---------------------------------------------------------------------------------------------------------------------
// Fixtures, field by field
// ---------------------------------------------------------------------------------------------------------------------

Deno.test("WhatsApp text message_created → message, conversation and contact records", () => {
  const out = normalized(fixture("whatsapp-text.message_created.json"));
  assert.equal(out.event, "message_created");
  assert.equal(out.account_id, ACCOUNT);
  const { version, ...message } = out.message!;
  assert.deepEqual(message, {
    account_id: ACCOUNT,
    message_id: 90211,
    conversation_display_id: 57,
    inbox_id: 12,
    message_type: "incoming",
    content: "Hola, quiero agendar una cita",
    content_type: "text",
    private: false,
    status: "sent", // from messages[0], which IS this message (same id)
    source_id: "wamid.HBgNNTIxNTUxMjM0NTY3OBUCABIYFjNFQjBDMEE0RjI4QzE2QkE5NkQ1AA==",
    sender: { type: "contact", id: 1045 },
    content_attributes: {},
    additional_attributes: {},
    created_at: date("2026-04-20T14:02:11.455Z"),
    updated_at: date("2026-04-20T14:02:11.455Z"),
    echo: false,
    deleted: false,
    is_whatsapp: true,
  });
  assert.equal(version.progress, 1); // source_id present
  assert.equal(version.updated_at_ms, Date.parse("2026-04-20T14:02:11.455Z"));
  assert.equal(version.created_at_ms, Date.parse("2026-04-20T14:02:11.455Z"));
  assert.match(version.fingerprint, /^[0-9a-f]{16}$/);
  assert.deepEqual(out.attachments, []);

  assert.deepEqual(out.conversation, {
    account_id: ACCOUNT,
    display_id: 57,
    inbox_id: 12,
    channel: "Channel::Whatsapp",
    status: "open",
    priority: null,
    assignee: null,
    team_id: null,
    labels: [],
    contact_id: 1045,
    contact_inbox_source_id: "5215512345678",
    custom_attributes: {},
    additional_attributes: {},
    created_at: unix(1776693731),
    last_activity_at: unix(1776693731),
    updated_at: new Date(1776693731468),
    waiting_since: unix(1776693731),
    snoozed_until: null,
    version: 1776693731468,
  });
  assert.deepEqual(out.contact, MARIA);
  assert.equal(out.inbox, null);
  assert.equal(out.typing, null);
  assert.equal(out.webwidget, null);
  assert.equal(out.last_activity_noise, false);
});

Deno.test("WhatsApp voice note → an audio attachment with no transcript yet; null content", () => {
  const out = normalized(fixture("whatsapp-voice-note.message_created.json"));
  assert.equal(out.message?.message_id, 90214);
  assert.equal(out.message?.content, null);
  assert.equal(out.message?.is_whatsapp, true);
  assert.deepEqual(out.attachments, [{
    account_id: ACCOUNT,
    attachment_id: 4410,
    message_id: 90214,
    file_type: "audio",
    content_type: "audio/ogg",
    extension: "ogg",
    data_url:
      "https://chat.acme.example/rails/active_storage/blobs/redirect/eyJfcmFpbHMiOnsiZGF0YSI6NDQxMCwicHVyIjoiYmxvYl9pZCJ9fQ==--3f1c2a/voice.ogg",
    thumb_url: null, // "" on the wire
    file_size: 18342,
    width: null,
    height: null,
    coordinates_lat: null,
    coordinates_long: null,
    fallback_title: null,
    transcribed_text: null, // "" until Whisper is done
    meta: null,
  }]);
  // last_activity_at moved but updated_at did not (update_columns): equal conversation versions, newer activity
  assert.equal(out.conversation?.version, 1776693731468);
  assert.deepEqual(out.conversation?.last_activity_at, unix(1776693940));
  assert.equal(
    out.conversation?.version,
    normalized(fixture("whatsapp-text.message_created.json")).conversation?.version,
  );
});

Deno.test("the transcribed voice note (message_updated) carries the transcript and more progress than message_created", () => {
  const created = messageOf(fixture("whatsapp-voice-note.message_created.json"));
  const out = normalized(fixture("whatsapp-voice-note-transcribed.message_updated.json"));
  assert.equal(out.event, "message_updated");
  assert.equal(out.attachments[0].attachment_id, 4410);
  assert.equal(out.attachments[0].transcribed_text, "Hola, ¿tienen cita el jueves?");
  const updated = out.message!;
  assert.equal(updated.version.progress, 2); // source_id + one transcript
  assert.equal(created.version.progress, 1);
});

Deno.test("identified web-widget message: contact sender, custom attributes, not WhatsApp", () => {
  const out = normalized(fixture("webwidget-identified.message_created.json"));
  assert.equal(out.message?.message_id, 90230);
  assert.equal(out.message?.conversation_display_id, 58);
  assert.equal(out.message?.inbox_id, 4);
  assert.equal(out.message?.content, "Do you take walk-ins?");
  assert.deepEqual(out.message?.sender, { type: "contact", id: 1050 });
  assert.deepEqual(out.message?.content_attributes, { in_reply_to: null });
  assert.equal(out.message?.source_id, null);
  assert.equal(out.message?.version.progress, 0);
  assert.equal(out.message?.is_whatsapp, false);
  assert.deepEqual(out.contact, {
    account_id: ACCOUNT,
    contact_id: 1050,
    name: "Sam Rivera",
    email: "sam@example.com",
    phone_number: null,
    identifier: "user_8812",
    custom_attributes: { plan: "pro" },
    additional_attributes: { city: "Austin", country: "United States", created_at_ip: "203.0.113.9" },
    blocked: false,
    updated_at: null,
    last_activity_at: null,
  });
  assert.equal(out.conversation?.channel, "Channel::WebWidget");
  assert.equal(out.conversation?.contact_inbox_source_id, "9a7c0a4e-2f55-4a36-9a58-1c1a2b3c4d5e");
  assert.equal(out.conversation?.version, 1776694202215);
  assert.deepEqual(out.conversation?.additional_attributes.initiated_at, {
    timestamp: "Mon Apr 20 2026 09:10:02 GMT-0500 (Central Daylight Time)",
  });
});

Deno.test("conversation_status_changed (resolved) → conversation with assignee and labels; no message from messages[0]", () => {
  const out = normalized(fixture("conversation_status_changed.resolved.json"));
  assert.deepEqual(out.conversation, {
    account_id: ACCOUNT,
    display_id: 57,
    inbox_id: 12,
    channel: "Channel::Whatsapp",
    status: "resolved",
    priority: null,
    assignee: { type: "user", id: 7 },
    team_id: null,
    labels: ["cita"],
    contact_id: 1045,
    contact_inbox_source_id: "5215512345678",
    custom_attributes: {},
    additional_attributes: {},
    created_at: unix(1776693731),
    last_activity_at: unix(1776695001),
    updated_at: new Date(1776695040330),
    waiting_since: null, // 0 on the wire
    snoozed_until: null,
    version: 1776695040330,
  });
  assert.equal(out.message, null);
  assert.deepEqual(out.attachments, []);
  assert.deepEqual(out.changed_attributes, []); // null on the wire
  assert.deepEqual(out.contact, { ...MARIA, custom_attributes: {}, additional_attributes: {} });
  assert.ok(
    out.conversation!.version > normalized(fixture("whatsapp-text.message_created.json")).conversation!.version,
  );
});

Deno.test("contact_updated → contact record with updated_at from changed_attributes", () => {
  const out = normalized(fixture("contact_updated.json"));
  assert.deepEqual(out.contact, {
    account_id: ACCOUNT,
    contact_id: 1045,
    name: "María López",
    email: "maria.lopez@example.com",
    phone_number: "+5215512345678",
    identifier: "P-00917",
    custom_attributes: { patient_id: "P-00917", consent_whatsapp: true },
    additional_attributes: { company_name: "Acme", city: "Monterrey" },
    blocked: false,
    updated_at: date("2026-04-20T15:00:03.101Z"),
    last_activity_at: null,
  });
  assert.deepEqual(out.changed_attributes.map((c) => c.attr), ["email", "custom_attributes", "updated_at"]);
  assert.deepEqual(out.changed_attributes[0], {
    attr: "email",
    previous_value: null,
    current_value: "maria.lopez@example.com",
  });
  assert.equal(out.last_activity_noise, false);
  assert.equal(out.conversation, null);
  assert.equal(out.message, null);
});

Deno.test("webwidget_triggered → widget record (Date.toString() instant), contact, no conversation", () => {
  const out = normalized(fixture("webwidget_triggered.json"));
  assert.deepEqual(out.webwidget, {
    account_id: ACCOUNT,
    contact_inbox_id: 820,
    contact_id: 1050,
    inbox_id: 4,
    source_id: "9a7c0a4e-2f55-4a36-9a58-1c1a2b3c4d5e",
    initiated_at: date("2026-04-20T14:09:58.000Z"),
    referer: "https://acme.example/pricing",
    widget_language: "en",
    browser_language: "en",
    browser: {
      browser_name: "Chrome",
      browser_version: "124.0.0.0",
      device_name: "Unknown",
      platform_name: "macOS",
      platform_version: "10.15.7",
    },
  });
  assert.equal(out.contact?.contact_id, 1050);
  assert.equal(out.contact?.identifier, "user_8812");
  assert.equal(out.conversation, null); // current_conversation: null

  const withConversation = fixture("webwidget_triggered.json");
  withConversation.current_conversation = (fixture("webwidget-identified.message_created.json") as Json).conversation;
  assert.equal(normalized(withConversation).conversation?.display_id, 58);
});

// ---------------------------------------------------------------------------------------------------------------------
// The rules the mirror relies on
// ---------------------------------------------------------------------------------------------------------------------

Deno.test("the message comes from top-level fields, never from conversation.messages[0]", () => {
  // Payloads are built late: by then messages[0] can be a newer message (issues #13608, #15602).
  const json = fixture("whatsapp-text.message_created.json");
  const nested = ((json.conversation as Json).messages as Json[])[0];
  Object.assign(nested, {
    id: 90299,
    content: "a later message",
    status: "read",
    message_type: 1,
    updated_at: "2026-04-20T14:30:00.000Z",
    attachments: [{ id: 9999, message_id: 90299, file_type: "image", account_id: 3 }],
  });
  const out = normalized(json);
  assert.equal(out.message?.message_id, 90211);
  assert.equal(out.message?.content, "Hola, quiero agendar una cita");
  assert.equal(out.message?.message_type, "incoming");
  assert.equal(out.message?.status, null, "status of another message must not leak in");
  assert.equal(out.message?.updated_at, null);
  assert.equal(out.message?.version.updated_at_ms, null);
  assert.deepEqual(out.attachments, []);

  // conversation events never produce a message either
  const created = { ...fixture("conversation_status_changed.resolved.json"), event: "conversation_created" };
  assert.equal(normalized(created).message, null);
});

Deno.test("a top-level status (Chatwoot PR #15908) is used when present", () => {
  const json = fixture("whatsapp-text.message_created.json");
  json.status = "delivered";
  assert.equal(messageOf(json).status, "delivered");
});

Deno.test("WhatsApp app echo: outgoing, null sender, echo flag", () => {
  const json = fixture("whatsapp-text.message_created.json");
  Object.assign(json, { sender: null, message_type: "outgoing", content_attributes: { external_echo: true } });
  const out = normalized(json);
  assert.deepEqual(out.message?.sender, { type: null, id: null });
  assert.equal(out.message?.message_type, "outgoing");
  assert.equal(out.message?.echo, true);
  assert.equal(out.message?.deleted, false);
  assert.equal(out.contact?.contact_id, 1045, "the conversation's contact still comes from meta.sender");
});

Deno.test("agent, bot and Captain senders map to their type; the contact comes from the conversation", () => {
  const cases = [
    [{ id: 7, name: "Ana", email: "ana@acme.example", type: "user" }, "user"],
    [{ id: 2, name: "Triage", type: "agent_bot" }, "agent_bot"],
    [
      { id: 5, name: "Captain", description: "", created_at: 1, avatar_url: "", type: "captain_assistant" },
      "captain_assistant",
    ],
    [{ id: 8, name: "?", type: "something_new" }, null],
  ] as const;
  for (const [sender, type] of cases) {
    const json = { ...fixture("whatsapp-text.message_created.json"), sender, message_type: "outgoing" };
    const out = normalized(json);
    assert.deepEqual(out.message?.sender, { type, id: sender.id });
    assert.equal(out.contact?.contact_id, 1045);
  }
});

Deno.test("a deleted message has more progress than any earlier state", () => {
  const transcribed = messageOf(fixture("whatsapp-voice-note-transcribed.message_updated.json"));
  const json = fixture("whatsapp-voice-note-transcribed.message_updated.json");
  delete json.attachments;
  Object.assign(json, { content: "This message was deleted", content_attributes: { deleted: true } });
  const deleted = messageOf(json);
  assert.equal(deleted.deleted, true);
  assert.equal(deleted.version.progress, 101); // source_id + deleted; the transcript went with the attachments
  assert.ok(deleted.version.progress > transcribed.version.progress);
});

Deno.test("an outgoing reply's wamid (message_updated) adds progress over its message_created without one", () => {
  const json = fixture("whatsapp-text.message_created.json");
  Object.assign(json, { message_type: "outgoing", source_id: null, sender: { id: 7, name: "Ana", type: "user" } });
  const sent = messageOf(json);
  const withWamid = messageOf({ ...json, event: "message_updated", source_id: "wamid.ABC" });
  assert.equal(sent.version.progress, 0);
  assert.equal(withWamid.version.progress, 1);
});

Deno.test("a duplicate delivery has an equal version; a different state at equal progress a different fingerprint", () => {
  const a = messageOf(fixture("whatsapp-text.message_created.json"));
  const b = messageOf(fixture("whatsapp-text.message_created.json"));
  assert.deepEqual(a.version, b.version);

  // Same progress, no updated_at on one side: unorderable but different (external_error); SQL lets the last arrival win.
  const json = fixture("whatsapp-text.message_created.json");
  ((json.conversation as Json).messages as Json[])[0].id = 1;
  json.content_attributes = { external_error: "131047: Re-engagement message" };
  const failed = messageOf(json);
  assert.equal(failed.version.progress, a.version.progress);
  assert.equal(failed.version.updated_at_ms, null);
  assert.notEqual(failed.version.fingerprint, a.version.fingerprint);

  // Same progress, both with updated_at: SQL lets the later updated_at win.
  const later = fixture("whatsapp-text.message_created.json");
  ((later.conversation as Json).messages as Json[])[0].updated_at = "2026-04-20T14:09:00.000Z";
  const laterMessage = messageOf(later);
  assert.equal(laterMessage.version.progress, a.version.progress);
  assert.ok(laterMessage.version.updated_at_ms! > a.version.updated_at_ms!);
});

Deno.test("fingerprints ignore key order and signed-URL churn, but see transcript changes", () => {
  const base = fixture("whatsapp-voice-note-transcribed.message_updated.json");
  const reordered = fixture("whatsapp-voice-note-transcribed.message_updated.json");
  reordered.content_attributes = { b: 2, a: 1 };
  base.content_attributes = { a: 1, b: 2 };
  (reordered.attachments as Json[])[0].data_url = "https://chat.acme.example/rails/active_storage/blobs/redirect/other";
  assert.equal(messageOf(base).version.fingerprint, messageOf(reordered).version.fingerprint);
  (reordered.attachments as Json[])[0].transcribed_text = "Hola, ¿tienen cita el viernes?";
  assert.notEqual(messageOf(base).version.fingerprint, messageOf(reordered).version.fingerprint);
});

Deno.test("WhatsApp detection: Chatwoot WhatsApp channel, or Twilio with a whatsapp: source_id", () => {
  const twilio = fixture("whatsapp-text.message_created.json");
  const conversation = twilio.conversation as Json;
  conversation.channel = "Channel::TwilioSms";
  (conversation.contact_inbox as Json).source_id = "whatsapp:+5215512345678";
  assert.equal(messageOf(twilio).is_whatsapp, true);
  (conversation.contact_inbox as Json).source_id = "+5215512345678"; // Twilio SMS
  assert.equal(messageOf(twilio).is_whatsapp, false);
  conversation.contact_inbox = null;
  assert.equal(messageOf(twilio).is_whatsapp, false);
});

Deno.test("attachments: location coordinates, contact cards and image sizes become typed columns", () => {
  const json = fixture("whatsapp-text.message_created.json");
  json.attachments = [
    {
      id: 1,
      message_id: 90211,
      file_type: "location",
      account_id: 3,
      coordinates_lat: 25.6866,
      coordinates_long: "-100.3161",
      fallback_title: "Clínica, Av. Constitución 1",
      data_url: "https://maps.example/?q=25.6866,-100.3161",
    },
    {
      id: 2,
      message_id: 90211,
      file_type: "contact",
      account_id: 3,
      fallback_title: "+5215598765432",
      meta: { firstName: "Luis" },
    },
    {
      id: 3,
      message_id: 90211,
      file_type: "image",
      account_id: 3,
      extension: null,
      content_type: "image/jpeg",
      data_url: "https://x/img.jpg",
      thumb_url: "https://x/thumb.jpg",
      file_size: 52011,
      width: 1280,
      height: 960,
    },
  ];
  const [location, card, image] = normalized(json).attachments;
  assert.equal(location.coordinates_lat, 25.6866);
  assert.equal(location.coordinates_long, -100.3161);
  assert.equal(location.fallback_title, "Clínica, Av. Constitución 1");
  assert.equal(location.data_url, "https://maps.example/?q=25.6866,-100.3161");
  assert.equal(card.fallback_title, "+5215598765432");
  assert.deepEqual(card.meta, { firstName: "Luis" });
  assert.equal(card.data_url, null);
  assert.deepEqual([image.file_size, image.width, image.height, image.thumb_url], [
    52011,
    1280,
    960,
    "https://x/thumb.jpg",
  ]);
  assert.ok([location, card, image].every((a) => a.account_id === ACCOUNT && a.message_id === 90211));
});

Deno.test("inbox events: channel secrets are dropped, safe settings kept, channel type inferred", () => {
  const secrets = ["EAAG-cloud-api-key", "hmac-abc123", "sig-xyz789", "verify-me", "https://hooks.example/?token=t0p"];
  const json = {
    event: "inbox_updated",
    greeting_enabled: true,
    greeting_message: "Hola 👋",
    enable_auto_assignment: true,
    timezone: "America/Mexico_City",
    working_hours_enabled: false,
    created_at: "2026-04-01T10:00:00.000Z",
    updated_at: "2026-04-20T10:00:00.000Z",
    changed_attributes: [{ greeting_message: { previous_value: null, current_value: "Hola 👋" } }],
    channel: {
      id: 9,
      account_id: 3,
      phone_number: "+5215500000000",
      provider: "whatsapp_cloud",
      provider_config: { api_key: secrets[0], webhook_verify_token: secrets[3], phone_number_id: "123" },
      message_templates: [{ name: "cita_recordatorio" }],
      hmac_token: secrets[1],
      secret: secrets[2],
      webhook_url: secrets[4],
      created_at: "2026-04-01T10:00:00.000Z",
      updated_at: "2026-04-20T10:00:00.000Z",
    },
  };
  const out = normalized(json);
  const text = JSON.stringify(out);
  for (const secret of secrets) assert.ok(!text.includes(secret), `leaked ${secret}`);
  assert.ok(!/hmac_token|provider_config|"secret"|webhook_url/.test(text));
  assert.deepEqual(out.inbox, {
    account_id: ACCOUNT,
    inbox_id: null,
    name: null,
    channel_id: 9,
    channel_type: "Channel::Whatsapp",
    settings: {
      greeting_enabled: true,
      greeting_message: "Hola 👋",
      enable_auto_assignment: true,
      timezone: "America/Mexico_City",
      working_hours_enabled: false,
    },
    channel: {
      id: 9,
      account_id: 3,
      phone_number: "+5215500000000",
      provider: "whatsapp_cloud",
      created_at: "2026-04-01T10:00:00.000Z",
      updated_at: "2026-04-20T10:00:00.000Z",
    },
    created_at: date("2026-04-01T10:00:00.000Z"),
    updated_at: date("2026-04-20T10:00:00.000Z"),
  });
  assert.deepEqual(out.changed_attributes.map((c) => c.attr), ["greeting_message"]);

  // an API inbox: secret (signing) and hmac_token (identity) both gone
  const api = {
    event: "inbox_created",
    id: 15,
    name: "Bot API",
    channel: {
      id: 4,
      account_id: 3,
      webhook_url: "https://bot.example/hook",
      identifier: "pub-ident",
      hmac_token: secrets[1],
      secret: secrets[2],
      hmac_mandatory: false,
      additional_attributes: {},
    },
  };
  const apiOut = normalized(api);
  assert.ok(!JSON.stringify(apiOut).includes(secrets[1]) && !JSON.stringify(apiOut).includes(secrets[2]));
  assert.deepEqual(apiOut.inbox?.channel, { id: 4, account_id: 3, hmac_mandatory: false });
  assert.equal(apiOut.inbox?.channel_type, "Channel::Api");
  assert.equal(apiOut.inbox?.inbox_id, 15);
  assert.equal(apiOut.inbox?.name, "Bot API");
});

Deno.test("inferChannelType tells channel rows apart by their columns", () => {
  assert.equal(inferChannelType({ website_token: "t", website_url: "https://a" }), "Channel::WebWidget");
  assert.equal(
    inferChannelType({ phone_number: "+1", provider_config: {}, message_templates: [] }),
    "Channel::Whatsapp",
  );
  assert.equal(inferChannelType({ phone_number: "+1", provider_config: {} }), "Channel::Sms");
  assert.equal(inferChannelType({ account_sid: "AC", medium: "whatsapp" }), "Channel::TwilioSms");
  assert.equal(inferChannelType({ bot_token: "x" }), "Channel::Telegram");
  assert.equal(inferChannelType({ id: 1 }), null);
});

Deno.test("typing events → typing record for the conversation, plus the conversation", () => {
  const conversation = fixture("conversation_status_changed.resolved.json");
  delete conversation.event;
  delete conversation.changed_attributes;
  const on = normalized({
    event: "conversation_typing_on",
    user: { id: 7, name: "Ana Torres", email: "ana@acme.example", type: "user" },
    conversation,
    is_private: false,
  });
  assert.deepEqual(on.typing, {
    account_id: ACCOUNT,
    conversation_display_id: 57,
    inbox_id: 12,
    typing: true,
    is_private: false,
    actor: { type: "user", id: 7 },
  });
  assert.equal(on.conversation?.display_id, 57);
  // a widget visitor typing: the "user" is the Contact (no type)
  const off = normalized({
    event: "conversation_typing_off",
    user: { id: 1045, name: "María López", email: null, phone_number: "+5215512345678" },
    conversation,
    is_private: true,
  });
  assert.deepEqual(off.typing?.actor, { type: "contact", id: 1045 });
  assert.equal(off.typing?.typing, false);
  assert.equal(off.typing?.is_private, true);
});

Deno.test("records carry the route's account id; the payload's own account id is exposed for a cross-check", () => {
  const out = normalized(fixture("whatsapp-voice-note.message_created.json"), 77);
  assert.equal(out.account_id, 77);
  assert.equal(out.message?.account_id, 77);
  assert.equal(out.conversation?.account_id, 77);
  assert.equal(out.contact?.account_id, 77);
  assert.equal(out.attachments[0].account_id, 77);

  assert.equal(payloadAccountId(parsed(fixture("whatsapp-text.message_created.json"))), 3);
  assert.equal(payloadAccountId(parsed(fixture("contact_updated.json"))), 3);
  assert.equal(payloadAccountId(parsed(fixture("webwidget_triggered.json"))), 3);
  // conversation payloads have no account: the nested message's account_id is the only hint
  assert.equal(payloadAccountId(parsed(fixture("conversation_status_changed.resolved.json"))), 3);
  const bare = { ...fixture("conversation_status_changed.resolved.json"), messages: [] };
  assert.equal(payloadAccountId(parsed(bare)), null);
});

Deno.test("isLastActivityNoise: contact_updated touching only last_activity_at/updated_at", () => {
  const activity = {
    last_activity_at: { previous_value: "2026-04-20T14:02:11.000Z", current_value: "2026-04-20T14:05:40.000Z" },
  };
  const noise = fixture("contact_updated.json");
  noise.changed_attributes = [
    activity,
    { updated_at: { previous_value: "2026-04-20T14:02:11.470Z", current_value: "2026-04-20T14:05:40.130Z" } },
  ];
  assert.equal(isLastActivityNoise(parsed(noise)), true);
  const out = normalized(noise);
  assert.equal(out.last_activity_noise, true);
  assert.deepEqual(out.contact?.last_activity_at, date("2026-04-20T14:05:40.000Z"));
  assert.deepEqual(out.contact?.updated_at, date("2026-04-20T14:05:40.130Z"));

  const onlyActivity = { ...noise, changed_attributes: [activity] };
  assert.equal(isLastActivityNoise(parsed(onlyActivity)), true);

  assert.equal(isLastActivityNoise(parsed(fixture("contact_updated.json"))), false, "email changed: real update");
  assert.equal(isLastActivityNoise(parsed({ ...noise, changed_attributes: null })), false, "unknown: process it");
  assert.equal(isLastActivityNoise(parsed({ ...noise, changed_attributes: [] })), false);
  assert.equal(isLastActivityNoise(parsed({ ...noise, event: "contact_created" })), false);
  assert.equal(isLastActivityNoise(parsed(fixture("whatsapp-text.message_created.json"))), false);
});

Deno.test("conversation assignee from meta: agent bot via assignee_type, team id, priority, snooze", () => {
  const json = fixture("conversation_status_changed.resolved.json");
  Object.assign(json, {
    status: "snoozed",
    priority: "urgent",
    snoozed_until: "2026-04-21T15:00:00.000Z",
    waiting_since: 1776695000,
  });
  (json.meta as Json).assignee = { id: 2, name: "Triage", avatar_url: "" }; // no type key: fall back to assignee_type
  (json.meta as Json).assignee_type = "AgentBot";
  (json.meta as Json).team = { id: 4, name: "Citas" };
  const c = normalized(json).conversation!;
  assert.deepEqual(c.assignee, { type: "agent_bot", id: 2 });
  assert.equal(c.team_id, 4);
  assert.equal(c.priority, "urgent");
  assert.equal(c.status, "snoozed");
  assert.deepEqual(c.snoozed_until, date("2026-04-21T15:00:00.000Z"));
  assert.deepEqual(c.waiting_since, unix(1776695000));
});

Deno.test('label changes: label_list (array) or cached_label_list ("a, b") name the labels', () => {
  const changed = (c: unknown) => flattenChangedAttributes(c as never);
  assert.deepEqual(
    changedLabels(changed([{ label_list: { previous_value: [], current_value: ["billing", "vip"] } }])),
    ["billing", "vip"],
  );
  assert.deepEqual(
    changedLabels(changed([{ cached_label_list: { previous_value: "", current_value: "billing, vip" } }])),
    ["billing", "vip"],
  );
  assert.deepEqual(changedLabels(changed([{ cached_label_list: { previous_value: "a", current_value: null } }])), []);
  assert.equal(changedLabels(changed([{ status: { previous_value: "open", current_value: "resolved" } }])), null);
  // A conversation_updated without `labels` takes them from the change list; with it, `labels` wins.
  const base = { ...fixture("conversation_status_changed.resolved.json"), event: "conversation_updated" } as Json;
  const change = [{ cached_label_list: { previous_value: "", current_value: "billing, vip" } }];
  const { labels: _, ...noLabels } = base;
  assert.deepEqual(normalized({ ...noLabels, changed_attributes: change }).conversation?.labels, ["billing", "vip"]);
  assert.deepEqual(
    normalized({ ...base, labels: ["billing", "vip", "urgent"], changed_attributes: change }).conversation?.labels,
    ["billing", "vip", "urgent"],
  );
});

Deno.test("develop's conversation payloads: the top-level account is the one cross-checked", () => {
  const status = fixture("conversation_status_changed.resolved.json");
  assert.equal(payloadAccountId(parsed({ ...status, account: { id: 42, name: "Other" } })), 42);
  const typing = { event: "conversation_typing_on", user: null, is_private: false, conversation: status };
  assert.equal(payloadAccountId(parsed({ ...typing, conversation: { ...status, account: { id: 7, name: "x" } } })), 7);
  const message = fixture("whatsapp-text.message_created.json") as Json & { conversation: Json };
  const { account: _, ...noAccount } = message;
  assert.equal(
    payloadAccountId(
      parsed({ ...noAccount, conversation: { ...message.conversation, account: { id: 9, name: "y" } } }),
    ),
    9,
  );
});

Deno.test("a bot's typing names the bot as its actor", () => {
  const status = fixture("conversation_status_changed.resolved.json");
  const out = normalized({
    event: "conversation_typing_on",
    user: { id: 12, name: "AI replies", type: "agent_bot" },
    is_private: false,
    conversation: status,
  });
  assert.deepEqual(out.typing?.actor, { type: "agent_bot", id: 12 });
});

Deno.test("the fingerprint is FNV-1a 64 (the values stored before the integer rewrite still match)", () => {
  // Reference values of FNV-1a 64 over UTF-8 (the BigInt implementation this replaced).
  assert.equal(fnv1a64(""), "cbf29ce484222325");
  assert.equal(fnv1a64("a"), "af63dc4c8601ec8c");
  assert.equal(fnv1a64("foobar"), "85944171f73967e8");
  assert.equal(fnv1a64("ñ"), fnv1a64("\u00f1"));
  // Against the BigInt form, across the 16 384-character slices (a surrogate pair on the seam).
  const reference = (text: string) => {
    let hash = 0xcbf29ce484222325n;
    for (const byte of new TextEncoder().encode(text)) {
      hash = ((hash ^ BigInt(byte)) * 0x100000001b3n) & ((1n << 64n) - 1n);
    }
    return hash.toString(16).padStart(16, "0");
  };
  const pad = "a".repeat(16_383);
  for (const text of [`${pad}🦤${pad}🦤`, `${pad}\ud83e`, "\udc00 lone", "日本語のメール".repeat(5000)]) {
    assert.equal(fnv1a64(text), reference(text), JSON.stringify(text.slice(-8)));
  }
});

Deno.test("incoming e-mail: the mail's HTML (full, reply, quoted) is kept in content_attributes.email", () => {
  const m = messageOf(fixture("email-html.message_created.json"));
  assert.equal(m.content_type, "incoming_email");
  assert.equal(m.is_whatsapp, false);
  const email = m.content_attributes.email as Record<string, Record<string, string>>;
  assert.deepEqual(Object.keys(email.html_content), ["full", "reply", "quoted"]);
  assert.match(email.html_content.full, /gmail_quote/);
  assert.equal(m.content, email.text_content.reply, "content is the text reply (MailboxHelper#mail_content)");
});

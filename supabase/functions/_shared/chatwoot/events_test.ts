// Tests for events.ts: every real payload shape parses, wrong ones fail with a message a person can act on.
// Fixtures are Chatwoot's own serializer output (fixtures/chatwoot); the other events are built from them.

import assert from "node:assert/strict";
import {
  CHATWOOT_EVENT_NAMES,
  type ChatwootEvent,
  chatwootTimestamp,
  MESSAGE_TYPES,
  parseChatwootEvent,
  type ParseChatwootEventResult,
} from "./events.ts";

const FIXTURES = new URL("../../../../fixtures/chatwoot/", import.meta.url);
type Json = Record<string, unknown>;

function fixture(name: string): Json {
  return JSON.parse(Deno.readTextFileSync(new URL(name, FIXTURES)));
}

function parsed(json: unknown): ChatwootEvent {
  const result = parseChatwootEvent(json);
  if (!result.ok) assert.fail(`expected ok, got ${JSON.stringify(result)}`);
  return result.event;
}

function issuesOf(result: ParseChatwootEventResult): string[] {
  if (result.ok || result.kind !== "invalid") assert.fail(`expected invalid, got ${JSON.stringify(result)}`);
  return result.issues;
}

/** Payloads for the events without a fixture, built from fixtures the way Chatwoot's listener builds them. */
function syntheticEvents(): Record<string, Json> {
  const conversation = fixture("conversation_status_changed.resolved.json");
  delete conversation.event;
  delete conversation.changed_attributes;
  const contact = fixture("contact_updated.json");
  delete contact.changed_attributes;
  const inbox = {
    allow_messages_after_resolved: true,
    lock_to_single_conversation: false,
    auto_assignment_config: {},
    enable_auto_assignment: true,
    enable_email_collect: true,
    greeting_enabled: false,
    greeting_message: null,
    csat_survey_enabled: false,
    business_name: null,
    sender_name_type: "friendly",
    timezone: "America/Mexico_City",
    out_of_office_message: null,
    working_hours_enabled: false,
    working_hours: [],
    created_at: "2026-04-01T10:00:00.000Z",
    updated_at: "2026-04-20T10:00:00.000Z",
    channel: {
      id: 9,
      account_id: 3,
      phone_number: "+5215500000000",
      provider: "whatsapp_cloud",
      provider_config: { api_key: "EAAG-secret", phone_number_id: "123", business_account_id: "456" },
      message_templates: [],
      created_at: "2026-04-01T10:00:00.000Z",
      updated_at: "2026-04-20T10:00:00.000Z",
    },
  };
  return {
    conversation_created: { ...conversation, messages: [], event: "conversation_created" },
    conversation_updated: {
      ...conversation,
      event: "conversation_updated",
      changed_attributes: [{ status: { previous_value: "open", current_value: "resolved" } }],
    },
    contact_created: { ...contact, event: "contact_created" },
    inbox_created: { ...inbox, event: "inbox_created" },
    inbox_updated: {
      ...inbox,
      event: "inbox_updated",
      changed_attributes: [{ greeting_enabled: { previous_value: true, current_value: false } }],
    },
    conversation_typing_on: {
      event: "conversation_typing_on",
      user: { id: 7, name: "Ana Torres", email: "ana@acme.example", type: "user" },
      conversation,
      is_private: false,
    },
    conversation_typing_off: {
      event: "conversation_typing_off",
      user: { id: 7, name: "Ana Torres", email: "ana@acme.example", type: "user" },
      conversation,
      is_private: true,
    },
  };
}

const FIXTURE_FILES = [
  "contact_updated.json",
  "conversation_status_changed.resolved.json",
  "email-html.message_created.json",
  "webwidget-identified.message_created.json",
  "webwidget_triggered.json",
  "whatsapp-text.message_created.json",
  "whatsapp-voice-note-transcribed.message_updated.json",
  "whatsapp-voice-note.message_created.json",
];

Deno.test("every fixture parses as the event it names", () => {
  const onDisk = [...Deno.readDirSync(FIXTURES)].map((e) => e.name).filter((n) => n.endsWith(".json")).sort();
  assert.deepEqual(onDisk, FIXTURE_FILES, "a fixture was added or removed: cover it here and in normalize_test.ts");
  for (const name of FIXTURE_FILES) {
    const json = fixture(name);
    assert.equal(parsed(json).event, json.event, name);
  }
});

Deno.test("all 12 account-webhook events parse, each under its own name", () => {
  const payloads: Record<string, Json> = {
    ...syntheticEvents(),
    conversation_status_changed: fixture("conversation_status_changed.resolved.json"),
    contact_updated: fixture("contact_updated.json"),
    message_created: fixture("whatsapp-text.message_created.json"),
    message_updated: fixture("whatsapp-voice-note-transcribed.message_updated.json"),
    webwidget_triggered: fixture("webwidget_triggered.json"),
  };
  assert.equal(CHATWOOT_EVENT_NAMES.length, 12);
  assert.deepEqual(Object.keys(payloads).sort(), [...CHATWOOT_EVENT_NAMES].sort());
  for (const name of CHATWOOT_EVENT_NAMES) assert.equal(parsed(payloads[name]).event, name);
});

Deno.test("top-level message_type is the enum name; nested messages[].message_type is the integer, mapped to it", () => {
  const text = parsed(fixture("whatsapp-text.message_created.json"));
  assert.ok(text.event === "message_created");
  assert.equal(text.message_type, "incoming");
  assert.equal(text.conversation.messages?.[0].message_type, "incoming"); // 0 on the wire

  const resolved = parsed(fixture("conversation_status_changed.resolved.json"));
  assert.ok(resolved.event === "conversation_status_changed");
  assert.equal(resolved.messages?.[0].message_type, "outgoing"); // 1 on the wire

  for (const [n, name] of MESSAGE_TYPES.entries()) {
    const json = fixture("whatsapp-text.message_created.json");
    ((json.conversation as Json).messages as Json[])[0].message_type = n;
    const event = parsed(json);
    assert.ok(event.event === "message_created");
    assert.equal(event.conversation.messages?.[0].message_type, name);
  }
});

Deno.test("an integer top-level message_type (the REST shape) is refused with its path", () => {
  const json = fixture("whatsapp-text.message_created.json");
  json.message_type = 0;
  const issues = issuesOf(parseChatwootEvent(json));
  assert.equal(issues.length, 1);
  assert.match(issues[0], /^message_type: /);
});

Deno.test("an out-of-range nested message_type names the nested path", () => {
  const json = fixture("conversation_status_changed.resolved.json");
  (json.messages as Json[])[0].message_type = 7;
  const issues = issuesOf(parseChatwootEvent(json));
  assert.equal(issues.length, 1);
  assert.match(issues[0], /^messages\[0\]\.message_type: .*3/);
});

Deno.test("a null sender (WhatsApp app echo, template, CSAT) and null content parse", () => {
  const json = fixture("whatsapp-text.message_created.json");
  json.sender = null;
  json.content = null;
  json.message_type = "outgoing";
  json.content_attributes = { external_echo: true };
  const event = parsed(json);
  assert.ok(event.event === "message_created");
  assert.equal(event.sender, null);
  assert.equal(event.content, null);
});

Deno.test("contact, user, agent_bot and captain_assistant senders parse; a contact has no type", () => {
  const contact = parsed(fixture("webwidget-identified.message_created.json"));
  assert.ok(contact.event === "message_created");
  assert.equal(contact.sender?.type, undefined);
  assert.equal(contact.sender?.id, 1050);
  const senders = [
    { id: 7, name: "Ana", email: "ana@acme.example", type: "user" },
    { id: 2, name: "Triage bot", type: "agent_bot" },
    { id: 5, name: "Captain", avatar_url: "", description: "FAQ", created_at: 1776690000, type: "captain_assistant" },
  ];
  for (const sender of senders) {
    const json = { ...fixture("whatsapp-text.message_created.json"), sender, message_type: "outgoing" };
    const event = parsed(json);
    assert.ok(event.event === "message_created");
    assert.equal(event.sender?.type, sender.type);
  }
});

Deno.test("changed_attributes may be null or a list of {attr: {previous_value, current_value}}", () => {
  const status = parsed(fixture("conversation_status_changed.resolved.json"));
  assert.ok(status.event === "conversation_status_changed");
  assert.equal(status.changed_attributes, null);

  const contact = parsed(fixture("contact_updated.json"));
  assert.ok(contact.event === "contact_updated");
  assert.equal(contact.changed_attributes?.length, 3);
  assert.deepEqual(contact.changed_attributes?.[0].email, {
    previous_value: null,
    current_value: "maria.lopez@example.com",
  });

  const bad = fixture("contact_updated.json");
  bad.changed_attributes = "email";
  assert.match(issuesOf(parseChatwootEvent(bad))[0], /^changed_attributes: /);
});

Deno.test("an event name outside the 12 is unknown_event, not invalid", () => {
  assert.deepEqual(parseChatwootEvent({ event: "conversation_opened", id: 57 }), {
    ok: false,
    kind: "unknown_event",
    eventName: "conversation_opened",
  });
  const installation = { id: 3, name: "Acme", event: "account_created", users: [] };
  assert.deepEqual(parseChatwootEvent(installation), {
    ok: false,
    kind: "unknown_event",
    eventName: "account_created",
  });
});

Deno.test("a body without an event name, or not an object, is invalid with a readable reason", () => {
  assert.deepEqual(issuesOf(parseChatwootEvent({ id: 1 })), [
    "event: expected the event name as a non-empty string, received undefined",
  ]);
  assert.deepEqual(issuesOf(parseChatwootEvent({ event: 42 })), [
    "event: expected the event name as a non-empty string, received number",
  ]);
  assert.deepEqual(issuesOf(parseChatwootEvent(null)), ["(root): expected a JSON object, received null"]);
  assert.deepEqual(issuesOf(parseChatwootEvent([])), ["(root): expected a JSON object, received an array"]);
});

Deno.test("a missing required field is invalid, naming the field and the problem", () => {
  const message = fixture("whatsapp-text.message_created.json");
  delete message.id;
  assert.deepEqual(issuesOf(parseChatwootEvent(message)), ["id: Invalid input: expected number, received undefined"]);

  const conversation = fixture("conversation_status_changed.resolved.json");
  delete conversation.inbox_id;
  conversation.status = "closed";
  const issues = issuesOf(parseChatwootEvent(conversation));
  assert.equal(issues.length, 2);
  assert.ok(issues.some((i) => /^inbox_id: .*expected number/.test(i)), issues.join("\n"));
  assert.ok(issues.some((i) => /^status: .*"open"/.test(i)), issues.join("\n"));

  const noConversation = fixture("whatsapp-text.message_created.json");
  delete (noConversation.conversation as Json).updated_at;
  assert.match(issuesOf(parseChatwootEvent(noConversation))[0], /^conversation\.updated_at: /);

  const badCreatedAt = fixture("whatsapp-text.message_created.json");
  badCreatedAt.created_at = "yesterday";
  assert.deepEqual(issuesOf(parseChatwootEvent(badCreatedAt)), [
    "created_at: expected a readable timestamp (ISO-8601 or unix seconds)",
  ]);
});

Deno.test("unknown keys are kept, so a newer Chatwoot never breaks parsing", () => {
  const json = fixture("whatsapp-text.message_created.json");
  json.status = "sent"; // PR #15908 adds top-level status
  json.some_future_key = { a: 1 };
  (json.conversation as Json).applied_sla = { id: 1 };
  (json.conversation as Json).sla_events = [];
  const event = parsed(json) as Json;
  assert.deepEqual(event.some_future_key, { a: 1 });
  assert.deepEqual((event.conversation as Json).applied_sla, { id: 1 });
  assert.equal(event.status, "sent");
});

Deno.test("attachments of every file_type parse, audio with its transcript", () => {
  const base = { message_id: 90211, account_id: 3 };
  const file = { extension: null, data_url: "https://x/y", thumb_url: "", file_size: 10, width: null, height: null };
  const attachments = [
    { id: 1, ...base, file_type: "image", content_type: "image/jpeg", ...file, thumb_url: "https://x/t", width: 640 },
    { id: 2, ...base, file_type: "audio", content_type: "audio/ogg", ...file, transcribed_text: "hola" },
    { id: 3, ...base, file_type: "video", content_type: "video/mp4", ...file },
    { id: 4, ...base, file_type: "file", content_type: "application/pdf", ...file, extension: "pdf" },
    {
      id: 5,
      ...base,
      file_type: "location",
      coordinates_lat: 25.6866,
      coordinates_long: -100.3161,
      fallback_title: "Clínica, Av. Constitución 1",
      data_url: "https://maps.example/?q=25.6866,-100.3161",
    },
    {
      id: 6,
      ...base,
      file_type: "contact",
      fallback_title: "+5215598765432",
      meta: { firstName: "Luis", lastName: "" },
    },
    { id: 7, ...base, file_type: "fallback", fallback_title: "Unsupported", data_url: "https://x/f" },
    { id: 8, ...base, file_type: "share", data_url: "https://x/s" },
    { id: 9, ...base, file_type: "story_mention", data_url: "https://x/st" },
    { id: 10, ...base, file_type: "embed", data_url: "https://x/e" },
    { id: 11, ...base, file_type: "ig_reel", data_url: "https://x/r" },
    { id: 12, ...base, file_type: "some_future_type" },
  ];
  const event = parsed({ ...fixture("whatsapp-text.message_created.json"), attachments });
  assert.ok(event.event === "message_created");
  assert.deepEqual(event.attachments?.map((a) => a.file_type), attachments.map((a) => a.file_type));
  assert.equal(event.attachments?.[1].transcribed_text, "hola");
  assert.deepEqual(event.attachments?.[5].meta, { firstName: "Luis", lastName: "" });
});

Deno.test("all conversation statuses and priorities parse; an unknown priority does not", () => {
  for (const status of ["open", "resolved", "pending", "snoozed"]) {
    for (const priority of [null, "low", "medium", "high", "urgent"]) {
      const json = { ...fixture("conversation_status_changed.resolved.json"), status, priority };
      assert.ok(parseChatwootEvent(json).ok, `${status}/${priority}`);
    }
  }
  const bad = { ...fixture("conversation_status_changed.resolved.json"), priority: "critical" };
  assert.match(issuesOf(parseChatwootEvent(bad))[0], /^priority: /);
});

Deno.test("chatwootTimestamp reads ISO, unix ints, float updated_at, 0 and JS Date.toString()", () => {
  const iso = (v: unknown) => chatwootTimestamp(v)?.toISOString() ?? null;
  // message created_at (ISO), conversation created_at (int), conversation updated_at (float, ms kept)
  assert.equal(iso("2026-04-20T14:02:11.455Z"), "2026-04-20T14:02:11.455Z");
  assert.equal(iso(1776693731), "2026-04-20T14:02:11.000Z");
  assert.equal(iso(1776695040.33), "2026-04-20T14:24:00.330Z");
  assert.equal(iso(1776693731.468), "2026-04-20T14:02:11.468Z");
  assert.equal(chatwootTimestamp(1776693731.468)?.getTime(), 1776693731468);
  // microseconds are truncated, as Rails truncates them in ISO output: the float and the ISO string agree
  assert.equal(iso(1776693731.468765), "2026-04-20T14:02:11.468Z");
  assert.equal(
    chatwootTimestamp(1776693731.468765)?.getTime(),
    chatwootTimestamp("2026-04-20T14:02:11.468Z")?.getTime(),
  );
  // 0 is Chatwoot's null for conversation ints (waiting_since, contact_last_seen_at)
  assert.equal(iso(0), null);
  assert.equal(iso(null), null);
  assert.equal(iso(undefined), null);
  assert.equal(iso(""), null);
  // webwidget event_info.initiated_at.timestamp: the offset makes it an instant
  assert.equal(iso("Mon Apr 20 2026 09:09:58 GMT-0500 (Central Daylight Time)"), "2026-04-20T14:09:58.000Z");
  assert.equal(iso("Tue Apr 21 2026 01:30:00 GMT+0530 (India Standard Time)"), "2026-04-20T20:00:00.000Z");
  // other shapes seen around Chatwoot
  assert.equal(iso("1776693731"), "2026-04-20T14:02:11.000Z");
  assert.equal(iso("2026-04-20 14:02:11 UTC"), "2026-04-20T14:02:11.000Z");
  assert.equal(iso("2026-04-20T14:02:11"), "2026-04-20T14:02:11.000Z");
  assert.equal(iso("2026-04-20T09:02:11-05:00"), "2026-04-20T14:02:11.000Z");
  assert.equal(iso(new Date("2026-04-20T14:02:11.455Z")), "2026-04-20T14:02:11.455Z");
  // unreadable → null, never an Invalid Date
  assert.equal(iso("not a date"), null);
  assert.equal(iso(Number.NaN), null);
  assert.equal(iso(-1), null);
  assert.equal(iso(new Date("nope")), null);
  assert.equal(iso({}), null);
});

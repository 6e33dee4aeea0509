// The deployed chatwoot-webhook function, through the local gateway, against the real
// database: fixtures land in the right rows; every authentication failure is one 401 with
// nothing written; bad bodies get their 4xx; duplicates, reordering and bursts lose nothing.

import assert from "node:assert/strict";
import { connect } from "../_shared/platform/db.ts";
import { testStack } from "../../../scripts/testing/env.ts";
import {
  deliver,
  fixture,
  fixtureNames,
  insertLinkedAccount,
  type Json,
  mirrorCounts,
} from "../../../scripts/testing/chatwoot.ts";
import { signChatwootPayload } from "../_shared/chatwoot/signature.ts";
import { chatwootTimestamp } from "../_shared/chatwoot/events.ts";

const stack = testStack();
const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test("every fixture is accepted", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const names = fixtureNames();
    assert.ok(names.length >= 7, `fixtures found: ${names.join(", ")}`);
    for (const name of names) {
      const account = await insertLinkedAccount(sql);
      const r = await deliver(stack.apiUrl, account, fixture(name));
      assert.equal(r.status, 200, `${name}: ${JSON.stringify(r.body)}`);
      assert.ok(["applied", "noise", "ignored"].includes(r.body.status as string), `${name}: ${r.body.status}`);
    }
  } finally {
    await sql.end();
  }
});

Deno.test("a WhatsApp text message lands as a message, its conversation and its contact", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const a = await insertLinkedAccount(sql);
    assert.equal(
      (await deliver(stack.apiUrl, a, fixture("whatsapp-text.message_created.json"))).body.status,
      "applied",
    );
    const [m] =
      await sql`select * from public.chatwoot_messages where account_ref = ${a.accountRef} and message_id = 90211`;
    assert.equal(m.message_type, "incoming");
    assert.equal(m.content, "Hola, quiero agendar una cita");
    assert.equal(m.is_whatsapp, true);
    assert.equal(m.store_id, a.storeId);
    assert.equal(m.conversation_display_id, 57);
    assert.deepEqual([m.sender_type, m.sender_id], ["contact", 1045]);
    const [c] =
      await sql`select * from public.chatwoot_conversations where account_ref = ${a.accountRef} and display_id = 57`;
    assert.equal(c.channel, "Channel::Whatsapp");
    assert.equal(Number(c.version), 1776693731468);
    const [ct] =
      await sql`select * from public.chatwoot_contacts where account_ref = ${a.accountRef} and contact_id = 1045`;
    assert.equal(ct.phone_number, "+5215512345678");
    assert.equal(ct.name, "María López");
  } finally {
    await sql.end();
  }
});

Deno.test("contact_updated, status change, widget message and widget open land in their rows", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const a = await insertLinkedAccount(sql);
    await deliver(stack.apiUrl, a, fixture("whatsapp-text.message_created.json"));
    assert.equal((await deliver(stack.apiUrl, a, fixture("contact_updated.json"))).body.status, "applied");
    const [ct] =
      await sql`select * from public.chatwoot_contacts where account_ref = ${a.accountRef} and contact_id = 1045`;
    assert.equal(ct.email, "maria.lopez@example.com");
    assert.equal(ct.identifier, "P-00917");
    assert.deepEqual(ct.custom_attributes, { patient_id: "P-00917", consent_whatsapp: true });
    assert.equal(ct.source_updated_at.toISOString(), "2026-04-20T15:00:03.101Z");

    assert.equal(
      (await deliver(stack.apiUrl, a, fixture("conversation_status_changed.resolved.json"))).body.status,
      "applied",
    );
    const [c] = await sql`select status, version from public.chatwoot_conversations
                          where account_ref = ${a.accountRef} and display_id = 57`;
    assert.equal(c.status, "resolved");
    assert.equal(Number(c.version), 1776695040330);

    await deliver(stack.apiUrl, a, fixture("webwidget-identified.message_created.json"));
    const [w] = await sql`select m.is_whatsapp, c.channel from public.chatwoot_messages m
      join public.chatwoot_conversations c using (account_ref)
      where m.account_ref = ${a.accountRef} and m.message_id = 90230 and c.display_id = 58`;
    assert.deepEqual({ ...w }, { is_whatsapp: false, channel: "Channel::WebWidget" });

    await deliver(stack.apiUrl, a, fixture("webwidget_triggered.json"));
    const [sam] =
      await sql`select name from public.chatwoot_contacts where account_ref = ${a.accountRef} and contact_id = 1050`;
    assert.equal(sam.name, "Sam Rivera");
  } finally {
    await sql.end();
  }
});

Deno.test("message_updated before message_created: the transcript survives the late create", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const a = await insertLinkedAccount(sql);
    const updated = await deliver(stack.apiUrl, a, fixture("whatsapp-voice-note-transcribed.message_updated.json"));
    assert.equal(updated.body.status, "applied");
    const created = await deliver(stack.apiUrl, a, fixture("whatsapp-voice-note.message_created.json"));
    assert.equal(created.body.status, "stale", "the older state changes nothing");
    const [att] = await sql`select transcribed_text, file_type, content_type from public.chatwoot_attachments
                            where account_ref = ${a.accountRef} and attachment_id = 4410`;
    assert.equal(att.transcribed_text, "Hola, ¿tienen cita el jueves?");
    assert.equal(att.file_type, "audio");

    // And in the natural order the transcript arrives as an update.
    const b = await insertLinkedAccount(sql);
    await deliver(stack.apiUrl, b, fixture("whatsapp-voice-note.message_created.json"));
    const [before] = await sql`select transcribed_text from public.chatwoot_attachments
                               where account_ref = ${b.accountRef} and attachment_id = 4410`;
    assert.equal(before.transcribed_text, null);
    await deliver(stack.apiUrl, b, fixture("whatsapp-voice-note-transcribed.message_updated.json"));
    const [after] = await sql`select transcribed_text from public.chatwoot_attachments
                              where account_ref = ${b.accountRef} and attachment_id = 4410`;
    assert.equal(after.transcribed_text, "Hola, ¿tienen cita el jueves?");
  } finally {
    await sql.end();
  }
});

Deno.test("an older conversation event never overwrites a newer one", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const a = await insertLinkedAccount(sql);
    await deliver(stack.apiUrl, a, fixture("conversation_status_changed.resolved.json")); // newer (resolved)
    const r = await deliver(stack.apiUrl, a, fixture("whatsapp-text.message_created.json")); // older conversation (open)
    assert.equal(r.status, 200);
    const [c] =
      await sql`select status from public.chatwoot_conversations where account_ref = ${a.accountRef} and display_id = 57`;
    assert.equal(c.status, "resolved");
    const [m] = await sql`select count(*)::int as n from public.chatwoot_messages where account_ref = ${a.accountRef}`;
    assert.equal(m.n, 1, "the message itself is still mirrored");
  } finally {
    await sql.end();
  }
});

Deno.test("the same delivery twice is one row; the same message in two deliveries is one row", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const a = await insertLinkedAccount(sql);
    const body = fixture("whatsapp-text.message_created.json");
    const id = crypto.randomUUID();
    assert.equal((await deliver(stack.apiUrl, a, body, { deliveryId: id })).body.status, "applied");
    assert.equal((await deliver(stack.apiUrl, a, body, { deliveryId: id })).body.status, "duplicate");
    assert.equal((await deliver(stack.apiUrl, a, body)).body.status, "stale", "Chatwoot's burst duplicate (#11901)");
    const counts = await mirrorCounts(sql, a.accountRef);
    assert.equal(counts.messages, 1);
    assert.equal(counts.conversations, 1);
    assert.equal(counts.deliveries, 2, "the repeated delivery id is not recorded twice");
  } finally {
    await sql.end();
  }
});

Deno.test("contact_updated noise (only last_activity_at) rewrites nothing", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const a = await insertLinkedAccount(sql);
    await deliver(stack.apiUrl, a, fixture("contact_updated.json"));
    const [before] =
      await sql`select mirrored_at, email from public.chatwoot_contacts where account_ref = ${a.accountRef}`;
    const noise = {
      ...fixture("contact_updated.json"),
      email: "changed-but-not-listed@example.com",
      changed_attributes: [{
        last_activity_at: { previous_value: "2026-04-20T15:00:03Z", current_value: "2026-04-20T15:05:00Z" },
      }],
    };
    assert.equal((await deliver(stack.apiUrl, a, noise)).body.status, "noise");
    const [after] =
      await sql`select mirrored_at, email from public.chatwoot_contacts where account_ref = ${a.accountRef}`;
    assert.deepEqual(after, before);
  } finally {
    await sql.end();
  }
});

Deno.test("every authentication failure is the same 401, checked first, and writes nothing", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const a = await insertLinkedAccount(sql);
    const body = fixture("whatsapp-text.message_created.json");
    const raw = JSON.stringify(body);
    const now = Date.now();
    const ts = Math.floor(now / 1000);
    const cases: Record<string, () => ReturnType<typeof deliver>> = {
      "tampered body": () =>
        deliver(stack.apiUrl, a, null, {
          rawBody: raw.replace("agendar", "cancelar"),
          signature: signChatwootPayload(a.secret, ts, raw),
          timestamp: ts,
        }),
      "wrong secret": () =>
        deliver(stack.apiUrl, a, body, { signature: signChatwootPayload("not-the-secret", ts, raw), timestamp: ts }),
      "body-only signature (a common mistake)": () =>
        deliver(stack.apiUrl, a, body, { signature: `sha256=${signChatwootPayload(a.secret, "", raw).slice(7)}` }),
      "stale timestamp": () => deliver(stack.apiUrl, a, body, { now: Date.now() - 330_000 }),
      "future timestamp": () => deliver(stack.apiUrl, a, body, { now: Date.now() + 330_000 }),
      "missing signature headers": () => deliver(stack.apiUrl, a, body, { secret: null }),
      "unknown route token": () => deliver(stack.apiUrl, { ...a, routeToken: "A".repeat(43) }, body),
      "malformed route token": () => deliver(stack.apiUrl, { ...a, routeToken: "short" }, body),
      "garbage signature": () => deliver(stack.apiUrl, a, body, { signature: "sha256=zz" }),
      // Issue 14 §6: the body streams through the HMAC, so a large one is judged by its signature first.
      "2 MiB body, wrong secret": () => {
        const big = JSON.stringify({ ...body, content: "x".repeat(2 * 1024 * 1024) });
        return deliver(stack.apiUrl, a, null, {
          rawBody: big,
          signature: signChatwootPayload("nope", ts, big),
          timestamp: ts,
        });
      },
      "2 MiB body, wrong secret, chunked": () => {
        const big = JSON.stringify({ ...body, content: "y".repeat(2 * 1024 * 1024) });
        return deliver(stack.apiUrl, a, null, {
          rawBody: big,
          signature: signChatwootPayload("nope", ts, big),
          timestamp: ts,
          chunkBytes: 64 * 1024,
        });
      },
    };
    const bodies = new Set<string>();
    for (const [label, send] of Object.entries(cases)) {
      const r = await send();
      assert.equal(r.status, 401, `${label} → 401`);
      bodies.add(JSON.stringify(r.body));
    }
    assert.equal(bodies.size, 1, "one uniform 401 body for every failure");
    assert.deepEqual(await mirrorCounts(sql, a.accountRef), {
      deliveries: 0,
      contacts: 0,
      conversations: 0,
      messages: 0,
      attachments: 0,
    });
  } finally {
    await sql.end();
  }
});

Deno.test("unsigned deliveries only for an account marked as older than 4.11.2", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const legacy = await insertLinkedAccount(sql, { secret: null, acceptsUnsigned: true });
    const body = fixture("whatsapp-text.message_created.json");
    const r = await deliver(stack.apiUrl, legacy, body, { secret: null, deliveryId: null });
    assert.equal(r.status, 200);
    assert.equal(r.body.status, "applied");
    const again = await deliver(stack.apiUrl, legacy, body, { secret: null, deliveryId: null });
    assert.equal(again.body.status, "duplicate", "without a delivery id, the same bytes are the same delivery");
  } finally {
    await sql.end();
  }
});

Deno.test("an authenticated non-JSON or malformed body is kept and acknowledged, never refused", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const a = await insertLinkedAccount(sql);
    const notJson = await deliver(stack.apiUrl, a, null, {
      rawBody: "event=message_created",
      contentType: "application/x-www-form-urlencoded",
    });
    assert.deepEqual([notJson.status, notJson.body.status], [200, "kept"]);
    const malformed = await deliver(stack.apiUrl, a, null, { rawBody: '{"event": "message_created", ' });
    assert.deepEqual([malformed.status, malformed.body.status], [200, "kept"]);
    const rows = await sql`select outcome, detail ->> 'reason' as reason, convert_from(raw_body, 'UTF8') as raw
                           from private.chatwoot_deliveries where account_ref = ${a.accountRef} order by received_at`;
    assert.deepEqual(rows.map((r) => [r.outcome, r.reason, r.raw]), [
      ["rejected", "unsupported_media_type", "event=message_created"],
      ["rejected", "malformed_json", '{"event": "message_created", '],
    ]);
  } finally {
    await sql.end();
  }
});

Deno.test("an incoming e-mail with more than 1 MiB of HTML is applied in full", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const a = await insertLinkedAccount(sql);
    // Chatwoot keeps the mail's HTML in content_attributes.email.html_content as full, reply and
    // quoted (app/presenters/mail_presenter.rb#serialized_data, app/mailboxes/mailbox_helper.rb), and
    // the nested conversation.messages[0] repeats the message: one long HTML body, many times over.
    const email: Json = fixture("email-html.message_created.json");
    const html = `<html><body>${"<p>Línea de pedido con <b>detalle</b> y tabla</p>".repeat(24_000)}</body></html>`;
    const body = structuredClone(email);
    for (const target of [body.content_attributes.email, body.conversation.messages[0].content_attributes.email]) {
      target.html_content = { full: html, reply: html, quoted: html };
    }
    const raw = JSON.stringify(body);
    assert.ok(raw.length > 4 * 1024 * 1024, `the delivery is ${raw.length} bytes`);
    const r = await deliver(stack.apiUrl, a, null, { rawBody: raw });
    assert.deepEqual([r.status, r.body.status], [200, "applied"], JSON.stringify(r.body));
    const [m] = await sql`select content_type, content_attributes -> 'email' -> 'html_content' ->> 'full' as full
                          from public.chatwoot_messages where account_ref = ${a.accountRef} and message_id = 90240`;
    assert.equal(m.content_type, "incoming_email");
    assert.equal(m.full, html, "the HTML is mirrored whole");
  } finally {
    await sql.end();
  }
});

Deno.test("a message edit that arrives before its create is not overwritten by the late create", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    // Message#webhook_data has no updated_at (app/models/message.rb), so only the event type orders them.
    const created = fixture("webwidget-identified.message_created.json") as Record<string, unknown>;
    const edited = {
      ...created,
      event: "message_updated",
      content: "Do you take walk-ins on Saturdays?",
      content_attributes: { in_reply_to: null, is_edited: true, previous_content: created.content },
    };
    const a = await insertLinkedAccount(sql);
    assert.equal((await deliver(stack.apiUrl, a, edited)).body.status, "applied");
    assert.equal((await deliver(stack.apiUrl, a, created)).body.status, "stale", "the late create changes nothing");
    const [m] = await sql`select content from public.chatwoot_messages where account_ref = ${a.accountRef}`;
    assert.equal(m.content, "Do you take walk-ins on Saturdays?");
    // In the natural order the edit lands as well.
    const b = await insertLinkedAccount(sql);
    await deliver(stack.apiUrl, b, created);
    assert.equal((await deliver(stack.apiUrl, b, edited)).body.status, "applied");
    const [n] = await sql`select content from public.chatwoot_messages where account_ref = ${b.accountRef}`;
    assert.equal(n.content, "Do you take walk-ins on Saturdays?");
  } finally {
    await sql.end();
  }
});

Deno.test(
  "unknown events are recorded and acknowledged; invalid payloads are kept with reasons and acknowledged",
  opts,
  async () => {
    const sql = connect(stack.dbUrl);
    try {
      const a = await insertLinkedAccount(sql);
      const unknown = await deliver(stack.apiUrl, a, { event: "conversation_bot_handoff", id: 1 });
      assert.equal(unknown.status, 200);
      assert.equal(unknown.body.status, "recorded");
      const broken = { ...fixture("whatsapp-text.message_created.json") } as Record<string, unknown>;
      delete broken.conversation;
      const invalid = await deliver(stack.apiUrl, a, broken);
      assert.deepEqual([invalid.status, invalid.body.status], [200, "rejected"]);
      const issues = invalid.body.issues as string[];
      assert.ok(issues.some((d) => d.startsWith("conversation")), JSON.stringify(issues));
      const rows = await sql`select event, outcome, payload is not null as kept from private.chatwoot_deliveries
                           where account_ref = ${a.accountRef} order by received_at`;
      assert.deepEqual(rows.map((r) => [r.event, r.outcome, r.kept]), [
        ["conversation_bot_handoff", "unknown_event", true],
        ["message_created", "rejected", true],
      ]);
      assert.equal((await mirrorCounts(sql, a.accountRef)).messages, 0);
    } finally {
      await sql.end();
    }
  },
);

Deno.test("a payload naming another Chatwoot account is kept, not applied, and acknowledged", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const a = await insertLinkedAccount(sql, { accountId: 99 });
    const r = await deliver(stack.apiUrl, a, fixture("whatsapp-text.message_created.json")); // account 3
    assert.deepEqual([r.status, r.body.status], [200, "rejected"]);
    assert.equal((await mirrorCounts(sql, a.accountRef)).messages, 0);
    // Develop's conversation payloads carry their account too (PR #12445): it is cross-checked.
    const status = {
      ...fixture("conversation_status_changed.resolved.json"),
      account: { id: 3, name: "Acme Clinic" },
    };
    assert.equal((await deliver(stack.apiUrl, a, status)).body.status, "rejected");
    const own = { ...status, account: { id: 99, name: "Ours" } };
    assert.equal((await deliver(stack.apiUrl, a, own)).body.status, "applied");
  } finally {
    await sql.end();
  }
});

Deno.test("a burst of 200 concurrent deliveries for one conversation loses nothing", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const a = await insertLinkedAccount(sql);
    const base = fixture("whatsapp-text.message_created.json") as Record<string, unknown> & {
      conversation: Record<string, unknown>;
    };
    const results = await Promise.all([...Array(200).keys()].map((i) => {
      const body = {
        ...base,
        id: 200_000 + i,
        content: `burst ${i}`,
        source_id: `wamid.burst${i}`,
        conversation: { ...base.conversation, updated_at: 1776693731.468 + i / 1000 },
      };
      return deliver(stack.apiUrl, a, body);
    }));
    const statuses = results.map((r) => r.status);
    assert.deepEqual([...new Set(statuses)], [200], `statuses: ${[...new Set(statuses)]}`);
    const counts = await mirrorCounts(sql, a.accountRef);
    assert.equal(counts.messages, 200);
    assert.equal(counts.conversations, 1);
    assert.equal(counts.deliveries, 200);
    const [c] = await sql`select version from public.chatwoot_conversations where account_ref = ${a.accountRef}`;
    const newest = Math.max(
      ...[...Array(200).keys()].map((i) => chatwootTimestamp(1776693731.468 + i / 1000)!.getTime()),
    );
    assert.equal(Number(c.version), newest, "the newest conversation state won");
  } finally {
    await sql.end();
  }
});

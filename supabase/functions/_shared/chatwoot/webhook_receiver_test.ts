// The shared receiver called directly (small caps, so sizes are cheap to test) against the real
// database: the answer to a body past the cap does not depend on check order (a wrong signature is
// 401 however large, up to the verify limit), an authenticated delivery is never refused for its
// shape and is kept for replay, and replay applies it once its cause is fixed.

import assert from "node:assert/strict";
import { connect, type Sql } from "../platform/db.ts";
import { createLogger } from "../platform/log.ts";
import { testStack } from "../../../../scripts/testing/env.ts";
import { fixture, insertLinkedAccount, mirrorCounts, type TestAccount } from "../../../../scripts/testing/chatwoot.ts";
import { signChatwootPayload } from "./signature.ts";
import { cachedRouteResolver, receiveDelivery, type ReceiverDeps, stripNulCharacters } from "./webhook_receiver.ts";
import { replayKeptDelivery } from "./delivery_replay.ts";

const stack = testStack();
const opts = { sanitizeOps: false, sanitizeResources: false };
const log = createLogger({ fn: "receiver-test" }, "error");
const KEEP = 64 * 1024;
const VERIFY = 256 * 1024;

function depsFor(sql: Sql, extra: Partial<ReceiverDeps> = {}): ReceiverDeps {
  return {
    sql,
    resolveRoute: cachedRouteResolver(sql),
    maxBodyBytes: KEEP,
    verifyLimitBytes: VERIFY,
    toleranceSeconds: 300,
    log,
    ...extra,
  };
}

/** A signed POST as Chatwoot sends it; `signWith` another secret forges it; `chunked` drops Content-Length. */
function request(
  a: TestAccount,
  body: string | Uint8Array<ArrayBuffer>,
  o: { signWith?: string; chunked?: boolean; contentType?: string; deliveryId?: string } = {},
): Request {
  const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
  const ts = Math.floor(Date.now() / 1000);
  const headers: Record<string, string> = {
    "content-type": o.contentType ?? "application/json",
    "x-chatwoot-delivery": o.deliveryId ?? crypto.randomUUID(),
    "x-chatwoot-timestamp": String(ts),
    "x-chatwoot-signature": signChatwootPayload(o.signWith ?? a.secret, ts, bytes),
  };
  const stream = new ReadableStream<Uint8Array<ArrayBuffer>>({
    start(c) {
      for (let at = 0; at < bytes.byteLength; at += 16 * 1024) c.enqueue(bytes.slice(at, at + 16 * 1024));
      c.close();
    },
  });
  return new Request(`http://functions.test/functions/v1/chatwoot-webhook/${a.routeToken}`, {
    method: "POST",
    headers,
    body: o.chunked ? stream : bytes,
  });
}

async function answer(sql: Sql, req: Request) {
  const res = await receiveDelivery(req, depsFor(sql));
  return { status: res.status, body: await res.json() };
}

function messageOfSize(size: number): string {
  const base = fixture("whatsapp-text.message_created.json");
  const empty = JSON.stringify({ ...base, content: "" }).length;
  return JSON.stringify({ ...base, content: "x".repeat(Math.max(0, size - empty)) });
}

async function ledger(sql: Sql, a: TestAccount) {
  return await sql`select delivery_id, event, outcome, detail, payload, raw_body, replayed_at
                   from private.chatwoot_deliveries where account_ref = ${a.accountRef} order by received_at`;
}

Deno.test("past the cap, a wrong signature is 401 and a right one 413 with its arrival recorded", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const a = await insertLinkedAccount(sql);
    const big = messageOfSize(2 * KEEP); // past the cap, within the verify limit
    for (const chunked of [false, true]) {
      const forged = await answer(sql, request(a, big, { signWith: "not-the-secret", chunked }));
      assert.equal(forged.status, 401, `forged, chunked=${chunked}: ${JSON.stringify(forged.body)}`);
      assert.equal(forged.body.error.code, "unauthorized");
    }
    assert.equal((await ledger(sql, a)).length, 0, "a forged body leaves no trace");
    const genuine = await answer(sql, request(a, big, { chunked: true }));
    assert.equal(genuine.status, 413);
    assert.match(genuine.body.error.message, /recorded/);
    const rows = await ledger(sql, a);
    const size = new TextEncoder().encode(big).byteLength;
    assert.deepEqual(rows.map((r) => [r.outcome, r.detail.size, r.payload]), [["too_large", size, null]]);
  } finally {
    await sql.end();
  }
});

Deno.test("past the verify limit a body is refused unread, signed or not, and nothing is kept", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const a = await insertLinkedAccount(sql);
    const flood = messageOfSize(VERIFY + 1024);
    for (const signWith of [undefined, "not-the-secret"]) {
      for (const chunked of [false, true]) {
        const r = await answer(sql, request(a, flood, { signWith, chunked }));
        assert.equal(r.status, 413, `signWith=${signWith} chunked=${chunked}`);
        assert.match(r.body.error.message, /not read, so not verified/);
      }
    }
    assert.equal((await ledger(sql, a)).length, 0);
  } finally {
    await sql.end();
  }
});

Deno.test("under the cap a wrong signature is 401 whatever else is wrong with the body", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const a = await insertLinkedAccount(sql);
    for (const body of ['{"event": "message_created", ', "\u0000\u0001not json", messageOfSize(KEEP - 10)]) {
      const r = await answer(sql, request(a, body, { signWith: "not-the-secret", contentType: "text/plain" }));
      assert.equal(r.status, 401);
    }
    assert.equal((await ledger(sql, a)).length, 0);
  } finally {
    await sql.end();
  }
});

Deno.test("an authenticated body that is not JSON is kept byte for byte and acknowledged", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const a = await insertLinkedAccount(sql);
    const cases: [string, Uint8Array<ArrayBuffer>, string | undefined, string][] = [
      ["malformed_json", new TextEncoder().encode('{"event": "message_created", '), undefined, "malformed JSON"],
      ["not_utf8", new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), undefined, "bad UTF-8"],
      ["unsupported_media_type", new TextEncoder().encode("event=message_created&id=1"), "text/plain", "a form"],
    ];
    for (const [reason, bytes, contentType, label] of cases) {
      const r = await answer(sql, request(a, bytes, { contentType }));
      assert.equal(r.status, 200, label);
      assert.equal(r.body.status, "kept", label);
      const [row] = (await ledger(sql, a)).filter((x) => x.delivery_id === r.body.delivery_id);
      assert.equal(row.outcome, "rejected");
      assert.equal(row.detail.reason, reason, label);
      assert.deepEqual(new Uint8Array(row.raw_body), bytes, `${label}: the exact bytes are kept`);
    }
  } finally {
    await sql.end();
  }
});

Deno.test("schema misses, account mismatches and values the database refuses get 200 and are kept", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const a = await insertLinkedAccount(sql);
    const base = fixture("whatsapp-text.message_created.json") as Record<string, unknown> & {
      conversation: Record<string, unknown>;
    };
    const { conversation: _, ...noConversation } = base;
    const otherAccount = { ...base, account: { id: 999, name: "Someone else" } };
    // Chatwoot ids are integers, but not this large: the mirror's integer column refuses it (22003).
    const hugeDisplayId = { ...base, conversation: { ...base.conversation, id: 3_000_000_000 } };
    const expected: [unknown, string][] = [
      [noConversation, "invalid_payload"],
      [otherAccount, "account_mismatch"],
      [hugeDisplayId, "database_refused"],
    ];
    for (const [body, reason] of expected) {
      const r = await answer(sql, request(a, JSON.stringify(body)));
      assert.equal(r.status, 200, reason);
      assert.equal(r.body.status, "rejected", reason);
      assert.ok(r.body.issues.length > 0, reason);
      const [row] = (await ledger(sql, a)).filter((x) => x.delivery_id === r.body.delivery_id);
      assert.deepEqual([row.outcome, row.detail.reason, row.payload !== null], ["rejected", reason, true]);
    }
    assert.equal((await mirrorCounts(sql, a.accountRef)).messages, 0);
  } finally {
    await sql.end();
  }
});

Deno.test("NUL characters are stripped, the delivery applied, and the ledger notes where", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const a = await insertLinkedAccount(sql);
    const body = { ...fixture("whatsapp-text.message_created.json"), content: "Hola\u0000 mundo\u0000" };
    const r = await answer(sql, request(a, JSON.stringify(body)));
    assert.equal(r.status, 200);
    assert.equal(r.body.status, "applied");
    const [m] = await sql`select content from public.chatwoot_messages where account_ref = ${a.accountRef}`;
    assert.equal(m.content, "Hola mundo");
    const [row] = await ledger(sql, a);
    assert.equal(row.detail.nul_stripped.count, 2);
    assert.deepEqual(row.detail.nul_stripped.paths, ["content"]);
  } finally {
    await sql.end();
  }
});

Deno.test("JSON that jsonb refuses (a lone surrogate escape) is kept as its raw bytes", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const a = await insertLinkedAccount(sql);
    const raw = JSON.stringify({ ...fixture("whatsapp-text.message_created.json"), content: "@@" })
      .replace('"@@"', '"half a pair: \\ud83e"');
    const r = await answer(sql, request(a, raw));
    assert.deepEqual([r.status, r.body.status], [200, "kept"], JSON.stringify(r.body));
    const [row] = await ledger(sql, a);
    assert.equal(row.detail.reason, "database_refused");
    assert.equal(new TextDecoder().decode(row.raw_body), raw);
  } finally {
    await sql.end();
  }
});

Deno.test("stripNulCharacters cleans keys and nested strings and leaves the rest alone", () => {
  const r = stripNulCharacters({ "a\u0000b": ["x\u0000", 1, null, { c: "\u0000\u0000" }], d: "ok" });
  assert.deepEqual(r.value, { ab: ["x", 1, null, { c: "" }], d: "ok" });
  assert.equal(r.count, 4);
  assert.deepEqual(r.paths, ["ab", "ab[0]", "ab[3].c"]);
});

Deno.test("a kept delivery replays once its cause is fixed, under its own id, and only once", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const a = await insertLinkedAccount(sql, { accountId: 99 });
    // Fixture account 3 on a store linked as account 99: kept as a mismatch…
    const mismatch = await answer(sql, request(a, JSON.stringify(fixture("whatsapp-text.message_created.json"))));
    assert.equal(mismatch.body.status, "rejected");
    // …and a JSON body sent with the wrong Content-Type: kept as raw bytes.
    const raw = await answer(
      sql,
      request(a, JSON.stringify(fixture("contact_updated.json")), { contentType: "text/plain" }),
    );
    assert.equal(raw.body.status, "kept");
    // Still broken: replay keeps it, with the reason, and says so.
    const early = await replayKeptDelivery({ sql, log }, {
      accountRef: a.accountRef,
      deliveryId: mismatch.body.delivery_id,
    });
    assert.deepEqual([early?.before, early?.after], ["rejected", "rejected"]);
    // The fix: the store was linked with the wrong account id.
    await sql`update public.chatwoot_accounts set account_id = 3 where id = ${a.accountRef}`;
    const fixed = await replayKeptDelivery({ sql, log }, {
      accountRef: a.accountRef,
      deliveryId: mismatch.body.delivery_id,
    });
    assert.deepEqual([fixed?.before, fixed?.after], ["rejected", "applied"]);
    const rawFixed = await replayKeptDelivery({ sql, log }, {
      accountRef: a.accountRef,
      deliveryId: raw.body.delivery_id,
    });
    assert.deepEqual([rawFixed?.before, rawFixed?.after], ["rejected", "applied"]);
    const counts = await mirrorCounts(sql, a.accountRef);
    assert.deepEqual([counts.messages, counts.deliveries], [1, 2], "applied once; no new ledger rows");
    const rows = await ledger(sql, a);
    assert.deepEqual(rows.map((r) => [r.outcome, r.payload, r.raw_body, r.replayed_at !== null]), [
      ["applied", null, null, true],
      ["applied", null, null, true],
    ]);
    assert.equal(
      await replayKeptDelivery({ sql, log }, { accountRef: a.accountRef, deliveryId: mismatch.body.delivery_id }),
      null,
      "an applied delivery is no longer kept",
    );
  } finally {
    await sql.end();
  }
});

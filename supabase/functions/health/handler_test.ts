// The deployed health function, through the gateway: it answers without credentials, and the
// functions of the test stack reach Postgres through the transaction pooler (pgbouncer), as a
// hosted deploy should through Supavisor.

import assert from "node:assert/strict";
import postgres from "postgres";
import { testStack } from "../../../scripts/testing/env.ts";
import { connect } from "../_shared/platform/db.ts";
import { ARCHIVE_NOT_CONFIGURED } from "../_shared/archive/config.ts";
import { handler } from "./handler.ts";

const stack = testStack();
const opts = { sanitizeOps: false, sanitizeResources: false };
const poolerUrl = Deno.env.get("SWITCHBOARD_DB_POOLER_URL");

Deno.test("health answers without credentials and says how functions reach the database", opts, async () => {
  const res = await fetch(`${stack.apiUrl}/functions/v1/health`);
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.database.ok, true);
  assert.equal(body.database.connection, poolerUrl ? "pooler" : "direct");
});

Deno.test("the functions' connections arrive through pgbouncer in transaction mode", opts, async () => {
  if (!poolerUrl) {
    throw new Error("npm test runs the functions through pgbouncer: SWITCHBOARD_DB_POOLER_URL is missing");
  }
  await fetch(`${stack.apiUrl}/functions/v1/health`).then((r) => r.body?.cancel());
  const url = new URL(poolerUrl);
  url.pathname = "/pgbouncer";
  // The admin console speaks only the simple protocol: no type lookup on connect.
  const admin = postgres(url.toString(), { max: 1, prepare: false, fetch_types: false, onnotice: () => {} });
  try {
    const clients = await admin`show clients`.simple();
    const names = new Set(clients.map((c) => String(c.application_name ?? "")));
    assert.ok(names.has("health"), `health's connection should be a pooler client; saw ${[...names].join(", ")}`);
    const [mode] = (await admin`show config`.simple()).filter((c) => c.key === "pool_mode");
    assert.equal(mode.value, "transaction");
  } finally {
    await admin.end();
  }
});

Deno.test(
  "health says when the archive is configured, and when not, why and how many archive jobs wait",
  opts,
  async () => {
    const live = await (await fetch(`${stack.apiUrl}/functions/v1/health`)).json();
    assert.equal(live.archive.configured, true, "the test stack's functions have the GCS emulator");
    assert.equal(live.archive.mode, "emulator");
    assert.equal(typeof live.archive.jobs_waiting, "number");
    assert.ok(!JSON.stringify(live.archive).includes("private_key"), "never a key or a secret");

    const sql = connect(stack.dbUrl);
    try {
      const res = await handler(new Request("http://local/health"), {
        sql,
        workerStaleAfterSeconds: 60,
        version: "test",
        archive: { configured: false, reason: ARCHIVE_NOT_CONFIGURED },
      });
      const body = await res.json();
      assert.equal(body.archive.configured, false);
      assert.equal(body.archive.reason, ARCHIVE_NOT_CONFIGURED);
      assert.equal(typeof body.archive.jobs_waiting, "number");
    } finally {
      await sql.end();
    }
  },
);

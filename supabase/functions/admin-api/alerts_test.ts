// admin-api's alert routes through the gateway: a platform administrator lists alerts, acknowledges
// one and changes a rule's threshold; a store owner is refused every one of them.

import assert from "node:assert/strict";
import { connect } from "../_shared/platform/db.ts";
import { testStack } from "../../../scripts/testing/env.ts";
import { signUserToken } from "../../../scripts/local/supabase/keys.ts";

const stack = testStack();
const opts = { sanitizeOps: false, sanitizeResources: false };
const base = `${stack.apiUrl}/functions/v1/admin-api`;
const PLATFORM = "00000000-0000-4000-8000-000000000001";
const ACME_OWNER = "00000000-0000-4000-8000-00000000a001";

async function as(id: string, admin = false) {
  const token = await signUserToken(stack.signer, { id, app_metadata: admin ? { platform_admin: true } : {} });
  return async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  };
}

Deno.test("a platform admin lists, acknowledges and tunes alerts; a store owner cannot", opts, async () => {
  const sql = connect(stack.dbUrl, { max: 1 });
  try {
    const subject = `api-${crypto.randomUUID().slice(0, 8)}`;
    const [alert] = await sql`
      insert into public.alerts (rule, subject, value, threshold, message)
      values ('silent_account', ${subject}, 9, 6, ${`${subject}: no delivery for 9 h`}) returning id::int`;
    const admin = await as(PLATFORM, true);
    const owner = await as(ACME_OWNER);

    const listed = await admin("GET", "/alerts?state=firing");
    assert.equal(listed.status, 200);
    const mine = listed.body.alerts.find((a: { id: number }) => a.id === alert.id);
    assert.equal(mine.unit, "hours");
    assert.equal(mine.state, "firing");

    const acked = await admin("POST", `/alerts/${alert.id}/ack`);
    assert.equal(acked.status, 200);
    assert.equal(acked.body.alert.acknowledged_by, PLATFORM);
    assert.equal((await admin("POST", "/alerts/999999999/ack")).status, 404);

    const rules = await admin("GET", "/alert-rules");
    assert.equal(rules.body.rules.length, 11);
    const changed = await admin("POST", "/alert-rules/silent_account", { threshold: 12 });
    assert.equal(changed.status, 200);
    assert.equal(changed.body.rule.threshold, 12);
    assert.equal(changed.body.rule.updated_by, PLATFORM);
    assert.equal((await admin("POST", "/alert-rules/silent_account", { threshold: "x" })).status, 400);
    await admin("POST", "/alert-rules/silent_account", { threshold: 6 });

    const overview = await admin("GET", "/overview?range=hour");
    assert.equal(overview.status, 200);
    assert.equal(overview.body.range, "hour");
    assert.ok(overview.body.series.length >= 59, "a point per minute");
    assert.ok(overview.body.alerts.some((a: { id: number }) => a.id === alert.id), "the firing alert is on it");
    assert.equal((await admin("GET", "/overview?range=year")).status, 400);

    for (
      const [method, path, body] of [
        ["GET", "/overview"],
        ["GET", "/alerts"],
        ["POST", `/alerts/${alert.id}/ack`],
        ["GET", "/alert-rules"],
        ["POST", "/alert-rules/silent_account", { threshold: 1 }],
      ] as const
    ) {
      const res = await owner(method, path, body);
      assert.equal(res.status, 403, `${method} ${path} is refused to a store owner`);
    }
    await sql`delete from public.alerts where id = ${alert.id}`;
  } finally {
    await sql.end();
  }
});

// `switchboard webhooks kept|replay` against the test stack: a delivery the receiver kept (its
// store was linked with the wrong account id) is listed with its reason, replayed once the link is
// fixed, and then mirrored; a delivery id that is not kept is an error.

import assert from "node:assert/strict";
import { main } from "./main.ts";
import { connect } from "../../supabase/functions/_shared/platform/db.ts";
import { testStack } from "../testing/env.ts";
import { deliver, fixture, insertLinkedAccount, mirrorCounts } from "../testing/chatwoot.ts";

const stack = testStack();
const opts = { sanitizeOps: false, sanitizeResources: false };

async function cli(...args: string[]) {
  const lines: string[] = [];
  const code = await main(args, (l) => lines.push(l));
  return { code, out: lines.join("\n") };
}

Deno.test("a kept delivery is listed, replayed after the fix, and mirrored", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const a = await insertLinkedAccount(sql, { accountId: 77 });
    const r = await deliver(stack.apiUrl, a, fixture("whatsapp-text.message_created.json")); // account 3
    assert.deepEqual([r.status, r.body.status], [200, "rejected"]);
    const kept = await cli("webhooks", "kept", "--store", a.slug);
    assert.equal(kept.code, 0, kept.out);
    assert.match(kept.out, /message_created\s+rejected\s+\S+\s+account_mismatch/);

    const early = await cli("webhooks", "replay", "--store", a.slug, "--all");
    assert.equal(early.code, 0, early.out);
    assert.match(early.out, /replayed 1: 0 applied, 1 still kept/);

    await sql`update public.chatwoot_accounts set account_id = 3 where id = ${a.accountRef}`;
    const fixed = await cli("webhooks", "replay", "--store", a.slug, "--delivery", String(r.body.delivery_id));
    assert.equal(fixed.code, 0, fixed.out);
    assert.match(fixed.out, /rejected\s+applied/);
    assert.match(fixed.out, /replayed 1: 1 applied, 0 still kept/);
    assert.equal((await mirrorCounts(sql, a.accountRef)).messages, 1);

    const again = await cli("webhooks", "replay", "--store", a.slug, "--delivery", String(r.body.delivery_id));
    assert.equal(again.code, 1, "an applied delivery is not kept any more");
    assert.equal((await cli("webhooks", "replay", "--all")).code, 2, "--store is required");
  } finally {
    await sql.end();
  }
});

// The widget identity a store's pages need, checked the way Chatwoot checks it (the sandbox
// verifies identifier_hash like Chatwoot's widget contacts controller), through the CLI and
// through the deployed function; and re-provisioning is for platform administrators only.

import assert from "node:assert/strict";
import { connect } from "../_shared/platform/db.ts";
import { testStack, waitFor } from "../../../scripts/testing/env.ts";
import { sandboxCall, sandboxEnv } from "../../../scripts/testing/chatwoot.ts";
import { signUserToken } from "../../../scripts/local/supabase/keys.ts";
import { main as cli } from "../../../scripts/cli/main.ts";

const stack = testStack();
const env = sandboxEnv();
const opts = { sanitizeOps: false, sanitizeResources: false };
const url = `${stack.apiUrl}/functions/v1/chatwoot-account-manager`;

/** The seeded store acme is provisioned by the stack's worker at start. */
async function acme() {
  const sql = connect(stack.dbUrl, { max: 1 });
  try {
    return await waitFor(
      async () => {
        const [r] = await sql`select p.state, p.widget_inbox_id from public.chatwoot_provisioning p
        join public.stores s on s.id = p.store_id where s.slug = 'acme'`;
        return r?.state === "active" ? r : null;
      },
      "acme to be provisioned",
      30_000,
    );
  } finally {
    await sql.end();
  }
}

Deno.test("the CLI prints the widget snippet and an identifier_hash Chatwoot accepts", opts, async () => {
  const store = await acme();
  const lines: string[] = [];
  assert.equal(await cli(["widget", "--store", "acme", "--identifier", "customer-42"], (l) => lines.push(l)), 0);
  const out = lines.join("\n");
  assert.match(out, /window\.chatwootSDK\.run\(\{ websiteToken: "[A-Za-z0-9]+", baseUrl: BASE_URL \}\)/);
  const hash = out.match(/identifier_hash: ([0-9a-f]{64})/)![1];
  const accepted = await sandboxCall(env, "POST", "/_control/traffic/widget_message", {
    body: { inbox_id: store.widget_inbox_id, identifier: "customer-42", identifier_hash: hash, content: "Hi" },
  });
  assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
  const refused = await sandboxCall(env, "POST", "/_control/traffic/widget_message", {
    body: { inbox_id: store.widget_inbox_id, identifier: "customer-43", identifier_hash: hash, content: "Hi" },
  });
  assert.equal(refused.status, 401, "a hash for another identifier is refused");
  assert.equal(await cli(["widget", "--store", "no-such-store"], () => {}), 1);
});

Deno.test("a signed-in customer gets their own identifier_hash from the function", opts, async () => {
  const store = await acme();
  const userId = crypto.randomUUID();
  const token = await signUserToken(stack.signer, { id: userId, email: "buyer@example.com" });
  const res = await fetch(`${url}/widget?store=acme`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.identifier, userId, "the identity is the caller's, not chosen by the caller");
  const check = await sandboxCall(env, "POST", "/_control/traffic/widget_open", {
    body: { inbox_id: store.widget_inbox_id, identifier: userId, identifier_hash: body.identifier_hash },
  });
  assert.equal(check.status, 200, JSON.stringify(check.body));

  const anon = await fetch(`${url}/widget?store=acme`, { headers: { authorization: `Bearer ${stack.anonKey}` } });
  assert.equal(anon.status, 401);
  await anon.body?.cancel();
  const missing = await fetch(`${url}/widget?store=nope`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
  const bad = await fetch(`${url}/widget?store=Not%20a%20slug`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(bad.status, 400);
  await bad.body?.cancel();
});

Deno.test("re-provisioning through the API is for platform administrators", opts, async () => {
  await acme();
  const member = await signUserToken(stack.signer, { id: "00000000-0000-4000-8000-00000000a001" });
  const admin = await signUserToken(stack.signer, {
    id: "00000000-0000-4000-8000-000000000001",
    app_metadata: { platform_admin: true },
  });
  const denied = await fetch(`${url}/stores/acme/reprovision`, {
    method: "POST",
    headers: { authorization: `Bearer ${member}` },
  });
  assert.equal(denied.status, 403);
  await denied.body?.cancel();
  const ok = await fetch(`${url}/stores/acme/reprovision`, {
    method: "POST",
    headers: { authorization: `Bearer ${admin}` },
  });
  assert.equal(ok.status, 202);
  assert.match((await ok.json()).job_id, /^\d+$/);
  // Resuming from its checkpoints, an active store stays exactly as it was.
  await acme();
});

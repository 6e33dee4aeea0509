// Through the gateway, as a hosted project with signing keys: every function that takes callers
// (verify_jwt = false on all of them) refuses a session signed with another key, an expired one,
// an HS256 one when the project signs with ES256, and alg none, with 401; a forged platform-admin
// claim gets nowhere. The webhooks (HMAC) and health (public) take no tokens at all.

import assert from "node:assert/strict";
import { createSigningKey, signUserToken } from "../../../../scripts/local/supabase/keys.ts";
import { testStack } from "../../../../scripts/testing/env.ts";

const stack = testStack();
const opts = { sanitizeOps: false, sanitizeResources: false };
const PLATFORM_ADMIN = "00000000-0000-4000-8000-00000000f001";
const ACME_OWNER = "00000000-0000-4000-8000-00000000a001";

/** One request per function that verifies callers, and what a good caller of it gets. */
const endpoints: { fn: string; method: string; path: string; body?: string; ok: number[] }[] = [
  { fn: "admin-api", method: "GET", path: "/me", ok: [200] },
  { fn: "chatwoot-account-manager", method: "GET", path: "/widget?store=acme", ok: [200, 404, 409] },
  { fn: "archive-admin", method: "GET", path: "/queue", ok: [200] },
  { fn: "jobs-worker", method: "POST", path: "", body: '{"time_budget_ms":0}', ok: [403] },
];

async function call(e: (typeof endpoints)[number], headers: Record<string, string>) {
  const res = await fetch(`${stack.apiUrl}/functions/v1/${e.fn}${e.path}`, { method: e.method, headers, body: e.body });
  await res.body?.cancel();
  return res.status;
}

Deno.test("every function refuses foreign, expired, HS256-when-ES256 and unsigned tokens with 401", opts, async () => {
  assert.equal(stack.signer.alg, "ES256", "npm test runs the stack on asymmetric signing keys, as new projects");
  const admin = { id: PLATFORM_ADMIN, app_metadata: { platform_admin: true } };
  const foreign = await createSigningKey();
  const good = await signUserToken(stack.signer, admin);
  const [, payload] = good.split(".");
  const bad: Record<string, string> = {
    "signed with another key": await signUserToken({ alg: "ES256", key: foreign, issuer: stack.signer.issuer }, admin),
    "another key posing as the project's kid": await signUserToken(
      {
        alg: "ES256",
        key: { ...foreign, kid: stack.signer.alg === "ES256" ? stack.signer.key.kid : "" },
        issuer: stack.signer.issuer,
      },
      admin,
    ),
    "expired": await signUserToken(stack.signer, admin, { expiresInSeconds: -120 }),
    "HS256 with the legacy secret": await signUserToken({
      alg: "HS256",
      secret: stack.jwtSecret,
      issuer: stack.signer.issuer,
    }, admin),
    "alg none": `${btoa(JSON.stringify({ alg: "none", typ: "JWT" })).replace(/=+$/, "")}.${payload}.`,
  };
  for (const e of endpoints) {
    for (const [label, token] of Object.entries(bad)) {
      const status = await call(e, { authorization: `Bearer ${token}`, apikey: stack.publishableKey });
      assert.equal(status, 401, `${e.fn}: a token ${label} → 401`);
    }
    const status = await call(e, { authorization: `Bearer ${good}`, apikey: stack.publishableKey });
    assert.ok(e.ok.includes(status), `${e.fn}: the project's own session → ${e.ok.join("/")} (got ${status})`);
  }
});

Deno.test("a platform-admin claim counts only in a session the project signed", opts, async () => {
  const selfSigned = await signUserToken(
    { alg: "ES256", key: await createSigningKey(), issuer: stack.signer.issuer },
    { id: ACME_OWNER, app_metadata: { platform_admin: true } },
  );
  const res = await fetch(`${stack.apiUrl}/functions/v1/archive-admin/queue`, {
    headers: { authorization: `Bearer ${selfSigned}`, apikey: stack.publishableKey },
  });
  assert.equal(res.status, 401);
  await res.body?.cancel();
  const owner = await signUserToken(stack.signer, { id: ACME_OWNER, app_metadata: {} });
  const member = await fetch(`${stack.apiUrl}/functions/v1/archive-admin/queue`, {
    headers: { authorization: `Bearer ${owner}`, apikey: stack.publishableKey },
  });
  assert.equal(member.status, 403, "a real session without the claim is forbidden, not unknown");
  await member.body?.cancel();
});

Deno.test("the secret key is the service; the publishable key signs nobody in", opts, async () => {
  const widget = `${stack.apiUrl}/functions/v1/chatwoot-account-manager/widget?store=acme`;
  const pub = await fetch(widget, {
    headers: { apikey: stack.publishableKey, authorization: `Bearer ${stack.publishableKey}` },
  });
  assert.equal(pub.status, 401, "the widget identity needs a signed-in customer");
  await pub.body?.cancel();
  const queue = await fetch(`${stack.apiUrl}/functions/v1/archive-admin/queue`, {
    headers: { apikey: stack.secretKey },
  });
  assert.equal(queue.status, 200, "a server with the secret key acts as the service role");
  await queue.body?.cancel();
  const wrong = await fetch(`${stack.apiUrl}/functions/v1/archive-admin/queue`, {
    headers: { apikey: `${stack.secretKey}0` },
  });
  assert.equal(wrong.status, 401);
  await wrong.body?.cancel();
});

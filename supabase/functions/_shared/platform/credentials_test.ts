// Token and key checks as hosted projects need them with verify_jwt off: only a session signed by
// the project's own key, for its issuer and audience, unexpired, is a user; API keys are matched
// exactly; anything else is refused.

import assert from "node:assert/strict";
import { SignJWT } from "jose";
import {
  createSigningKey,
  deriveApiKeys,
  jwks,
  newApiKey,
  signUserToken,
} from "../../../../scripts/local/supabase/keys.ts";
import { freePort } from "../../../../scripts/local/kit/ports.ts";
import { createCredentialVerifier, credentialOptionsFromEnv } from "./credentials.ts";

const url = "http://127.0.0.1:54321";
const issuer = `${url}/auth/v1`;
const user = { id: "00000000-0000-4000-8000-0000000000a1", email: "ana@acme.test" };
const opts = { sanitizeOps: false, sanitizeResources: false };

async function setup(extra: { legacyJwtSecret?: string } = {}) {
  const key = await createSigningKey();
  const legacySecret = "legacy-secret-of-at-least-thirty-two-chars!";
  const legacy = await deriveApiKeys(legacySecret);
  const secretKey = newApiKey("secret");
  const publishableKey = newApiKey("publishable");
  const verify = createCredentialVerifier({
    supabaseUrl: url,
    jwks: jwks([key]),
    secretKeys: [secretKey, legacy.serviceRoleKey],
    publishableKeys: [publishableKey, legacy.anonKey],
    ...extra,
  });
  const call = (headers: Record<string, string>) => verify(new Request(`${url}/functions/v1/x`, { headers }));
  return { key, legacySecret, legacy, secretKey, publishableKey, call };
}

Deno.test("a session token signed by the project's key is a user with its claims", async () => {
  const s = await setup();
  const token = await signUserToken({ alg: "ES256", key: s.key }, user, { issuer });
  const r = await s.call({ authorization: `Bearer ${token}`, apikey: s.publishableKey });
  assert.equal(r.ok && r.caller.kind, "user");
  assert.equal(r.ok && r.caller.kind === "user" && r.caller.claims.sub, user.id);
});

Deno.test("another key, an expired token, HS256 when ES256 is expected, alg none, a foreign issuer or audience: refused", async () => {
  const s = await setup();
  const other = await createSigningKey();
  const es = { alg: "ES256" as const, key: s.key };
  const [h, p] = (await signUserToken(es, user, { issuer })).split(".");
  const none = `${btoa(JSON.stringify({ alg: "none", typ: "JWT" })).replace(/=+$/, "")}.${p}.`;
  const cases: Record<string, string> = {
    "signed with another key (same kid)": await signUserToken(
      { alg: "ES256", key: { ...other, kid: s.key.kid } },
      user,
      { issuer },
    ),
    "signed with another key": await signUserToken({ alg: "ES256", key: other }, user, { issuer }),
    "expired": await signUserToken(es, user, { issuer, expiresInSeconds: -60 }),
    "HS256 with the legacy secret": await signUserToken(s.legacySecret, user, { issuer }),
    "alg none": none,
    "header swapped to HS256": `${btoa(JSON.stringify({ alg: "HS256", typ: "JWT" })).replace(/=+$/, "")}.${p}.${h}`,
    "another project's issuer": await signUserToken(es, user, { issuer: "https://other.supabase.co/auth/v1" }),
    "not a JWT": "not-a-jwt",
  };
  for (const [label, token] of Object.entries(cases)) {
    const r = await s.call({ authorization: `Bearer ${token}` });
    assert.equal(r.ok, false, `${label} must be refused`);
  }
  const wrongAudience = await new SignJWT({ role: "authenticated", sub: user.id, aud: "somebody-else" })
    .setProtectedHeader({ alg: "ES256", kid: s.key.kid }).setIssuer(issuer).setExpirationTime("1h")
    .sign(
      await crypto.subtle.importKey(
        "jwk",
        s.key.privateJwk as JsonWebKey,
        { name: "ECDSA", namedCurve: "P-256" },
        false,
        ["sign"],
      ),
    );
  assert.equal((await s.call({ authorization: `Bearer ${wrongAudience}` })).ok, false, "a foreign audience is refused");
});

Deno.test("a legacy project accepts HS256 sessions only with its secret configured", async () => {
  const s = await setup({ legacyJwtSecret: "legacy-secret-of-at-least-thirty-two-chars!" });
  const ok = await s.call({ authorization: `Bearer ${await signUserToken(s.legacySecret, user, { issuer })}` });
  assert.equal(ok.ok && ok.caller.kind, "user");
  const forged = await s.call({
    authorization: `Bearer ${await signUserToken("some-other-secret-of-32-characters!!", user, { issuer })}`,
  });
  assert.equal(forged.ok, false);
});

Deno.test("API keys are matched exactly: secret → service, publishable → public, anything else refused", async () => {
  const s = await setup();
  const kind = async (headers: Record<string, string>) => {
    const r = await s.call(headers);
    return r.ok ? r.caller.kind : "refused";
  };
  assert.equal(await kind({ apikey: s.secretKey }), "service");
  assert.equal(await kind({ apikey: s.publishableKey }), "public");
  // supabase-js puts the key in both headers when nobody is signed in.
  assert.equal(await kind({ apikey: s.publishableKey, authorization: `Bearer ${s.publishableKey}` }), "public");
  assert.equal(await kind({ apikey: newApiKey("secret") }), "refused");
  assert.equal(await kind({ apikey: `${s.secretKey}x` }), "refused");
  assert.equal(await kind({}), "none");
  // The legacy service_role JWT works while it lives, by exact match; a forged one with the same claims does not.
  assert.equal(await kind({ authorization: `Bearer ${s.legacy.serviceRoleKey}` }), "service");
  const forged = (await deriveApiKeys("some-other-secret-of-at-least-32-chars")).serviceRoleKey;
  assert.equal(await kind({ authorization: `Bearer ${forged}` }), "refused");
  // A user claiming platform admin in a token it signed itself is still refused.
  const self = await createSigningKey();
  const token = await signUserToken({ alg: "ES256", key: self }, { ...user, app_metadata: { platform_admin: true } }, {
    issuer,
  });
  assert.equal(await kind({ authorization: `Bearer ${token}`, apikey: s.publishableKey }), "refused");
});

Deno.test("without inline keys the JWKS is fetched from the issuer once and cached", opts, async () => {
  const key = await createSigningKey();
  let hits = 0;
  const port = freePort();
  const server = Deno.serve({ port, hostname: "127.0.0.1", onListen: () => {} }, (req) => {
    if (new URL(req.url).pathname !== "/auth/v1/.well-known/jwks.json") return new Response("no", { status: 404 });
    hits++;
    return Response.json(jwks([key]));
  });
  try {
    const base = `http://127.0.0.1:${port}`;
    const verify = createCredentialVerifier({ supabaseUrl: base, secretKeys: [], publishableKeys: [] });
    for (let i = 0; i < 5; i++) {
      const token = await signUserToken({ alg: "ES256", key }, user, { issuer: `${base}/auth/v1` });
      const r = await verify(new Request(`${base}/x`, { headers: { authorization: `Bearer ${token}` } }));
      assert.equal(r.ok && r.caller.kind, "user");
    }
    assert.equal(hits, 1);
  } finally {
    await server.shutdown();
  }
});

Deno.test("settings come from hosted's variables: key dictionaries and an inline JWKS", async () => {
  const key = await createSigningKey();
  const o = credentialOptionsFromEnv({
    SUPABASE_URL: url,
    SUPABASE_SECRET_KEYS: JSON.stringify({ default: "sb_secret_a", worker: "sb_secret_b" }),
    SUPABASE_PUBLISHABLE_KEYS: JSON.stringify({ default: "sb_publishable_a" }),
    SUPABASE_JWKS: JSON.stringify(jwks([key])),
  });
  assert.deepEqual(o.secretKeys, ["sb_secret_a", "sb_secret_b"]);
  assert.deepEqual(o.publishableKeys, ["sb_publishable_a"]);
  assert.equal(o.jwks?.keys[0].kid, key.kid);
  assert.throws(() => credentialOptionsFromEnv({ SUPABASE_SECRET_KEYS: "sb_secret_a" }), /JSON object/);
});

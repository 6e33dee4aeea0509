// The local gateway behaves like Supabase's: verify_jwt from config.toml, HS256 with the
// project secret, 401 for a missing, malformed, expired or wrongly-signed token, sub-paths
// routed to the function. Runs its own gateway over a throwaway functions folder.

import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { createSigningKey, deriveApiKeys, jwks, newApiKey, signUserToken } from "./keys.ts";
import { startGateway } from "./gateway.ts";
import { freePort } from "../kit/ports.ts";

const root = new URL("../../../", import.meta.url).pathname;
const opts = { sanitizeOps: false, sanitizeResources: false };

const projectKey = await createSigningKey();

async function withGateway(fn: (url: string, secret: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "gateway-test-" });
  await Deno.mkdir(`${dir}/supabase/functions/echo`, { recursive: true });
  await Deno.mkdir(`${dir}/supabase/functions/open`, { recursive: true });
  await Deno.mkdir(`${dir}/supabase/functions/_shared`, { recursive: true });
  await Deno.copyFile(`${root}deno.json`, `${dir}/deno.json`);
  const echo = `Deno.serve(async (req) => new Response(JSON.stringify({
    url: req.url, method: req.method, body: await req.text(), auth: req.headers.get("authorization"),
    env: Deno.env.get("SB_FUNCTION_NAME") }), { headers: { "content-type": "application/json" } }));`;
  await Deno.writeTextFile(`${dir}/supabase/functions/echo/index.ts`, echo);
  await Deno.writeTextFile(`${dir}/supabase/functions/open/index.ts`, echo);
  await Deno.writeTextFile(
    `${dir}/supabase/config.toml`,
    `[functions.echo]\nverify_jwt = true\n\n[functions.open]\nverify_jwt = false\n`,
  );
  const secret = "test-secret-with-at-least-32-characters!!";
  const port = freePort();
  const gw = await startGateway({
    port,
    root: dir,
    jwtSecret: secret,
    jwks: jwks([projectKey]),
    functionEnv: {},
    log: () => {},
  });
  try {
    await fn(gw.url, secret);
  } finally {
    await gw.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test(
  "verify_jwt = true rejects missing, malformed, expired and wrongly-signed tokens with 401",
  opts,
  async () => {
    await withGateway(async (url, secret) => {
      const call = async (auth?: string) => {
        const res = await fetch(`${url}/functions/v1/echo`, {
          method: "POST",
          headers: auth ? { authorization: auth } : {},
          body: "{}",
        });
        return { status: res.status, body: await res.json() };
      };
      const enc = new TextEncoder();
      const expired = await new SignJWT({ role: "anon" }).setProtectedHeader({ alg: "HS256" })
        .setIssuedAt(1_600_000_000).setExpirationTime(1_600_000_100).sign(enc.encode(secret));
      const wrongKey = await new SignJWT({ role: "service_role" }).setProtectedHeader({ alg: "HS256" })
        .setExpirationTime("1h").sign(enc.encode("another-secret-that-is-also-long-enough"));
      const [h, p] = (await deriveApiKeys(secret)).serviceRoleKey.split(".");
      const unsigned = `${btoa(JSON.stringify({ alg: "none", typ: "JWT" })).replace(/=+$/, "")}.${p}.`;
      const tampered = `${h}.${
        btoa(JSON.stringify({ role: "service_role", exp: 4_000_000_000, iss: "evil" })).replace(/=+$/, "")
      }.${(await deriveApiKeys(secret)).anonKey.split(".")[2]}`;

      const missing = await call();
      assert.equal(missing.status, 401);
      assert.equal(missing.body.message, "Missing authorization header");
      for (
        const [label, auth] of Object.entries({
          "not a bearer": "Basic dXNlcjpwYXNz",
          "malformed": "Bearer not-a-jwt",
          "expired": `Bearer ${expired}`,
          "wrong secret": `Bearer ${wrongKey}`,
          "alg none": `Bearer ${unsigned}`,
          "tampered payload": `Bearer ${tampered}`,
        })
      ) {
        const r = await call(auth);
        assert.equal(r.status, 401, `${label} → 401`);
        assert.equal(r.body.message, "Invalid JWT", `${label} → Invalid JWT`);
      }
    });
  },
);

Deno.test("verify_jwt = true accepts the anon and service_role keys and user tokens", opts, async () => {
  await withGateway(async (url, secret) => {
    const keys = await deriveApiKeys(secret);
    const user = await signUserToken(secret, { id: crypto.randomUUID(), email: "u@t.test" });
    for (const token of [keys.anonKey, keys.serviceRoleKey, user]) {
      const res = await fetch(`${url}/functions/v1/echo`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200);
      assert.equal((await res.json()).auth, `Bearer ${token}`, "the token reaches the function");
    }
  });
});

Deno.test(
  "sub-paths, query strings, methods and bodies reach the function; verify_jwt = false needs no token",
  opts,
  async () => {
    await withGateway(async (url) => {
      const res = await fetch(`${url}/functions/v1/open/a/b/c?x=1&y=two`, { method: "PUT", body: "hello" });
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.equal(new URL(body.url).pathname, "/open/a/b/c");
      assert.equal(new URL(body.url).search, "?x=1&y=two");
      assert.equal(body.method, "PUT");
      assert.equal(body.body, "hello");
      assert.equal(body.env, "open");
      const missing = await fetch(`${url}/functions/v1/nope`);
      assert.equal(missing.status, 404);
      await missing.body?.cancel();
    });
  },
);

Deno.test(
  "verify_jwt = true passes sessions signed with the project's key, never an sb_ key as a bearer",
  opts,
  async () => {
    await withGateway(async (url) => {
      const call = async (auth: string) => {
        const res = await fetch(`${url}/functions/v1/echo`, { headers: { authorization: auth } });
        return { status: res.status, body: await res.json() };
      };
      const session = await signUserToken({ alg: "ES256", key: projectKey }, { id: crypto.randomUUID() });
      assert.equal((await call(`Bearer ${session}`)).status, 200);
      const foreign = await signUserToken({ alg: "ES256", key: await createSigningKey() }, { id: crypto.randomUUID() });
      const refused = await call(`Bearer ${foreign}`);
      assert.equal(refused.status, 401);
      assert.equal(refused.body.message, "Invalid JWT");
      // The new API keys are not JWTs: the platform check cannot pass them (functions check them themselves).
      assert.equal((await call(`Bearer ${newApiKey("publishable")}`)).status, 401);
    });
  },
);

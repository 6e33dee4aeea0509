// The admin app's path (supabase-js: sign in with a password, then functions.invoke admin-api)
// works on both kinds of hosted project: one signing sessions with an asymmetric key (verified
// against the JWKS) and one still on the legacy HS256 secret. Auth and admin-api run in-process on
// the test database behind a small router shaped like the gateway; each mode gets its own keys.

import assert from "node:assert/strict";
import { createClient } from "@supabase/supabase-js";
import postgres from "postgres";
import { createAuthHandler, createAuthUser } from "./auth.ts";
import { createSigningKey, deriveApiKeys, type JwtMode, newApiKey, randomSecret } from "./keys.ts";
import { freePort } from "../kit/ports.ts";
import { connect } from "../../../supabase/functions/_shared/platform/db.ts";
import { createLogger } from "../../../supabase/functions/_shared/platform/log.ts";
import { createStorage } from "../../../supabase/functions/_shared/archive/storage.ts";
import {
  createCredentialVerifier,
  credentialOptionsFromEnv,
} from "../../../supabase/functions/_shared/platform/credentials.ts";
import { createHandler } from "../../../supabase/functions/admin-api/handler.ts";
import { testStack } from "../../testing/env.ts";

const stack = testStack();
const opts = { sanitizeOps: false, sanitizeResources: false };

async function projectIn(mode: JwtMode) {
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const jwtSecret = randomSecret(40);
  const legacy = await deriveApiKeys(jwtSecret);
  const signingKey = await createSigningKey();
  const publishableKey = newApiKey("publishable");
  const secretKey = newApiKey("secret");
  const authSql = postgres(stack.dbUrl, { max: 2, onnotice: () => {} });
  const apiSql = connect(stack.dbUrl, { max: 2 });
  const auth = createAuthHandler({
    sql: authSql,
    jwtSecret,
    jwtMode: mode,
    signingKey,
    anonKey: legacy.anonKey,
    serviceRoleKey: legacy.serviceRoleKey,
    publishableKey,
    secretKey,
    issuer: `${url}/auth/v1`,
  });
  const admin = createHandler({
    sql: apiSql,
    log: createLogger({ fn: "admin-api" }, "error"),
    storage: createStorage({ apiEndpoint: "http://127.0.0.1:1" }),
    signedUrlTtlSeconds: 60,
    // What each kind of project gives its functions (hosted sets these).
    verifyCaller: createCredentialVerifier(credentialOptionsFromEnv({
      SUPABASE_URL: url,
      SUPABASE_PUBLISHABLE_KEYS: JSON.stringify({ default: publishableKey }),
      SUPABASE_SECRET_KEYS: JSON.stringify({ default: secretKey }),
      SUPABASE_ANON_KEY: legacy.anonKey,
      SUPABASE_SERVICE_ROLE_KEY: legacy.serviceRoleKey,
      ...(mode === "legacy" ? { SWITCHBOARD_LEGACY_JWT_SECRET: jwtSecret } : {}),
    })),
  });
  const server = Deno.serve({ port, hostname: "127.0.0.1", onListen: () => {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path.startsWith("/auth/v1")) return auth(req);
    if (path.startsWith("/functions/v1/admin-api")) return admin(req);
    return new Response("not found", { status: 404 });
  });
  return {
    url,
    // A browser client is built with the publishable key on signing keys, the anon JWT on legacy.
    clientKey: mode === "asymmetric" ? publishableKey : legacy.anonKey,
    authSql,
    async close() {
      await server.shutdown();
      await authSql.end();
      await apiSql.end();
    },
  };
}

for (const mode of ["asymmetric", "legacy"] as const) {
  Deno.test(`the admin app's sign-in and API calls work on a ${mode} project`, opts, async () => {
    const p = await projectIn(mode);
    try {
      const email = `jwt-${mode}-${crypto.randomUUID().slice(0, 8)}@example.test`;
      const password = `${randomSecret(12)}-Aa1!`;
      const id = await createAuthUser(p.authSql, { email, password });
      const supabase = createClient(p.url, p.clientKey, { auth: { persistSession: false, autoRefreshToken: false } });
      const { data, error } = await supabase.auth.signInWithPassword({ email, password });
      assert.equal(error, null);
      const header = JSON.parse(atob(data.session!.access_token.split(".")[0]));
      assert.equal(header.alg, mode === "asymmetric" ? "ES256" : "HS256");
      if (mode === "asymmetric") {
        const jwks = await (await fetch(`${p.url}/auth/v1/.well-known/jwks.json`)).json();
        assert.ok(jwks.keys.some((k: { kid: string }) => k.kid === header.kid), "the session's kid is in the JWKS");
      }
      const me = await supabase.functions.invoke("admin-api/me", { method: "GET" });
      assert.equal(me.error, null, String(me.error));
      assert.equal(me.data.user.id, id);
      await supabase.auth.signOut();
      const after = await supabase.functions.invoke("admin-api/me", { method: "GET" });
      assert.ok(after.error, "signed out, the API refuses");
    } finally {
      await p.close();
    }
  });
}

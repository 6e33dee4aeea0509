// admin-api never holds a database transaction open across a network call: the handler runs in
// process with its own pool (its own application_name) and a fetch that, at every call to
// Chatwoot or the embedding API, counts that pool's connections inside a transaction.

import assert from "node:assert/strict";
import { connect } from "../_shared/platform/db.ts";
import { createLogger } from "../_shared/platform/log.ts";
import { createStorage } from "../_shared/archive/storage.ts";
import { unlimited } from "../_shared/chatwoot/rate_limit.ts";
import { embeddingConfigFromEnv } from "../_shared/ai/embeddings.ts";
import { addFaq } from "../_shared/knowledge/ingest.ts";
import { testStack } from "../../../scripts/testing/env.ts";
import { sandboxCall, sandboxLinkedStore } from "../../../scripts/testing/chatwoot.ts";
import { signUserToken } from "../../../scripts/local/supabase/keys.ts";
import { createHandler } from "./handler.ts";

const stack = testStack();
const opts = { sanitizeOps: false, sanitizeResources: false };
const PLATFORM = "00000000-0000-4000-8000-000000000001";

Deno.test("no route holds a transaction open while it calls Chatwoot or the embedding API", opts, async () => {
  const applicationName = `admin-api-tx-${crypto.randomUUID().slice(0, 8)}`;
  const sql = connect(stack.dbUrl, { max: 2 });
  const apiSql = connect(stack.dbUrl, { max: 4, applicationName });
  const openTransactions = async () => {
    const [r] = await sql`select count(*)::int as n from pg_stat_activity
                          where application_name = ${applicationName} and xact_start is not null`;
    return r.n as number;
  };
  const calls: { url: string; openTransactions: number }[] = [];
  const watchingFetch: typeof fetch = async (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    calls.push({ url, openTransactions: await openTransactions() });
    return await fetch(input, init);
  };
  try {
    // The probe sees a transaction this pool holds (so the assertions below can fail).
    await apiSql.begin(async (tx) => {
      await tx`select 1`;
      assert.equal(await openTransactions(), 1, "the probe counts an open transaction of admin-api's pool");
    });

    const functionsUrl = `${stack.apiUrl}/functions/v1`;
    const { store, api, env, accountRef } = await sandboxLinkedStore(sql, functionsUrl);
    const inbox = await api("POST", "/inboxes", { name: "Tx watch", channel: { type: "api" } });
    await addFaq(sql, { storeId: store.id, question: "Do you ship to Porto?", answer: "Yes, in three days." });
    const embedding = embeddingConfigFromEnv({
      OPENAI_API_KEY: Deno.env.get("OPENAI_STANDIN_KEY"),
      OPENAI_BASE_URL: Deno.env.get("OPENAI_BASE_URL"),
    });
    assert.ok(embedding, "the stack's OpenAI stand-in is configured");
    const handler = createHandler({
      verifyCaller: stack.verifier(),
      sql: apiSql,
      log: createLogger({ fn: "admin-api-test" }),
      storage: createStorage({ apiEndpoint: Deno.env.get("GCS_ENDPOINT")! }),
      signedUrlTtlSeconds: 300,
      functionsUrl,
      limiter: unlimited,
      embedding,
      fetch: watchingFetch,
    });
    const token = await signUserToken(stack.signer, { id: PLATFORM, app_metadata: { platform_admin: true } });
    const call = async (method: string, path: string, body?: unknown) => {
      const from = calls.length;
      const res = await handler(
        new Request(`${functionsUrl}/admin-api${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        }),
      );
      const made = calls.slice(from);
      assert.equal(res.status, 200, `${method} ${path}: ${await res.clone().text()}`);
      assert.ok(made.length > 0, `${method} ${path} called out`);
      assert.deepEqual(
        made.filter((c) => c.openTransactions > 0).map((c) => c.url),
        [],
        `${method} ${path} held no transaction while calling out`,
      );
      return { body: await res.json(), made };
    };

    const search = await call("GET", `/stores/${store.slug}/kb/search?q=${encodeURIComponent("ship to Porto")}`);
    assert.ok(search.made.some((c) => /\/embeddings$/.test(c.url)), "kb/search embedded the query");
    assert.match(search.body.hits[0].content, /Porto/);

    const enabled = await call("POST", `/stores/${store.slug}/ai/enable`, { inbox_ids: [inbox.body.id] });
    assert.equal(enabled.body.enabled, true);

    const started = await sandboxCall(env, "POST", "/_control/traffic/incoming", {
      body: { inbox_id: inbox.body.id, content: "hello?" },
    });
    const conversationId = started.body.conversation.id;
    const back = await call("POST", `/conversations/${accountRef}/${conversationId}/return-to-bot`);
    assert.equal(back.body.status, "returned_to_bot");

    const disabled = await call("POST", `/stores/${store.slug}/ai/disable`);
    assert.equal(disabled.body.enabled, false);
  } finally {
    await apiSql.end();
    await sql.end();
  }
});

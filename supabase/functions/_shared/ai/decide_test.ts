// The chat model's temperature is a setting (OPENAI_CHAT_TEMPERATURE) checked when a function starts, and a
// reasoning model (o-series, gpt-5) is asked without one: against the stack's OpenAI stand-in, which refuses
// temperature 0 for those models with the API's 400.

import assert from "node:assert/strict";
import OpenAI from "openai";
import { connect } from "../platform/db.ts";
import { ConfigError } from "../platform/config.ts";
import { testStack } from "../../../../scripts/testing/env.ts";
import { botStore, modelRequests } from "../../../../scripts/testing/bot.ts";
import { chatConfigFromEnv, decide, isReasoningModel } from "./decide.ts";

const stack = testStack();
const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test("OPENAI_CHAT_TEMPERATURE: auto sends 0 except to reasoning models; a bad value names the variable", () => {
  const env = (extra: Record<string, string>) => chatConfigFromEnv({ OPENAI_API_KEY: "sk-test", ...extra });
  assert.equal(env({})!.temperature, 0, "gpt-4.1-mini by default, at 0");
  assert.equal(env({ OPENAI_CHAT_MODEL: "gpt-5-mini" })!.temperature, null, "a reasoning model gets none");
  assert.equal(env({ OPENAI_CHAT_MODEL: "o4-mini", OPENAI_CHAT_TEMPERATURE: "auto" })!.temperature, null);
  assert.equal(env({ OPENAI_CHAT_TEMPERATURE: "omit" })!.temperature, null);
  assert.equal(env({ OPENAI_CHAT_TEMPERATURE: "0.7" })!.temperature, 0.7);
  assert.equal(env({ OPENAI_CHAT_MODEL: "gpt-5", OPENAI_CHAT_TEMPERATURE: "1" })!.temperature, 1);
  for (const bad of ["warm", "3", "-1"]) {
    assert.throws(
      () => env({ OPENAI_CHAT_TEMPERATURE: bad }),
      (e: unknown) =>
        e instanceof ConfigError &&
        /OPENAI_CHAT_TEMPERATURE must be "auto", "omit" or a number from 0 to 2/.test(e.message),
      bad,
    );
  }
  assert.throws(
    () => env({ OPENAI_CHAT_MODEL: "gpt-5-mini", OPENAI_CHAT_TEMPERATURE: "0" }),
    /OPENAI_CHAT_TEMPERATURE is 0, but gpt-5-mini is a reasoning model that takes only its default temperature/,
  );
  assert.ok(isReasoningModel("o3") && isReasoningModel("gpt-5.1") && !isReasoningModel("gpt-5-chat-latest"));
  assert.ok(!isReasoningModel("gpt-4.1-mini") && !isReasoningModel("gpt-4o"));
});

Deno.test("a reasoning model answers with the temperature left out; sent 0, the API refuses it", opts, async () => {
  const sql = connect(stack.dbUrl);
  try {
    const s = await botStore(sql);
    const client = new OpenAI({
      apiKey: Deno.env.get("OPENAI_STANDIN_KEY")!,
      baseURL: Deno.env.get("OPENAI_BASE_URL")!,
      maxRetries: 0,
    });
    const settings = { storeName: "Test", minSimilarity: 0.35, minTextScore: 0.05, topK: 5 };
    const ask = async (message: string, temperature?: number | null) =>
      await decide({ sql, embedder: null, chat: { client, model: "gpt-5-mini", temperature } }, settings, {
        storeId: s.store.id,
        message,
        history: [],
      });

    const answered = await ask("How long does international shipping take? (reasoning, default)");
    assert.equal(answered.action, "reply", answered.reason);
    assert.match(answered.text, /7 to 12 business days/);
    const omitted = await ask("How long does international shipping take? (reasoning, omitted)", null);
    assert.equal(omitted.action, "reply", omitted.reason);

    const refused = await ask("How long does international shipping take? (reasoning, zero)", 0);
    assert.equal(refused.action, "handoff");
    assert.match(refused.reason, /model failed: 400 Unsupported value: 'temperature' does not support 0/);

    const calls = (await modelRequests()).filter((r) => JSON.stringify(r.summary ?? {}).includes("(reasoning,"));
    assert.deepEqual(calls.map((r) => [r.model, r.status]), [["gpt-5-mini", 200], ["gpt-5-mini", 200], [
      "gpt-5-mini",
      400,
    ]]);
  } finally {
    await sql.end();
  }
});

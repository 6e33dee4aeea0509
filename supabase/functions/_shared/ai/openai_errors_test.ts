// OpenAI failures as the product meets them, through the real openai SDK against the stand-in: an exhausted quota is
// asked once (the SDK would ask again), a rate limit keeps the SDK's retry and waits for the API's reset headers.

import assert from "node:assert/strict";
import OpenAI from "openai";
import { startTestStandin } from "../../../../scripts/local/openai/testing.ts";
import { RetryLater } from "../jobs/queue.ts";
import { chatClient } from "./decide.ts";
import {
  AiQuotaExhausted,
  AiRateLimited,
  classifyOpenAiError,
  parseResetDuration,
  rateLimitDelayMs,
} from "./openai_errors.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const ASK = { model: "switchboard-test-chat", messages: [{ role: "user" as const, content: "hello there" }] };

Deno.test(
  "insufficient_quota is sent once by the product's chat client (the SDK alone sends it twice)",
  opts,
  async () => {
    const standin = await startTestStandin();
    try {
      await standin.script({ endpoint: "any", times: 10, respond: { error: "insufficient_quota" } });
      const plain = await standin.openai({ maxRetries: 1 }).chat.completions.create(ASK).catch((e) => e);
      assert.ok(plain instanceof OpenAI.RateLimitError);
      assert.equal(standin.requests().length, 2, "the bare SDK retries the 429");

      const ours = chatClient({ apiKey: standin.apiKey, baseURL: standin.baseURL, timeoutMs: 5_000 });
      const err = await ours.chat.completions.create(ASK).catch((e) => e);
      assert.equal(standin.requests().length, 3, "ours asked once");
      const classified = classifyOpenAiError(err, "chat");
      assert.ok(classified instanceof AiQuotaExhausted, String(classified));
      assert.match(classified.message, /out of quota \(insufficient_quota, on chat\): You exceeded your current quota/);
    } finally {
      await standin.close();
    }
  },
);

Deno.test("a rate limit is still retried by the SDK, then waits for the reset the headers give", opts, async () => {
  const standin = await startTestStandin();
  try {
    await standin.script({ endpoint: "chat", times: 1, respond: { error: "rate_limit_exceeded", reset_ms: 20 } });
    const ours = chatClient({ apiKey: standin.apiKey, baseURL: standin.baseURL, timeoutMs: 5_000 });
    const res = await ours.chat.completions.create(ASK);
    assert.equal(res.choices.length, 1);
    assert.deepEqual(standin.requests().map((r) => r.status), [429, 200]);

    await standin.script({ endpoint: "chat", times: 2, respond: { error: "rate_limit_exceeded", reset_ms: 90_000 } });
    const err = await ours.chat.completions.create(ASK).catch((e) => e);
    const classified = classifyOpenAiError(err, "chat");
    assert.ok(classified instanceof AiRateLimited && classified instanceof RetryLater, String(classified));
    assert.equal(classified.retryInMs, 90_000);
  } finally {
    await standin.close();
  }
});

Deno.test("reset durations and wait headers read as the API writes them", () => {
  assert.equal(parseResetDuration("20ms"), 20);
  assert.equal(parseResetDuration("1s"), 1000);
  assert.equal(parseResetDuration("6m0s"), 360_000);
  assert.equal(parseResetDuration("1h2m3.5s"), 3_723_500);
  assert.equal(parseResetDuration("soon"), undefined);
  const h = (o: Record<string, string>) => new Headers(o);
  assert.equal(rateLimitDelayMs(h({ "retry-after-ms": "250", "retry-after": "9" })), 250);
  assert.equal(rateLimitDelayMs(h({ "retry-after": "9" })), 9000);
  assert.equal(
    rateLimitDelayMs(h({
      "x-ratelimit-remaining-requests": "5",
      "x-ratelimit-reset-requests": "1s",
      "x-ratelimit-remaining-tokens": "0",
      "x-ratelimit-reset-tokens": "6m0s",
    })),
    360_000,
    "the spent budget's reset",
  );
  assert.equal(rateLimitDelayMs(h({})), undefined);
});

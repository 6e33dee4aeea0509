// Embeddings through the real openai SDK against the local OpenAI stand-in: configuration from the
// environment, batching, zero-padding to the 1536 column, and provider failures the job runner can act on.

import assert from "node:assert/strict";
import { startOpenAiStandin } from "../../../../scripts/local/openai/server.ts";
import { startTestStandin } from "../../../../scripts/local/openai/testing.ts";
import { AiQuotaExhausted } from "./openai_errors.ts";
import { PermanentFailure, RetryLater } from "../jobs/queue.ts";
import {
  batchInputs,
  createEmbedder,
  EMBEDDING_COLUMN_DIMENSIONS,
  embeddingConfigFromEnv,
  EmbeddingRateLimited,
  EmbeddingRejected,
  padToColumn,
} from "./embeddings.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test("no OPENAI_API_KEY means offline (null); defaults are text-embedding-3-small at 1536", () => {
  assert.equal(embeddingConfigFromEnv({}), null);
  assert.equal(embeddingConfigFromEnv({ OPENAI_API_KEY: "  " }), null);
  assert.deepEqual(embeddingConfigFromEnv({ OPENAI_API_KEY: "sk-x" }), {
    apiKey: "sk-x",
    baseURL: null,
    model: "text-embedding-3-small",
    dimensions: 1536,
    timeoutMs: 30_000,
  });
  assert.throws(
    () => embeddingConfigFromEnv({ OPENAI_API_KEY: "sk-x", OPENAI_EMBEDDING_DIMENSIONS: "3072" }),
    /OPENAI_EMBEDDING_DIMENSIONS/,
  );
});

Deno.test("inputs are batched by count and by size, keeping their order", () => {
  const texts = Array.from({ length: 200 }, (_, i) => `t${i}`);
  assert.deepEqual(batchInputs(texts).map((b) => [b.start, b.texts.length]), [[0, 96], [96, 96], [192, 8]]);
  const big = ["a".repeat(150_000), "b".repeat(150_000), "c"];
  assert.deepEqual(batchInputs(big).map((b) => b.start), [0, 1]);
  assert.equal(padToColumn([1, 2]).length, EMBEDDING_COLUMN_DIMENSIONS);
  assert.throws(() => padToColumn(new Array(2000).fill(0)), EmbeddingRejected);
});

Deno.test("the stand-in's 256-dimension vectors come back padded, in order, in batches", opts, async () => {
  const standin = await startOpenAiStandin({ port: 0 });
  try {
    const embedder = createEmbedder({
      apiKey: standin.apiKey,
      baseURL: standin.baseURL,
      model: "switchboard-test-embedding",
      dimensions: 256,
      timeoutMs: 10_000,
    });
    const texts = Array.from({ length: 100 }, (_, i) => (i === 7 ? "refund policy for shoes" : `filler text ${i}`));
    const { vectors, tokens } = await embedder.embed(texts);
    assert.equal(vectors.length, 100);
    assert.ok(tokens > 0);
    assert.ok(vectors.every((v) => v.length === 1536 && v.slice(256).every((x) => x === 0)));
    const [q] = (await embedder.embed(["shoes refund"])).vectors;
    const cos = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i], 0);
    const best = vectors.map((v, i) => [cos(q, v), i]).sort((a, b) => b[0] - a[0])[0][1];
    assert.equal(best, 7, "the text sharing words with the query is nearest");
    assert.equal(standin.requests().filter((r) => r.endpoint === "embeddings").length, 3, "96 + 4, then the query");
  } finally {
    await standin.close();
  }
});

Deno.test("a 429 becomes RetryLater with Retry-After; a 401 is permanent", opts, async () => {
  const standin = await startOpenAiStandin({ port: 0 });
  try {
    const script = (body: unknown) =>
      fetch(`${standin.url}/_control/faults`, {
        method: "POST",
        headers: { authorization: `Bearer ${standin.apiKey}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      }).then((r) => r.arrayBuffer());
    await script({
      endpoint: "embeddings",
      respond: {
        status: 429,
        headers: { "retry-after": "7" },
        body: { error: { message: "Rate limit reached", type: "requests", code: "rate_limit_exceeded" } },
      },
    });
    const config = {
      apiKey: standin.apiKey,
      baseURL: standin.baseURL,
      model: "switchboard-test-embedding",
      dimensions: 256,
      timeoutMs: 10_000,
    };
    const err = await createEmbedder(config).embed(["hello"]).catch((e) => e);
    assert.ok(err instanceof EmbeddingRateLimited && err instanceof RetryLater, String(err));
    assert.equal(err.retryInMs, 7000);
    const denied = await createEmbedder({ ...config, apiKey: "sk-wrong" }).embed(["hello"]).catch((e) => e);
    assert.ok(denied instanceof PermanentFailure, String(denied));
  } finally {
    await standin.close();
  }
});

Deno.test(
  "an exhausted quota is AiQuotaExhausted (never retried); a rate limit waits for x-ratelimit-reset-requests",
  opts,
  async () => {
    const standin = await startTestStandin();
    try {
      const config = {
        apiKey: standin.apiKey,
        baseURL: standin.baseURL,
        model: "switchboard-test-embedding",
        dimensions: 256,
        timeoutMs: 10_000,
      };
      await standin.script({ endpoint: "embeddings", respond: { error: "insufficient_quota" } });
      const quota = await createEmbedder(config).embed(["hello"]).catch((e) => e);
      assert.ok(quota instanceof AiQuotaExhausted, String(quota));
      assert.ok(!(quota instanceof RetryLater) && !(quota instanceof PermanentFailure));
      assert.equal(quota.endpoint, "embeddings");
      assert.match(quota.apiMessage, /You exceeded your current quota/);

      await standin.script({ endpoint: "embeddings", respond: { error: "rate_limit_exceeded", reset_ms: 6 * 60_000 } });
      const limited = await createEmbedder(config).embed(["hello"]).catch((e) => e);
      assert.ok(limited instanceof EmbeddingRateLimited, String(limited));
      assert.equal(limited.retryInMs, 360_000, "the reset of the spent request budget, 6m0s");
      assert.equal(standin.requests().length, 2, "one request each: the job runner owns retries");
    } finally {
      await standin.close();
    }
  },
);

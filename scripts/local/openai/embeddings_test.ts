// Embeddings through the real openai SDK: its default base64 wire format, dimensions, caps, and vectors that make
// retrieval meaningful.

import assert from "node:assert/strict";
import OpenAI from "openai";
import { embedText } from "./embeddings.ts";
import { rejection, withStandin } from "./testing.ts";

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
}

Deno.test("the SDK's default base64 embeddings decode to exactly the float vectors", async () => {
  await withStandin(async (standin) => {
    const openai = standin.openai();
    const input = ["Shipping takes 3-5 business days", "Envíos en 24 horas"];
    const viaBase64 = await openai.embeddings.create({ model: "text-embedding-3-small", input });
    const viaFloat = await openai.embeddings.create({
      model: "text-embedding-3-small",
      input,
      encoding_format: "float",
    });
    assert.equal(viaBase64.data.length, 2);
    assert.equal(viaBase64.data[0].embedding.length, 1536);
    assert.deepEqual(viaBase64.data.map((d) => d.embedding), viaFloat.data.map((d) => d.embedding));
    assert.deepEqual(viaBase64.data.map((d) => d.index), [0, 1]);
    assert.equal(viaBase64.model, "text-embedding-3-small");
    assert.ok(viaBase64.usage.prompt_tokens > 0 && viaBase64.usage.total_tokens === viaBase64.usage.prompt_tokens);
    const sent = standin.requests().filter((r) => r.endpoint === "embeddings");
    assert.deepEqual(sent.map((r) => r.summary.encoding_format), ["base64", "float"], "the SDK asks for base64 itself");
  });
});

Deno.test("dimensions are honoured per model, and vectors are unit length", async () => {
  await withStandin(async (standin) => {
    const openai = standin.openai();
    const cases: [string, number | undefined, number][] = [
      ["text-embedding-3-small", 512, 512],
      ["text-embedding-3-large", undefined, 3072],
      ["text-embedding-3-large", 1024, 1024],
      ["switchboard-test-embedding", undefined, 256],
    ];
    for (const [model, dimensions, expected] of cases) {
      const res = await openai.embeddings.create({ model, input: "opening hours", dimensions });
      const v = res.data[0].embedding;
      assert.equal(v.length, expected, `${model} ${dimensions}`);
      assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-5);
    }
    const tooMany = await rejection(
      openai.embeddings.create({ model: "text-embedding-3-small", input: "x", dimensions: 1537 }),
    );
    assert.ok(tooMany instanceof OpenAI.BadRequestError);
    assert.equal(tooMany.param, "dimensions");
  });
});

Deno.test("a question is closer to the chunk that answers it than to an unrelated one", async () => {
  await withStandin(async (standin) => {
    const res = await standin.openai().embeddings.create({
      model: "text-embedding-3-small",
      input: ["How long does shipping take?", "Shipping takes 3-5 business days", "Our store opens at 9am"],
    });
    const [question, answer, unrelated] = res.data.map((d) => d.embedding);
    const related = cosine(question, answer);
    const other = cosine(question, unrelated);
    assert.ok(related > 0.4, `related cosine ${related}`);
    assert.ok(related > other + 0.3, `related ${related} vs unrelated ${other}`);
  });
});

Deno.test("the same text always gets the same vector; accents and case do not matter; typos stay close", () => {
  assert.deepEqual(embedText("Envíos gratis", 256), embedText("Envíos gratis", 256));
  assert.deepEqual(embedText("ENVIOS GRATIS", 256), embedText("envíos gratis", 256));
  assert.ok(cosine(embedText("shipping policy", 1536), embedText("shiping policies", 1536)) > 0.6);
  assert.ok(cosine(embedText("shipping policy", 1536), embedText("refund window", 1536)) < 0.2);
  // Text made only of stopwords still has a direction.
  assert.ok(Math.abs(Math.hypot(...embedText("what is this", 64)) - 1) < 1e-5);
});

Deno.test("OpenAI's input caps are enforced with a 400 that says why", async () => {
  await withStandin(async (standin) => {
    const openai = standin.openai();
    const many = await rejection(
      openai.embeddings.create({ model: "text-embedding-3-small", input: Array(2049).fill("hello") }),
    );
    assert.ok(many instanceof OpenAI.BadRequestError);
    assert.match(many.message, /at most 2048 inputs/);
    const long = await rejection(
      openai.embeddings.create({ model: "text-embedding-3-small", input: "word ".repeat(7000) }),
    );
    assert.ok(long instanceof OpenAI.BadRequestError);
    assert.match(long.message, /maximum context length is 8192 tokens/);
    const unknown = await rejection(openai.embeddings.create({ model: "text-embedding-ada-009", input: "x" }));
    assert.ok(unknown instanceof OpenAI.NotFoundError);
    assert.equal(unknown.code, "model_not_found");
  });
});

// Auth and fault injection through the real openai SDK: a wrong key is an AuthenticationError, a scripted 429 is
// retried after retry-after-ms, a 500 surfaces as APIError, a hang becomes a timeout, and scripts are consumed in order.

import assert from "node:assert/strict";
import OpenAI from "openai";
import { rejection, withStandin } from "./testing.ts";

const ASK = { model: "switchboard-test-chat", messages: [{ role: "user" as const, content: "hello there" }] };

Deno.test("a wrong or missing key is a 401 the SDK raises as AuthenticationError, without echoing the key", async () => {
  await withStandin(async (standin) => {
    const wrong = await rejection(standin.openai({ apiKey: "sk-wrong-key-123456" }).models.list());
    assert.ok(wrong instanceof OpenAI.AuthenticationError);
    assert.equal(wrong.status, 401);
    assert.equal(wrong.code, "invalid_api_key");
    assert.equal(wrong.type, "invalid_request_error");
    assert.ok(!wrong.message.includes("sk-wrong-key-123456"));

    const missing = await fetch(`${standin.baseURL}/embeddings`, { method: "POST", body: "{}" });
    assert.equal(missing.status, 401);
    assert.match((await missing.json()).error.message, /didn't provide an API key/);

    const control = await fetch(`${standin.url}/_control/requests`);
    assert.equal(control.status, 401, "the control API needs the key too");
    await control.body?.cancel();
  });
});

Deno.test("a scripted 429 with retry-after-ms is retried by the SDK and then succeeds", async () => {
  await withStandin(async (standin) => {
    await standin.script({
      endpoint: "chat",
      respond: { status: 429, headers: { "retry-after-ms": "20", "retry-after": "0" } },
    });
    const res = await standin.openai({ maxRetries: 2 }).chat.completions.create(ASK);
    assert.equal(res.choices[0].message.content, "conversation_handoff");
    const chat = standin.requests().filter((r) => r.endpoint === "chat");
    assert.deepEqual(chat.map((r) => r.status), [429, 200]);
    assert.ok(chat[0].scriptId !== null && chat[1].scriptId === null);
  });
});

Deno.test("a scripted 500 with maxRetries 0 surfaces as an APIError with status 500", async () => {
  await withStandin(async (standin) => {
    await standin.script({ endpoint: "embeddings", respond: { status: 500 } });
    const e = await rejection(standin.openai().embeddings.create({ model: "text-embedding-3-small", input: "x" }));
    assert.ok(e instanceof OpenAI.APIError);
    assert.equal(e.status, 500);
    assert.equal(e.type, "server_error");
  });
});

Deno.test("a hang becomes an APIConnectionTimeoutError and the stand-in notices the client left", async () => {
  await withStandin(async (standin) => {
    await standin.script({ endpoint: "chat", respond: { hang: true } });
    const e = await rejection(standin.openai({ timeout: 200 }).chat.completions.create(ASK));
    assert.ok(e instanceof OpenAI.APIConnectionTimeoutError, String(e));
    for (let i = 0; i < 50 && !standin.requests()[0]?.aborted; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(
      standin.requests().map((r) => [r.endpoint, r.status, r.aborted]),
      [["chat", null, true]],
    );
  });
});

Deno.test("a hang still pending when the stand-in closes does not keep it open", async () => {
  const { startTestStandin } = await import("./testing.ts");
  const standin = await startTestStandin();
  await standin.script({ endpoint: "chat", respond: { hang: true } });
  const pending = rejection(standin.openai({ timeout: 5_000 }).chat.completions.create(ASK));
  await new Promise((r) => setTimeout(r, 100));
  await standin.close();
  assert.ok((await pending) instanceof OpenAI.APIError);
});

Deno.test("scripts answer only matching requests, in push order, as many times as asked", async () => {
  await withStandin(async (standin) => {
    const openai = standin.openai();
    await standin.script(
      { endpoint: "chat", match: "refund", times: 2, respond: { content: "{not json" } },
      { endpoint: "chat", respond: { body: { custom: true }, headers: { "x-scripted": "yes" } } },
    );
    const first = await openai.chat.completions.create({ ...ASK, messages: [{ role: "user", content: "refund?" }] });
    assert.equal(first.choices[0].message.content, "{not json", "malformed JSON content is delivered verbatim");
    const unmatched = await openai.chat.completions.create(ASK).withResponse();
    assert.deepEqual(unmatched.data, { custom: true });
    assert.equal(unmatched.response.headers.get("x-scripted"), "yes");
    const second = await openai.chat.completions.create({ ...ASK, messages: [{ role: "user", content: "refund!" }] });
    assert.equal(second.choices[0].message.content, "{not json");
    const normal = await openai.chat.completions.create({ ...ASK, messages: [{ role: "user", content: "refund?" }] });
    assert.equal(normal.choices[0].message.content, "conversation_handoff", "scripts used up, normal answers resume");
  });
});

Deno.test("a scripted delay slows the answer; an invalid script is refused with 400", async () => {
  await withStandin(async (standin) => {
    await standin.script({ endpoint: "embeddings", respond: { delay_ms: 150 } });
    const started = Date.now();
    await standin.openai().embeddings.create({ model: "text-embedding-3-small", input: "x" });
    assert.ok(Date.now() - started >= 140);

    const bad = await fetch(`${standin.url}/_control/faults`, {
      method: "POST",
      headers: { authorization: `Bearer ${standin.apiKey}` },
      body: JSON.stringify({ endpoint: "embeddings", respond: { content: "x" } }),
    });
    assert.equal(bad.status, 400);
    assert.match((await bad.json()).error.message, /only applies to endpoint 'chat'/);
  });
});

Deno.test("the control API lists recorded requests, clears them, and resets scripts", async () => {
  await withStandin(async (standin) => {
    const auth = { authorization: `Bearer ${standin.apiKey}` };
    await standin.openai().embeddings.create({ model: "switchboard-test-embedding", input: ["a b", "c"] });
    const listed = await (await fetch(`${standin.url}/_control/requests`, { headers: auth })).json();
    assert.equal(listed.requests.length, 1);
    assert.equal(listed.requests[0].model, "switchboard-test-embedding");
    assert.equal(listed.requests[0].summary.inputs, 2);
    assert.equal(listed.requests[0].status, 200);

    assert.equal((await fetch(`${standin.url}/_control/requests`, { method: "DELETE", headers: auth })).status, 204);
    assert.equal(standin.requests().length, 0);

    await standin.script({ endpoint: "chat", respond: { status: 500 } });
    const reset = await fetch(`${standin.url}/_control/reset`, { method: "POST", headers: auth });
    assert.equal(reset.status, 200);
    await reset.body?.cancel();
    const res = await standin.openai().chat.completions.create(ASK);
    assert.equal(res.choices[0].message.content, "conversation_handoff");

    const models = await standin.openai().models.list();
    assert.ok(models.data.some((m) => m.id === "text-embedding-3-small"));
  });
});

Deno.test("insufficient_quota: the API's 429 body, which the SDK retries like any 429 (it never clears)", async () => {
  await withStandin(async (standin) => {
    await standin.script({
      endpoint: "any",
      match: "out of credit",
      times: 10,
      respond: { error: "insufficient_quota" },
    });
    const e = await rejection(
      standin.openai({ maxRetries: 2 }).chat.completions.create({
        ...ASK,
        messages: [{ role: "user", content: "out of credit" }],
      }),
    );
    assert.ok(e instanceof OpenAI.RateLimitError);
    assert.equal(e.status, 429);
    assert.equal(e.code, "insufficient_quota");
    assert.equal(e.type, "insufficient_quota");
    assert.match(e.message, /You exceeded your current quota, please check your plan and billing details/);
    assert.equal(standin.requests().length, 3, "the SDK sent it three times: retrying does not help");
    // "any": the embeddings and transcription endpoints of the same account fail alike.
    const embed = await rejection(
      standin.openai().embeddings.create({ model: "text-embedding-3-small", input: "out of credit" }),
    );
    assert.ok(embed instanceof OpenAI.RateLimitError && embed.code === "insufficient_quota");
  });
});

Deno.test("rate_limit_exceeded: 429 with x-ratelimit-* headers saying when it resets", async () => {
  await withStandin(async (standin) => {
    await standin.script({
      endpoint: "embeddings",
      respond: { error: "rate_limit_exceeded", reset_ms: 6 * 60_000 },
    });
    const e = await rejection(standin.openai().embeddings.create({ model: "text-embedding-3-small", input: "x" }));
    assert.ok(e instanceof OpenAI.RateLimitError);
    assert.equal(e.code, "rate_limit_exceeded");
    assert.equal(e.type, "requests");
    assert.match(e.message, /Rate limit reached for text-embedding-3-small .* Please try again in 6m0s\./);
    assert.equal(e.headers?.get("x-ratelimit-remaining-requests"), "0");
    assert.equal(e.headers?.get("x-ratelimit-reset-requests"), "6m0s");
    assert.equal(e.headers?.get("retry-after"), null);
  });
});

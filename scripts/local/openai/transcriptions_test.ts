// Transcriptions through the real openai SDK: the text after TRANSCRIPT: in the upload, json or text formats,
// and OpenAI's 413 for uploads over 25 MiB.

import assert from "node:assert/strict";
import OpenAI, { toFile } from "openai";
import { rejection, withStandin } from "./testing.ts";

function fakeOgg(text: string): Uint8Array<ArrayBuffer> {
  const header = new Uint8Array([0x4f, 0x67, 0x67, 0x53, 0, 2, 0, 0]);
  const body = new TextEncoder().encode(`TRANSCRIPT:${text}`);
  return new Uint8Array([...header, ...body, 0, 0xff, 0xfe]);
}

Deno.test("the transcript is the text after the marker in the uploaded audio", async () => {
  await withStandin(async (standin) => {
    const openai = standin.openai();
    const res = await openai.audio.transcriptions.create({
      file: await toFile(fakeOgg("¿Dónde está mi pedido?"), "note.ogg"),
      model: "whisper-1",
      language: "es",
    });
    assert.equal(res.text, "¿Dónde está mi pedido?");
    const recorded = standin.requests()[0];
    assert.equal(recorded.model, "whisper-1");
    assert.equal(recorded.summary.filename, "note.ogg");
  });
});

Deno.test("response_format text returns the bare text; audio without a marker has no speech", async () => {
  await withStandin(async (standin) => {
    const openai = standin.openai();
    const text = await openai.audio.transcriptions.create({
      file: await toFile(fakeOgg("hello"), "note.ogg"),
      model: "gpt-4o-mini-transcribe",
      response_format: "text",
    });
    assert.equal(text, "hello");
    const silent = await openai.audio.transcriptions.create({
      file: await toFile(new Uint8Array([1, 2, 3]), "silence.ogg"),
      model: "switchboard-test-transcribe",
    });
    assert.equal(silent.text, "(no speech detected)");
  });
});

Deno.test("an upload over 25 MiB gets OpenAI's 413 and a missing model a 400", async () => {
  await withStandin(async (standin) => {
    const openai = standin.openai();
    const big = await rejection(openai.audio.transcriptions.create({
      file: await toFile(new Uint8Array(26_214_401), "long.ogg"),
      model: "whisper-1",
    }));
    assert.ok(big instanceof OpenAI.APIError);
    assert.equal(big.status, 413);
    assert.match(big.message, /Maximum content size limit \(26214400\) exceeded/);

    const form = new FormData();
    form.set("file", new File([fakeOgg("x")], "note.ogg"));
    const noModel = await fetch(`${standin.baseURL}/audio/transcriptions`, {
      method: "POST",
      headers: { authorization: `Bearer ${standin.apiKey}` },
      body: form,
    });
    assert.equal(noModel.status, 400);
    assert.deepEqual((await noModel.json()).error.param, "model");
  });
});

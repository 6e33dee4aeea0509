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

Deno.test("a file named .amr or .aac gets the API's 400 Invalid file format, listing what it takes", async () => {
  await withStandin(async (standin) => {
    const openai = standin.openai();
    for (const name of ["voice.amr", "voice.aac", "voice"]) {
      const e = await rejection(openai.audio.transcriptions.create({
        file: await toFile(fakeOgg("hello"), name),
        model: "whisper-1",
      }));
      assert.ok(e instanceof OpenAI.BadRequestError, `${name}: ${e}`);
      assert.deepEqual(e.error, {
        message: "Invalid file format. Supported formats: ['flac', 'm4a', 'mp3', 'mp4', 'mpeg', 'mpga', 'oga', " +
          "'ogg', 'wav', 'webm']",
        type: "invalid_request_error",
        param: null,
        code: null,
      });
    }
    for (const ext of ["flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm", "OGG"]) {
      const ok = await openai.audio.transcriptions.create({
        file: await toFile(fakeOgg(`said in ${ext}`), `note.${ext}`),
        model: "gpt-4o-mini-transcribe",
      });
      assert.equal(ok.text, `said in ${ext}`);
    }
  });
});

Deno.test("AMR or raw AAC bytes are refused even under a supported name, as the API checks the content", async () => {
  await withStandin(async (standin) => {
    const openai = standin.openai();
    const amr = new Uint8Array([...new TextEncoder().encode("#!AMR\n"), ...fakeOgg("hi")]);
    const adts = new Uint8Array([0xff, 0xf1, 0x50, 0x80, 0x02, 0x1f, 0xfc, ...fakeOgg("hi")]);
    const whisper = await rejection(openai.audio.transcriptions.create({
      file: await toFile(amr, "voice.ogg"),
      model: "whisper-1",
    }));
    assert.ok(whisper instanceof OpenAI.BadRequestError);
    assert.match(whisper.message, /Invalid file format/);
    const gpt4o = await rejection(openai.audio.transcriptions.create({
      file: await toFile(adts, "voice.m4a"),
      model: "gpt-4o-mini-transcribe",
    }));
    assert.ok(gpt4o instanceof OpenAI.BadRequestError);
    assert.equal(gpt4o.code, "unsupported_format");
    assert.equal(gpt4o.param, "messages");
    // An MP3 frame header (layer bits 01) is not mistaken for AAC.
    const mp3 = new Uint8Array([0xff, 0xfb, 0x90, 0x64, ...fakeOgg("an mp3")]);
    assert.equal(
      (await openai.audio.transcriptions.create({ file: await toFile(mp3, "v.mp3"), model: "whisper-1" })).text,
      "an mp3",
    );
  });
});

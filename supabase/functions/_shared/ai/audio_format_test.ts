// The name a voice note is transcribed under comes from what its bytes are, then its content type, then its
// extension; AMR and raw AAC (WhatsApp sends both) are not sent, with a reason a person can act on.

import assert from "node:assert/strict";
import { sniffAudio, transcriptionFileFor } from "./audio_format.ts";

const bytes = (...parts: (string | number[])[]) =>
  new Uint8Array(parts.flatMap((p) => typeof p === "string" ? [...new TextEncoder().encode(p)] : p));

Deno.test("the bytes say what the audio is", () => {
  assert.equal(sniffAudio(bytes("OggS", [0, 2])), "ogg");
  assert.equal(sniffAudio(bytes("#!AMR\n", [0x3c])), "amr");
  assert.equal(sniffAudio(bytes([0xff, 0xf1, 0x50, 0x80])), "aac");
  assert.equal(sniffAudio(bytes([0xff, 0xfb, 0x90, 0x64])), "mp3");
  assert.equal(sniffAudio(bytes("ID3", [4, 0])), "mp3");
  assert.equal(sniffAudio(bytes([0, 0, 0, 0x20], "ftypM4A ")), "m4a");
  assert.equal(sniffAudio(bytes([0, 0, 0, 0x20], "ftyp3gp4")), "3gp");
  assert.equal(sniffAudio(bytes("RIFF", [0, 0, 0, 0], "WAVEfmt ")), "wav");
  assert.equal(sniffAudio(bytes("fLaC", [0])), "flac");
  assert.equal(sniffAudio(bytes([0x1a, 0x45, 0xdf, 0xa3])), "webm");
  assert.equal(sniffAudio(bytes("hello")), null);
});

Deno.test("a transcribable note is named after its format; the bytes win over a wrong content type", () => {
  const ogg = bytes("OggS", [0, 2], "TRANSCRIPT:hi");
  assert.deepEqual(transcriptionFileFor(ogg, { contentType: "audio/ogg; codecs=opus", base: "voice-7" }), {
    ok: true,
    filename: "voice-7.ogg",
    format: "ogg",
  });
  const mp4 = bytes([0, 0, 0, 0x20], "ftypisom");
  assert.equal(transcriptionFileFor(mp4, { contentType: "audio/ogg", base: "v" }).ok && "v.m4a", "v.m4a");
  // Unknown bytes: the content type, then the extension, decide.
  const unknown = bytes("no magic here");
  assert.deepEqual(transcriptionFileFor(unknown, { contentType: "audio/mpeg", base: "v" }), {
    ok: true,
    filename: "v.mp3",
    format: "mp3",
  });
  assert.deepEqual(transcriptionFileFor(unknown, { contentType: null, extension: "wav", base: "v" }), {
    ok: true,
    filename: "v.wav",
    format: "wav",
  });
});

Deno.test("AMR, raw AAC and unknown audio are not sent, with the reason", () => {
  const amr = transcriptionFileFor(bytes("#!AMR\n"), { contentType: "audio/ogg", base: "v" });
  assert.equal(amr.ok, false);
  assert.match(!amr.ok ? amr.reason : "", /voice note is AMR audio, which the transcription API does not take/);
  const aac = transcriptionFileFor(bytes([0xff, 0xf1, 0x50, 0x80]), { contentType: "audio/aac", base: "v" });
  assert.match(!aac.ok ? aac.reason : "", /raw AAC \(ADTS\)/);
  const byType = transcriptionFileFor(bytes("?"), { contentType: "audio/amr", extension: "amr", base: "v" });
  assert.equal(byType.ok ? "" : byType.format, "amr");
  const mystery = transcriptionFileFor(bytes("????"), { contentType: "application/octet-stream", base: "v" });
  assert.match(!mystery.ok ? mystery.reason : "", /unknown format \(application\/octet-stream\)/);
});

// POST /v1/audio/transcriptions: a deterministic "speech recogniser" — the transcript is whatever text follows the
// ASCII marker `TRANSCRIPT:` in the uploaded bytes, so tests can craft audio files that say exactly what they need.

import { invalidRequest, modelNotFound } from "./errors.ts";

export const TRANSCRIPTION_MODELS = ["whisper-1", "gpt-4o-mini-transcribe", "switchboard-test-transcribe"];
export const NO_SPEECH = "(no speech detected)";
const MARKER = new TextEncoder().encode("TRANSCRIPT:");

/** The text after the first `TRANSCRIPT:` up to a NUL byte or the end, trimmed; or NO_SPEECH. */
export function transcriptOf(bytes: Uint8Array): string {
  const at = indexOf(bytes, MARKER);
  if (at < 0) return NO_SPEECH;
  const start = at + MARKER.length;
  let end = bytes.indexOf(0, start);
  if (end < 0) end = bytes.length;
  return new TextDecoder().decode(bytes.subarray(start, end)).trim();
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (
    let i = haystack.indexOf(needle[0]);
    i >= 0 && i + needle.length <= haystack.length;
    i = haystack.indexOf(needle[0], i + 1)
  ) {
    for (let j = 1; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

export interface TranscriptionResult {
  model: string;
  format: "json" | "text";
  text: string;
  filename: string;
  bytes: number;
}

export async function createTranscription(form: FormData): Promise<TranscriptionResult> {
  const file = form.get("file");
  if (!(file instanceof File)) {
    throw invalidRequest("You must provide a 'file' (an audio file uploaded as multipart form data).", "file");
  }
  const model = form.get("model");
  if (typeof model !== "string" || !model) throw invalidRequest("you must provide a model parameter", "model");
  if (!TRANSCRIPTION_MODELS.includes(model)) throw modelNotFound(model);
  const format = form.get("response_format") ?? "json";
  if (format !== "json" && format !== "text") {
    throw invalidRequest(
      `response_format '${String(format)}' is not supported by the stand-in; use 'json' or 'text'.`,
      "response_format",
    );
  }
  const language = form.get("language");
  if (language !== null && (typeof language !== "string" || !/^[a-z]{2,3}$/.test(language))) {
    throw invalidRequest(`Invalid language '${String(language)}': use an ISO-639-1 code such as 'en'.`, "language");
  }
  const bytes = new Uint8Array(await file.arrayBuffer());
  if (!bytes.length) throw invalidRequest("The audio file is empty.", "file");
  return { model, format, text: transcriptOf(bytes), filename: file.name, bytes: bytes.length };
}

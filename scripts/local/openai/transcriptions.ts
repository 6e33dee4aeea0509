// POST /v1/audio/transcriptions: a deterministic "speech recogniser" — the transcript is whatever text follows the
// ASCII marker `TRANSCRIPT:` in the uploaded bytes, so tests can craft audio files that say exactly what they need.

import { invalidRequest, modelNotFound, OpenAiError } from "./errors.ts";

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

/**
 * The upload formats the API takes, named by the file's extension (https://platform.openai.com/docs/api-reference/audio/createTranscription:
 * "flac, mp3, mp4, mpeg, mpga, m4a, ogg, wav, or webm"; the error lists `oga` too). Anything else, or a name without
 * an extension, is refused with the body below whatever the bytes are.
 */
export const SUPPORTED_AUDIO_EXTENSIONS = ["flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm"];

/** 400 for a file name whose extension is not in the list, as reported verbatim in B4PT0R/streamlit-mic-recorder#10,
 * EpicenterHQ/epicenter#357 and letta-ai/lettabot#76 (Signal's .aac voice notes). */
export function invalidFileFormat(): OpenAiError {
  return invalidRequest(
    `Invalid file format. Supported formats: [${SUPPORTED_AUDIO_EXTENSIONS.map((e) => `'${e}'`).join(", ")}]`,
  );
}

/**
 * Bytes that are recognisably a format the API does not decode, whatever the name says: AMR (`#!AMR` magic, WhatsApp's
 * older voice format) and raw AAC in ADTS frames (sync 0xFFF, layer bits 00). The API checks the content as well as
 * the name: "OpenAI Whisper rejects raw AAC files even when renamed to .m4a - it checks actual file format, not just
 * extension" (letta-ai/lettabot#128). Other bytes are taken on trust (the stand-in's test audio is not real audio).
 */
export function undecodableAudio(bytes: Uint8Array): "amr" | "aac" | null {
  const head = new TextDecoder().decode(bytes.subarray(0, 9));
  if (head.startsWith("#!AMR")) return "amr";
  if (bytes.length >= 2 && bytes[0] === 0xff && (bytes[1] & 0xf6) === 0xf0) return "aac";
  return null;
}

/** What a model says about content it cannot decode under a supported name: whisper-1 the same "Invalid file
 * format" 400, the gpt-4o transcribe models their own (openai/openai-python#2477: param "messages", code
 * "unsupported_format"). */
function unsupportedContent(model: string): OpenAiError {
  if (!model.startsWith("gpt-4o")) return invalidFileFormat();
  return invalidRequest("This model does not support the format you provided.", "messages", "unsupported_format");
}

export function extensionOf(filename: string): string | null {
  const dot = filename.lastIndexOf(".");
  return dot > 0 && dot < filename.length - 1 ? filename.slice(dot + 1).toLowerCase() : null;
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
  const extension = extensionOf(file.name);
  if (!extension || !SUPPORTED_AUDIO_EXTENSIONS.includes(extension)) throw invalidFileFormat();
  const bytes = new Uint8Array(await file.arrayBuffer());
  if (!bytes.length) throw invalidRequest("The audio file is empty.", "file");
  if (undecodableAudio(bytes)) throw unsupportedContent(model);
  return { model, format, text: transcriptOf(bytes), filename: file.name, bytes: bytes.length };
}

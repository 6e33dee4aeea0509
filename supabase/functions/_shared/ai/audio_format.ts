// Which file name a voice note is sent to the transcription API under, or why it is not sent. The API reads the
// format from the name's extension and checks the bytes too; WhatsApp delivers audio as OGG/Opus voice notes, but
// also AAC, AMR, MP3 and MP4 (the Cloud API's audio types). No ffmpeg on the edge runtime: AMR and raw AAC are skipped.

/** The extensions the API takes (https://platform.openai.com/docs/api-reference/audio/createTranscription and the
 * list in its 400 "Invalid file format. Supported formats: [...]"). */
export const TRANSCRIBABLE_EXTENSIONS = ["flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm"];

/** A format the bytes, the content type or the name say the audio is in. */
export type AudioFormat =
  | "ogg"
  | "mp3"
  | "m4a"
  | "wav"
  | "flac"
  | "webm"
  | "amr"
  | "aac"
  | "3gp";

const FORMAT_NAMES: Record<AudioFormat, string> = {
  ogg: "OGG",
  mp3: "MP3",
  m4a: "MPEG-4 audio",
  wav: "WAV",
  flac: "FLAC",
  webm: "WebM",
  amr: "AMR",
  aac: "raw AAC (ADTS)",
  "3gp": "3GPP",
};

/** Formats the API decodes, each with the extension it is sent under. */
const EXTENSION_FOR: Partial<Record<AudioFormat, string>> = {
  ogg: "ogg",
  mp3: "mp3",
  m4a: "m4a",
  wav: "wav",
  flac: "flac",
  webm: "webm",
};

/** The format the first bytes show, or null when they show none this knows. Magic numbers: OggS, ID3 / MPEG audio
 * frame sync with layer bits ≠ 00, `ftyp` at offset 4 (MP4/M4A; brand 3gp* is 3GPP), RIFF…WAVE, fLaC, EBML (WebM),
 * `#!AMR`, ADTS sync with layer bits 00 (raw AAC). */
export function sniffAudio(bytes: Uint8Array): AudioFormat | null {
  const ascii = (from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to));
  if (bytes.length < 4) return null;
  if (ascii(0, 4) === "OggS") return "ogg";
  if (ascii(0, 5) === "#!AMR") return "amr";
  if (ascii(0, 4) === "fLaC") return "flac";
  if (ascii(0, 4) === "RIFF" && ascii(8, 12) === "WAVE") return "wav";
  if (bytes[0] === 0x1a && bytes[1] === 0x45 && bytes[2] === 0xdf && bytes[3] === 0xa3) return "webm";
  if (ascii(4, 8) === "ftyp") return ascii(8, 11) === "3gp" ? "3gp" : "m4a";
  if (ascii(0, 3) === "ID3") return "mp3";
  if (bytes[0] === 0xff && (bytes[1] & 0xf0) === 0xf0) return (bytes[1] & 0x06) === 0 ? "aac" : "mp3";
  if (bytes[0] === 0xff && (bytes[1] & 0xe0) === 0xe0 && (bytes[1] & 0x06) !== 0) return "mp3";
  return null;
}

/** The format a MIME type names (parameters such as `; codecs=opus` ignored), or null. */
export function formatOfContentType(contentType: string | null | undefined): AudioFormat | null {
  const type = contentType?.split(";")[0].trim().toLowerCase();
  switch (type) {
    case "audio/ogg":
    case "audio/opus":
    case "application/ogg":
      return "ogg";
    case "audio/mpeg":
    case "audio/mp3":
    case "audio/mpga":
      return "mp3";
    case "audio/mp4":
    case "audio/m4a":
    case "audio/x-m4a":
    case "video/mp4":
      return "m4a";
    case "audio/wav":
    case "audio/x-wav":
    case "audio/wave":
    case "audio/vnd.wave":
      return "wav";
    case "audio/flac":
    case "audio/x-flac":
      return "flac";
    case "audio/webm":
    case "video/webm":
      return "webm";
    case "audio/amr":
    case "audio/amr-wb":
      return "amr";
    case "audio/aac":
    case "audio/x-aac":
    case "audio/aacp":
      return "aac";
    case "audio/3gpp":
    case "audio/3gpp2":
    case "video/3gpp":
      return "3gp";
    default:
      return null;
  }
}

/** The format a file extension names, or null. */
export function formatOfExtension(extension: string | null | undefined): AudioFormat | null {
  const ext = extension?.replace(/^\./, "").toLowerCase();
  if (!ext) return null;
  if (ext === "oga" || ext === "ogg" || ext === "opus") return "ogg";
  if (ext === "mp3" || ext === "mpga" || ext === "mpeg") return "mp3";
  if (ext === "m4a" || ext === "mp4") return "m4a";
  if (ext === "3gp" || ext === "3gpp") return "3gp";
  if (["wav", "flac", "webm", "amr", "aac"].includes(ext)) return ext as AudioFormat;
  return null;
}

export type TranscriptionFile =
  | { ok: true; filename: string; format: AudioFormat }
  | { ok: false; format: AudioFormat | null; reason: string };

/**
 * The name to upload the audio under, from what the bytes are (the API checks them), else its content type, else its
 * extension; or why it cannot be transcribed. AMR, raw AAC and 3GPP are refused by the API and cannot be converted
 * without ffmpeg, which the edge runtime lacks: they are skipped, so a person listens to them instead.
 */
export function transcriptionFileFor(
  bytes: Uint8Array,
  hints: { contentType?: string | null; extension?: string | null; base: string },
): TranscriptionFile {
  const format = sniffAudio(bytes) ?? formatOfContentType(hints.contentType) ?? formatOfExtension(hints.extension);
  const ext = format ? EXTENSION_FOR[format] : undefined;
  if (format && ext) return { ok: true, filename: `${hints.base}.${ext}`, format };
  const what = format
    ? `${FORMAT_NAMES[format]} audio`
    : `audio of an unknown format (${hints.contentType || "no content type"})`;
  return {
    ok: false,
    format,
    reason: `the voice note is ${what}, which the transcription API does not take ` +
      `(it takes ${TRANSCRIBABLE_EXTENSIONS.join(", ")}); listen to it in the conversation`,
  };
}

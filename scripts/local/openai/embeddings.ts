// POST /v1/embeddings: deterministic vectors by feature hashing, so that retrieval over them behaves like retrieval
// (shared words → close vectors) without a model; encoded as float arrays or OpenAI's little-endian float32 base64.

import { Buffer } from "node:buffer";
import { z } from "zod";
import { fromZodError, invalidRequest, modelNotFound } from "./errors.ts";
import { contentStems, estimateTokens, fnv1a, words } from "./text_features.ts";

/** Embedding models the stand-in answers for, with their native (default) dimensions. */
export const EMBEDDING_MODELS: Record<string, number> = {
  "text-embedding-3-small": 1536,
  "text-embedding-3-large": 3072,
  "switchboard-test-embedding": 256,
};

/** OpenAI's documented caps: 2048 inputs per request, 8192 tokens per input, 300k tokens per request. */
export const MAX_INPUTS = 2048;
export const MAX_INPUT_TOKENS = 8192;
export const MAX_REQUEST_TOKENS = 300_000;

const STEM_WEIGHT = 1;
// Trigrams are weaker than whole stems: they only have to pull near-spellings ("shiping"/"shipping") together.
const TRIGRAM_WEIGHT = 0.25;

export const EmbeddingRequest = z.object({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.string())]),
  dimensions: z.number().int().positive().optional(),
  encoding_format: z.enum(["float", "base64"]).optional(),
  user: z.string().optional(),
});
export type EmbeddingRequest = z.infer<typeof EmbeddingRequest>;

/** A unit vector for `text` in `dimensions` dimensions. Same text, same vector; shared stems, higher cosine. */
export function embedText(text: string, dimensions: number): Float32Array {
  const vector = new Float64Array(dimensions);
  const add = (feature: string, weight: number) => {
    const hash = fnv1a(feature);
    // The sign comes from a second, independent hash so features colliding in one slot tend to cancel, not pile up.
    const sign = fnv1a(`sign:${feature}`) & 1 ? -1 : 1;
    vector[hash % dimensions] += sign * weight;
  };
  const stems = contentStems(text);
  for (const s of stems) {
    add(`stem:${s}`, STEM_WEIGHT);
    const padded = `#${s}#`;
    for (let i = 0; i + 3 <= padded.length; i++) add(`tri:${padded.slice(i, i + 3)}`, TRIGRAM_WEIGHT);
  }
  // Text made only of stopwords (or only punctuation) still needs a direction of its own.
  if (!stems.length) {
    const fallback = words(text);
    if (fallback.length) { for (const w of fallback) add(`word:${w}`, STEM_WEIGHT); }
    else add(`raw:${text.trim()}`, STEM_WEIGHT);
  }
  let norm = 0;
  for (const v of vector) norm += v * v;
  norm = Math.sqrt(norm) || 1;
  return Float32Array.from(vector, (v) => v / norm);
}

/** Little-endian float32 bytes in base64, as the API sends for `encoding_format: "base64"`. */
export function float32ToBase64(vector: Float32Array): string {
  const bytes = new Uint8Array(vector.length * 4);
  const view = new DataView(bytes.buffer);
  vector.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return Buffer.from(bytes.buffer).toString("base64");
}

export function createEmbeddings(raw: unknown): Record<string, unknown> {
  const parsed = EmbeddingRequest.safeParse(raw);
  if (!parsed.success) throw fromZodError(parsed.error);
  const req = parsed.data;
  const native = EMBEDDING_MODELS[req.model];
  if (native === undefined) throw modelNotFound(req.model);
  if (req.dimensions !== undefined && req.dimensions > native) {
    throw invalidRequest(
      `This model supports at most ${native} dimensions; 'dimensions' was ${req.dimensions}.`,
      "dimensions",
    );
  }
  const inputs = typeof req.input === "string" ? [req.input] : req.input;
  if (!inputs.length) throw invalidRequest("'input' must not be an empty array.", "input");
  if (inputs.length > MAX_INPUTS) {
    throw invalidRequest(
      `Too many inputs: ${inputs.length} given, at most ${MAX_INPUTS} inputs are allowed per request.`,
      "input",
    );
  }
  let total = 0;
  inputs.forEach((text, i) => {
    if (!text) throw invalidRequest(`'input' must not contain empty strings (input ${i} is empty).`, "input");
    const tokens = estimateTokens(text);
    if (tokens > MAX_INPUT_TOKENS) {
      throw invalidRequest(
        `This model's maximum context length is ${MAX_INPUT_TOKENS} tokens, however you requested ${tokens} tokens ` +
          `(${tokens} in your prompt; 0 for the completion) in input ${i}. Please reduce your prompt.`,
        "input",
      );
    }
    total += tokens;
  });
  if (total > MAX_REQUEST_TOKENS) {
    throw invalidRequest(
      `Requested ${total} tokens, max ${MAX_REQUEST_TOKENS} tokens per request.`,
      "input",
      "max_tokens_per_request",
    );
  }
  const dims = req.dimensions ?? native;
  const base64 = req.encoding_format === "base64";
  return {
    object: "list",
    data: inputs.map((text, index) => {
      const vector = embedText(text, dims);
      return { object: "embedding", index, embedding: base64 ? float32ToBase64(vector) : Array.from(vector) };
    }),
    model: req.model,
    usage: { prompt_tokens: total, total_tokens: total },
  };
}

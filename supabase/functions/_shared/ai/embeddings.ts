// Embeddings: the one place that turns text into vectors, with the real `openai` SDK (OpenAI or any
// compatible server via OPENAI_BASE_URL). Owns batching, zero-padding to the 1536-wide column, and
// mapping the provider's failures onto the job runner's RetryLater / PermanentFailure.

import OpenAI from "openai";
import { z } from "zod";
import { PermanentFailure, RetryLater } from "../jobs/queue.ts";
import { AiQuotaExhausted, apiMessage, isInsufficientQuota, rateLimitDelayMs } from "./openai_errors.ts";

/** Width of kb_chunks.embedding. Shorter vectors are zero-padded: cosine distance is unchanged. */
export const EMBEDDING_COLUMN_DIMENSIONS = 1536;
export const DEFAULT_EMBEDDING_MODEL = "text-embedding-3-small";
/** OpenAI accepts 2048 inputs and ~300k tokens per request; staying well under keeps each call short. */
export const MAX_INPUTS_PER_REQUEST = 96;
export const MAX_CHARS_PER_REQUEST = 250_000;

export interface EmbeddingConfig {
  apiKey: string;
  baseURL: string | null;
  model: string;
  dimensions: number;
  timeoutMs: number;
}

const envSchema = z.object({
  OPENAI_API_KEY: z.string().min(1).optional(),
  OPENAI_BASE_URL: z.url().optional(),
  OPENAI_EMBEDDING_MODEL: z.string().min(1).default(DEFAULT_EMBEDDING_MODEL),
  OPENAI_EMBEDDING_DIMENSIONS: z.coerce.number().int().min(1).max(EMBEDDING_COLUMN_DIMENSIONS).default(
    EMBEDDING_COLUMN_DIMENSIONS,
  ),
  OPENAI_TIMEOUT_MS: z.coerce.number().int().min(1000).max(600_000).default(30_000),
});

/** Reads the embedding settings; null when OPENAI_API_KEY is absent (offline: full-text search only). */
export function embeddingConfigFromEnv(env: Record<string, string | undefined>): EmbeddingConfig | null {
  const blank = (v: string | undefined) => (v === undefined || v.trim() === "" ? undefined : v.trim());
  const parsed = envSchema.safeParse({
    OPENAI_API_KEY: blank(env.OPENAI_API_KEY),
    OPENAI_BASE_URL: blank(env.OPENAI_BASE_URL),
    OPENAI_EMBEDDING_MODEL: blank(env.OPENAI_EMBEDDING_MODEL),
    OPENAI_EMBEDDING_DIMENSIONS: blank(env.OPENAI_EMBEDDING_DIMENSIONS),
    OPENAI_TIMEOUT_MS: blank(env.OPENAI_TIMEOUT_MS),
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`invalid embedding configuration: ${issue.path.join(".")}: ${issue.message}`);
  }
  const e = parsed.data;
  if (!e.OPENAI_API_KEY) return null;
  return {
    apiKey: e.OPENAI_API_KEY,
    baseURL: e.OPENAI_BASE_URL ?? null,
    model: e.OPENAI_EMBEDDING_MODEL,
    dimensions: e.OPENAI_EMBEDDING_DIMENSIONS,
    timeoutMs: e.OPENAI_TIMEOUT_MS,
  };
}

export interface EmbedResult {
  /** One vector per input, in input order, each EMBEDDING_COLUMN_DIMENSIONS long. */
  vectors: number[][];
  /** Tokens the provider billed for. */
  tokens: number;
}

export interface Embedder {
  model: string;
  /** Dimensions the model is asked for (before padding). */
  dimensions: number;
  embed(texts: string[], opts?: { signal?: AbortSignal }): Promise<EmbedResult>;
}

/** The provider is throttling or slow: try again later (carries Retry-After when given). */
export class EmbeddingRateLimited extends RetryLater {
  constructor(message: string, retryInMs?: number) {
    super(message, retryInMs);
    this.name = "EmbeddingRateLimited";
  }
}

/** A transient failure (timeout, connection reset, 5xx): the job runner retries with backoff. */
export class EmbeddingUnavailable extends RetryLater {
  constructor(message: string) {
    super(message);
    this.name = "EmbeddingUnavailable";
  }
}

/** Retrying cannot help (bad key, unknown model, invalid input): the job is dead-lettered. */
export class EmbeddingRejected extends PermanentFailure {
  constructor(message: string, readonly status?: number) {
    super(message);
    this.name = "EmbeddingRejected";
  }
}

export function padToColumn(vector: ArrayLike<number>): number[] {
  if (vector.length > EMBEDDING_COLUMN_DIMENSIONS) {
    throw new EmbeddingRejected(
      `the model returned ${vector.length} dimensions; at most ${EMBEDDING_COLUMN_DIMENSIONS} fit the column`,
    );
  }
  const out = new Array<number>(EMBEDDING_COLUMN_DIMENSIONS).fill(0);
  for (let i = 0; i < vector.length; i++) out[i] = vector[i];
  return out;
}

/** Splits inputs into requests of at most MAX_INPUTS_PER_REQUEST inputs and ~MAX_CHARS_PER_REQUEST characters. */
export function batchInputs(texts: string[], maxInputs = MAX_INPUTS_PER_REQUEST, maxChars = MAX_CHARS_PER_REQUEST) {
  const batches: { start: number; texts: string[] }[] = [];
  let current: string[] = [];
  let chars = 0;
  let start = 0;
  texts.forEach((t, i) => {
    if (current.length > 0 && (current.length >= maxInputs || chars + t.length > maxChars)) {
      batches.push({ start, texts: current });
      current = [];
      chars = 0;
      start = i;
    }
    current.push(t);
    chars += t.length;
  });
  if (current.length) batches.push({ start, texts: current });
  return batches;
}

/** Maps an SDK error onto what the job runner understands; an exhausted quota is AiQuotaExhausted (it never clears
 * on retry: the caller pauses the AI, see pause.ts), a rate limit waits for its reset. */
export function classifyEmbeddingError(err: unknown): Error {
  if (err instanceof RetryLater || err instanceof PermanentFailure || err instanceof AiQuotaExhausted) return err;
  if (isInsufficientQuota(err)) return new AiQuotaExhausted("embeddings", apiMessage(err));
  if (err instanceof OpenAI.APIConnectionTimeoutError) return new EmbeddingUnavailable("embedding request timed out");
  if (err instanceof OpenAI.APIConnectionError) {
    return new EmbeddingUnavailable(`cannot reach the embedding API: ${err.message}`);
  }
  if (err instanceof OpenAI.APIError) {
    const status = err.status ?? 0;
    if (status === 429) {
      return new EmbeddingRateLimited(`embedding API rate limit: ${err.message}`, rateLimitDelayMs(err.headers));
    }
    if (status === 408 || status === 409 || status >= 500) {
      return new EmbeddingUnavailable(`embedding API answered ${status}: ${err.message}`);
    }
    return new EmbeddingRejected(`embedding API refused the request (${status}): ${err.message}`, status);
  }
  if (err instanceof Error && err.name === "AbortError") return new EmbeddingUnavailable("embedding request aborted");
  return err instanceof Error ? err : new Error(String(err));
}

export interface EmbedderDeps {
  /** An OpenAI client to use instead of building one (tests). */
  client?: Pick<OpenAI, "embeddings">;
  fetch?: typeof fetch;
}

/** An embedder for `config` (model and dimensions may be overridden per store by the caller). */
export function createEmbedder(config: EmbeddingConfig, deps: EmbedderDeps = {}): Embedder {
  if (config.dimensions < 1 || config.dimensions > EMBEDDING_COLUMN_DIMENSIONS) {
    throw new Error(`embedding dimensions must be between 1 and ${EMBEDDING_COLUMN_DIMENSIONS}`);
  }
  const client = deps.client ?? new OpenAI({
    apiKey: config.apiKey,
    baseURL: config.baseURL ?? undefined,
    timeout: config.timeoutMs,
    // The job runner owns retries (with backoff persisted in the queue); a worker must not sleep.
    maxRetries: 0,
    fetch: deps.fetch,
  });
  // text-embedding-ada-002 rejects the dimensions parameter; newer models accept it.
  const sendDimensions = !/ada-002/.test(config.model);
  return {
    model: config.model,
    dimensions: config.dimensions,
    async embed(texts, opts = {}) {
      const vectors: number[][] = new Array(texts.length);
      let tokens = 0;
      for (const batch of batchInputs(texts.map((t) => (t.trim() === "" ? " " : t)))) {
        let res;
        try {
          res = await client.embeddings.create({
            model: config.model,
            input: batch.texts,
            encoding_format: "float",
            ...(sendDimensions ? { dimensions: config.dimensions } : {}),
          }, { signal: opts.signal });
        } catch (err) {
          throw classifyEmbeddingError(err);
        }
        if (res.data.length !== batch.texts.length) {
          throw new EmbeddingUnavailable(`embedding API returned ${res.data.length} vectors for ${batch.texts.length}`);
        }
        for (const d of res.data) vectors[batch.start + d.index] = padToColumn(d.embedding);
        tokens += res.usage?.total_tokens ?? 0;
      }
      return { vectors, tokens };
    },
  };
}

/** A deterministic offline embedder (hashed words) for unit tests: shared words → close vectors. */
export function fakeEmbedder(model = "fake-embedding", dimensions = 64): Embedder {
  return {
    model,
    dimensions,
    embed(texts) {
      const vectors = texts.map((t) => {
        const v = new Array<number>(dimensions).fill(0);
        for (const w of t.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
          let h = 2166136261;
          for (let i = 0; i < w.length; i++) h = Math.imul(h ^ w.charCodeAt(i), 16777619) >>> 0;
          v[h % dimensions] += 1;
        }
        const norm = Math.hypot(...v) || 1;
        return padToColumn(v.map((x) => x / norm));
      });
      return Promise.resolve({ vectors, tokens: texts.reduce((n, t) => n + Math.ceil(t.length / 4), 0) });
    },
  };
}

/** pgvector's text form, what `::extensions.vector` casts from. */
export function toVectorLiteral(vector: number[]): string {
  return `[${vector.join(",")}]`;
}

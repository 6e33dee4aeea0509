// The bot's decision for one customer message: reply from the store's knowledge, or hand off to a
// person. Retrieval first (nothing close enough → hand off without asking a model); then a model
// that may only answer from the retrieved chunks and must say which it used; offline (no API key)
// an FAQ whose words match well enough answers, anything else is handed off. Never an invented
// answer: a reply that cites no retrieved chunk is a handoff.

import OpenAI from "openai";
import { z } from "zod";
import type { Sql, TransactionSql } from "../platform/db.ts";
import type { Embedder } from "./embeddings.ts";
import { type KnowledgeHit, searchKnowledge } from "../knowledge/search.ts";
import { ConfigError } from "../platform/config.ts";
import { classifyOpenAiError, describeApiError, openAiFetch } from "./openai_errors.ts";

export interface ChatConfig {
  apiKey: string;
  baseURL: string | null;
  model: string;
  timeoutMs: number;
  /** The temperature sent with each request; null = none sent (the model's default). */
  temperature: number | null;
}

/**
 * Reasoning models (the o-series, the gpt-5 family but its -chat models) take only their default temperature: any
 * other value is a 400 `unsupported_value` on `temperature` ("Only the default (1) value is supported.",
 * gabrii/Cursor-Azure-GPT-5#33, OpenHands/OpenHands#4131).
 */
export function isReasoningModel(model: string): boolean {
  return /^(o\d|gpt-5)/.test(model) && !/^gpt-5[.\d]*-chat/.test(model);
}

/** `auto`: 0 (the steadiest answers from the chunks) where the model takes it, none for reasoning models. */
export function resolveTemperature(setting: "auto" | "omit" | number, model: string): number | null {
  if (setting === "omit") return null;
  if (setting === "auto") return isReasoningModel(model) ? null : 0;
  return setting;
}

const TEMPERATURE_RULE = 'must be "auto", "omit" or a number from 0 to 2';
const temperatureSetting = z.union([
  z.enum(["auto", "omit"]),
  z.string().regex(/^\d+(\.\d+)?$/).transform(Number).pipe(z.number().max(2, TEMPERATURE_RULE)),
], { error: TEMPERATURE_RULE });

const chatEnv = z.object({
  OPENAI_API_KEY: z.string().min(1).optional(),
  OPENAI_BASE_URL: z.url().optional(),
  OPENAI_CHAT_MODEL: z.string().min(1).default("gpt-4.1-mini"),
  OPENAI_CHAT_TIMEOUT_MS: z.coerce.number().int().min(1000).max(120_000).default(20_000),
  OPENAI_CHAT_TEMPERATURE: temperatureSetting.default("auto"),
}).superRefine((e, ctx) => {
  const t = e.OPENAI_CHAT_TEMPERATURE;
  if (typeof t === "number" && t !== 1 && isReasoningModel(e.OPENAI_CHAT_MODEL)) {
    ctx.addIssue({
      code: "custom",
      path: ["OPENAI_CHAT_TEMPERATURE"],
      message: `is ${t}, but ${e.OPENAI_CHAT_MODEL} is a reasoning model that takes only its default temperature ` +
        '(the API answers 400 unsupported_value): use "auto" or "omit"',
    });
  }
});

/** The chat model's settings; null without OPENAI_API_KEY (offline: FAQ answers only). A malformed variable is a
 * ConfigError naming it, raised when the function starts. */
export function chatConfigFromEnv(env: Record<string, string | undefined>): ChatConfig | null {
  const blank = (v: string | undefined) => (v === undefined || v.trim() === "" ? undefined : v.trim());
  const input = {
    OPENAI_API_KEY: blank(env.OPENAI_API_KEY),
    OPENAI_BASE_URL: blank(env.OPENAI_BASE_URL),
    OPENAI_CHAT_MODEL: blank(env.OPENAI_CHAT_MODEL),
    OPENAI_CHAT_TIMEOUT_MS: blank(env.OPENAI_CHAT_TIMEOUT_MS),
    OPENAI_CHAT_TEMPERATURE: blank(env.OPENAI_CHAT_TEMPERATURE)?.toLowerCase(),
  };
  const parsed = chatEnv.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => {
      const name = String(i.path[0] ?? "(environment)");
      return `${name} ${i.message}${name in input ? ` (got "${input[name as keyof typeof input]}")` : ""}`;
    }));
  }
  const e = parsed.data;
  if (!e.OPENAI_API_KEY) return null;
  return {
    apiKey: e.OPENAI_API_KEY,
    baseURL: e.OPENAI_BASE_URL ?? null,
    model: e.OPENAI_CHAT_MODEL,
    timeoutMs: e.OPENAI_CHAT_TIMEOUT_MS,
    temperature: resolveTemperature(e.OPENAI_CHAT_TEMPERATURE, e.OPENAI_CHAT_MODEL),
  };
}

export function chatClient(config: Pick<ChatConfig, "apiKey" | "baseURL" | "timeoutMs">, base?: typeof fetch): OpenAI {
  // One retry: a reply is worth a second try, not a customer waiting through the SDK's default. Never for an
  // exhausted quota (openAiFetch), which no retry clears.
  return new OpenAI({
    apiKey: config.apiKey,
    baseURL: config.baseURL ?? undefined,
    timeout: config.timeoutMs,
    maxRetries: 1,
    fetch: openAiFetch(base),
  });
}

export interface DecideSettings {
  storeName: string;
  minSimilarity: number;
  minTextScore: number;
  topK: number;
}

export interface HistoryTurn {
  role: "customer" | "agent" | "bot";
  text: string;
}

export interface RetrievedChunk {
  id: string;
  kind: string;
  title: string;
  fts_score: number | null;
  vector_distance: number | null;
  rrf_score: number;
  relevant: boolean;
}

export interface Decision {
  action: "reply" | "handoff";
  text: string;
  reason: string;
  citedChunkIds: string[];
  chunks: RetrievedChunk[];
  retrievalMode: "hybrid" | "full_text" | "none";
  model: string | null;
  promptTokens: number;
  completionTokens: number;
}

export interface DecideDeps {
  sql: Sql | TransactionSql;
  embedder: Embedder | null;
  /** `temperature`: null sends none; absent, the model's sensible default (resolveTemperature "auto"). */
  chat: { client: OpenAI; model: string; temperature?: number | null } | null;
}

// Asking for a person, in the languages our stores serve (en, es, pt). Checked before anything
// else: a customer who asks for a human gets one, whatever the knowledge base holds.
const PERSON_PATTERNS = [
  /\b(talk|speak|chat)\s+(to|with)\s+(a\s+|an\s+|someone|somebody|a\s+real\s+)?(human|person|agent|someone|somebody|representative|operator)\b/i,
  /\b(real|live|human)\s+(person|agent|human|representative)\b/i,
  /\bhuman\b/i,
  /\b(hablar|comunicarme)\s+con\s+(una\s+persona|un\s+humano|un\s+agente|alguien|un\s+asesor)\b/i,
  /\b(humano|persona\s+real)\b/i,
  /\b(p[aá]same|me\s+pasas|me\s+pasa|comun[ií]came)\s+con\s+(un|una|el|la|alg[uú]n)\s*(asesor|agente|persona|humano|encargad[oa])/i,
  /\basesor(a)?\s+(humano|real)\b/i,
  /\bpessoa\s+(de\s+verdade|real)\b/i,
  /\b(falar|conversar)\s+com\s+(uma\s+pessoa|um\s+humano|um\s+atendente|algu[eé]m|um\s+agente)\b/i,
  /\batendente\b/i,
];

export function asksForPerson(text: string): boolean {
  return PERSON_PATTERNS.some((p) => p.test(text));
}

const decisionSchema = z.object({
  action: z.enum(["reply", "handoff"]),
  text: z.string(),
  reason: z.string(),
  cited_chunk_ids: z.array(z.string()),
});

const RESPONSE_FORMAT = {
  type: "json_schema" as const,
  json_schema: {
    name: "support_decision",
    strict: true,
    schema: {
      type: "object",
      additionalProperties: false,
      required: ["action", "text", "reason", "cited_chunk_ids"],
      properties: {
        action: { type: "string", enum: ["reply", "handoff"] },
        text: { type: "string", description: "The reply to the customer, in their language; empty for handoff." },
        reason: { type: "string", description: "Why this action: which chunk answers, or what is missing." },
        cited_chunk_ids: { type: "array", items: { type: "string" } },
      },
    },
  },
};

export function systemPrompt(storeName: string): string {
  return [
    `You are the customer support assistant of ${storeName}.`,
    "Answer ONLY with facts stated in the context chunks below. Never guess, never use outside knowledge.",
    "Reply in the customer's language, briefly and politely.",
    'Choose action "handoff" when the chunks do not contain the answer, when the customer asks for a person,',
    "or when the request needs a human (complaints, refunds not covered by the chunks, account changes).",
    'For "reply", list in cited_chunk_ids the id of every chunk your answer uses.',
  ].join("\n");
}

function contextBlock(hits: KnowledgeHit[]): string {
  // The heading path goes in an attribute: it names the section without reading as a sentence of it.
  const attr = (v: string) => v.replaceAll("&", "&amp;").replaceAll('"', "&quot;").replaceAll("<", "&lt;");
  const body = hits.map((h) =>
    `<chunk id="${h.chunk_id}" section="${attr(h.heading_path || h.title)}">${h.content}</chunk>`
  ).join("\n");
  return `Context chunks:\n${body}`;
}

function isRelevant(h: KnowledgeHit, s: DecideSettings): boolean {
  const similarity = h.vector_distance === null ? null : 1 - Number(h.vector_distance);
  return (similarity !== null && similarity >= s.minSimilarity) ||
    (h.fts_score !== null && Number(h.fts_score) >= s.minTextScore);
}

function summarize(hits: KnowledgeHit[], s: DecideSettings): RetrievedChunk[] {
  return hits.map((h) => ({
    id: String(h.chunk_id),
    kind: h.kind,
    title: h.title,
    fts_score: h.fts_score === null ? null : Number(h.fts_score),
    vector_distance: h.vector_distance === null ? null : Number(h.vector_distance),
    rrf_score: Number(h.rrf_score),
    relevant: isRelevant(h, s),
  }));
}

/** An FAQ chunk's answer ("Q: …\nA: …" → the answer). */
export function faqAnswer(content: string): string {
  const m = content.match(/(?:^|\n)A:\s*([\s\S]*)$/);
  return (m ? m[1] : content).trim();
}

export async function decide(
  deps: DecideDeps,
  settings: DecideSettings,
  input: { storeId: string; message: string; history: HistoryTurn[] },
): Promise<Decision> {
  const base = { promptTokens: 0, completionTokens: 0, model: deps.chat?.model ?? null };
  const question = input.message.trim();
  if (!question) {
    return {
      ...base,
      action: "handoff",
      text: "",
      reason: "the message has no text to answer",
      citedChunkIds: [],
      chunks: [],
      retrievalMode: "none",
    };
  }
  if (asksForPerson(question)) {
    return {
      ...base,
      action: "handoff",
      text: "",
      reason: "customer asked for a person",
      citedChunkIds: [],
      chunks: [],
      retrievalMode: "none",
    };
  }

  if (!deps.chat) {
    // Offline: FAQ entries by full-text match only.
    const found = await searchKnowledge(deps.sql, null, {
      storeId: input.storeId,
      query: question,
      k: settings.topK,
      kinds: ["faq"],
    });
    const chunks = summarize(found.hits, settings);
    const best = found.hits.find((h) => h.fts_score !== null && Number(h.fts_score) >= settings.minTextScore);
    if (!best) {
      return {
        ...base,
        model: null,
        action: "handoff",
        text: "",
        reason: "no FAQ entry matches the question (offline mode)",
        citedChunkIds: [],
        chunks,
        retrievalMode: "full_text",
      };
    }
    return {
      ...base,
      model: null,
      action: "reply",
      text: faqAnswer(best.content),
      reason: `FAQ "${best.title}" matches (offline mode)`,
      citedChunkIds: [String(best.chunk_id)],
      chunks,
      retrievalMode: "full_text",
    };
  }

  const found = await searchKnowledge(deps.sql, deps.embedder, {
    storeId: input.storeId,
    query: question,
    k: settings.topK,
  });
  const chunks = summarize(found.hits, settings);
  const relevant = found.hits.filter((h) => isRelevant(h, settings));
  if (!relevant.length) {
    return {
      ...base,
      action: "handoff",
      text: "",
      reason: "nothing in the knowledge base is close enough to the question",
      citedChunkIds: [],
      chunks,
      retrievalMode: found.mode,
    };
  }

  const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [
    { role: "system", content: systemPrompt(settings.storeName) },
    { role: "system", content: contextBlock(relevant) },
    ...input.history.map((t): OpenAI.Chat.ChatCompletionMessageParam =>
      t.role === "customer" ? { role: "user", content: t.text } : { role: "assistant", content: t.text }
    ),
    { role: "user", content: `<customer_message>${question}</customer_message>` },
  ];
  let completion: OpenAI.Chat.ChatCompletion;
  const temperature = deps.chat.temperature === undefined
    ? resolveTemperature("auto", deps.chat.model)
    : deps.chat.temperature;
  try {
    completion = await deps.chat.client.chat.completions.create({
      model: deps.chat.model,
      messages,
      response_format: RESPONSE_FORMAT,
      ...(temperature === null ? {} : { temperature }),
    });
  } catch (err) {
    // An exhausted quota pauses the AI and a rate limit waits for its reset (the caller decides how): neither is
    // this message's fault. Anything else hands this message off.
    const classified = classifyOpenAiError(err, "chat");
    if (classified !== err) throw classified;
    const detail = describeApiError(err);
    return {
      ...base,
      action: "handoff",
      text: "",
      reason: `the model failed: ${detail}`.slice(0, 500),
      citedChunkIds: [],
      chunks,
      retrievalMode: found.mode,
    };
  }
  const usage = {
    promptTokens: completion.usage?.prompt_tokens ?? 0,
    completionTokens: completion.usage?.completion_tokens ?? 0,
    model: completion.model ?? deps.chat.model,
  };
  let parsed: z.infer<typeof decisionSchema>;
  try {
    parsed = decisionSchema.parse(JSON.parse(completion.choices[0]?.message?.content ?? ""));
  } catch {
    return {
      ...base,
      ...usage,
      action: "handoff",
      text: "",
      reason: "the model's answer was not a valid decision",
      citedChunkIds: [],
      chunks,
      retrievalMode: found.mode,
    };
  }
  const known = new Set(relevant.map((h) => String(h.chunk_id)));
  const cited = parsed.cited_chunk_ids.filter((id) => known.has(id));
  if (parsed.action === "reply" && (!parsed.text.trim() || cited.length === 0)) {
    return {
      ...base,
      ...usage,
      action: "handoff",
      text: "",
      reason: "the model's reply cited no retrieved chunk",
      citedChunkIds: [],
      chunks,
      retrievalMode: found.mode,
    };
  }
  return {
    ...base,
    ...usage,
    action: parsed.action,
    text: parsed.action === "reply" ? parsed.text.trim() : "",
    reason: parsed.reason || (parsed.action === "reply" ? "answered from the knowledge base" : "the model handed off"),
    citedChunkIds: parsed.action === "reply" ? cited : [],
    chunks,
    retrievalMode: found.mode,
  };
}

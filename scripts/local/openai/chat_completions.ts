// POST /v1/chat/completions (non-streaming): validates the request as the API does — including the rules for
// `json_object` and strict `json_schema` — and answers with the deterministic support model of support_reply.ts.

import { z } from "zod";
import { fromZodError, invalidRequest, modelNotFound } from "./errors.ts";
import { type ChatMessageText, decideSupportReply, type SupportDecision } from "./support_reply.ts";
import { estimateTokens } from "./text_features.ts";

/** Reasoning models: the same deterministic model here, with the API's rules for them (temperature below). */
export const REASONING_MODELS = ["o1", "o3", "o3-mini", "o4-mini", "gpt-5", "gpt-5-mini", "gpt-5-nano"];

/** Chat models the stand-in answers for; the real model names are aliases so a production config runs locally. */
export const CHAT_MODELS = ["switchboard-test-chat", "gpt-4.1-mini", "gpt-4.1", "gpt-4o-mini", ...REASONING_MODELS];

/** The o-series and the gpt-5 family (gpt-5-chat-* excepted, a chat model), dated snapshots included. */
export function isReasoningModel(model: string): boolean {
  return /^(o\d|gpt-5)/.test(model) && !/^gpt-5[.\d]*-chat/.test(model);
}

/** The plain-text answer for a handoff when no response_format asks for JSON. */
export const HANDOFF_TEXT = "conversation_handoff";

const DECISION_KEYS = ["action", "text", "reason", "cited_chunk_ids"] as const;

const ContentPart = z.looseObject({ type: z.string(), text: z.string().optional() });
const Message = z.looseObject({
  role: z.enum(["system", "developer", "user", "assistant", "tool", "function"]),
  content: z.union([z.string(), z.array(ContentPart), z.null()]).optional(),
});

const ResponseFormat = z.discriminatedUnion("type", [
  z.object({ type: z.literal("text") }),
  z.object({ type: z.literal("json_object") }),
  z.object({
    type: z.literal("json_schema"),
    json_schema: z.object({
      name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, "must be 1-64 characters of a-z, A-Z, 0-9, '_' or '-'"),
      description: z.string().optional(),
      schema: z.record(z.string(), z.unknown()).optional(),
      strict: z.boolean().nullable().optional(),
    }),
  }),
]);
type ResponseFormat = z.infer<typeof ResponseFormat>;

export const ChatCompletionRequest = z.looseObject({
  model: z.string().min(1),
  messages: z.array(Message).min(1, "must contain at least one message"),
  response_format: ResponseFormat.optional(),
  stream: z.boolean().nullable().optional(),
  n: z.number().int().min(1).max(128).nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  max_tokens: z.number().int().positive().nullable().optional(),
  max_completion_tokens: z.number().int().positive().nullable().optional(),
});
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequest>;

export function messageTexts(req: ChatCompletionRequest): ChatMessageText[] {
  return req.messages.map((m) => ({
    role: m.role,
    text: typeof m.content === "string"
      ? m.content
      : (m.content ?? []).flatMap((part) => part.type === "text" && part.text !== undefined ? [part.text] : [])
        .join("\n"),
  }));
}

/** Parses and checks a request the way the API would refuse it, before any answer is made. */
export function parseChatRequest(raw: unknown): ChatCompletionRequest {
  const parsed = ChatCompletionRequest.safeParse(raw);
  if (!parsed.success) throw fromZodError(parsed.error);
  const req = parsed.data;
  if (!CHAT_MODELS.includes(req.model)) throw modelNotFound(req.model);
  if (req.stream) throw invalidRequest("streaming not supported by the stand-in", "stream");
  // Reasoning models take only the default temperature (1): any other value is a 400, reported verbatim in
  // gabrii/Cursor-Azure-GPT-5#33 (gpt-5), tmc/langchaingo#1355 (gpt-5 family), OpenHands/OpenHands#4131 (o1-mini).
  if (
    isReasoningModel(req.model) && req.temperature !== undefined && req.temperature !== null && req.temperature !== 1
  ) {
    throw invalidRequest(
      `Unsupported value: 'temperature' does not support ${req.temperature} with this model. Only the default (1) ` +
        "value is supported.",
      "temperature",
      "unsupported_value",
    );
  }
  const format = req.response_format;
  if (format?.type === "json_object" && !messageTexts(req).some((m) => /json/i.test(m.text))) {
    throw invalidRequest(
      "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
      "messages",
    );
  }
  if (format?.type === "json_schema") {
    checkJsonSchema(format.json_schema.name, format.json_schema.schema ?? {}, !!format.json_schema.strict);
  }
  return req;
}

/**
 * The subset of OpenAI's structured-output rules that catches real mistakes: the root is an object and, when
 * strict, every object forbids additional properties and requires all of its properties.
 */
function checkJsonSchema(name: string, schema: Record<string, unknown>, strict: boolean): void {
  const fail = (message: string) =>
    invalidRequest(`Invalid schema for response_format '${name}': ${message}`, "response_format");
  if (schema.type !== "object") {
    throw fail(`schema must be a JSON Schema of 'type: "object"', got 'type: ${JSON.stringify(schema.type ?? null)}'.`);
  }
  if (!strict) return;
  const visit = (node: unknown, context: string[]) => {
    if (!node || typeof node !== "object") return;
    const s = node as Record<string, unknown>;
    const where = `In context=(${context.map((c) => `'${c}'`).join(", ")})`;
    if (s.type === "object" || (Array.isArray(s.type) && s.type.includes("object"))) {
      if (s.additionalProperties !== false) {
        throw fail(`${where}, 'additionalProperties' is required to be supplied and to be false.`);
      }
      const keys = Object.keys((s.properties ?? {}) as Record<string, unknown>);
      const required = Array.isArray(s.required) ? s.required : [];
      const missing = keys.find((k) => !required.includes(k));
      if (missing !== undefined || !Array.isArray(s.required)) {
        throw fail(
          `${where}, 'required' is required to be supplied and to be an array including every key in properties.` +
            (missing !== undefined ? ` Missing '${missing}'.` : ""),
        );
      }
    }
    for (const [key, child] of Object.entries((s.properties ?? {}) as Record<string, unknown>)) {
      visit(child, [...context, "properties", key]);
    }
    if (s.items) visit(s.items, [...context, "items"]);
    for (const list of ["anyOf", "allOf"] as const) {
      if (Array.isArray(s[list])) (s[list] as unknown[]).forEach((c, i) => visit(c, [...context, list, String(i)]));
    }
    for (const defs of ["$defs", "definitions"] as const) {
      for (const [key, child] of Object.entries((s[defs] ?? {}) as Record<string, unknown>)) {
        visit(child, [...context, defs, key]);
      }
    }
  };
  visit(schema, []);
}

/** The assistant content for a decision in the requested format (see README: "Output"). */
export function renderDecision(decision: SupportDecision, format: ResponseFormat | undefined): string {
  if (!format || format.type === "text") return decision.action === "reply" ? decision.text : HANDOFF_TEXT;
  let keys: readonly string[] = DECISION_KEYS;
  const properties = format.type === "json_schema" ? format.json_schema.schema?.properties : undefined;
  if (properties && typeof properties === "object") keys = DECISION_KEYS.filter((k) => k in properties);
  return JSON.stringify(Object.fromEntries(keys.map((k) => [k, decision[k as keyof SupportDecision]])));
}

/** A chat.completion body around `content` (also used for scripted content). */
export function completionBody(req: { model: string; n?: number | null }, promptTokens: number, content: string) {
  const completionTokens = estimateTokens(content);
  return {
    id: `chatcmpl-${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: req.model,
    choices: Array.from({ length: req.n ?? 1 }, (_, index) => ({
      index,
      message: { role: "assistant", content, refusal: null, annotations: [] },
      logprobs: null,
      finish_reason: "stop",
    })),
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    },
    service_tier: "default",
    system_fingerprint: "fp_switchboard_standin",
  };
}

export function promptTokens(req: ChatCompletionRequest): number {
  // ~3 tokens of framing per message, as the chat format adds role markers around each.
  return messageTexts(req).reduce((sum, m) => sum + estimateTokens(m.text) + 3, 0);
}

export function createChatCompletion(raw: unknown): Record<string, unknown> {
  const req = parseChatRequest(raw);
  const decision = decideSupportReply(messageTexts(req));
  return completionBody(req, promptTokens(req), renderDecision(decision, req.response_format));
}

// The deterministic "support agent" behind switchboard-test-chat: reads the customer's message and the retrieved
// <chunk> blocks out of the prompt and decides reply-from-a-chunk or hand off to a person (contract in README.md).

import { contentStems, normalizeText } from "./text_features.ts";

/** The fraction of the question's distinct content stems a chunk must contain to be used for a reply. */
export const MATCH_THRESHOLD = 0.34;

export interface ChatMessageText {
  role: string;
  /** The message's text (string content, or its text parts joined with newlines). */
  text: string;
}

export interface Chunk {
  id: string;
  text: string;
}

export interface SupportDecision {
  action: "reply" | "handoff";
  /** Verbatim sentence(s) of the cited chunk, or "" for a handoff. */
  text: string;
  reason: string;
  cited_chunk_ids: string[];
}

const CHUNK = /<chunk id="([^"]*)"[^>]*>([\s\S]*?)<\/chunk>/g;
const CUSTOMER_MESSAGE = /<customer_message>([\s\S]*?)<\/customer_message>/;
const CUSTOMER_MESSAGES = /<customer_message>[\s\S]*?<\/customer_message>/g;
// Roles whose content the product writes; assistant/tool turns are never a source of knowledge.
const CHUNK_ROLES = new Set(["system", "developer", "user"]);

// Asking for a person, matched on accent-free lower-case text. "pessoa" alone counts, except in "por pessoa"
// ("per person"), which is about prices, not people.
const ASKS_FOR_PERSON = [
  /\b(humans?|real person|a person|live person|live agent|agents?|representative|operator)\b/,
  /\btalk (to|with) (a |an )?(person|someone|somebody|human)\b/,
  /\bhablar con (una persona|alguien|un humano|un agente|un asesor)\b/,
  /\b(persona real|humanos?|humanas?|agentes?|asesor)\b/,
  /\bfalar com (um atendente|uma pessoa|alguem|um humano|um agente)\b/,
  /\b(atendentes?|pessoa real)\b/,
  /(?<!\bpor )\bpessoa\b/,
];

/** The customer's latest words: the last user message, or the <customer_message> inside it if there is one. */
export function customerMessage(messages: ChatMessageText[]): string {
  const last = messages.findLast((m) => m.role === "user");
  if (!last) return "";
  const tagged = CUSTOMER_MESSAGE.exec(last.text);
  return tagged ? tagged[1] : last.text;
}

/**
 * Every <chunk id="…">…</chunk> in system/developer/user messages, in order. Text inside <customer_message> is
 * skipped so a customer cannot inject knowledge by typing a chunk tag.
 */
export function retrievedChunks(messages: ChatMessageText[]): Chunk[] {
  const chunks: Chunk[] = [];
  for (const m of messages) {
    if (!CHUNK_ROLES.has(m.role)) continue;
    for (const match of m.text.replace(CUSTOMER_MESSAGES, "").matchAll(CHUNK)) {
      chunks.push({ id: match[1], text: match[2].trim() });
    }
  }
  return chunks;
}

export function asksForPerson(text: string): boolean {
  const normal = normalizeText(text);
  return ASKS_FOR_PERSON.some((pattern) => pattern.test(normal));
}

/** Fraction of the question's distinct content stems present in `text` (0 when the question has none). */
export function overlapScore(question: Set<string>, text: string): number {
  if (!question.size) return 0;
  const have = new Set(contentStems(text));
  let hits = 0;
  for (const s of question) if (have.has(s)) hits++;
  return hits / question.size;
}

/** The sentence sharing most stems with the question, plus the next one if it shares any too. */
export function bestSentences(question: Set<string>, text: string): string {
  const sentences = text.split(/(?<=[.!?])\s+|\n+/).map((s) => s.trim()).filter(Boolean);
  if (sentences.length <= 1) return text.trim();
  const scores = sentences.map((s) => overlapScore(question, s));
  let best = 0;
  scores.forEach((score, i) => {
    if (score > scores[best]) best = i;
  });
  const picked = [sentences[best]];
  if (best + 1 < sentences.length && scores[best + 1] > 0) picked.push(sentences[best + 1]);
  return picked.join(" ");
}

export function decideSupportReply(messages: ChatMessageText[]): SupportDecision {
  const said = customerMessage(messages);
  if (asksForPerson(said)) {
    return { action: "handoff", text: "", reason: "customer asked for a person", cited_chunk_ids: [] };
  }
  const question = new Set(contentStems(said));
  let best: { chunk: Chunk; score: number } | undefined;
  for (const chunk of retrievedChunks(messages)) {
    const score = overlapScore(question, chunk.text);
    if (score >= MATCH_THRESHOLD && (!best || score > best.score)) best = { chunk, score };
  }
  if (!best) {
    return { action: "handoff", text: "", reason: "the answer is not in the knowledge base", cited_chunk_ids: [] };
  }
  return {
    action: "reply",
    text: bestSentences(question, best.chunk.text),
    reason: `answered from chunk ${best.chunk.id} (${Math.round(best.score * 100)}% of the question's words)`,
    cited_chunk_ids: [best.chunk.id],
  };
}

// Chunking: parsed blocks → retrieval-sized chunks (~350 tokens) that never straddle a heading, with
// ~50 tokens of the previous chunk repeated at the start of the next so no sentence loses its context.

import type { Block } from "./parse.ts";

export interface Chunk {
  ordinal: number;
  /** "Shipping > International"; empty for text above the first heading. */
  headingPath: string;
  content: string;
  tokenCount: number;
}

export interface ChunkOptions {
  targetTokens?: number;
  overlapTokens?: number;
}

export const DEFAULT_TARGET_TOKENS = 350;
export const DEFAULT_OVERLAP_TOKENS = 50;
/** Characters per token: OpenAI's rule of thumb for English; close enough to size chunks without
 * shipping a tokenizer's tables in every function. The SQL FAQ trigger uses the same ratio. */
export const CHARS_PER_TOKEN = 4;

export function estimateTokens(text: string): number {
  return Math.ceil(text.length / CHARS_PER_TOKEN);
}

/** Pieces no longer than maxChars: whole when it fits, else by sentences, else by words. */
function splitToFit(text: string, maxChars: number): string[] {
  if (text.length <= maxChars) return [text];
  const sentences = text.split(/(?<=[.!?…])\s+|\n+/).filter(Boolean);
  const pieces: string[] = [];
  for (const s of sentences) {
    if (s.length <= maxChars) {
      pieces.push(s);
      continue;
    }
    let current = "";
    for (const word of s.split(/\s+/)) {
      if (current && current.length + 1 + word.length > maxChars) {
        pieces.push(current);
        current = "";
      }
      // A single "word" longer than a chunk (a URL, base64) is cut hard.
      if (word.length > maxChars) {
        for (let i = 0; i < word.length; i += maxChars) pieces.push(word.slice(i, i + maxChars));
        continue;
      }
      current = current ? `${current} ${word}` : word;
    }
    if (current) pieces.push(current);
  }
  return pieces;
}

/** The last ~maxChars of a chunk, starting at a sentence or at least a word boundary. */
export function overlapTail(text: string, maxChars: number): string {
  if (maxChars <= 0) return "";
  if (text.length <= maxChars) return text;
  const tail = text.slice(-maxChars);
  const sentence = tail.search(/(?<=[.!?…])\s+\S/);
  if (sentence >= 0 && sentence < tail.length / 2) return tail.slice(sentence).trim();
  const space = tail.indexOf(" ");
  return space >= 0 ? tail.slice(space + 1).trim() : tail;
}

export function chunkBlocks(blocks: Block[], opts: ChunkOptions = {}): Chunk[] {
  const targetChars = (opts.targetTokens ?? DEFAULT_TARGET_TOKENS) * CHARS_PER_TOKEN;
  const overlapChars = Math.min((opts.overlapTokens ?? DEFAULT_OVERLAP_TOKENS) * CHARS_PER_TOKEN, targetChars / 2);
  const chunks: Chunk[] = [];

  // Consecutive blocks under the same headings form a section; chunks never cross sections.
  const sections: { headingPath: string; texts: string[] }[] = [];
  for (const b of blocks) {
    const path = b.headingPath.filter(Boolean).join(" > ");
    const last = sections[sections.length - 1];
    if (last && last.headingPath === path) last.texts.push(b.text);
    else sections.push({ headingPath: path, texts: [b.text] });
  }

  for (const section of sections) {
    // Room for the overlap carried into each chunk after the first.
    const pieces = section.texts.flatMap((t) => splitToFit(t, targetChars - overlapChars));
    let current = "";
    let carried = false; // current holds only overlap from the previous chunk
    const emit = () => {
      if (!current || carried) return;
      chunks.push({
        ordinal: chunks.length,
        headingPath: section.headingPath,
        content: current,
        tokenCount: estimateTokens(current),
      });
      current = overlapTail(current, overlapChars);
      carried = true;
    };
    for (const piece of pieces) {
      if (current && current.length + 2 + piece.length > targetChars) emit();
      current = current ? `${current}\n\n${piece}` : piece;
      carried = false;
    }
    emit();
  }
  return chunks;
}

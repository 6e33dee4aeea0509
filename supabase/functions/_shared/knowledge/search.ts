// Retrieval for AI replies and the admin app: embeds the question when an embedder is configured and
// calls public.kb_search (hybrid RRF; full-text only offline). Runs under the caller's RLS when given
// a transaction from withRls; prepareSearch + runSearch keep the embedding call outside it.

import { z } from "zod";
import type { Sql, TransactionSql } from "../platform/db.ts";
import type { Constrained, Fetched, FunctionRow } from "../platform/rows.ts";
import { type Embedder, toVectorLiteral } from "../ai/embeddings.ts";
import { RetryLater } from "../jobs/queue.ts";
import { KnowledgeError } from "./errors.ts";

export const searchKnowledgeInput = z.object({
  storeId: z.uuid(),
  query: z.string().trim().min(1).max(2000),
  k: z.number().int().min(1).max(50).default(5),
  kinds: z.array(z.enum(["document", "faq"])).min(1).optional(),
});
export type SearchKnowledgeInput = z.input<typeof searchKnowledgeInput>;

/** One kb_search row (the bigint chunk id as text); a leg that did not find the chunk leaves its rank and score null. */
export type KnowledgeHit = Fetched<
  Constrained<
    FunctionRow<"kb_search", "fts_rank" | "fts_score" | "vector_rank" | "vector_distance">,
    { kind: "document" | "faq" }
  >,
  never,
  "chunk_id"
>;

export interface KnowledgeSearchResult {
  hits: KnowledgeHit[];
  /** hybrid when the query was embedded; full_text offline or when embedding the query failed. */
  mode: "hybrid" | "full_text";
  /** Why the vector leg was skipped although an embedder was given (rate limit, timeout). */
  degraded: string | null;
  embeddingModel: string | null;
}

/** A validated query and its embedding (or why it has none): the network half of a search, done
 * before any transaction opens so none is held across the embedding API call. */
export interface PreparedSearch {
  input: z.output<typeof searchKnowledgeInput>;
  vector: string | null;
  degraded: string | null;
  model: string | null;
}

export async function prepareSearch(embedder: Embedder | null, raw: SearchKnowledgeInput): Promise<PreparedSearch> {
  const parsed = searchKnowledgeInput.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new KnowledgeError("invalid", `${issue.path.join(".") || "input"}: ${issue.message}`);
  }
  const input = parsed.data;
  let vector: string | null = null;
  let degraded: string | null = null;
  if (embedder) {
    try {
      const { vectors } = await embedder.embed([input.query]);
      vector = toVectorLiteral(vectors[0]);
    } catch (err) {
      // A reply should still find the FAQ by its words when the embedding API hiccups.
      if (!(err instanceof RetryLater)) throw err;
      degraded = err.message;
    }
  }
  return { input, vector, degraded, model: embedder?.model ?? null };
}

/** The database half: one kb_search call (under the caller's RLS when `sql` comes from withRls). */
export async function runSearch(sql: Sql | TransactionSql, p: PreparedSearch): Promise<KnowledgeSearchResult> {
  const { input, vector } = p;
  const hits = await sql<KnowledgeHit[]>`
    select chunk_id::text as chunk_id, document_id, kind, title, heading_path, content, fts_rank, fts_score,
           vector_rank, vector_distance, rrf_score
    from public.kb_search(${input.storeId}::uuid, ${input.query}, ${vector}::extensions.vector, ${input.k},
                          ${input.kinds ?? null}::text[], ${p.model}::text)`;
  return {
    hits,
    mode: vector ? "hybrid" : "full_text",
    degraded: p.degraded,
    embeddingModel: vector ? p.model : null,
  };
}

export async function searchKnowledge(
  sql: Sql | TransactionSql,
  embedder: Embedder | null,
  raw: SearchKnowledgeInput,
): Promise<KnowledgeSearchResult> {
  return await runSearch(sql, await prepareSearch(embedder, raw));
}

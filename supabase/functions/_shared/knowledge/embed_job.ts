// The kb.embed_document job: embeds a document's chunks with the store's model, in batches, and is
// safe to run again — it only touches chunks whose embedding_model differs from the target model.

import { z } from "zod";
import type { Sql, TransactionSql } from "../platform/db.ts";
import type { Fetched, Row } from "../platform/rows.ts";
import { enqueueJob, jobKind, type JobRegistry, PermanentFailure } from "../jobs/queue.ts";
import { type CpuTimer, untimed } from "../platform/cpu_timer.ts";
import {
  createEmbedder,
  type Embedder,
  type EmbedderDeps,
  type EmbeddingConfig,
  MAX_INPUTS_PER_REQUEST,
  toVectorLiteral,
} from "../ai/embeddings.ts";
import { AiQuotaExhausted } from "../ai/openai_errors.ts";
import { currentAiPause, pauseAiForQuota, waitForResume } from "../ai/pause.ts";

const payloadSchema = z.object({ store_id: z.uuid(), document_id: z.uuid() });

export interface StoreEmbeddingSettings {
  model: string;
  dimensions: number;
}

/** The model a store's chunks must carry: kb_settings when set, else the deployment's default. */
export async function storeEmbeddingSettings(
  sql: Sql | TransactionSql,
  config: Pick<EmbeddingConfig, "model" | "dimensions">,
  storeId: string,
): Promise<StoreEmbeddingSettings> {
  const [s] = await sql<Pick<Row<"kb_settings">, "embedding_model" | "embedding_dimensions">[]>`
    select embedding_model, embedding_dimensions from public.kb_settings where store_id = ${storeId}`;
  return {
    model: s?.embedding_model ?? config.model,
    dimensions: s?.embedding_dimensions ?? config.dimensions,
  };
}

/** An embedder for the store's configured model, or null in offline mode (no API key). */
export async function embedderForStore(
  sql: Sql | TransactionSql,
  config: EmbeddingConfig | null,
  storeId: string,
  deps: EmbedderDeps = {},
): Promise<Embedder | null> {
  if (!config) return null;
  const s = await storeEmbeddingSettings(sql, config, storeId);
  return createEmbedder({ ...config, model: s.model, dimensions: s.dimensions }, deps);
}

/** What embedding a chunk sees: its headings give a short passage the context it lacks on its own. */
export function embeddingText(headingPath: string, content: string): string {
  return headingPath ? `${headingPath}\n\n${content}` : content;
}

export interface EmbedDocumentDeps {
  sql: Sql;
  /** null: offline mode — chunks stay full-text only and the job completes (re-embed later). */
  embedding: EmbeddingConfig | null;
  /** Builds the embedder for a store's settings (tests inject fakes). */
  embedderFor?: (settings: StoreEmbeddingSettings) => Embedder;
  batchSize?: number;
  /** Wait between quota probes once the AI is paused for quota. */
  quotaProbeMs?: number;
}

export interface EmbedDocumentOutcome {
  embedded: number;
  tokens: number;
  model: string | null;
  /** False when the run stopped at `maxChunks` with chunks still to embed. */
  done: boolean;
}

/** Chunks one kb.embed_document run embeds before handing the rest to a continuation job: decoding
 * vectors and writing them costs CPU per chunk, and a 5 MiB document has thousands of chunks, more
 * than one worker run may spend on hosted (2 s of CPU per request). */
export const CHUNKS_PER_EMBED_RUN = 480;

/** Embeds every chunk of a document that is not yet embedded with the store's model. */
export async function embedDocument(
  deps: EmbedDocumentDeps,
  input: { storeId: string; documentId: string },
  signal?: AbortSignal,
  opts: { maxChunks?: number; cpu?: CpuTimer } = {},
): Promise<EmbedDocumentOutcome> {
  const { sql } = deps;
  const [doc] = await sql<Pick<Row<"kb_documents">, "id">[]>`
    select id from public.kb_documents where id = ${input.documentId} and store_id = ${input.storeId}`;
  if (!doc) return { embedded: 0, tokens: 0, model: null, done: true }; // deleted since: nothing to do
  if (!deps.embedding) {
    await sql`update public.kb_documents set status = 'ready', error = null where id = ${input.documentId}`;
    return { embedded: 0, tokens: 0, model: null, done: true };
  }
  // The OpenAI account is out of quota: nothing is sent until the AI resumes (the job waits, attempts kept).
  const pause = await currentAiPause(sql);
  if (pause) throw waitForResume(pause);
  const settings = await storeEmbeddingSettings(sql, deps.embedding, input.storeId);
  const embedder = deps.embedderFor?.(settings) ??
    createEmbedder({ ...deps.embedding, model: settings.model, dimensions: settings.dimensions });
  const batchSize = deps.batchSize ?? MAX_INPUTS_PER_REQUEST;
  let embedded = 0;
  let tokens = 0;
  let after = 0;
  try {
    for (;;) {
      if (signal?.aborted) throw new Error("embedding aborted (job timeout)");
      if (opts.maxChunks !== undefined && embedded >= opts.maxChunks) {
        return { embedded, tokens, model: embedder.model, done: false };
      }
      const chunks = await sql<Fetched<Pick<Row<"kb_chunks">, "id" | "heading_path" | "content">, never, "id">[]>`
        select id, heading_path, content from public.kb_chunks
        where document_id = ${input.documentId} and store_id = ${input.storeId}
          and embedding_model is distinct from ${embedder.model} and id > ${after}
        order by id
        limit ${batchSize}`;
      if (chunks.length === 0) break;
      const result = await embedder.embed(chunks.map((c) => embeddingText(c.heading_path, c.content)), { signal });
      tokens += result.tokens;
      // Rows locked in id order first (as every multi-row update of chunks does), so a concurrent
      // re-index or a second run of this job waits instead of deadlocking.
      await sql.begin(async (tx) => {
        await tx`select 1 from public.kb_chunks where id = any(${tx.array(chunks.map((c) => c.id))}::bigint[])
                 order by id for update`;
        await tx`
          update public.kb_chunks c
             set embedding = v.embedding::extensions.vector, embedding_model = ${embedder.model}
            from unnest(${tx.array(chunks.map((c) => c.id))}::bigint[],
                        ${
          tx.array((opts.cpu ?? untimed).time(() => result.vectors.map(toVectorLiteral)))
        }::text[]) as v(id, embedding)
           where c.id = v.id`;
      });
      embedded += chunks.length;
      after = Number(chunks[chunks.length - 1].id);
    }
  } catch (err) {
    if (err instanceof AiQuotaExhausted) {
      // What no retry clears pauses the AI (and alerts); this job waits for the resume, its chunks kept so far.
      throw waitForResume(await pauseAiForQuota(sql, err, { probeAfterMs: deps.quotaProbeMs }));
    }
    if (err instanceof PermanentFailure) {
      await sql`update public.kb_documents set status = 'failed', error = ${err.message} where id = ${input.documentId}`;
    }
    throw err;
  }
  await sql`
    update public.kb_documents d set status = 'ready', error = null
    where d.id = ${input.documentId}
      and not exists (select 1 from public.kb_chunks c where c.document_id = d.id
                      and c.embedding_model is distinct from ${embedder.model})`;
  return { embedded, tokens, model: embedder.model, done: true };
}

/** The knowledge base's job kinds, for the job registry (_shared/jobs/registry.ts). */
export function knowledgeJobHandlers(deps: EmbedDocumentDeps): JobRegistry {
  return {
    "kb.embed_document": jobKind(payloadSchema, async ({ payload }, { sql, log, signal, cpu }) => {
      const outcome = await embedDocument(
        deps,
        { storeId: payload.store_id, documentId: payload.document_id },
        signal,
        {
          maxChunks: CHUNKS_PER_EMBED_RUN,
          cpu,
        },
      );
      if (!outcome.done) {
        // The rest in a job of its own (a new key per stretch), so no run passes its CPU budget.
        await enqueueJob(sql, {
          kind: "kb.embed_document",
          payload,
          idempotencyKey: `kb.embed_document:${payload.document_id}:${crypto.randomUUID()}`,
          storeId: payload.store_id,
        });
      }
      if (!deps.embedding) log.info("embeddings are off (no OPENAI_API_KEY): document stays full-text only");
      else log.info("embedded knowledge chunks", { ...outcome, document_id: payload.document_id });
    }),
  };
}

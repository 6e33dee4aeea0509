// Putting knowledge in a store: a file becomes a document and its chunks in one transaction (full-text
// searchable at once, embedded later by the kb.embed_document job it enqueues); an FAQ is one insert.

import { z } from "zod";
import type { Sql, TransactionSql } from "../platform/db.ts";
import type { Constrained, Fetched, Insert, Row } from "../platform/rows.ts";
import { chunkBlocks, type ChunkOptions } from "./chunk.ts";
import { KnowledgeError } from "./errors.ts";
import { detectMimeType, parseDocument } from "./parse.ts";

/** Larger files are refused rather than parsed inside an edge function's memory. */
export const MAX_DOCUMENT_BYTES = 20 * 1024 * 1024;

export const ingestDocumentInput = z.object({
  storeId: z.uuid(),
  title: z.string().trim().min(1).max(500).optional(),
  sourceName: z.string().trim().min(1).max(500),
  mimeType: z.string().trim().max(200).nullish(),
  bytes: z.instanceof(Uint8Array),
  createdBy: z.uuid().nullish(),
});
export type IngestDocumentInput = z.input<typeof ingestDocumentInput>;

export interface IngestResult {
  documentId: string;
  /** false when the same content was already in the store (nothing was changed). */
  created: boolean;
  chunks: number;
  jobId: string | null;
}

type DocumentId = Pick<Row<"kb_documents">, "id">;
/** A document already in the store, with how many chunks it has. */
type KnownDocument = DocumentId & { chunks: number };

function invalid(err: z.ZodError): KnowledgeError {
  const issue = err.issues[0];
  return new KnowledgeError("invalid", `${issue.path.join(".") || "input"}: ${issue.message}`);
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new Uint8Array(bytes));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function titleFromFileName(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? name;
  return base.replace(/\.[^.]+$/, "").replace(/[_-]+/g, " ").trim() || base;
}

/** Parses, chunks and stores a file as a document of the store; re-adding the same bytes is a no-op. */
export async function ingestDocument(
  sql: Sql,
  raw: IngestDocumentInput,
  opts: { chunking?: ChunkOptions } = {},
): Promise<IngestResult> {
  const parsedInput = ingestDocumentInput.safeParse(raw);
  if (!parsedInput.success) throw invalid(parsedInput.error);
  const input = parsedInput.data;
  if (input.bytes.length > MAX_DOCUMENT_BYTES) {
    throw new KnowledgeError(
      "too_large",
      `${input.sourceName} is ${(input.bytes.length / 1048576).toFixed(1)} MiB; the limit is ${
        MAX_DOCUMENT_BYTES / 1048576
      } MiB`,
    );
  }
  const mimeType = detectMimeType(input.sourceName, input.mimeType);
  const hash = await sha256Hex(input.bytes);

  // Cheap idempotency check before parsing (a PDF can take a while); the unique key decides races.
  const [existing] = await sql<KnownDocument[]>`
    select id, (select count(*)::int from public.kb_chunks c where c.document_id = d.id) as chunks
    from public.kb_documents d where d.store_id = ${input.storeId} and d.content_sha256 = ${hash}`;
  if (existing) return { documentId: existing.id, created: false, chunks: existing.chunks, jobId: null };

  const parsed = await parseDocument(input.bytes, mimeType);
  const chunks = chunkBlocks(parsed.blocks, opts.chunking);
  const title = input.title ?? parsed.title ?? titleFromFileName(input.sourceName);

  return await sql.begin(async (tx: TransactionSql): Promise<IngestResult> => {
    const [doc] = await tx<DocumentId[]>`
      insert into public.kb_documents (store_id, kind, title, source_name, mime_type, content_sha256, created_by)
      values (${input.storeId}, 'document', ${title.slice(0, 500)}, ${input.sourceName}, ${mimeType}, ${hash},
              ${input.createdBy ?? null})
      on conflict (store_id, content_sha256) do nothing
      returning id`;
    if (!doc) {
      const [again] = await tx<KnownDocument[]>`
        select id, (select count(*)::int from public.kb_chunks c where c.document_id = d.id) as chunks
        from public.kb_documents d where d.store_id = ${input.storeId} and d.content_sha256 = ${hash}`;
      return { documentId: again.id, created: false, chunks: again.chunks, jobId: null };
    }
    // Multi-row inserts of a few hundred rows keep a large document to a handful of round trips.
    for (let i = 0; i < chunks.length; i += 500) {
      const rows = chunks.slice(i, i + 500).map((c): Insert<"kb_chunks"> => ({
        store_id: input.storeId,
        document_id: doc.id,
        ordinal: c.ordinal,
        heading_path: c.headingPath,
        content: c.content,
        token_count: c.tokenCount,
      }));
      await tx`insert into public.kb_chunks ${
        tx(rows, "store_id", "document_id", "ordinal", "heading_path", "content", "token_count")
      }`;
    }
    const [job] = await tx<{ id: string }[]>`select private.kb_enqueue_embed(${doc.id})::text as id`;
    return { documentId: doc.id, created: true, chunks: chunks.length, jobId: job.id };
  });
}

export const addFaqInput = z.object({
  storeId: z.uuid(),
  question: z.string().trim().min(1).max(2000),
  answer: z.string().trim().min(1).max(20000),
  title: z.string().trim().min(1).max(500).optional(),
  createdBy: z.uuid().nullish(),
});
export type AddFaqInput = z.input<typeof addFaqInput>;

/** Adds an FAQ entry; the database builds its single chunk and queues its embedding (see the migration). */
export async function addFaq(
  sql: Sql | TransactionSql,
  raw: AddFaqInput,
): Promise<{ documentId: string; created: boolean }> {
  const parsed = addFaqInput.safeParse(raw);
  if (!parsed.success) throw invalid(parsed.error);
  const f = parsed.data;
  const [row] = await sql<DocumentId[]>`
    insert into public.kb_documents (store_id, kind, title, question, answer, created_by)
    values (${f.storeId}, 'faq', ${f.title ?? null}, ${f.question}, ${f.answer}, ${f.createdBy ?? null})
    on conflict (store_id, content_sha256) do nothing
    returning id`;
  if (row) return { documentId: row.id, created: true };
  const [existing] = await sql<DocumentId[]>`
    select id from public.kb_documents
    where store_id = ${f.storeId}
      and content_sha256 = encode(extensions.digest(format(E'Q: %s\nA: %s', ${f.question}::text, ${f.answer}::text), 'sha256'), 'hex')`;
  return { documentId: existing.id, created: false };
}

/** Changes an FAQ's question and/or answer; its chunk is rebuilt and re-embedded by the trigger. */
export async function updateFaq(
  sql: Sql | TransactionSql,
  raw: { storeId: string; documentId: string; question?: string; answer?: string },
): Promise<void> {
  const parsed = z.object({
    storeId: z.uuid(),
    documentId: z.uuid(),
    question: z.string().trim().min(1).max(2000).optional(),
    answer: z.string().trim().min(1).max(20000).optional(),
  }).safeParse(raw);
  if (!parsed.success) throw invalid(parsed.error);
  const f = parsed.data;
  const rows = await sql<DocumentId[]>`
    update public.kb_documents
       set question = coalesce(${f.question ?? null}, question), answer = coalesce(${f.answer ?? null}, answer)
     where id = ${f.documentId} and store_id = ${f.storeId} and kind = 'faq'
    returning id`;
  if (rows.length === 0) throw new KnowledgeError("not_found", `no FAQ entry ${f.documentId} in this store`);
}

/** Deletes a document or FAQ entry and (by cascade) its chunks. */
export async function deleteDocument(
  sql: Sql | TransactionSql,
  raw: { storeId: string; documentId: string },
): Promise<void> {
  const parsed = z.object({ storeId: z.uuid(), documentId: z.uuid() }).safeParse(raw);
  if (!parsed.success) throw invalid(parsed.error);
  const rows = await sql<DocumentId[]>`
    delete from public.kb_documents where id = ${parsed.data.documentId} and store_id = ${parsed.data.storeId}
    returning id`;
  if (rows.length === 0) throw new KnowledgeError("not_found", `no document ${parsed.data.documentId} in this store`);
}

/** A document's row with how many of its chunks there are and how many are embedded. */
export type DocumentSummary =
  & Fetched<
    Constrained<
      Pick<
        Row<"kb_documents">,
        "id" | "kind" | "title" | "source_name" | "mime_type" | "status" | "error" | "created_at"
      >,
      { kind: "document" | "faq"; status: "pending" | "ready" | "failed" }
    >,
    "created_at"
  >
  & { chunks: number; embedded: number };

/** A store's documents, newest first, with how many of their chunks are embedded. */
export async function listDocuments(
  sql: Sql | TransactionSql,
  raw: { storeId: string; kind?: "document" | "faq"; limit?: number },
): Promise<DocumentSummary[]> {
  const parsed = z.object({
    storeId: z.uuid(),
    kind: z.enum(["document", "faq"]).optional(),
    limit: z.number().int().min(1).max(1000).default(200),
  }).safeParse(raw);
  if (!parsed.success) throw invalid(parsed.error);
  const f = parsed.data;
  return await sql<DocumentSummary[]>`
    select d.id, d.kind, d.title, d.source_name, d.mime_type, d.status, d.error, d.created_at,
           count(c.id)::int as chunks, count(c.embedding_model)::int as embedded
    from public.kb_documents d
    left join public.kb_chunks c on c.document_id = d.id and c.store_id = d.store_id
    where d.store_id = ${f.storeId} and (${f.kind ?? null}::text is null or d.kind = ${f.kind ?? null})
    group by d.id
    order by d.created_at desc, d.id
    limit ${f.limit}`;
}

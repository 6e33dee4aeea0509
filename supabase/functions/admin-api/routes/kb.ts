// A store's knowledge base: its documents and FAQ entries, hybrid search, and adding files and
// FAQ entries (store administrators). The query is embedded between two short transactions.

import { z } from "zod";
import type { Sql } from "../../_shared/platform/db.ts";
import { ApiError, body, parse } from "../../_shared/platform/http.ts";
import type { EmbeddingConfig } from "../../_shared/ai/embeddings.ts";
import {
  addFaq,
  embedderForStore,
  ingestDocument,
  KnowledgeError,
  listDocuments,
  prepareSearch,
  runSearch,
} from "../../_shared/knowledge/mod.ts";
import { administeredStore, route, storeBySlug } from "../route.ts";

export interface KbRouteDeps {
  sql: Sql;
  embedding?: EmbeddingConfig | null;
  /** For the embedding API (tests watch it). */
  fetch?: typeof fetch;
}

const documentUpload = z.object({
  source_name: z.string().trim().min(1).max(500),
  content_base64: z.string().min(1).max(28_000_000),
  mime_type: z.string().max(200).optional(),
  title: z.string().trim().min(1).max(500).optional(),
});
const faqEntry = z.object({
  question: z.string().trim().min(1).max(2000),
  answer: z.string().trim().min(1).max(20000),
});

/** The knowledge base's refusals as answers a person can act on. */
function knowledgeError(err: unknown): never {
  if (err instanceof KnowledgeError) {
    throw new ApiError(err.code === "not_found" ? 404 : err.code === "too_large" ? 413 : 400, err.code, err.message);
  }
  throw err;
}

export function kbRoutes(deps: KbRouteDeps) {
  return [
    route("GET", "/stores/:slug/kb", ({ params, url, asCaller }) =>
      asCaller(async (tx) => {
        const store = await storeBySlug(tx, params.slug);
        const kind = url.searchParams.get("kind");
        const documents = await listDocuments(tx, {
          storeId: store.id,
          ...(kind === "faq" || kind === "document" ? { kind } : {}),
        }).catch(knowledgeError);
        return { documents };
      })),

    route("GET", "/stores/:slug/kb/search", async ({ params, url, asCaller }) => {
      const { store, embedder } = await asCaller(async (tx) => {
        const store = await storeBySlug(tx, params.slug);
        return { store, embedder: await embedderForStore(tx, deps.embedding ?? null, store.id, { fetch: deps.fetch }) };
      });
      const k = Number(url.searchParams.get("k") ?? 5);
      const prepared = await prepareSearch(embedder, { storeId: store.id, query: url.searchParams.get("q") ?? "", k })
        .catch(knowledgeError);
      return await asCaller((tx) => runSearch(tx, prepared));
    }),

    route("POST", "/stores/:slug/kb/documents", async (ctx) => {
      const store = await administeredStore(ctx, ctx.params.slug);
      const b = parse(documentUpload, await body(ctx.req), "document");
      let bytes: Uint8Array<ArrayBuffer>;
      try {
        bytes = Uint8Array.from(atob(b.content_base64), (c) => c.charCodeAt(0));
      } catch {
        throw new ApiError(400, "invalid_input", "content_base64 is not valid base64.");
      }
      const r = await ingestDocument(deps.sql, {
        storeId: store.id,
        sourceName: b.source_name,
        mimeType: b.mime_type,
        title: b.title,
        bytes,
      }).catch(knowledgeError);
      return { document_id: r.documentId, created: r.created, chunks: r.chunks };
    }, 201),

    route("POST", "/stores/:slug/kb/faqs", async (ctx) => {
      const store = await administeredStore(ctx, ctx.params.slug);
      const b = parse(faqEntry, await body(ctx.req), "FAQ entry");
      const r = await addFaq(deps.sql, { storeId: store.id, question: b.question, answer: b.answer })
        .catch(knowledgeError);
      return { document_id: r.documentId, created: r.created };
    }, 201),
  ];
}

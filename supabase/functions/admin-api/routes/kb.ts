// A store's knowledge base: its documents and FAQ entries, hybrid search, and adding files and
// FAQ entries (store administrators). The query is embedded between two short transactions.

import { z } from "zod";
import type { Sql } from "../../_shared/platform/db.ts";
import { ApiError, body, BodyTooLarge, parse, readCappedBody } from "../../_shared/platform/http.ts";
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

/** A document upload names itself in the query; the body is the file's own bytes. Base64 in JSON
 * cost 2.4 s of CPU to decode at 20 MiB, over hosted's 2 s per request (error 546); parsing and
 * chunking still cost ~135 ms per MiB of Markdown (bench:cpu: 2.56 s for 19 MiB), so an upload
 * through the API is capped where it stays well inside that. The CLI (`kb add`), which does not run
 * on the edge runtime, takes documents up to MAX_DOCUMENT_BYTES. */
export const UPLOAD_MAX_BYTES = 5 * 1024 * 1024;
const documentUpload = z.object({
  source_name: z.string().trim().min(1).max(500),
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
      const q = parse(documentUpload, Object.fromEntries(ctx.url.searchParams), "document");
      const type = (ctx.req.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
      let bytes: Awaited<ReturnType<typeof readCappedBody>>;
      try {
        bytes = await readCappedBody(ctx.req, UPLOAD_MAX_BYTES);
      } catch (err) {
        if (err instanceof BodyTooLarge) {
          throw new ApiError(
            413,
            "too_large",
            `The file is over the ${
              UPLOAD_MAX_BYTES / 1024 / 1024
            } MiB upload limit (larger ones: switchboard kb add).`,
          );
        }
        throw err;
      }
      if (bytes.byteLength === 0) throw new ApiError(400, "invalid_input", "Send the file's bytes as the body.");
      const r = await ingestDocument(deps.sql, {
        storeId: store.id,
        sourceName: q.source_name,
        mimeType: type && type !== "application/octet-stream" ? type : undefined,
        title: q.title,
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

// The knowledge base's public surface, for admin-api, the AI reply pipeline, the CLI and the worker:
// ingestion (files, FAQ), listing, the embed job, and hybrid search.

export { KnowledgeError, type KnowledgeErrorCode } from "./errors.ts";
export { detectMimeType, type ParsedDocument, parseDocument, type SupportedMimeType } from "./parse.ts";
export { type Chunk, chunkBlocks, type ChunkOptions, estimateTokens } from "./chunk.ts";
export {
  addFaq,
  deleteDocument,
  type DocumentSummary,
  ingestDocument,
  type IngestResult,
  listDocuments,
  MAX_DOCUMENT_BYTES,
  updateFaq,
} from "./ingest.ts";
export { embedderForStore, embedDocument, knowledgeJobHandlers, storeEmbeddingSettings } from "./embed_job.ts";
export {
  type KnowledgeHit,
  type KnowledgeSearchResult,
  type PreparedSearch,
  prepareSearch,
  runSearch,
  searchKnowledge,
} from "./search.ts";

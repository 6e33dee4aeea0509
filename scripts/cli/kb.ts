// `switchboard kb add|faq add|list|search|reembed`: a store's knowledge base from the command line,
// through the same module the admin API and the AI replies use (_shared/knowledge).

import { parseArgs } from "node:util";
import { embeddingConfigFromEnv } from "../../supabase/functions/_shared/ai/embeddings.ts";
import {
  addFaq,
  embedderForStore,
  ingestDocument,
  KnowledgeError,
  listDocuments,
  searchKnowledge,
} from "../../supabase/functions/_shared/knowledge/mod.ts";
import { type CliContext, CliError, table } from "./context.ts";
import { progressBar } from "./progress.ts";

const USAGE = `usage: switchboard kb add --store <slug> [--title t] <files…>
       switchboard kb faq add --store <slug> --question q --answer a
       switchboard kb list --store <slug> [--kind document|faq]
       switchboard kb search --store <slug> [--k n] [--kind document|faq] "<query>"
       switchboard kb reembed --store <slug>`;

async function storeId(ctx: CliContext, slug: string | undefined): Promise<string> {
  if (!slug) throw new CliError("--store <slug> is required", 2);
  const [s] = await ctx.sql`select id from public.stores where slug = ${slug}`;
  if (!s) throw new CliError(`no store with slug "${slug}"`);
  return s.id;
}

function kindArg(v: string | undefined): "document" | "faq" | undefined {
  if (v === undefined) return undefined;
  if (v !== "document" && v !== "faq") throw new CliError("--kind must be document or faq", 2);
  return v;
}

async function add(ctx: CliContext, store: string, files: string[], title: string | undefined) {
  if (files.length === 0) throw new CliError(`no files given\n${USAGE}`, 2);
  if (title && files.length > 1) throw new CliError("--title applies to a single file", 2);
  // The bar goes to stderr, so the table on stdout stays clean when piped.
  const bar = progressBar("files", files.length, "{file}");
  const rows: Record<string, unknown>[] = [];
  let failed = 0;
  for (const file of files) {
    bar.update(rows.length, { file });
    const sourceName = file.split("/").pop() ?? file;
    try {
      const bytes = await Deno.readFile(file);
      const r = await ingestDocument(ctx.sql, { storeId: store, sourceName, bytes, title });
      rows.push({ file, result: r.created ? "added" : "already there", chunks: r.chunks, document: r.documentId });
    } catch (err) {
      failed++;
      rows.push({ file, result: `failed: ${(err as Error).message}`, chunks: "", document: "" });
    }
    bar.update(rows.length, { file });
  }
  bar.stop();
  ctx.out(table(rows, ["file", "result", "chunks", "document"]));
  ctx.out("embedding is queued (kb.embed_document jobs); chunks are full-text searchable now");
  if (failed) throw new CliError(`${failed} of ${files.length} files could not be added`);
}

export async function kbCommand(ctx: CliContext, args: string[]): Promise<void> {
  let [sub, ...rest] = args;
  if (sub === "faq") {
    const [faqSub, ...faqRest] = rest;
    if (faqSub !== "add") throw new CliError(USAGE, 2);
    sub = "faq-add";
    rest = faqRest;
  }
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      store: { type: "string" },
      title: { type: "string" },
      question: { type: "string" },
      answer: { type: "string" },
      kind: { type: "string" },
      k: { type: "string" },
    },
    allowPositionals: true,
    strict: true,
  });
  try {
    if (sub === "add") {
      await add(ctx, await storeId(ctx, values.store), positionals, values.title);
      return;
    }
    if (sub === "faq-add") {
      if (!values.question || !values.answer) throw new CliError("--question and --answer are required", 2);
      const r = await addFaq(ctx.sql, {
        storeId: await storeId(ctx, values.store),
        question: values.question,
        answer: values.answer,
      });
      ctx.out(r.created ? `added FAQ entry ${r.documentId}` : `the same FAQ entry is already there (${r.documentId})`);
      return;
    }
    if (sub === "list") {
      const docs = await listDocuments(ctx.sql, {
        storeId: await storeId(ctx, values.store),
        kind: kindArg(values.kind),
      });
      ctx.out(table(
        docs.map((d) => ({ ...d, embedded: `${d.embedded}/${d.chunks}` })),
        ["id", "kind", "title", "source_name", "status", "chunks", "embedded", "error", "created_at"],
      ));
      return;
    }
    if (sub === "search") {
      const query = positionals.join(" ").trim();
      if (!query) throw new CliError(`a query is required\n${USAGE}`, 2);
      const id = await storeId(ctx, values.store);
      // The embedder the stack's functions use (context.ts), so the query meets its chunks' vectors.
      const embedder = await embedderForStore(ctx.sql, embeddingConfigFromEnv(ctx.openaiEnv), id);
      const kind = kindArg(values.kind);
      const r = await searchKnowledge(ctx.sql, embedder, {
        storeId: id,
        query,
        k: values.k ? Number(values.k) : 5,
        kinds: kind ? [kind] : undefined,
      });
      const round = (v: number | null, d: number) => (v === null ? "" : v.toFixed(d));
      ctx.out(
        `${r.mode === "hybrid" ? `hybrid (full-text + ${r.embeddingModel})` : "full-text only"}${
          r.degraded ? ` — vector leg skipped: ${r.degraded}` : embedder ? "" : " (no OPENAI_API_KEY)"
        }`,
      );
      ctx.out(table(
        r.hits.map((h, i) => ({
          "#": i + 1,
          rrf: round(h.rrf_score, 4),
          "fts rank": h.fts_rank ?? "",
          "fts score": round(h.fts_score, 3),
          "vec rank": h.vector_rank ?? "",
          "vec dist": round(h.vector_distance, 3),
          title: h.title,
          heading: h.heading_path,
          content: h.content,
        })),
        ["#", "rrf", "fts rank", "fts score", "vec rank", "vec dist", "title", "heading", "content"],
      ));
      return;
    }
    if (sub === "reembed") {
      const id = await storeId(ctx, values.store);
      const [row] = await ctx.sql`select private.kb_enqueue_reembed(${id}) as n`;
      ctx.out(`queued re-embedding of ${row.n} document(s)`);
      return;
    }
  } catch (err) {
    if (err instanceof KnowledgeError) throw new CliError(err.message);
    throw err;
  }
  throw new CliError(USAGE, 2);
}

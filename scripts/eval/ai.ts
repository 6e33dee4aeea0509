// `npm run eval:ai [-- --mode offline|test|real]`: how well AI replies answer from a shipped sample knowledge base
// (eval/): retrieval recall@5 and MRR, handoff precision/recall, reply accuracy, cross-store leaks, failures.
//
// It runs the product's own code (ingestDocument, addFaq, embedDocument, searchKnowledge, decide) against a throwaway
// migrated database. Modes: offline = no API key (full-text, FAQ answers only), test = the in-process OpenAI stand-in
// (deterministic embeddings and chat, the default), real = api.openai.com with OPENAI_API_KEY. An evaluation, not a
// gate: it always exits 0 once it ran, and saves everything under .local/eval/.

import postgres from "postgres";
import { z } from "zod";
import { benchDatabase, printTable } from "../bench/harness.ts";
import { root } from "../stack/stack.ts";
import { startOpenAiStandin } from "../local/openai/server.ts";
import {
  addFaq,
  embedDocument,
  ingestDocument,
  searchKnowledge,
} from "../../supabase/functions/_shared/knowledge/mod.ts";
import {
  createEmbedder,
  type Embedder,
  type EmbeddingConfig,
  embeddingConfigFromEnv,
} from "../../supabase/functions/_shared/ai/embeddings.ts";
import {
  chatClient,
  type ChatConfig,
  chatConfigFromEnv,
  decide,
  type DecideSettings,
  type Decision,
} from "../../supabase/functions/_shared/ai/decide.ts";
import { RetryLater } from "../../supabase/functions/_shared/jobs/queue.ts";
import { citesExpected, confusion, hitAtK, mean, percent, recallAtK, reciprocalRank } from "./metrics.ts";

type Sql = postgres.Sql;
export type EvalMode = "offline" | "test" | "real";

const K = 5;
const TEST_EMBEDDING = { model: "switchboard-test-embedding", dimensions: 256 };
const TEST_CHAT_MODEL = "switchboard-test-chat";

// ── the sample data (eval/) ───────────────────────────────────────────────────────────────────

const storesFile = z.object({
  stores: z.array(z.object({ slug: z.string().regex(/^[a-z0-9-]+$/), name: z.string().min(1), language: z.string() }))
    .min(2),
});
const faqsFile = z.record(z.string(), z.unknown()).transform((o) => {
  const { $comment: _, ...stores } = o;
  return z.record(z.string(), z.array(z.object({ id: z.string(), question: z.string(), answer: z.string() })))
    .parse(stores);
});
const source = z.union([
  z.object({ faq: z.string() }).strict(),
  z.object({ file: z.string(), heading: z.string().optional(), phrase: z.string().optional() }).strict()
    .refine((s) => s.heading || s.phrase, "a file source needs a heading or a phrase"),
]);
type Source = z.infer<typeof source>;
const question = z.object({
  id: z.string(),
  store: z.string(),
  lang: z.enum(["en", "es", "pt"]),
  kind: z.enum(["direct", "paraphrase", "out_of_scope", "human", "complaint", "cross_store"]),
  question: z.string().min(1),
  expect: z.enum(["reply", "handoff"]),
  sources: z.array(source),
  note: z.string().optional(),
}).refine((q) => (q.expect === "reply") === (q.sources.length > 0), "reply questions need sources; handoffs none");
type Question = z.infer<typeof question>;
const questionsFile = z.object({ questions: z.array(question).min(1) });

export interface EvalData {
  stores: z.infer<typeof storesFile>["stores"];
  faqs: Record<string, { id: string; question: string; answer: string }[]>;
  documents: Record<string, { name: string; bytes: Uint8Array<ArrayBuffer> }[]>;
  questions: Question[];
}

export async function loadEvalData(dir = `${root}/eval`): Promise<EvalData> {
  const json = async (name: string) => JSON.parse(await Deno.readTextFile(`${dir}/${name}`));
  const { stores } = storesFile.parse(await json("stores.json"));
  const faqs = faqsFile.parse(await json("faqs.json"));
  const { questions } = questionsFile.parse(await json("questions.json"));
  const documents: EvalData["documents"] = {};
  for (const s of stores) {
    documents[s.slug] = [];
    for await (const e of Deno.readDir(`${dir}/knowledge/${s.slug}`)) {
      if (e.isFile) {
        documents[s.slug].push({ name: e.name, bytes: await Deno.readFile(`${dir}/knowledge/${s.slug}/${e.name}`) });
      }
    }
    documents[s.slug].sort((a, b) => a.name.localeCompare(b.name));
  }
  const slugs = new Set(stores.map((s) => s.slug));
  const ids = new Set<string>();
  for (const q of questions) {
    if (!slugs.has(q.store)) throw new Error(`eval/questions.json: ${q.id}: unknown store ${q.store}`);
    if (ids.has(q.id)) throw new Error(`eval/questions.json: duplicate id ${q.id}`);
    ids.add(q.id);
  }
  return { stores, faqs, documents, questions };
}

// ── the knowledge base in the database ────────────────────────────────────────────────────────

interface ChunkRow {
  id: string;
  store_id: string;
  document_id: string;
  kind: "document" | "faq";
  heading_path: string;
  content: string;
  source_name: string;
}

interface LoadedStore {
  slug: string;
  name: string;
  id: string;
  faqDocuments: Map<string, string>;
  chunkIds: Set<string>;
}

const squash = (s: string) => s.normalize("NFC").toLowerCase().replace(/\s+/g, " ").trim();

/** Chunk ids satisfying one expected source; chunk ids change every run, so sources name files and text. */
export function resolveSource(chunks: ChunkRow[], store: LoadedStore, s: Source): string[] {
  return chunks.filter((c) => {
    if (c.store_id !== store.id) return false;
    if ("faq" in s) return c.document_id === store.faqDocuments.get(s.faq);
    if (c.kind !== "document" || c.source_name !== s.file) return false;
    if (s.heading && !c.heading_path.split(" > ").some((h) => squash(h) === squash(s.heading!))) return false;
    return !s.phrase || squash(c.content).includes(squash(s.phrase));
  }).map((c) => c.id);
}

async function withRetry<T>(what: string, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof RetryLater) || attempt >= 4) throw err;
      const wait = Math.min(err.retryInMs ?? 1000 * 2 ** attempt, 20_000);
      console.error(`  ${what}: ${err.message}; retrying in ${wait} ms`);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

async function loadKnowledge(sql: Sql, data: EvalData, embedding: EmbeddingConfig | null) {
  const stores: LoadedStore[] = [];
  let embeddingTokens = 0;
  for (const s of data.stores) {
    const [row] = await sql`
      insert into public.stores (slug, name, chatwoot_provisioning) values (${`eval-${s.slug}`}, ${s.name}, 'manual')
      returning id`;
    await sql`insert into public.kb_settings (store_id, language) values (${row.id}, ${s.language})`;
    const store: LoadedStore = { slug: s.slug, name: s.name, id: row.id, faqDocuments: new Map(), chunkIds: new Set() };
    const documentIds: string[] = [];
    for (const doc of data.documents[s.slug] ?? []) {
      const r = await ingestDocument(sql, { storeId: store.id, sourceName: doc.name, bytes: doc.bytes });
      documentIds.push(r.documentId);
    }
    for (const f of data.faqs[s.slug] ?? []) {
      const r = await addFaq(sql, { storeId: store.id, question: f.question, answer: f.answer });
      store.faqDocuments.set(f.id, r.documentId);
      documentIds.push(r.documentId);
    }
    for (const documentId of documentIds) {
      const out = await withRetry(
        "embedding",
        () => embedDocument({ sql, embedding }, { storeId: store.id, documentId }),
      );
      embeddingTokens += out.tokens;
    }
    stores.push(store);
  }
  const chunks = await sql<ChunkRow[]>`
    select c.id::text as id, c.store_id::text as store_id, c.document_id::text as document_id, c.kind, c.heading_path,
           c.content, d.source_name
    from public.kb_chunks c join public.kb_documents d on d.id = c.document_id
    order by c.id`;
  for (const c of chunks) stores.find((s) => s.id === c.store_id)?.chunkIds.add(c.id);
  const [{ embedded }] = await sql`select count(*)::int as embedded from public.kb_chunks where embedding is not null`;
  return { stores, chunks: [...chunks], embeddingTokens, embedded: embedded as number };
}

// ── one question ──────────────────────────────────────────────────────────────────────────────

export interface QuestionResult {
  id: string;
  store: string;
  lang: string;
  kind: string;
  question: string;
  /** What this mode should do: offline mode can only answer from FAQ entries, so other questions expect a handoff. */
  expected: "reply" | "handoff";
  action: "reply" | "handoff";
  reason: string;
  text: string;
  /** Rank (1-based) of the first chunk of an expected source in the top k; null if none or nothing expected. */
  firstRelevantRank: number | null;
  recallAt5: number | null;
  reciprocalRank: number | null;
  hitAt5: number | null;
  citedExpected: boolean | null;
  correct: boolean;
  leaks: string[];
  retrieved: {
    id: string;
    kind: string;
    title: string;
    heading: string;
    expected: boolean;
    fts_score: number | null;
    vector_distance: number | null;
  }[];
  cited: string[];
  retrievalMode: string;
  ms: number;
}

async function evaluateQuestion(
  ctx: {
    sql: Sql;
    mode: EvalMode;
    embedder: Embedder | null;
    chat: { client: ReturnType<typeof chatClient>; model: string; temperature?: number | null } | null;
    settings: Omit<DecideSettings, "storeName">;
    chunks: ChunkRow[];
  },
  store: LoadedStore,
  q: Question,
): Promise<{ result: QuestionResult; decision: Decision }> {
  const faqOnly = ctx.mode === "offline";
  const resolved = q.sources.map((s) => {
    const ids = resolveSource(ctx.chunks, store, s);
    if (ids.length === 0) throw new Error(`eval/questions.json: ${q.id}: no chunk matches source ${JSON.stringify(s)}`);
    return { source: s, ids };
  });
  // Offline, decide() answers from FAQ entries only: the sources that count are the FAQ ones.
  const groups = resolved.filter((r) => !faqOnly || "faq" in r.source).map((r) => r.ids);
  const relevant = new Set(groups.flat());
  const expected = q.expect === "handoff" || groups.length === 0 ? "handoff" : "reply";

  const t0 = performance.now();
  const found = await searchKnowledge(ctx.sql, ctx.embedder, {
    storeId: store.id,
    query: q.question,
    k: K,
    kinds: faqOnly ? ["faq"] : undefined,
  });
  const decision = await decide(
    { sql: ctx.sql, embedder: ctx.embedder, chat: ctx.chat },
    { ...ctx.settings, storeName: store.name },
    { storeId: store.id, message: q.question, history: [] },
  );
  const ms = performance.now() - t0;

  const ranked = found.hits.map((h) => String(h.chunk_id));
  const seen = [...ranked, ...decision.chunks.map((c) => c.id), ...decision.citedChunkIds];
  const leaks = [...new Set(seen.filter((id) => !store.chunkIds.has(id)))];
  const rr = reciprocalRank(ranked, relevant);
  const citedOk = expected === "reply" ? citesExpected(decision.citedChunkIds, relevant) : null;
  const correct = decision.action === expected && (expected === "handoff" || citedOk === true);
  return {
    decision,
    result: {
      id: q.id,
      store: store.slug,
      lang: q.lang,
      kind: q.kind,
      question: q.question,
      expected,
      action: decision.action,
      reason: decision.reason,
      text: decision.text,
      firstRelevantRank: rr ? Math.round(1 / rr) : null,
      recallAt5: expected === "reply" ? recallAtK(ranked, groups, K) : null,
      reciprocalRank: expected === "reply" ? rr : null,
      hitAt5: expected === "reply" ? hitAtK(ranked, relevant, K) : null,
      citedExpected: citedOk,
      correct,
      leaks,
      retrieved: found.hits.map((h) => ({
        id: String(h.chunk_id),
        kind: h.kind,
        title: h.title,
        heading: h.heading_path,
        expected: relevant.has(String(h.chunk_id)),
        fts_score: h.fts_score === null ? null : Number(h.fts_score),
        vector_distance: h.vector_distance === null ? null : Number(h.vector_distance),
      })),
      cited: decision.citedChunkIds,
      retrievalMode: decision.retrievalMode,
      ms: Math.round(ms),
    },
  };
}

// ── the summary ───────────────────────────────────────────────────────────────────────────────

export function summarize(results: QuestionResult[]) {
  const answerable = results.filter((r) => r.expected === "reply");
  const handoff = confusion(
    results.map((r) => ({ predicted: r.action === "handoff", actual: r.expected === "handoff" })),
  );
  return {
    questions: results.length,
    answerable: answerable.length,
    expectedHandoffs: results.length - answerable.length,
    recallAt5: mean(answerable.map((r) => r.recallAt5)),
    hitAt5: mean(answerable.map((r) => r.hitAt5)),
    mrr: mean(answerable.map((r) => r.reciprocalRank)),
    handoff,
    replyAccuracy: answerable.length ? answerable.filter((r) => r.citedExpected).length / answerable.length : null,
    /** Replies on questions that expected a handoff: the bot said something it should not have. */
    unwantedReplies: results.filter((r) => r.expected === "handoff" && r.action === "reply").length,
    decisionAccuracy: results.length ? results.filter((r) => r.correct).length / results.length : null,
    crossStoreLeaks: results.reduce((n, r) => n + r.leaks.length, 0),
  };
}

function byGroup(results: QuestionResult[], key: "kind" | "lang" | "store") {
  const groups = new Map<string, QuestionResult[]>();
  for (const r of results) groups.set(r[key], [...(groups.get(r[key]) ?? []), r]);
  return [...groups].map(([name, rs]) => ({
    [key]: name,
    n: rs.length,
    "decision ok": `${rs.filter((r) => r.correct).length}/${rs.length}`,
    "hit@5": percent(mean(rs.map((r) => r.hitAt5)), 0),
    MRR: mean(rs.map((r) => r.reciprocalRank))?.toFixed(2) ?? "n/a",
  }));
}

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

// ── main ──────────────────────────────────────────────────────────────────────────────────────

export function parseMode(args: string[]): EvalMode {
  const i = args.findIndex((a) => a === "--mode" || a.startsWith("--mode="));
  const value = i < 0 ? "test" : args[i].includes("=") ? args[i].split("=")[1] : args[i + 1];
  if (value !== "offline" && value !== "test" && value !== "real") {
    throw new Error(`--mode must be offline, test or real (got ${value ?? "nothing"})`);
  }
  return value;
}

export async function evalAi(args: string[]): Promise<number> {
  let mode: EvalMode;
  try {
    mode = parseMode(args);
  } catch (err) {
    console.error(`usage: npm run eval:ai [-- --mode offline|test|real]\n${(err as Error).message}`);
    return 2;
  }
  const env = Deno.env.toObject();
  if (mode === "real" && !env.OPENAI_API_KEY?.trim()) {
    console.error(
      "eval:ai --mode real needs OPENAI_API_KEY (and optionally OPENAI_BASE_URL, OPENAI_CHAT_MODEL, " +
        "OPENAI_EMBEDDING_MODEL); use --mode test for the local stand-in.",
    );
    return 2;
  }
  const data = await loadEvalData();
  const started = performance.now();
  console.log(`eval:ai — mode ${mode}: ${data.questions.length} questions, ${data.stores.length} stores`);

  const standin = mode === "test" ? await startOpenAiStandin({ port: 0 }) : null;
  let embedding: EmbeddingConfig | null = null;
  let chatConfig: ChatConfig | null = null;
  if (standin) {
    embedding = { apiKey: standin.apiKey, baseURL: standin.baseURL, ...TEST_EMBEDDING, timeoutMs: 30_000 };
    chatConfig = {
      apiKey: standin.apiKey,
      baseURL: standin.baseURL,
      model: TEST_CHAT_MODEL,
      timeoutMs: 20_000,
      temperature: 0,
    };
  } else if (mode === "real") {
    embedding = embeddingConfigFromEnv(env);
    chatConfig = chatConfigFromEnv(env);
    // The host only (never the key), so a run against a compatible server is not mistaken for OpenAI's numbers.
    console.log(
      `real API at ${new URL(chatConfig?.baseURL ?? "https://api.openai.com/v1").host}: ` +
        `chat ${chatConfig?.model}, embeddings ${embedding?.model} (${embedding?.dimensions} dimensions)`,
    );
  }
  const db = await benchDatabase();
  const sql = postgres(db.url, { max: 4, onnotice: () => {} });
  try {
    const t0 = performance.now();
    const kb = await loadKnowledge(sql, data, embedding);
    const [{ settings }] = await sql`
      insert into public.ai_bot_settings (store_id) values (${kb.stores[0].id})
      returning json_build_object('minSimilarity', min_similarity, 'minTextScore', min_text_score, 'topK', top_k)
        as settings`;
    console.log(
      `knowledge loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${kb.chunks.length} chunks, ` +
        `${kb.embedded} embedded${embedding ? ` with ${embedding.model}` : " (offline: full-text only)"}; ` +
        `decide() settings ${JSON.stringify(settings)} (the product's defaults)\n`,
    );

    const embedder = embedding ? createEmbedder(embedding) : null;
    const chat = chatConfig
      ? { client: chatClient(chatConfig), model: chatConfig.model, temperature: chatConfig.temperature }
      : null;
    const results: QuestionResult[] = [];
    let promptTokens = 0, completionTokens = 0;
    for (const q of data.questions) {
      const store = kb.stores.find((s) => s.slug === q.store)!;
      const { result, decision } = await withRetry(
        q.id,
        () => evaluateQuestion({ sql, mode, embedder, chat, settings, chunks: kb.chunks }, store, q),
      );
      promptTokens += decision.promptTokens;
      completionTokens += decision.completionTokens;
      results.push(result);
      Deno.stdout.writeSync(new TextEncoder().encode(result.correct ? "." : "x"));
    }
    console.log("\n");

    const summary = summarize(results);
    const h = summary.handoff;
    const retrievalScope = mode === "offline" ? "FAQ-answerable questions, FAQ chunks only" : "answerable questions";
    printTable([
      { metric: `retrieval recall@${K}`, value: percent(summary.recallAt5), over: retrievalScope },
      { metric: `retrieval hit@${K}`, value: percent(summary.hitAt5), over: retrievalScope },
      { metric: "retrieval MRR", value: summary.mrr?.toFixed(3) ?? "n/a", over: retrievalScope },
      {
        metric: "handoff precision",
        value: percent(h.precision),
        over: `${h.tp} right of ${h.tp + h.fp} handoffs made`,
      },
      { metric: "handoff recall", value: percent(h.recall), over: `${h.tp} of ${h.tp + h.fn} expected handoffs` },
      {
        metric: "reply accuracy",
        value: percent(summary.replyAccuracy),
        over: `replies citing an expected chunk, of ${summary.answerable} answerable`,
      },
      {
        metric: "unwanted replies",
        value: String(summary.unwantedReplies),
        over: "replies where a handoff was expected",
      },
      { metric: "decision accuracy", value: percent(summary.decisionAccuracy), over: `all ${summary.questions}` },
      {
        metric: "cross-store leaks",
        value: String(summary.crossStoreLeaks),
        over: summary.crossStoreLeaks === 0 ? "must be 0: ok" : "must be 0: LEAK",
      },
    ]);
    console.log("");
    printTable(byGroup(results, "kind"));
    console.log("");
    printTable(byGroup(results, "lang"));

    const failures = results.filter((r) => !r.correct || (r.expected === "reply" && r.hitAt5 === 0) || r.leaks.length);
    console.log(`\n${failures.length} question(s) with a failure:`);
    if (failures.length) {
      printTable(failures.map((r) => ({
        id: r.id,
        lang: r.lang,
        expected: r.expected,
        got: r.action === "reply" && r.expected === "reply" && !r.citedExpected ? "reply (wrong chunk)" : r.action,
        rank: r.firstRelevantRank ?? (r.expected === "reply" ? "miss" : "-"),
        leaks: r.leaks.length,
        reason: clip(r.reason, 60),
        question: clip(r.question, 50),
      })));
    }

    const seconds = (performance.now() - started) / 1000;
    const report = {
      mode,
      at: new Date().toISOString(),
      seconds: Number(seconds.toFixed(1)),
      embeddingModel: embedding?.model ?? null,
      chatModel: chatConfig?.model ?? null,
      settings,
      k: K,
      chunks: kb.chunks.length,
      tokens: { embedding: kb.embeddingTokens, prompt: promptTokens, completion: completionTokens },
      summary,
      results,
    };
    await Deno.mkdir(`${root}/.local/eval`, { recursive: true });
    const path = `${root}/.local/eval/ai-${mode}.json`;
    await Deno.writeTextFile(path, JSON.stringify(report, null, 2));
    console.log(
      `\n${seconds.toFixed(1)} s` + (mode === "real" ? `; tokens ${JSON.stringify(report.tokens)}` : "") +
        `; saved ${path.replace(`${root}/`, "")}` +
        (summary.crossStoreLeaks ? "\nWARNING: retrieval crossed stores (see leaks in the JSON)" : ""),
    );
    return 0;
  } finally {
    await sql.end();
    await db.close();
    await standin?.close();
  }
}

// The knowledge base against the test stack and the OpenAI stand-in: a file becomes searchable
// chunks at once and re-adding it changes nothing; a member of store A reads none of B's chunks and
// kb_search for B returns nothing to them; the embed job embeds once, re-runs for free, follows a
// model change, and turns a 429 into a retry.

import assert from "node:assert/strict";
import { startOpenAiStandin } from "../../../../scripts/local/openai/server.ts";
import { connect, withRls } from "../platform/db.ts";
import { RetryLater } from "../jobs/queue.ts";
import { createEmbedder, type EmbeddingConfig } from "../ai/embeddings.ts";
import { testStack, waitFor } from "../../../../scripts/testing/env.ts";
import { addFaq, embedDocument, ingestDocument, KnowledgeError, listDocuments, searchKnowledge } from "./mod.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const GUIDE = new TextEncoder().encode(
  await Deno.readTextFile(
    new URL("../../../../scripts/stack/demo-knowledge/shipping-and-returns.md", import.meta.url),
  ),
);

async function fixture() {
  const sql = connect(testStack().dbUrl, { max: 3 });
  const tag = crypto.randomUUID().slice(0, 8);
  const [a] =
    await sql`insert into public.stores (slug, name, chatwoot_provisioning) values (${`kb-a-${tag}`}, 'KB A', 'manual') returning id`;
  const [b] =
    await sql`insert into public.stores (slug, name, chatwoot_provisioning) values (${`kb-b-${tag}`}, 'KB B', 'manual') returning id`;
  const member = crypto.randomUUID();
  await sql`insert into auth.users (id, email) values (${member}, ${`kb-member-${tag}@t.test`})`;
  await sql`insert into public.store_members (store_id, user_id, role) values (${a.id}, ${member}, 'agent')`;
  const cleanup = async () => {
    await sql`delete from private.jobs where store_id in (${a.id}, ${b.id})`;
    await sql`delete from public.stores where id in (${a.id}, ${b.id})`;
    await sql`delete from auth.users where id = ${member}`;
    await sql.end();
  };
  return { sql, storeA: a.id as string, storeB: b.id as string, member, cleanup };
}

Deno.test("a Markdown file becomes chunks searchable at once; re-adding it is a no-op", opts, async () => {
  const f = await fixture();
  try {
    const first = await ingestDocument(f.sql, {
      storeId: f.storeA,
      sourceName: "shipping-and-returns.md",
      bytes: GUIDE,
    });
    assert.equal(first.created, true);
    assert.ok(first.chunks >= 5 && first.jobId);
    const again = await ingestDocument(f.sql, { storeId: f.storeA, sourceName: "copy.md", bytes: GUIDE });
    assert.deepEqual([again.created, again.documentId, again.jobId], [false, first.documentId, null]);

    const r = await searchKnowledge(f.sql, null, { storeId: f.storeA, query: "how long do refunds take?" });
    assert.equal(r.mode, "full_text");
    assert.equal(r.hits[0].heading_path, "Shipping and returns > Returns > Refunds");
    assert.equal(r.hits[0].title, "Shipping and returns");
    const [docs] = [await listDocuments(f.sql, { storeId: f.storeA })];
    assert.deepEqual(docs.map((d) => [d.kind, d.status, d.embedded]), [["document", "pending", 0]]);

    await assert.rejects(
      () => ingestDocument(f.sql, { storeId: f.storeA, sourceName: "prices.xlsx", bytes: new Uint8Array([1]) }),
      (e) => e instanceof KnowledgeError && e.code === "unsupported_type" && /\.xlsx/.test(e.message),
    );
  } finally {
    await f.cleanup();
  }
});

Deno.test(
  "a member of store A reads none of B's chunks, and kb_search for B returns nothing to them",
  opts,
  async () => {
    const f = await fixture();
    try {
      await ingestDocument(f.sql, { storeId: f.storeA, sourceName: "a.md", bytes: GUIDE });
      await ingestDocument(f.sql, {
        storeId: f.storeB,
        sourceName: "b.txt",
        bytes: new TextEncoder().encode("Store B refunds everything within 90 days."),
      });
      await addFaq(f.sql, { storeId: f.storeB, question: "Refunds?", answer: "Always, for B's customers." });
      const claims = { sub: f.member, role: "authenticated" };
      await withRls(f.sql, claims, async (tx) => {
        const [{ n }] = await tx`select count(*)::int as n from public.kb_chunks where store_id = ${f.storeB}`;
        assert.equal(n, 0);
        const [{ docs }] = await tx`select count(*)::int as docs from public.kb_documents where store_id = ${f.storeB}`;
        assert.equal(docs, 0);
        const forB = await searchKnowledge(tx, null, { storeId: f.storeB, query: "refunds" });
        assert.equal(forB.hits.length, 0);
        const forA = await searchKnowledge(tx, null, { storeId: f.storeA, query: "refunds" });
        assert.ok(forA.hits.length > 0);
      });
    } finally {
      await f.cleanup();
    }
  },
);

Deno.test("the embed job embeds once, re-runs for free, follows a model change, retries a 429", opts, async () => {
  const f = await fixture();
  const standin = await startOpenAiStandin({ port: 0 });
  try {
    const config: EmbeddingConfig = {
      apiKey: standin.apiKey,
      baseURL: standin.baseURL,
      model: "switchboard-test-embedding",
      dimensions: 256,
      timeoutMs: 10_000,
    };
    const doc = await ingestDocument(f.sql, { storeId: f.storeA, sourceName: "guide.md", bytes: GUIDE });
    const faq = await addFaq(f.sql, {
      storeId: f.storeA,
      question: "Do you ship to Canada?",
      answer: "Yes, in 7-10 business days.",
    });
    const [{ n: queued }] = await f.sql`
      select count(*)::int as n from private.jobs where kind = 'kb.embed_document' and store_id = ${f.storeA}`;
    assert.equal(queued, 2, "the document and the FAQ entry each queued an embed job");

    // Under `npm test` the stack's own worker runs these jobs too: whichever runs first embeds,
    // and a run after that has nothing left to do.
    const deps = { sql: f.sql, embedding: config, batchSize: 4 };
    await embedDocument(deps, { storeId: f.storeA, documentId: doc.documentId });
    const [{ n: unembedded }] = await f.sql`select count(*)::int as n from public.kb_chunks
                                            where document_id = ${doc.documentId} and embedding is null`;
    assert.equal(unembedded, 0);
    assert.equal((await embedDocument(deps, { storeId: f.storeA, documentId: doc.documentId })).embedded, 0);
    await embedDocument(deps, { storeId: f.storeA, documentId: faq.documentId });
    const docs = await listDocuments(f.sql, { storeId: f.storeA });
    assert.ok(docs.every((d) => d.status === "ready" && d.embedded === d.chunks));

    const embedder = createEmbedder(config);
    const hybrid = await searchKnowledge(f.sql, embedder, { storeId: f.storeA, query: "shipping to canada" });
    assert.equal(hybrid.mode, "hybrid");
    const faqHit = hybrid.hits.find((h) => h.kind === "faq");
    assert.ok(faqHit && faqHit.vector_rank === 1 && faqHit.fts_rank !== null, "the FAQ is nearest and in both legs");
    assert.ok(
      hybrid.hits.every((h) => h.vector_rank !== null),
      "every chunk is embedded, so every hit has a vector rank",
    );
    // Words the chunks do not contain still find them through the vector leg.
    const vectorOnly = await searchKnowledge(f.sql, embedder, { storeId: f.storeA, query: "the a of" });
    assert.ok(vectorOnly.hits.length > 0 && vectorOnly.hits.every((h) => h.fts_rank === null));

    // A new model for the store: re-embedding is queued and the job re-embeds every chunk.
    await f.sql`insert into public.kb_settings (store_id, embedding_model, embedding_dimensions)
                values (${f.storeA}, 'text-embedding-3-small', 512)`;
    const [{ n: reembed }] = await f.sql`select private.kb_enqueue_reembed(${f.storeA}) as n`;
    assert.equal(reembed, 2);
    await embedDocument(deps, { storeId: f.storeA, documentId: doc.documentId });
    const models = await f
      .sql`select distinct embedding_model from public.kb_chunks where document_id = ${doc.documentId}`;
    assert.deepEqual(models.map((m) => m.embedding_model), ["text-embedding-3-small"]);
    const old = await searchKnowledge(f.sql, embedder, { storeId: f.storeA, query: "shipping to canada" });
    assert.ok(old.hits.every((h) => h.vector_rank === null || h.kind === "faq"), "old-model vectors are not compared");

    // A 429 from the provider: the job is retried later, honouring Retry-After.
    // (After the stack's worker is done with this store's embed jobs, so only this call embeds.)
    await waitFor(async () => {
      const [{ n }] = await f.sql`select count(*)::int as n from private.jobs where store_id = ${f.storeA}
                                  and kind like 'kb.%' and status in ('queued', 'running')`;
      return n === 0;
    }, "the worker's embed jobs for this store");
    await f
      .sql`update public.kb_chunks set embedding = null, embedding_model = null where document_id = ${faq.documentId}`;
    await fetch(`${standin.url}/_control/faults`, {
      method: "POST",
      headers: { authorization: `Bearer ${standin.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ endpoint: "embeddings", respond: { status: 429, headers: { "retry-after": "3" } } }),
    }).then((r) => r.arrayBuffer());
    const err = await embedDocument(deps, { storeId: f.storeA, documentId: faq.documentId }).catch((e) => e);
    assert.ok(err instanceof RetryLater, String(err));
    assert.equal(err.retryInMs, 3000);
  } finally {
    await standin.close();
    await f.cleanup();
  }
});

Deno.test("offline (no API key) the job completes and the document is full-text ready", opts, async () => {
  const f = await fixture();
  try {
    const doc = await ingestDocument(f.sql, { storeId: f.storeA, sourceName: "guide.md", bytes: GUIDE });
    const r = await embedDocument({ sql: f.sql, embedding: null }, { storeId: f.storeA, documentId: doc.documentId });
    assert.equal(r.embedded, 0, "offline: nothing embedded, no request");
    const [d] = await listDocuments(f.sql, { storeId: f.storeA });
    // (Under `npm test` the stack's own worker, which has the stand-in's key, may embed it too.)
    assert.equal(d.status, "ready", "the document is ready for full-text search");
    const hits = await searchKnowledge(f.sql, null, { storeId: f.storeA, query: "how long do refunds take?" });
    assert.equal(hits.mode, "full_text");
    assert.ok(hits.hits.length > 0, "found by its words alone");
  } finally {
    await f.cleanup();
  }
});

Deno.test(
  "a large document is embedded in stretches: a run stops at its chunk limit and the job queues the rest",
  opts,
  async () => {
    const f = await fixture();
    const standin = await startOpenAiStandin({ port: 0 });
    try {
      const config: EmbeddingConfig = {
        apiKey: standin.apiKey,
        baseURL: standin.baseURL,
        model: "switchboard-test-embedding",
        dimensions: 256,
        timeoutMs: 10_000,
      };
      const doc = await ingestDocument(f.sql, { storeId: f.storeA, sourceName: "guide.md", bytes: GUIDE });
      const [{ n: chunks }] = await f
        .sql`select count(*)::int as n from public.kb_chunks where document_id = ${doc.documentId}`;
      assert.ok(chunks >= 3, "the guide has several chunks");
      // A model of its own, so the stack's worker (which embeds with the store's model) cannot finish it first.
      const own = { ...config, model: "text-embedding-3-small" };
      const deps = { sql: f.sql, embedding: own, batchSize: 1, embedderFor: () => createEmbedder(own) };
      const part = await embedDocument(deps, { storeId: f.storeA, documentId: doc.documentId }, undefined, {
        maxChunks: 2,
      });
      assert.equal(part.embedded, 2);
      assert.equal(part.done, false, "chunks are left for the next stretch");
      const rest = await embedDocument(deps, { storeId: f.storeA, documentId: doc.documentId });
      assert.equal(rest.done, true);
      assert.ok(rest.embedded >= chunks - 2);
    } finally {
      await standin.close();
      await f.cleanup();
    }
  },
);

// Parsing and chunking: every supported format keeps its headings, chunks stay near the target size
// and overlap, and unsupported or empty files fail with a reason a person can act on.

import assert from "node:assert/strict";
import { PDFDocument, StandardFonts } from "pdf-lib";
import { chunkBlocks, estimateTokens, overlapTail } from "./chunk.ts";
import { KnowledgeError } from "./errors.ts";
import { detectMimeType, htmlToBlocks, markdownToBlocks, parseDocument } from "./parse.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("markdown keeps the heading path of every block and strips inline markup", () => {
  const doc = markdownToBlocks(`# Store help

Welcome to **Acme**. See [our site](https://acme.test).

## Shipping

We ship *everywhere*.

### International

- Europe: 5 days
- Asia: 9 days

## Returns

| Item | Days |
| ---- | ---- |
| Shoes | 30 |
`);
  assert.deepEqual(doc.title, "Store help");
  assert.deepEqual(doc.blocks.map((b) => [b.headingPath.join(" > "), b.text]), [
    ["Store help", "Welcome to Acme. See our site."],
    ["Store help > Shipping", "We ship everywhere."],
    ["Store help > Shipping > International", "- Europe: 5 days\n- Asia: 9 days"],
    ["Store help > Returns", "Item | Days\nShoes | 30"],
  ]);
});

Deno.test("html keeps headings, lists and tables, and drops scripts and navigation", () => {
  const doc = htmlToBlocks(`<!doctype html><html><head><title>Acme FAQ</title><style>p{}</style></head>
<body><nav>Home | Shop</nav><h1>Help</h1><p>Hello &amp; welcome.</p>
<h2>Shipping</h2><ul><li>Free over $50</li><li>Tracked</li></ul><script>alert(1)</script>
<h3>International</h3><table><tr><th>Region</th><th>Days</th></tr><tr><td>EU</td><td>5</td></tr></table>
<h2>Returns</h2><div>30 days, <b>no questions</b> asked.</div></body></html>`);
  assert.deepEqual(doc.title, "Acme FAQ");
  const byPath = Object.fromEntries(doc.blocks.map((b) => [b.headingPath.join(" > "), b.text]));
  assert.deepEqual(byPath["Help"], "Hello & welcome.");
  assert.deepEqual(byPath["Help > Shipping"], "- Free over $50\n- Tracked");
  assert.match(byPath["Help > Shipping > International"], /Region \| Days\nEU \| 5/);
  assert.deepEqual(byPath["Help > Returns"], "30 days, no questions asked.");
  assert.ok(!doc.blocks.some((b) => /alert|Home/.test(b.text)));
});

Deno.test("plain text splits on blank lines", async () => {
  const doc = await parseDocument(enc("First paragraph\nstill first.\n\n\nSecond one."), "text/plain");
  assert.deepEqual(doc.blocks.map((b) => b.text), ["First paragraph\nstill first.", "Second one."]);
});

Deno.test("a real PDF is read page by page, each page a heading", async () => {
  const pdf = await PDFDocument.create();
  pdf.setTitle("Warranty terms");
  const font = await pdf.embedFont(StandardFonts.Helvetica);
  for (const text of ["Every blender carries a two year warranty.", "Claims need the original receipt."]) {
    const page = pdf.addPage([400, 200]);
    page.drawText(text, { x: 20, y: 150, size: 12, font });
  }
  const doc = await parseDocument(await pdf.save(), "application/pdf");
  assert.deepEqual(doc.title, "Warranty terms");
  assert.deepEqual(doc.blocks.map((b) => b.headingPath), [["Page 1"], ["Page 2"]]);
  assert.match(doc.blocks[0].text, /two year warranty/);
  assert.match(doc.blocks[1].text, /original receipt/);
});

Deno.test("types come from the declared MIME type, else the extension; others are refused clearly", () => {
  assert.deepEqual(detectMimeType("faq.md", "text/plain"), "text/markdown");
  assert.deepEqual(detectMimeType("page.htm", null), "text/html");
  assert.deepEqual(detectMimeType("x.bin", "application/pdf; charset=binary"), "application/pdf");
  assert.deepEqual(detectMimeType("notes.TXT", "application/octet-stream"), "text/plain");
  let err: KnowledgeError | undefined;
  try {
    detectMimeType("sheet.xlsx");
  } catch (e) {
    err = e as KnowledgeError;
  }
  assert.ok(err instanceof KnowledgeError);
  assert.deepEqual(err.code, "unsupported_type");
  assert.match(err.message, /\.xlsx files are not supported/);
  assert.throws(() => detectMimeType("a.doc", "application/msword"), /not supported/);
});

Deno.test("an empty file or a PDF without text is refused", async () => {
  await assert.rejects(
    () => parseDocument(enc("  \n\n "), "text/plain"),
    (e: Error) => e instanceof KnowledgeError && e.message.includes("no text"),
  );
  const pdf = await PDFDocument.create();
  pdf.addPage();
  const blank = await pdf.save();
  await assert.rejects(
    () => parseDocument(blank, "application/pdf"),
    (e: Error) => e instanceof KnowledgeError && e.message.includes("OCR"),
  );
  await assert.rejects(
    () => parseDocument(enc("not a pdf"), "application/pdf"),
    (e: Error) => e instanceof KnowledgeError && e.message.includes("cannot read"),
  );
});

Deno.test("chunks stay near the target, never cross headings, and overlap by ~50 tokens", () => {
  const sentence = (i: number) => `Sentence number ${i} explains one more detail about delivery times.`;
  const long = Array.from({ length: 120 }, (_, i) => sentence(i)).join(" ");
  const chunks = chunkBlocks([
    { headingPath: ["Shipping", "International"], text: long },
    { headingPath: ["Returns"], text: "Thirty days." },
  ]);
  const shipping = chunks.filter((c) => c.headingPath === "Shipping > International");
  assert.ok(shipping.length >= 4, `expected several chunks, got ${shipping.length}`);
  for (const c of shipping) assert.ok(c.tokenCount <= 360, `chunk of ${c.tokenCount} tokens`);
  for (let i = 1; i < shipping.length; i++) {
    const tail = overlapTail(shipping[i - 1].content, 200);
    assert.ok(shipping[i].content.startsWith(tail), "each chunk starts with the end of the previous one");
    assert.ok(estimateTokens(tail) >= 30 && estimateTokens(tail) <= 50, `overlap of ${estimateTokens(tail)} tokens`);
  }
  // Every sentence survives chunking.
  const all = shipping.map((c) => c.content).join(" ");
  for (let i = 0; i < 120; i++) assert.ok(all.includes(sentence(i)));
  assert.deepEqual(chunks.at(-1), {
    ordinal: chunks.length - 1,
    headingPath: "Returns",
    content: "Thirty days.",
    tokenCount: 3,
  });
  assert.deepEqual(chunks.map((c) => c.ordinal), chunks.map((_, i) => i));
});

Deno.test("small paragraphs under one heading are packed together; a huge word is cut", () => {
  const chunks = chunkBlocks([
    { headingPath: [], text: "One." },
    { headingPath: [], text: "Two." },
    { headingPath: [], text: "x".repeat(3000) },
  ], { targetTokens: 350, overlapTokens: 0 });
  assert.equal(chunks[0].content, "One.\n\nTwo.");
  assert.equal(chunks.length, 4);
  assert.ok(chunks.every((c) => c.content.length <= 1400));
});

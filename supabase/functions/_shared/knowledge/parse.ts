// Turning an uploaded file into text blocks that remember the headings above them: Markdown (marked's
// lexer), HTML (node-html-parser), PDF (unpdf, one heading per page) and plain text. Chunking is chunk.ts.

import { marked, type Token, type Tokens } from "marked";
import { type HTMLElement, type Node, NodeType, parse as parseHtml } from "node-html-parser";
import { extractText, getDocumentProxy } from "unpdf";
import { KnowledgeError } from "./errors.ts";

export type SupportedMimeType = "text/markdown" | "text/plain" | "text/html" | "application/pdf";

/** A paragraph-like piece of text and the headings it sits under, outermost first. */
export interface Block {
  headingPath: string[];
  text: string;
}

export interface ParsedDocument {
  /** The document's own title when it names one (first h1, <title>, PDF metadata). */
  title: string | null;
  blocks: Block[];
}

const EXTENSIONS: Record<string, SupportedMimeType> = {
  md: "text/markdown",
  markdown: "text/markdown",
  mdx: "text/markdown",
  txt: "text/plain",
  text: "text/plain",
  html: "text/html",
  htm: "text/html",
  pdf: "application/pdf",
};

const MIME_ALIASES: Record<string, SupportedMimeType> = {
  "text/markdown": "text/markdown",
  "text/x-markdown": "text/markdown",
  "text/plain": "text/plain",
  "text/html": "text/html",
  "application/xhtml+xml": "text/html",
  "application/pdf": "application/pdf",
};

/** The type to parse a file as: a declared MIME type wins unless it is the generic octet-stream. */
export function detectMimeType(sourceName: string, declared?: string | null): SupportedMimeType {
  const base = declared?.split(";")[0].trim().toLowerCase();
  if (base && base !== "application/octet-stream") {
    const known = MIME_ALIASES[base];
    if (known) {
      // text/plain is what many clients send for .md files: trust the extension then.
      const byExt = EXTENSIONS[sourceName.split(".").pop()?.toLowerCase() ?? ""];
      return known === "text/plain" && byExt === "text/markdown" ? byExt : known;
    }
    throw new KnowledgeError(
      "unsupported_type",
      `cannot read ${sourceName}: type ${base} is not supported (use Markdown, plain text, HTML or PDF)`,
    );
  }
  const ext = sourceName.includes(".") ? sourceName.split(".").pop()!.toLowerCase() : "";
  const byExt = EXTENSIONS[ext];
  if (!byExt) {
    throw new KnowledgeError(
      "unsupported_type",
      `cannot read ${sourceName}: ${ext ? `.${ext} files are` : "files without an extension are"} not supported ` +
        `(use .md, .txt, .html or .pdf)`,
    );
  }
  return byExt;
}

const normalizeSpace = (s: string) => s.replace(/[ \t\u00a0]+/g, " ").replace(/ *\n */g, "\n").trim();

function decodeText(bytes: Uint8Array): string {
  // BOM-aware UTF-8; invalid sequences become U+FFFD rather than failing the upload.
  return new TextDecoder("utf-8").decode(bytes).replace(/\r\n?/g, "\n");
}

// ── Markdown ───────────────────────────────────────────────────────────────────────────────────

function inlineText(tokens: Token[] | undefined, fallback = ""): string {
  if (!tokens) return fallback;
  return tokens.map((t) => {
    switch (t.type) {
      case "br":
        return "\n";
      case "image":
        return (t as Tokens.Image).text ?? "";
      case "html":
        return htmlInlineText((t as Tokens.HTML).text);
      case "codespan":
      case "escape":
        return (t as Tokens.Codespan).text;
      default: {
        const withTokens = t as { tokens?: Token[]; text?: string };
        return withTokens.tokens ? inlineText(withTokens.tokens) : (withTokens.text ?? "");
      }
    }
  }).join("");
}

function htmlInlineText(html: string): string {
  return parseHtml(html).textContent;
}

function markdownBlockText(token: Token, depth = 0): string {
  switch (token.type) {
    case "paragraph":
    case "text":
      return inlineText((token as Tokens.Paragraph).tokens, (token as Tokens.Paragraph).text);
    case "code":
      return (token as Tokens.Code).text;
    case "blockquote":
      return (token as Tokens.Blockquote).tokens.map((t) => markdownBlockText(t, depth)).filter(Boolean).join("\n");
    case "list": {
      const list = token as Tokens.List;
      return list.items.map((item, i) => {
        const bullet = list.ordered ? `${Number(list.start || 1) + i}.` : "-";
        const body = item.tokens.map((t) => markdownBlockText(t, depth + 1)).filter(Boolean).join("\n");
        return `${"  ".repeat(depth)}${bullet} ${body}`;
      }).join("\n");
    }
    case "table": {
      const table = token as Tokens.Table;
      const row = (cells: Tokens.TableCell[]) => cells.map((c) => inlineText(c.tokens, c.text)).join(" | ");
      return [row(table.header), ...table.rows.map(row)].join("\n");
    }
    case "html":
      return htmlToBlocks((token as Tokens.HTML).text).blocks.map((b) => b.text).join("\n\n");
    default:
      return "";
  }
}

export function markdownToBlocks(markdown: string): ParsedDocument {
  const tokens = marked.lexer(markdown);
  const headings: string[] = [];
  const levels: number[] = [];
  const blocks: Block[] = [];
  let title: string | null = null;
  for (const token of tokens) {
    if (token.type === "heading") {
      const h = token as Tokens.Heading;
      const text = normalizeSpace(inlineText(h.tokens, h.text));
      if (h.depth === 1 && title === null) title = text;
      while (levels.length && levels[levels.length - 1] >= h.depth) {
        levels.pop();
        headings.pop();
      }
      levels.push(h.depth);
      headings.push(text);
      continue;
    }
    const text = normalizeSpace(markdownBlockText(token));
    if (text) blocks.push({ headingPath: [...headings], text });
  }
  return { title, blocks };
}

// ── HTML ───────────────────────────────────────────────────────────────────────────────────────

const SKIP = new Set(["script", "style", "noscript", "template", "svg", "head", "nav", "footer", "iframe", "form"]);
const BLOCK = new Set([
  "p",
  "div",
  "section",
  "article",
  "main",
  "aside",
  "header",
  "li",
  "ul",
  "ol",
  "dl",
  "dt",
  "dd",
  "pre",
  "blockquote",
  "table",
  "tr",
  "figure",
  "figcaption",
  "br",
  "hr",
  "address",
  "details",
  "summary",
]);

export function htmlToBlocks(html: string): ParsedDocument {
  const root = parseHtml(html, { blockTextElements: { pre: true } });
  const headings: string[] = [];
  const levels: number[] = [];
  const blocks: Block[] = [];
  let buffer = "";
  const flush = () => {
    const text = normalizeSpace(buffer);
    if (text) blocks.push({ headingPath: [...headings], text });
    buffer = "";
  };
  const walk = (node: Node) => {
    if (node.nodeType === NodeType.TEXT_NODE) {
      buffer += node.textContent; // textContent decodes entities
      return;
    }
    if (node.nodeType !== NodeType.ELEMENT_NODE) return;
    const el = node as HTMLElement;
    const tag = el.rawTagName?.toLowerCase() ?? "";
    if (SKIP.has(tag)) return;
    const heading = /^h([1-6])$/.exec(tag);
    if (heading) {
      flush();
      const depth = Number(heading[1]);
      while (levels.length && levels[levels.length - 1] >= depth) {
        levels.pop();
        headings.pop();
      }
      levels.push(depth);
      headings.push(normalizeSpace(el.textContent));
      return;
    }
    if (tag === "td" || tag === "th") {
      buffer += " | ";
    }
    if (BLOCK.has(tag)) {
      if (tag === "li" || tag === "tr" || tag === "br" || tag === "dt" || tag === "dd") buffer += "\n";
      else flush();
      if (tag === "li") buffer += "- ";
    }
    if (tag === "pre") {
      buffer += el.textContent;
      flush();
      return;
    }
    for (const child of el.childNodes) walk(child);
    if (BLOCK.has(tag) && !["li", "tr", "br", "dt", "dd"].includes(tag)) flush();
  };
  const body = root.querySelector("body") ?? root;
  walk(body);
  flush();
  const title = normalizeSpace(root.querySelector("title")?.textContent ?? "") ||
    normalizeSpace(root.querySelector("h1")?.textContent ?? "") || null;
  // Table rows start with the cell separator; drop it.
  for (const b of blocks) b.text = b.text.replace(/^\| /gm, "").replace(/ \|\s*$/gm, "");
  return { title, blocks };
}

// ── plain text and PDF ─────────────────────────────────────────────────────────────────────────

export function plainTextToBlocks(text: string, headingPath: string[] = []): Block[] {
  return text.split(/\n\s*\n/).map(normalizeSpace).filter(Boolean).map((t) => ({ headingPath, text: t }));
}

export async function pdfToBlocks(bytes: Uint8Array): Promise<ParsedDocument> {
  let pdf;
  try {
    // unpdf may transfer the buffer to its worker: give it a copy.
    pdf = await getDocumentProxy(new Uint8Array(bytes));
  } catch (err) {
    throw new KnowledgeError("unreadable", `cannot read the PDF: ${(err as Error).message}`);
  }
  const { text } = await extractText(pdf, { mergePages: false });
  let title: string | null = null;
  try {
    const meta = await pdf.getMetadata();
    const t = (meta.info as { Title?: unknown } | undefined)?.Title;
    if (typeof t === "string" && t.trim()) title = t.trim();
  } catch {
    // metadata is optional
  }
  const pages = text as string[];
  // A page's text comes as lines; one heading per page lets an answer cite "Page 3".
  const blocks = pages.flatMap((page, i) => plainTextToBlocks(page, pages.length > 1 ? [`Page ${i + 1}`] : []));
  // This pdf.js build has no PDFDocumentProxy.destroy(); its loading task frees the document and worker.
  await pdf.loadingTask.destroy();
  return { title, blocks };
}

/** Parses a file into heading-aware blocks. Throws KnowledgeError for an unsupported or empty file. */
export async function parseDocument(
  bytes: Uint8Array,
  mimeType: SupportedMimeType,
): Promise<ParsedDocument> {
  let parsed: ParsedDocument;
  if (mimeType === "application/pdf") parsed = await pdfToBlocks(bytes);
  else if (mimeType === "text/html") parsed = htmlToBlocks(decodeText(bytes));
  else if (mimeType === "text/markdown") parsed = markdownToBlocks(decodeText(bytes));
  else parsed = { title: null, blocks: plainTextToBlocks(decodeText(bytes)) };
  if (parsed.blocks.length === 0) {
    throw new KnowledgeError(
      "empty",
      mimeType === "application/pdf"
        ? "the PDF has no extractable text (a scanned PDF needs OCR first)"
        : "the file contains no text",
    );
  }
  return parsed;
}

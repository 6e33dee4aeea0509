// `switchboard kb …` as an operator types it: files added (a refused one named with its reason,
// the rest kept), an FAQ entry, the list, and a search that finds the new text.

import assert from "node:assert/strict";
import { main } from "./main.ts";
import { connect } from "../../supabase/functions/_shared/platform/db.ts";
import { testStack, waitFor } from "../testing/env.ts";
import { openaiStandinEnv } from "../stack/stack.ts";
import { newStore } from "../testing/chatwoot.ts";

const stack = testStack();
const opts = { sanitizeOps: false, sanitizeResources: false };

// Without a stack file the CLI has only its own environment (no OPENAI_API_KEY in tests).
const NO_STACK_FILE = "/nonexistent/stack.json";

async function cliWith(stackFile: string, ...args: string[]) {
  const lines: string[] = [];
  const code = await main(args, (l) => lines.push(l), { stackFile, confirm: null });
  return { code, out: lines.join("\n") };
}

const cli = (...args: string[]) => cliWith(NO_STACK_FILE, ...args);

Deno.test("kb add, faq add, list and search from the command line", opts, async () => {
  const sql = connect(stack.dbUrl);
  const dir = await Deno.makeTempDir();
  try {
    const store = await newStore(sql);
    await Deno.writeTextFile(`${dir}/returns.md`, "# Returns\n\n## Window\nReturns are accepted within 45 days.\n");
    await Deno.writeTextFile(`${dir}/hours.txt`, "Our warehouse ships Monday to Saturday.\n");
    await Deno.writeFile(`${dir}/tool.exe`, new Uint8Array([77, 90, 0, 1]));

    const added = await cli(
      "kb",
      "add",
      "--store",
      store.slug,
      `${dir}/returns.md`,
      `${dir}/hours.txt`,
      `${dir}/tool.exe`,
    );
    assert.equal(added.code, 1, "one file failed: the command says so");
    assert.match(added.out, /returns\.md\s+added\s+\d+/);
    assert.match(added.out, /hours\.txt\s+added/);
    assert.match(added.out, /tool\.exe\s+failed: cannot read tool\.exe/);
    const again = await cli("kb", "add", "--store", store.slug, `${dir}/returns.md`);
    assert.equal(again.code, 0);
    assert.match(again.out, /already there/, "re-adding the same file changes nothing");

    assert.equal((await cli("kb", "faq", "add", "--store", store.slug, "--question", "Gift wrap?")).code, 2);
    const faq = await cli("kb", "faq", "add", "--store", store.slug, "--question", "Gift wrap?", "--answer", "Free.");
    assert.equal(faq.code, 0, faq.out);

    const listed = await cli("kb", "list", "--store", store.slug);
    assert.equal(listed.code, 0);
    assert.equal(listed.out.split("\n").filter((l) => /\b(document|faq)\b/.test(l)).length, 3);

    const found = await cli("kb", "search", "--store", store.slug, "how many days to return an item?");
    assert.equal(found.code, 0);
    assert.match(found.out, /full-text only/, "the test process has no OPENAI_API_KEY");
    assert.match(found.out, /45 days/);
    assert.equal((await cli("kb", "search", "--store", store.slug)).code, 2, "a query is required");
    assert.equal((await cli("kb", "list", "--store", "no-such-store")).code, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await sql.end();
  }
});

Deno.test(
  "kb search on the stack embeds the query with the stack's embedder: hybrid, as the README shows",
  opts,
  async () => {
    const sql = connect(stack.dbUrl);
    const dir = await Deno.makeTempDir();
    try {
      const store = await newStore(sql);
      await Deno.writeTextFile(`${dir}/care.md`, "# Care\n\n## Washing\nMachine wash cold; never use bleach.\n");
      assert.equal((await cli("kb", "add", "--store", store.slug, `${dir}/care.md`)).code, 0);
      // The stack's functions embed the chunks (kb.embed_document on its OpenAI stand-in).
      await waitFor(async () => {
        const [r] = await sql`select count(*) filter (where embedding is not null)::int as n, count(*)::int as all
                            from public.kb_chunks where store_id = ${store.id}`;
        return r.all > 0 && r.n === r.all;
      }, "the chunks to be embedded");

      // What \`npm start\` writes to .local/stack.json for its stand-in: the functions' own OPENAI_* settings.
      const apiKey = Deno.env.get("OPENAI_STANDIN_KEY");
      const baseURL = Deno.env.get("OPENAI_BASE_URL");
      assert.ok(apiKey && baseURL, "npm test runs the OpenAI stand-in");
      const stackFile = `${dir}/stack.json`;
      const file = (dbUrl: string) =>
        Deno.writeTextFile(
          stackFile,
          JSON.stringify({ dbUrl, apiUrl: stack.apiUrl, openaiEnv: openaiStandinEnv({ apiKey, baseURL }) }),
        );
      await file(stack.dbUrl);
      const hybrid = await cliWith(stackFile, "kb", "search", "--store", store.slug, "how do I wash it?");
      assert.equal(hybrid.code, 0, hybrid.out);
      assert.match(hybrid.out, /^hybrid \(full-text \+ [\w.-]+\)$/m);
      assert.doesNotMatch(hybrid.out, /full-text only|no OPENAI_API_KEY/);
      const row = hybrid.out.split("\n").find((l) => l.includes("never use bleach")) ?? "";
      assert.match(row, /^1\s+\d\.\d{4}\s+\S*\s+\S*\s+1\s+\d\.\d{3}\s/, `the hit has a vector rank: ${row}`);

      // A stack file of another database is not this project's embedder.
      await file("postgresql://postgres:postgres@127.0.0.1:1/elsewhere");
      const other = await cliWith(stackFile, "kb", "search", "--store", store.slug, "how do I wash it?");
      assert.match(other.out, /full-text only \(no OPENAI_API_KEY\)/);
    } finally {
      await Deno.remove(dir, { recursive: true });
      await sql.end();
    }
  },
);

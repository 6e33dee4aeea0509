// `switchboard kb …` as an operator types it: files added (a refused one named with its reason,
// the rest kept), an FAQ entry, the list, and a search that finds the new text.

import assert from "node:assert/strict";
import { main } from "./main.ts";
import { connect } from "../../supabase/functions/_shared/platform/db.ts";
import { testStack } from "../testing/env.ts";
import { newStore } from "../testing/chatwoot.ts";

const stack = testStack();
const opts = { sanitizeOps: false, sanitizeResources: false };

async function cli(...args: string[]) {
  const lines: string[] = [];
  const code = await main(args, (l) => lines.push(l));
  return { code, out: lines.join("\n") };
}

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

// The registry against the code that enqueues: every kind a migration or a function enqueues has
// a handler (else its jobs would wait forever), every handler has someone enqueuing it, and every
// kind's schema refuses a payload that lacks what the kind needs.

import assert from "node:assert/strict";
import { connect } from "../platform/db.ts";
import { testStack } from "../../../../scripts/testing/env.ts";
import { jobRegistry } from "./registry.ts";
import type { JobRegistry } from "./queue.ts";
import { testBucketPolicy } from "../../../../scripts/testing/archive.ts";

const root = new URL("../../../../", import.meta.url);

/** The string literals of the first argument of each `enqueue_job(` call in SQL: the kind, or
 * the kinds a CASE picks from. A first argument without a literal (`p_kind`, a bound parameter)
 * names no kind here; its caller is read instead. */
export function kindsInSql(sql: string): string[] {
  const kinds: string[] = [];
  for (const call of sql.matchAll(/enqueue_job\s*\(/g)) {
    let depth = 0;
    let inString = false;
    let arg = "";
    for (let i = call.index + call[0].length; i < sql.length; i++) {
      const ch = sql[i];
      if (inString) {
        if (ch === "'") inString = false;
      } else if (ch === "'") inString = true;
      else if (ch === "(") depth++;
      else if (ch === ")" && depth-- === 0) break;
      else if (ch === "," && depth === 0) break;
      arg += ch;
    }
    for (const literal of arg.matchAll(/'([a-z][a-z0-9_]*(?:\.[a-z0-9_-]+)+)'/g)) kinds.push(literal[1]);
  }
  return kinds;
}

/** Kinds TypeScript enqueues: `kind: "…"` in enqueueJob inputs and job objects handed to
 * private.enqueue_job (the bot receiver's), and literal kinds in SQL it sends. */
export function kindsInTypeScript(source: string): string[] {
  const objects = [...source.matchAll(/\bkind:\s*"([a-z][a-z0-9_]*(?:\.[a-z0-9_-]+)+)"/g)].map((m) => m[1]);
  return [...objects, ...kindsInSql(source)];
}

function filesUnder(dir: URL, ext: string): URL[] {
  const out: URL[] = [];
  for (const e of Deno.readDirSync(dir)) {
    const url = new URL(e.isDirectory ? `${e.name}/` : e.name, dir);
    if (e.isDirectory && e.name !== "node_modules") out.push(...filesUnder(url, ext));
    else if (e.isFile && e.name.endsWith(ext) && !e.name.endsWith(`_test${ext}`)) out.push(url);
  }
  return out;
}

/** Every kind enqueued anywhere that deploys or operates: migrations, functions, the CLI. */
function enqueuedKinds(): Map<string, string[]> {
  const where = new Map<string, string[]>();
  const note = (kind: string, file: URL) => {
    const path = file.pathname.slice(root.pathname.length);
    where.set(kind, [...new Set([...(where.get(kind) ?? []), path])]);
  };
  for (const f of filesUnder(new URL("supabase/migrations/", root), ".sql")) {
    for (const k of kindsInSql(Deno.readTextFileSync(f))) note(k, f);
  }
  for (const dir of ["supabase/functions/", "scripts/cli/"]) {
    for (const f of filesUnder(new URL(dir, root), ".ts")) {
      for (const k of kindsInTypeScript(Deno.readTextFileSync(f))) note(k, f);
    }
  }
  return where;
}

/** The worker's registry, wired to a pool it never queries (building it only wires dependencies). */
async function withRegistry<T>(use: (registry: JobRegistry) => T): Promise<T> {
  const sql = connect(testStack().dbUrl);
  try {
    return use(jobRegistry({
      sql,
      retentionDays: 7,
      chatwootRequestsPerMinute: 3000,
      chatwootUrl: null,
      chatwootPlatformToken: null,
      functionsUrl: "http://127.0.0.1/functions/v1",
      ai: { embedding: null, chat: null, transcriptionModel: null },
      archive: {
        connection: { mode: "emulator", endpoint: "http://127.0.0.1:1", projectId: "registry-test", key: null },
        bucketOpsIntervalMs: 2100,
        policy: testBucketPolicy("sb-test", { salt: "registry-test", labels: {} }),
        mediaMaxBytes: 1024,
        mediaTimeoutMs: 1000,
      },
    }));
  } finally {
    await sql.end();
  }
}

Deno.test("the SQL scanner reads only enqueue_job's first argument, CASE branches included", () => {
  const sql = `
    perform private.enqueue_job(
      case new.status when 'suspended' then 'chatwoot.suspend' else 'chatwoot.reactivate' end,
      jsonb_build_object('store_id', new.id), format('chatwoot.%s:%s', new.status, new.id), new.id);
    select private.enqueue_job('archive.message', jsonb_build_object('account_ref', x), 'archive.key');
    create function private.enqueue_job(p_kind text, p_payload jsonb) returns bigint;`;
  assert.deepEqual(kindsInSql(sql), ["chatwoot.suspend", "chatwoot.reactivate", "archive.message"]);
  assert.deepEqual(
    kindsInTypeScript(`job = { kind: "ai.reply", key: "k" }; enqueueJob(sql, { kind: "jobs.purge_completed" });`),
    ["ai.reply", "jobs.purge_completed"],
  );
});

Deno.test("every enqueued kind has a handler, and every handler is enqueued somewhere", async () => {
  const enqueued = enqueuedKinds();
  const registered = await withRegistry((r) => Object.keys(r).sort());
  // The scan must see the enqueuers it exists for, or it would pass by finding nothing.
  for (
    const known of ["chatwoot.provision", "chatwoot.suspend", "archive.message", "ai.reply", "jobs.purge_completed"]
  ) {
    assert.ok(enqueued.has(known), `the scan finds ${known}`);
  }
  const unhandled = [...enqueued.keys()].filter((k) => !registered.includes(k))
    .map((k) => `${k} (enqueued in ${enqueued.get(k)!.join(", ")})`);
  assert.deepEqual(unhandled, [], "kinds enqueued without a handler: their jobs would wait forever");
  const unused = registered.filter((k) => !enqueued.has(k));
  assert.deepEqual(unused, [], "handlers nobody enqueues");
});

Deno.test("every kind's schema refuses an empty payload, except the purge and the quota probe that need none", async () => {
  const accepting = await withRegistry((registry) =>
    Object.entries(registry).filter(([, kind]) => kind.payload.safeParse({}).success).map(([name]) => name)
  );
  assert.deepEqual(accepting.sort(), ["ai.quota_probe", "jobs.purge_completed"]);
});

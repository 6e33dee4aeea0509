// The functions' database connection under load, on the Deno the tests run on (the edge
// runtime's in `npm test`): many small and large statements interleaved on a few connections,
// the pattern that made postgres.js write null and kill the process on Deno 2.1.

import assert from "node:assert/strict";
import { connect, databaseUrl, nullTolerantSocket } from "./db.ts";
import { testStack } from "../../../../scripts/testing/env.ts";

const stack = testStack();
const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test("interleaved small and large statements on a small pool all complete, none lost", opts, async () => {
  const sql = connect(stack.dbUrl, { max: 5, applicationName: "db-test" });
  const big = "x".repeat(1500);
  let completed = 0;
  let issued = 0;
  try {
    const until = Date.now() + 1500;
    await Promise.all(Array.from({ length: 20 }, async (_, id) => {
      while (Date.now() < until) {
        const pick = (issued++) % 3;
        if (pick === 0) {
          const [a, b] = await sql.begin(async (
            tx,
          ) => [await tx`select ${id}::int as v`, await tx`select ${big}::text as v`]);
          assert.equal(a[0].v, id);
          assert.equal(b[0].v.length, big.length);
        } else if (pick === 1) {
          const [x, y] = await Promise.all([sql`select 1 as v`, sql`select ${big}::text as v`]);
          assert.equal(x[0].v, 1);
          assert.equal(y[0].v, big);
        } else {
          const [r] = await sql`select ${id}::int as v, ${"y".repeat(id * 100)}::text as t`;
          assert.equal(r.t.length, id * 100);
        }
        completed++;
      }
    }));
    assert.ok(completed > 100, `expected a real load, got ${completed} rounds`);
  } finally {
    await sql.end();
  }
});

Deno.test("the connection's socket ignores the null write postgres.js can make on Deno 2.1", opts, async () => {
  const url = new URL(stack.dbUrl);
  const socket = nullTolerantSocket({ host: [url.hostname], port: [Number(url.port)] });
  try {
    await new Promise((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    assert.equal(socket.write(null as never), true);
    assert.equal(socket.destroyed, false);
  } finally {
    socket.destroy();
  }
});

Deno.test("the pooler URL, when set, is used instead of the direct one", opts, () => {
  assert.deepEqual(databaseUrl({ SUPABASE_DB_URL: "postgres://direct/x" }), {
    url: "postgres://direct/x",
    pooled: false,
  });
  assert.deepEqual(
    databaseUrl({ SUPABASE_DB_URL: "postgres://direct/x", SWITCHBOARD_DB_POOLER_URL: "postgres://pool:6543/x" }),
    { url: "postgres://pool:6543/x", pooled: true },
  );
});

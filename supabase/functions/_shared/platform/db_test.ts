// The functions' database connection under load, on the Deno the tests run on (the edge
// runtime's in `npm test`): many small and large statements interleaved on a few connections,
// the pattern that made postgres.js write null and kill the process on Deno 2.1.

import assert from "node:assert/strict";
import { connect, databaseUrl, isDatabaseUnavailable, nullTolerantSocket } from "./db.ts";
import { freePort } from "../../../../scripts/local/kit/ports.ts";
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

Deno.test(
  "while the database refuses connections queries fail at once, and work again when it is back",
  opts,
  async () => {
    // A port that refuses, then forwards to the real database: Postgres down, then up again.
    const target = new URL(stack.dbUrl);
    const port = freePort();
    const url = new URL(stack.dbUrl);
    url.port = String(port);
    const sql = connect(url.toString(), { max: 2 });
    let listener: Deno.Listener | null = null;
    try {
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        const err = await sql`select 1`.then(() => null, (e) => e);
        assert.ok(isDatabaseUnavailable(err), `a connection error, got ${err}`);
        assert.ok(performance.now() - t0 < 1000, "failed fast, not after a growing backoff");
      }
      listener = Deno.listen({ hostname: "127.0.0.1", port });
      (async () => {
        for await (const conn of listener!) {
          Deno.connect({ hostname: target.hostname, port: Number(target.port) }).then((upstream) => {
            conn.readable.pipeTo(upstream.writable).catch(() => {});
            upstream.readable.pipeTo(conn.writable).catch(() => {});
          }, () => conn.close());
        }
      })();
      // Before the socket was handed over connected, each pooled connection that had been refused
      // never wrote again, and these timed out ("write CONNECT_TIMEOUT") for good.
      let answer: unknown = null;
      for (let i = 0; i < 20 && answer === null; i++) {
        answer = await sql`select 42 as n`.then((r) => r[0].n, () => null);
        if (answer === null) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(answer, 42);
      assert.deepEqual(await Promise.all([1, 2, 3].map((n) => sql`select ${n}::int as n`.then((r) => r[0].n))), [
        1,
        2,
        3,
      ]);
    } finally {
      await sql.end({ timeout: 1 });
      listener?.close();
    }
  },
);

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

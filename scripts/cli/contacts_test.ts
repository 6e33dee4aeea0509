// `switchboard contacts sync` as an operator runs it: a 2,000-customer backfill killed halfway
// (SIGKILL, no chance to clean up) and started again finishes with one contact per customer.

import assert from "node:assert/strict";
import { connect } from "../../supabase/functions/_shared/platform/db.ts";
import { testStack, waitFor } from "../testing/env.ts";
import { allContacts, linkedSandboxStore } from "../testing/contact_sync.ts";
import { sandboxCall, sandboxEnv } from "../testing/chatwoot.ts";

const stack = testStack();
const opts = { sanitizeOps: false, sanitizeResources: false };
const root = new URL("../../", import.meta.url).pathname;

function cli(args: string[]) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `--config=${root}deno.json`, `${root}scripts/cli/main.ts`, ...args],
    env: {
      SUPABASE_DB_URL: stack.dbUrl,
      SUPABASE_URL: stack.apiUrl,
      CHATWOOT_REQUESTS_PER_MINUTE: "100000",
      NO_COLOR: "1",
    },
    stdout: "piped",
    stderr: "piped",
  });
}

Deno.test(
  "a 2,000-customer backfill killed halfway and restarted ends with 2,000 links, no duplicate",
  opts,
  async () => {
    const sql = connect(stack.dbUrl);
    // This is about a kill and a restart, at 100,000 requests/min: Rack::Attack's 3,000/min per IP (which the
    // sandbox enforces, and which the backfill waits out) would only add a minute's wait. Off for this test.
    const env = sandboxEnv();
    await sandboxCall(env, "PATCH", "/_control/options", { body: { rack_attack: { enabled: false } } });
    try {
      const { store, api } = await linkedSandboxStore(sql, { auto_sync: false });
      await sql`insert into public.customers (store_id, external_id, name, email)
              select ${store.id}, 'bf_' || i, 'Customer ' || i, 'c' || i || '@backfill.test'
              from generate_series(1, 2000) i`;
      const links = async () =>
        (await sql`select count(*)::int as n from public.customer_contact_links where store_id = ${store.id}`)[0].n;

      const first = cli(["contacts", "sync", "--store", store.slug, "--concurrency", "8"]).spawn();
      await waitFor(async () => (await links()) >= 1000, "half the customers linked", 120_000);
      first.kill("SIGKILL");
      const killed = await first.output();
      assert.notEqual(killed.code, 0);
      const halfway = await links();
      assert.ok(halfway < 2000, `killed before the end (${halfway} linked)`);

      const second = await cli(["contacts", "sync", "--store", store.slug, "--concurrency", "8"]).output();
      const out = new TextDecoder().decode(second.stdout);
      assert.equal(second.code, 0, out + new TextDecoder().decode(second.stderr));
      assert.match(out, /customers/);
      assert.equal(await links(), 2000);
      const [distinct] = await sql`select count(distinct contact_id)::int as n from public.customer_contact_links
                                 where store_id = ${store.id}`;
      assert.equal(distinct.n, 2000, "one contact per customer");
      const contacts = await allContacts(api);
      assert.equal(contacts.length, 2000, "Chatwoot holds exactly 2,000 contacts");
      assert.equal(new Set(contacts.map((c) => c.identifier)).size, 2000);

      // A third run finds everything in sync: no request at all.
      const third = await cli(["contacts", "sync", "--store", store.slug]).output();
      const report = new TextDecoder().decode(third.stdout);
      assert.equal(third.code, 0);
      assert.match(report, /summary: created=0 updated=0 linked=0 unchanged=0 skipped=2000 .* requests=0$/m);
    } finally {
      await sandboxCall(env, "PATCH", "/_control/options", { body: { rack_attack: { enabled: true } } });
      await sql.end();
    }
  },
);

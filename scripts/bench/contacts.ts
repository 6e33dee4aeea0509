// bench:contacts — a backfill of 10,000 customers into one Chatwoot account (the sandbox), run by
// the same code as `switchboard contacts sync` (backfillContacts → syncCustomer) with the shared
// Postgres rate limiter at Chatwoot's default 3,000 requests/min. Three phases: all new, all
// changed (one field each), all unchanged (forced through a round, not skipped). For each:
// contacts/s, Chatwoot requests per contact and time spent waiting on the rate limiter. The
// baseline, measured in the same run through the same client and limiter, is plain contact
// creation (one POST per contact, no lookup, no bookkeeping): the ratio says how close the sync
// gets to the fastest possible write of the same contacts.

import { connect, type Sql } from "../../supabase/functions/_shared/platform/db.ts";
import { ChatwootClient } from "../../supabase/functions/_shared/chatwoot/client.ts";
import { postgresRateLimiter } from "../../supabase/functions/_shared/chatwoot/rate_limit.ts";
import { createContact } from "../../supabase/functions/_shared/chatwoot/contacts.ts";
import { backfillContacts, type BackfillReport } from "../../supabase/functions/_shared/contact_sync/backfill.ts";
import { startSandbox } from "../local/chatwoot/server.ts";
import { provisionSandboxAccount } from "../testing/chatwoot.ts";
import { freePort } from "../stack/proc.ts";
import { benchDatabase, printTable, saveResult } from "./harness.ts";

const CUSTOMERS = Number(Deno.env.get("BENCH_CUSTOMERS") ?? 10_000);
const BASELINE = Number(Deno.env.get("BENCH_BASELINE_CONTACTS") ?? 1_000);
const PER_MINUTE = Number(Deno.env.get("BENCH_PER_MINUTE") ?? 3000);
const CONCURRENCY = Number(Deno.env.get("BENCH_CONCURRENCY") ?? 8);

async function linkStore(sql: Sql, sandboxUrl: string, platformToken: string, slug: string) {
  const cw = await provisionSandboxAccount({ url: sandboxUrl, platformToken });
  const account = { id: cw.accountId };
  const token = cw.token;
  const [store] = await sql`insert into public.stores (slug, name, chatwoot_provisioning)
                            values (${slug}, ${slug}, 'manual') returning id`;
  await sql`insert into public.contact_sync_settings (store_id, auto_sync) values (${store.id}, false)`;
  const [acc] = await sql`insert into public.chatwoot_accounts (store_id, chatwoot_url, account_id)
                          values (${store.id}, ${sandboxUrl}, ${account.id}) returning id`;
  await sql`insert into private.chatwoot_account_secrets (account_ref, api_token, route_token_hash)
            values (${acc.id}, ${token}, ${crypto.getRandomValues(new Uint8Array(32))})`;
  return { storeId: store.id as string, accountId: account.id as number, token };
}

function row(phase: string, r: BackfillReport, seconds: number, customers: number) {
  return {
    phase,
    customers,
    "contacts/s": customers / seconds,
    "requests/contact": r.requests / customers,
    "rate-limit wait s": r.rateLimitWaitMs / 1000 / CONCURRENCY,
    "wait share": r.rateLimitWaitMs / 1000 / CONCURRENCY / seconds,
    created: r.created,
    updated: r.updated,
    linked: r.linked,
    unchanged: r.unchanged,
    failed: r.failed,
    seconds,
  };
}

export async function benchContacts(): Promise<void> {
  const db = await benchDatabase();
  const cw = await startSandbox({ port: freePort(), log: undefined });
  const sandboxUrl = cw.url.replace(/\/+$/, "");
  const sql = connect(db.url, { max: CONCURRENCY + 4 });
  try {
    const limiter = postgresRateLimiter(sql, { perMinute: PER_MINUTE });
    console.log(`bench:contacts — ${CUSTOMERS} customers, ${CONCURRENCY} in flight, limit ${PER_MINUTE} requests/min`);

    // Baseline: plain creates through the same client and limiter.
    const base = await linkStore(sql, sandboxUrl, cw.sandbox.platformToken, `bench-base-${Date.now()}`);
    const client = new ChatwootClient({ baseUrl: sandboxUrl, token: base.token, limiter });
    let next = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < BASELINE) {
        const i = next++;
        await createContact(client, base.accountId, {
          name: `Base ${i}`,
          email: `b${i}@base.test`,
          identifier: `b${i}`,
        });
      }
    }));
    const baselineRate = BASELINE / ((performance.now() - t0) / 1000);
    client.close();

    const store = await linkStore(sql, sandboxUrl, cw.sandbox.platformToken, `bench-sync-${Date.now()}`);
    await sql`insert into public.customer_tiers (store_id, tier, min_lifetime_value)
              values (${store.storeId}, 'standard', 0), (${store.storeId}, 'vip', 500)`;
    // Half with a valid phone, a tenth with one Chatwoot would refuse (left out, not failed).
    await sql`insert into public.customers (store_id, external_id, name, email, phone)
              select ${store.storeId}, 'bench_' || i, 'Customer ' || i, 'c' || i || '@bench.test',
                     case when i % 10 = 0 then '12345' when i % 2 = 0 then '+1415' || lpad((2000000 + i)::text, 7, '0') end
              from generate_series(1, ${CUSTOMERS}) i`;
    await sql`insert into public.orders (store_id, customer_id, amount, currency)
              select store_id, id, (abs(hashtext(id::text)) % 900)::numeric, 'USD' from public.customers
              where store_id = ${store.storeId}`;

    const phase = async (name: string) => {
      const t = performance.now();
      const r = await backfillContacts({ sql, limiter }, { storeIds: [store.storeId], concurrency: CONCURRENCY });
      const seconds = (performance.now() - t) / 1000;
      console.log(`  ${name}: ${seconds.toFixed(1)} s`);
      return row(name, r, seconds, CUSTOMERS);
    };
    const rows = [];
    rows.push(await phase("new"));
    await sql`update public.customers set name = name || ' Jr.' where store_id = ${store.storeId}`;
    rows.push(await phase("changed"));
    // Touch only updated_at: not skipped as fresh, so each customer goes through a full round.
    await sql`update public.customers set updated_at = now() where store_id = ${store.storeId}`;
    rows.push(await phase("unchanged"));

    const [dup] = await sql`select count(*)::int - count(distinct contact_id)::int as n
                            from public.customer_contact_links where store_id = ${store.storeId}`;
    console.log("");
    printTable(rows);
    console.log("");
    printTable([{
      baseline: "plain POST /contacts, same client and limiter",
      "contacts/s": baselineRate,
      "new-contact sync ratio": rows[0]["contacts/s"] / baselineRate,
      "duplicate contacts": dup.n,
    }]);
    const path = await saveResult("contacts", {
      customers: CUSTOMERS,
      perMinute: PER_MINUTE,
      concurrency: CONCURRENCY,
      baselineRate,
      rows,
      duplicates: dup.n,
    });
    console.log(`\nsaved ${path}`);
  } finally {
    await sql.end();
    await cw.close();
    await db.close();
  }
}

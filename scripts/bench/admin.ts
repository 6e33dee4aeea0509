// bench:admin — the review queue with 10,000 unmapped contacts: admin-api latency (first page,
// deep keyset pages, search, a store admin's RLS-filtered list) through the gateway, against a
// trivial admin-api route (/me) as the in-run baseline, and the admin app's time to first
// render of the page in Debian's Chromium.

import { chromium } from "playwright-core";
import { connect } from "../../supabase/functions/_shared/platform/db.ts";
import { signUserToken } from "../local/supabase/keys.ts";
import { freePort } from "../stack/proc.ts";
import { clientKey, root, startStack } from "../stack/stack.ts";
import { ensureWebBuilt, serveWebApp } from "../stack/webapp.ts";
import { ensureChromium } from "../stack/setup.ts";
import { percentile, printTable, saveResult } from "./harness.ts";

const CONTACTS = Number(Deno.env.get("BENCH_CONTACTS") ?? 10_000);
const SAMPLES = Number(Deno.env.get("BENCH_SAMPLES") ?? 200);

async function timeRequests(
  urls: () => string,
  token: string,
  anonKey: string,
  n: number,
): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await fetch(urls(), {
      headers: { authorization: `Bearer ${token}`, apikey: anonKey },
    });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`admin-api answered ${res.status}`);
    out.push(performance.now() - t0);
  }
  return out.sort((a, b) => a - b);
}

export async function benchAdmin() {
  const stateDir = `${root}/.local/bench-admin-${Date.now()}`;
  const stack = await startStack({
    stateDir,
    dbPort: freePort(),
    apiPort: freePort(),
    seed: true,
    jobDriver: false,
  });
  const sql = connect(stack.dbUrl, { max: 2 });
  try {
    const stores = await sql`select id from public.stores where slug in ('acme', 'globex') order by slug`;
    await sql`
      insert into public.archive_contacts (store_id, phone_e164, status, contact_name, contact_email, messages, media,
                                           first_seen_at, last_message_at)
      select (array[${stores[0].id}::uuid, ${
      stores[1].id
    }::uuid])[1 + i % 2], '+1555' || lpad(i::text, 7, '0'), 'unmapped',
             'Caller ' || i, 'caller' || i || '@example.com', 1 + i % 7, i % 3,
             now() - make_interval(mins => i), now() - make_interval(secs => i * 7)
      from generate_series(1, ${CONTACTS}) i`;
    await sql`analyze public.archive_contacts`;
    const admin = await signUserToken(stack.signer, {
      id: "00000000-0000-4000-8000-000000000001",
      app_metadata: { platform_admin: true },
    });
    const owner = await signUserToken(stack.signer, {
      id: "00000000-0000-4000-8000-00000000a001",
    });
    const api = `${stack.functionsUrl}/admin-api`;

    // Warm-up (JIT, pools), then each measurement.
    await timeRequests(
      () => `${api}/unmapped?limit=50`,
      admin,
      stack.anonKey,
      20,
    );
    const baseline = await timeRequests(
      () => `${api}/me`,
      admin,
      stack.anonKey,
      SAMPLES,
    );
    const first = await timeRequests(
      () => `${api}/unmapped?limit=50`,
      admin,
      stack.anonKey,
      SAMPLES,
    );
    // Deep pages: walk the cursor 100 pages in (5,000 rows), then time pages from there.
    let cursor: string | null = null;
    for (let i = 0; i < 100; i++) {
      const res: Response = await fetch(
        `${api}/unmapped?limit=50${cursor ? `&after=${encodeURIComponent(cursor)}` : ""}`,
        {
          headers: { authorization: `Bearer ${admin}` },
        },
      );
      cursor = (await res.json()).next;
    }
    const deep = await timeRequests(
      () => `${api}/unmapped?limit=50&after=${encodeURIComponent(cursor!)}`,
      admin,
      stack.anonKey,
      SAMPLES,
    );
    let k = 0;
    const search = await timeRequests(
      () => `${api}/unmapped?limit=50&q=${encodeURIComponent(`Caller ${++k * 37}`)}`,
      admin,
      stack.anonKey,
      SAMPLES,
    );
    const storeAdmin = await timeRequests(
      () => `${api}/unmapped?limit=50`,
      owner,
      stack.anonKey,
      SAMPLES,
    );

    const rows = [
      ["/me (baseline)", baseline],
      ["queue, first page", first],
      ["queue, page 101 (keyset)", deep],
      ["search by name/number", search],
      ["store admin (RLS)", storeAdmin],
    ].map(([name, t]) => ({
      request: name as string,
      "p50 ms": Math.round(percentile(t as number[], 50) * 10) / 10,
      "p95 ms": Math.round(percentile(t as number[], 95) * 10) / 10,
      "p95 vs baseline": Math.round(
        (percentile(t as number[], 95) / percentile(baseline, 95)) * 100,
      ) / 100,
    }));

    // Time to first render of the unmapped page, signed in, in Chromium.
    let firstRender: number | null = null;
    const creds = stack.demoCredentials ?? {};
    const email = Object.keys(creds).find((e) => e.startsWith("admin@"));
    if (email) {
      const executablePath = await ensureChromium();
      const app = serveWebApp({
        port: freePort(),
        dist: await ensureWebBuilt(),
        config: { supabaseUrl: stack.apiUrl, supabaseAnonKey: clientKey(stack) },
      });
      const browser = await chromium.launch({
        executablePath,
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-dev-shm-usage",
          "--disable-background-networking",
        ],
      });
      try {
        const page = await browser.newPage({
          viewport: { width: 1366, height: 768 },
        });
        await page.goto(app.url);
        await page.getByTestId("sign-in-email").fill(email);
        await page.getByTestId("sign-in-password").fill(creds[email]);
        await page.getByTestId("sign-in-submit").click();
        await page.getByTestId("user-email").waitFor();
        const samples: number[] = [];
        for (let i = 0; i < 5; i++) {
          const t0 = performance.now();
          await page.reload();
          await page.getByTestId("unmapped-row").first().waitFor();
          samples.push(performance.now() - t0);
        }
        firstRender = percentile(samples.sort((a, b) => a - b), 50);
      } finally {
        await browser.close();
        await app.close();
      }
    }
    console.log(
      `bench:admin — ${CONTACTS} unmapped contacts, ${SAMPLES} sequential requests per row, through the gateway\n`,
    );
    printTable(rows);
    console.log(
      `\nadmin app, unmapped page: time to first rendered row after a reload (median of 5): ${
        firstRender === null ? "n/a" : `${Math.round(firstRender)} ms`
      }`,
    );
    console.log(
      `saved ${await saveResult("admin", {
        at: new Date().toISOString(),
        contacts: CONTACTS,
        rows,
        firstRenderMs: firstRender,
      })}`,
    );
  } finally {
    await sql.end();
    await stack.close();
    await Deno.remove(stateDir, { recursive: true }).catch(() => {});
  }
}

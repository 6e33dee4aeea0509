// The CLI against the test stack's database: what an operator types, what they see.

import assert from "node:assert/strict";
import postgres from "postgres";
import { main } from "./main.ts";
import { testStack } from "../testing/env.ts";
import { seedUserArchive, testBucketPolicy } from "../testing/archive.ts";
import { createStorage } from "../../supabase/functions/_shared/archive/storage.ts";

const stack = testStack();
const opts = { sanitizeOps: false, sanitizeResources: false };

async function cli(...args: string[]) {
  const lines: string[] = [];
  const code = await main(args, (l) => lines.push(l));
  return { code, out: lines.join("\n") };
}

Deno.test("stores create then list shows the store with its owner", opts, async () => {
  const slug = `cli-${crypto.randomUUID().slice(0, 8)}`;
  const created = await cli(
    "stores",
    "create",
    "--slug",
    slug,
    "--name",
    "CLI Store",
    "--owner-email",
    "ana@acme.test",
  );
  assert.equal(created.code, 0, created.out);
  assert.match(created.out, new RegExp(`created store ${slug}`));
  const listed = await cli("stores", "list");
  const line = listed.out.split("\n").find((l) => l.startsWith(slug));
  assert.ok(line, `the list shows ${slug}`);
  assert.match(line!, /CLI Store\s+active\s+1\s/);
  const again = await cli("stores", "create", "--slug", slug, "--name", "Again");
  assert.equal(again.code, 1, "a duplicate slug is refused");
  const bad = await cli("stores", "create", "--slug", "Not A Slug", "--name", "x");
  assert.equal(bad.code, 1, "an invalid slug is refused");
  const missing = await cli("stores", "create", "--name", "no slug");
  assert.equal(missing.code, 2, "a missing flag is a usage error");
});

Deno.test("stores time-zone sets the zone analytics use, and refuses one Postgres does not know", opts, async () => {
  const sql = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
  const slug = `cli-tz-${crypto.randomUUID().slice(0, 8)}`;
  try {
    const created = await cli(
      "stores",
      "create",
      "--slug",
      slug,
      "--name",
      "Zoned",
      "--chatwoot",
      "manual",
      "--time-zone",
      "Asia/Kolkata",
    );
    assert.equal(created.code, 0, created.out);
    const zone = async () => (await sql`select time_zone from public.stores where slug = ${slug}`)[0].time_zone;
    assert.equal(await zone(), "Asia/Kolkata");
    const changed = await cli("stores", "time-zone", slug, "Europe/Lisbon");
    assert.equal(changed.code, 0, changed.out);
    assert.match(changed.out, /in Europe\/Lisbon/);
    const errors: string[] = [];
    const consoleError = console.error;
    console.error = (...a: unknown[]) => errors.push(a.join(" "));
    const wrong = await cli("stores", "time-zone", slug, "Europe/Atlantis").finally(() => console.error = consoleError);
    assert.equal(wrong.code, 1);
    assert.match(errors.join("\n"), /invalid time zone: .*Europe\/Atlantis/);
    assert.equal(await zone(), "Europe/Lisbon", "unchanged by the refused one");
    assert.equal((await cli("stores", "time-zone", slug, "none")).code, 0);
    assert.equal(await zone(), null);
    assert.equal((await cli("stores", "time-zone", "no-such-store", "UTC")).code, 1);
  } finally {
    await sql`delete from public.stores where slug = ${slug}`;
    await sql.end();
  }
});

Deno.test("jobs dead lists a dead-lettered job and replay re-queues it", opts, async () => {
  const sql = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
  try {
    const kind = `test.cli${crypto.randomUUID().slice(0, 8)}`;
    const [{ id }] = await sql`select private.enqueue_job(${kind}, '{}', ${kind}, null, now(), 1)::text as id`;
    const [job] =
      await sql`select lease::text from private.claim_jobs('cli-test', 1, interval '60 seconds', array[${kind}])`;
    await sql`select private.fail_job(${id}::bigint, ${job.lease}::uuid, 'Chatwoot answered 500')`;
    const dead = await cli("jobs", "dead", "--kind", kind);
    assert.equal(dead.code, 0);
    assert.match(dead.out, new RegExp(`${id}\\s+${kind.replace(".", "\\.")}\\s+dead\\s+1/1`));
    assert.match(dead.out, /Chatwoot answered 500/);
    const replayed = await cli("jobs", "replay", id);
    assert.equal(replayed.code, 0, replayed.out);
    assert.match(replayed.out, /replayed 1 job/);
    const [row] = await sql`select status::text, attempts from private.jobs where id = ${id}`;
    assert.deepEqual({ ...row }, { status: "queued", attempts: 0 });
    const twice = await cli("jobs", "replay", id);
    assert.equal(twice.code, 1, "a queued job cannot be replayed again");
    assert.equal((await cli("jobs", "replay", "abc")).code, 2);
  } finally {
    await sql.end();
  }
});

Deno.test("status reports the stack's health", opts, async () => {
  const r = await cli("status");
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /database: ok/);
  assert.match(r.out, /worker:/);
  assert.match(r.out, /deliveries: \d+ linked accounts/);
  assert.match(r.out, /archive: GCS emulator, project switchboard-local; \d+ jobs queued/);
  // The local runtime's view of its function processes.
  assert.match(r.out, /function chatwoot-webhook: up \(pid \d+\), \d+ restarts/);
});

Deno.test("accounts link registers the webhook and prints its URL; accounts list shows the link", opts, async () => {
  const { provisionSandboxAccount, sandboxEnv } = await import("../testing/chatwoot.ts");
  const env = sandboxEnv();
  const cw = await provisionSandboxAccount(env);
  const slug = `cli-${crypto.randomUUID().slice(0, 8)}`;
  assert.equal((await cli("stores", "create", "--slug", slug, "--name", "Linked", "--chatwoot", "manual")).code, 0);
  const r = await cli(
    "accounts",
    "link",
    "--store",
    slug,
    "--chatwoot-url",
    env.url,
    "--account-id",
    String(cw.accountId),
    "--api-token",
    cw.token,
  );
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /webhook URL: http:\/\/127\.0\.0\.1:\d+\/functions\/v1\/chatwoot-webhook\/[A-Za-z0-9_-]{43}/);
  assert.match(r.out, /webhook created in Chatwoot \(id \d+\), signed/);
  // The local stack's functions are on 127.0.0.1: Chatwoot 4.14+ would refuse to deliver there.
  assert.match(r.out, /WARNING: the webhook URL \S+ resolves only to private addresses \(127\.0\.0\.1\)/);
  assert.ok(!r.out.includes(cw.token), "the API token is never printed");
  const list = await cli("accounts", "list");
  assert.match(list.out, new RegExp(`${slug}\\s+${env.url.replace(/[.:/]/g, "\\$&")}\\s+${cw.accountId}\\s+true`));
  const bad = await cli("accounts", "link", "--store", slug);
  assert.equal(bad.code, 2, "missing flags are a usage error");
});

Deno.test("accounts link on a Chatwoot Cloud free-plan account says so plainly and links nothing", opts, async () => {
  const { provisionSandboxAccount, sandboxCall, sandboxEnv } = await import("../testing/chatwoot.ts");
  const env = sandboxEnv();
  const cw = await provisionSandboxAccount(env);
  await sandboxCall(env, "PATCH", `/_control/accounts/${cw.accountId}`, { body: { cloud_free_plan: true } });
  const slug = `cli-${crypto.randomUUID().slice(0, 8)}`;
  assert.equal((await cli("stores", "create", "--slug", slug, "--name", "Free", "--chatwoot", "manual")).code, 0);
  const errors: string[] = [];
  const consoleError = console.error;
  console.error = (...a: unknown[]) => errors.push(a.join(" "));
  const r = await cli(
    "accounts",
    "link",
    "--store",
    slug,
    "--chatwoot-url",
    env.url,
    "--account-id",
    String(cw.accountId),
    "--api-token",
    cw.token,
  ).finally(() => console.error = consoleError);
  assert.equal(r.code, 1, r.out);
  r.out += errors.join("\n");
  assert.match(r.out, /this Chatwoot Cloud account \(\d+\) is on the free plan: its API is closed/);
  assert.ok(!/administrator/.test(r.out), "not mistaken for a token without administrator rights");
  const list = await cli("accounts", "list");
  assert.ok(!list.out.includes(slug), "nothing was linked");
});

Deno.test("archive queue, ignore, map and erase from the command line", opts, async () => {
  const sql = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
  try {
    const slug = `arc-${crypto.randomUUID().slice(0, 8)}`;
    const [store] =
      await sql`insert into public.stores (slug, name, chatwoot_provisioning) values (${slug}, 'Archive CLI', 'manual')
                              returning id`;
    await sql`insert into public.archive_contacts (store_id, phone_e164, status, contact_name, messages, last_message_at) values
              (${store.id}, '+14155550301', 'unmapped', 'Quinn', 3, now()), (${store.id}, '+14155550302', 'unmapped', 'Rae', 1, now())`;
    const queue = await cli("archive", "queue", "--store", slug);
    assert.equal(queue.code, 0, queue.out);
    assert.match(queue.out, /\+14155550301\s+Quinn\s+3/);
    assert.match(queue.out, /\+14155550302\s+Rae\s+1/);
    assert.equal(
      (await cli("archive", "ignore", "--store", slug, "--phone", "(415) 555-0302")).code,
      2,
      "a national number needs its +1",
    );
    assert.equal((await cli("archive", "ignore", "--store", slug, "--phone", "+1 415 555 0302")).code, 0);
    assert.doesNotMatch((await cli("archive", "queue", "--store", slug)).out, /Rae/);
    const map = await cli(
      "archive",
      "map",
      "--store",
      slug,
      "--phone",
      "+14155550301",
      "--user",
      "00000000-0000-4000-8000-00000000b001",
    );
    assert.equal(map.code, 0, map.out);
    assert.match(map.out, /job \d+/);
    const [row] =
      await sql`select status, mapped_by from public.archive_contacts where store_id = ${store.id} and phone_e164 = '+14155550301'`;
    assert.deepEqual({ ...row }, { status: "mapped", mapped_by: "admin" });
    const erase = await cli("archive", "erase", "--user", "00000000-0000-4000-8000-00000000b001");
    assert.match(erase.out, /erasing the archive of .*: erasure [0-9a-f-]{36}/);
    const [audit] =
      await sql`select count(*)::int as n from private.audit_log where target like ${`contact:${store.id}:%`}`;
    assert.equal(audit.n, 2, "map and ignore are audited");
    // The checked SQL functions ran as the operator (service_role), who is named in the audit.
    const operator = `cli:${Deno.env.get("USER") ?? "operator"}`;
    const actors = await sql`select distinct actor from private.audit_log where target like ${`contact:${store.id}:%`}`;
    assert.deepEqual(actors.map((a) => a.actor), [operator], "the operator is named, not the connection's role");
    const erasureId = erase.out.match(/erasure ([0-9a-f-]{36})/)![1];
    const [eraseJob] = await sql`select payload ->> 'actor' as actor from private.jobs
                                 where kind = 'archive.erase_user' and payload ->> 'erasure_id' = ${erasureId}`;
    assert.equal(eraseJob.actor, operator, "the erase job carries the operator too");
    const again = await cli("archive", "ignore", "--store", slug, "--phone", "+14155550301");
    assert.equal(again.code, 1, "a mapped number is no longer in the queue to ignore");
  } finally {
    await sql.end();
  }
});

Deno.test("archive erase prints the erasure; erase status follows it to the end; erasures lists it", opts, async () => {
  Deno.env.set("METADATA_SERVER_DETECTION", "none");
  const sql = postgres(stack.dbUrl, { max: 2, onnotice: () => {} });
  const storage = createStorage({ apiEndpoint: Deno.env.get("GCS_ENDPOINT")! });
  try {
    // More objects than one run deletes (1,000 by default): the stack's worker takes two runs.
    const seeded = await seedUserArchive(sql as never, storage, testBucketPolicy("sbcli", { labels: {} }), {
      messages: 900,
      media: 100,
      leftovers: 50,
      concurrency: 32,
    });
    const erase = await cli("archive", "erase", "--user", seeded.userId);
    assert.equal(erase.code, 0, erase.out);
    const erasureId = erase.out.match(/erasure ([0-9a-f-]{36})/)![1];
    assert.match(erase.out, new RegExp(`switchboard archive erase status ${erasureId}`), "says how to follow it");
    const again = await cli("archive", "erase", "--user", seeded.userId);
    assert.match(again.out, new RegExp(`erasure ${erasureId}`), "asking again while it runs gives the same erasure");

    const status = await cli("archive", "erase", "status", erasureId, "--wait");
    assert.equal(status.code, 0, status.out);
    assert.match(status.out, /^progress\s+completed · 1,050 objects deleted · [2-9] job runs$/m);
    assert.match(status.out, /^records forgotten\s+900 messages, 100 media$/m);
    assert.match(status.out, /^soft delete\s+off \(deleted objects are gone at once\)$/m);
    assert.match(status.out, new RegExp(`^bucket\\s+${seeded.bucket}$`, "m"));
    const byUser = await cli("archive", "erase", "status", "--user", seeded.userId);
    assert.match(byUser.out, new RegExp(`^erasure\\s+${erasureId}$`, "m"), "found by the user too");

    const list = await cli("archive", "erasures", "--user", seeded.userId);
    assert.equal(list.code, 0, list.out);
    assert.match(
      list.out,
      new RegExp(`${erasureId}\\s+${seeded.userId}@erase\\.test\\s+completed\\s+done\\s+1,050/1,050\\s+100%`),
    );
    assert.equal((await storage.bucket(seeded.bucket).exists())[0], false, "the bucket is gone");
    assert.equal((await cli("archive", "erase", "status", "not-a-uuid")).code, 2);
    assert.equal((await cli("archive", "erase", "status", crypto.randomUUID())).code, 1, "an unknown erasure");
  } finally {
    await sql.end();
  }
});

Deno.test("the package's bin (what `npx switchboard` runs) starts the CLI", opts, async () => {
  // package.json's "bin" points at scripts/cli/switchboard.mjs, which hands over to scripts/run.mjs: a
  // wrong path there breaks every `npx switchboard …` while the in-process tests above still pass.
  const bin = JSON.parse(await Deno.readTextFile(new URL("../../package.json", import.meta.url))).bin.switchboard;
  const out = await new Deno.Command("node", {
    args: [new URL(`../../${bin}`, import.meta.url).pathname, "--help"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, text);
  assert.match(text, /usage: switchboard <command>/);
});

// `switchboard users …` and `stores create --owner-email` for someone who has no account yet, against the
// test stack's Auth (the GoTrue stand-in, answering as GoTrue does): what an operator types, sees and gets.

import assert from "node:assert/strict";
import postgres from "postgres";
import { createClient } from "@supabase/supabase-js";
import { main } from "./main.ts";
import type { ContextOptions } from "./context.ts";
import { testStack } from "../testing/env.ts";

const stack = testStack();
const opts = { sanitizeOps: false, sanitizeResources: false };
// No stack file: the CLI takes the test stack from the environment, as on a hosted project.
const NO_STACK_FILE = "/nonexistent/stack.json";

/** Runs the CLI, collecting stdout and its error line (main reports errors on stderr). */
async function cli(args: string[], o: ContextOptions = {}) {
  const lines: string[] = [];
  const errors: string[] = [];
  const stderr = console.error;
  console.error = (...a: unknown[]) => errors.push(a.join(" "));
  try {
    const code = await main(args, (l) => lines.push(l), { stackFile: NO_STACK_FILE, confirm: null, ...o });
    return { code, out: lines.join("\n"), err: errors.join("\n") };
  } finally {
    console.error = stderr;
  }
}

const newEmail = (tag: string) => `cli-${tag}-${crypto.randomUUID().slice(0, 8)}@switchboard.test`;
const newSlug = () => `cli-${crypto.randomUUID().slice(0, 8)}`;

Deno.test("users create, invite and list through the Auth admin API", opts, async () => {
  const sql = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
  const created = newEmail("created");
  const invited = newEmail("invited");
  try {
    const c = await cli(["users", "create", "--email", created, "--name", "Cleo Created", "--platform-admin"]);
    assert.equal(c.code, 0, c.err);
    assert.match(c.out, new RegExp(`created ${created} \\([0-9a-f-]{36}\\), a platform admin`));
    const password = c.out.match(/^password: (\S+)$/m)?.[1];
    assert.ok(password, "a generated password is shown once");
    // The user can sign in at once with it, and carries the platform-admin claim.
    const anon = createClient(stack.apiUrl, stack.publishableKey, { auth: { persistSession: false } });
    const signIn = await anon.auth.signInWithPassword({ email: created, password: password! });
    assert.equal(signIn.error, null);
    assert.equal(signIn.data.user!.app_metadata.platform_admin, true);

    const dup = await cli(["users", "create", "--email", created, "--password", "another-one-1"]);
    assert.equal(dup.code, 1, "Auth answers 422 email_exists");
    assert.match(dup.err, new RegExp(`${created} is already registered`));

    const i = await cli(["users", "invite", "--email", invited, "--name", "Ivo Invited"]);
    assert.equal(i.code, 0, i.err);
    assert.match(i.out, new RegExp(`invited ${invited} \\([0-9a-f-]{36}\\)`));
    const [row] = await sql`select invited_at is not null as invited, email_confirmed_at is null as unconfirmed,
                                   raw_user_meta_data ->> 'full_name' as name
                            from auth.users where email = ${invited}`;
    assert.deepEqual({ ...row }, { invited: true, unconfirmed: true, name: "Ivo Invited" });
    const confirmedInvite = await cli(["users", "invite", "--email", created]);
    assert.equal(confirmedInvite.code, 1, "a confirmed user cannot be invited");
    assert.match(confirmedInvite.err, /already registered/);

    // Ana is seeded as acme's admin: list shows memberships beside Auth's users.
    const l = await cli(["users", "list", "--limit", "1000"]);
    assert.equal(l.code, 0, l.err);
    const line = (email: string) => l.out.split("\n").find((x) => x.startsWith(email)) ?? "";
    assert.match(line(created), /confirmed\s+yes\s/);
    assert.match(line(invited), /invited \d{4}-\d\d-\d\d/);
    assert.match(line("ana@acme.test"), /acme:(admin|owner)/);
    const one = await cli(["users", "list", "--limit", "1"]);
    assert.equal(one.out.split("\n").length, 4, "header, rule, one user and the 'first 1' note");
    assert.match(one.out, /\(first 1; --limit shows more\)/);

    assert.equal((await cli(["users", "invite"])).code, 2, "--email is required");
    assert.equal((await cli(["users", "invite", "--email", "not-an-address"])).code, 1, "Auth refuses it");
  } finally {
    await sql`delete from auth.users where email in (${created}, ${invited})`;
    await sql.end();
  }
});

Deno.test("users commands without the secret key say which key to set", opts, async () => {
  const saved = ["SUPABASE_SECRET_KEY", "SUPABASE_SERVICE_ROLE_KEY"].map((k) => [k, Deno.env.get(k)] as const);
  for (const [k] of saved) Deno.env.delete(k);
  try {
    const r = await cli(["users", "list"]);
    assert.equal(r.code, 1);
    assert.match(r.err, /set SUPABASE_URL and SUPABASE_SECRET_KEY/);
  } finally {
    for (const [k, v] of saved) if (v !== undefined) Deno.env.set(k, v);
  }
});

Deno.test(
  "stores create --owner-email for an unknown owner: an error naming the command, or an invite",
  opts,
  async () => {
    const sql = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
    const owners = [newEmail("owner"), newEmail("owner"), newEmail("owner")];
    const slugs = [newSlug(), newSlug(), newSlug()];
    const storeOf = async (slug: string) =>
      (await sql`select s.slug, m.role::text as role, u.email, u.invited_at is not null as invited
               from public.stores s left join public.store_members m on m.store_id = s.id
               left join auth.users u on u.id = m.user_id where s.slug = ${slug}`)[0];
    const userCount = async (email: string) =>
      (await sql`select count(*)::int as n from auth.users where email = ${email}`)[0].n;
    try {
      // Linked by hand (manual): these stores need no Chatwoot account for what is tested here.
      const base = (i: number) => [
        ...["stores", "create", "--slug", slugs[i], "--name", "Owned", "--chatwoot", "manual"],
        ...["--owner-email", owners[i]],
      ];

      // Not a terminal, no flag: nothing is created, and the error says what to run.
      const refused = await cli(base(0));
      assert.equal(refused.code, 1);
      assert.match(refused.err, new RegExp(`switchboard users invite --email ${owners[0]}`));
      assert.match(refused.err, /--invite-owner/);
      assert.equal(await storeOf(slugs[0]), undefined, "no store without its owner");
      assert.equal(await userCount(owners[0]), 0);

      // At a terminal, answering no: the same.
      const questions: string[] = [];
      const no = await cli(base(0), { confirm: (q) => (questions.push(q), Promise.resolve(false)) });
      assert.equal(no.code, 1);
      assert.match(questions[0], new RegExp(`No user has the e-mail ${owners[0]}\\. Invite them as the owner\\?`));
      assert.equal(await storeOf(slugs[0]), undefined);

      // Answering yes: invited, and the store is theirs.
      const yes = await cli(base(0), { confirm: () => Promise.resolve(true) });
      assert.equal(yes.code, 0, yes.err);
      assert.match(yes.out, new RegExp(`invited ${owners[0]}`));
      assert.match(yes.out, new RegExp(`created store ${slugs[0]} .*, owned by ${owners[0]}`));
      assert.deepEqual({ ...await storeOf(slugs[0]) }, {
        slug: slugs[0],
        role: "owner",
        email: owners[0],
        invited: true,
      });

      // In a script: --invite-owner.
      const flagged = await cli([...base(1), "--invite-owner"]);
      assert.equal(flagged.code, 0, flagged.err);
      assert.deepEqual({ ...await storeOf(slugs[1]) }, {
        slug: slugs[1],
        role: "owner",
        email: owners[1],
        invited: true,
      });

      // The owner exists now: a second store needs no invite.
      const existing = await cli([
        ...["stores", "create", "--slug", slugs[2], "--name", "Second", "--chatwoot", "manual"],
        ...["--owner-email", owners[1]],
      ]);
      assert.equal(existing.code, 0, existing.err);
      assert.doesNotMatch(existing.out, /invited/);

      // A store that would be refused costs nobody an invitation.
      const taken = await cli([
        "stores",
        "create",
        "--slug",
        slugs[0],
        "--name",
        "Dup",
        "--owner-email",
        owners[2],
        "--invite-owner",
      ]);
      assert.equal(taken.code, 1);
      assert.match(taken.err, new RegExp(`a store with slug "${slugs[0]}" already exists`));
      const invalid = await cli([
        "stores",
        "create",
        "--slug",
        "Not A Slug",
        "--name",
        "x",
        "--owner-email",
        owners[2],
        "--invite-owner",
      ]);
      assert.equal(invalid.code, 1);
      assert.match(invalid.err, /invalid store/);
      assert.equal(await userCount(owners[2]), 0, "no invite went out for a store that was refused");
      assert.equal((await cli(["stores", "create", "--slug", newSlug(), "--name", "x", "--invite-owner"])).code, 2);
    } finally {
      await sql`delete from public.stores where slug in ${sql(slugs)}`;
      await sql`delete from auth.users where email in ${sql(owners)}`;
      await sql.end();
    }
  },
);

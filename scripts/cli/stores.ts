// `switchboard stores create|list|reprovision|time-zone`: the platform's stores, written as the service would.

import { parseArgs } from "node:util";
import type postgres from "postgres";
import { CliContext, CliError, table } from "./context.ts";
import { inviteUser } from "./users.ts";

export async function storesCommand(ctx: CliContext, args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === "create") return await createStore(ctx, rest);
  if (sub === "list") return await listStores(ctx);
  if (sub === "reprovision") return await reprovision(ctx, rest);
  if (sub === "time-zone") return await setTimeZone(ctx, rest);
  throw new CliError("usage: switchboard stores <create|list|reprovision|time-zone>", 2);
}

async function createStore(ctx: CliContext, args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      slug: { type: "string" },
      name: { type: "string" },
      domain: { type: "string" },
      "support-email": { type: "string" },
      "owner-email": { type: "string" },
      "invite-owner": { type: "boolean", default: false },
      chatwoot: { type: "string", default: "auto" },
      "time-zone": { type: "string" },
    },
    strict: true,
  });
  if (values.chatwoot !== "auto" && values.chatwoot !== "manual") {
    throw new CliError("--chatwoot must be auto (provision an account) or manual (link one with accounts link)", 2);
  }
  if (!values.slug || !values.name) {
    throw new CliError(
      "usage: switchboard stores create --slug <slug> --name <name> [--domain d] [--support-email e] " +
        "[--owner-email e [--invite-owner]] [--chatwoot auto|manual] [--time-zone <IANA name>]",
      2,
    );
  }
  if (values["invite-owner"] && !values["owner-email"]) throw new CliError("--invite-owner needs --owner-email", 2);
  const ownerEmail = values["owner-email"];
  const insertStore = async (tx: postgres.TransactionSql, ownerId: string | null) => {
    const [row] = await tx`
      insert into public.stores (slug, name, domain, support_email, chatwoot_provisioning, time_zone)
      values (${values.slug!}, ${values.name!}, ${values.domain ?? null}, ${values["support-email"] ?? null},
              ${values.chatwoot!}, ${values["time-zone"] ?? null})
      returning id, slug, name, domain, support_email, status`;
    if (ownerId) {
      await tx`insert into public.store_members (store_id, user_id, role) values (${row.id}, ${ownerId}, 'owner')`;
    }
    return row;
  };
  const storeError = (err: { code?: string; constraint_name?: string; message?: string }) => {
    if (err instanceof CliError) return err;
    if (err?.code === "23505") return new CliError(`a store with slug "${values.slug}" already exists`);
    if (err?.code === "23514") return new CliError(`invalid store: ${err.constraint_name ?? err.message}`);
    if (err?.code === "22023") return new CliError(`invalid time zone: ${err.message}`);
    return err;
  };
  let ownerId: string | null = null;
  if (ownerEmail) {
    const [user] = await ctx.sql`select id from auth.users where lower(email) = lower(${ownerEmail})`;
    ownerId = user?.id ?? null;
    if (!ownerId) {
      // A store that would be refused must not cost its owner an invitation: try it first, and roll it back
      // (the invite is a network call, never made inside an open transaction).
      const tried = Symbol("rolled back");
      await ctx.sql.begin(async (tx) => {
        await insertStore(tx, null);
        throw tried;
      }).catch((err) => {
        if (err !== tried) throw storeError(err);
      });
      ownerId = (await inviteOwner(ctx, ownerEmail, values["invite-owner"]!)).id;
    }
  }
  const store = await ctx.sql.begin((tx) => insertStore(tx, ownerId)).catch((err) => {
    throw storeError(err);
  });
  ctx.out(`created store ${store.slug} (${store.id})${ownerEmail ? `, owned by ${ownerEmail}` : ""}`);
  if (values.chatwoot === "auto") ctx.out("its Chatwoot account is being provisioned: see `switchboard stores list`");
}

/** An owner nobody has registered yet: invited when the operator said so (--invite-owner, or yes at the
 * prompt); otherwise the command stops, naming the command that creates the user. */
async function inviteOwner(ctx: CliContext, email: string, inviteFlag: boolean) {
  const agreed = inviteFlag ||
    (ctx.confirm !== null && await ctx.confirm(`No user has the e-mail ${email}. Invite them as the owner?`));
  if (!agreed) {
    throw new CliError(
      `no user with e-mail ${email}: invite them with \`switchboard users invite --email ${email}\` ` +
        "(or pass --invite-owner), then run this again",
    );
  }
  const user = await inviteUser(ctx, email);
  ctx.out(`invited ${email} (${user.id}): Auth e-mails them a link to set their password`);
  return user;
}

async function listStores(ctx: CliContext) {
  const rows = await ctx.sql`
    select s.slug, s.name, s.status, s.domain, count(m.user_id)::int as members,
           case when s.chatwoot_provisioning = 'manual' then
             case when a.id is null then 'manual (not linked)' else 'linked' end
           else coalesce(p.state, 'none') end as chatwoot, p.account_id, p.failure_reason, s.id
    from public.stores s
    left join public.store_members m on m.store_id = s.id
    left join public.chatwoot_provisioning p on p.store_id = s.id
    left join public.chatwoot_accounts a on a.store_id = s.id
    group by s.id, p.store_id, a.id order by s.slug`;
  ctx.out(table(rows, ["slug", "name", "status", "members", "chatwoot", "account_id", "failure_reason"]));
}

async function reprovision(ctx: CliContext, args: string[]) {
  const slug = args[0];
  if (!slug) throw new CliError("usage: switchboard stores reprovision <slug>", 2);
  const [store] = await ctx.sql`select id, chatwoot_provisioning from public.stores where slug = ${slug}`;
  if (!store) throw new CliError(`no store with slug "${slug}"`);
  if (store.chatwoot_provisioning !== "auto") {
    throw new CliError(`store ${slug} is linked by hand (manual); re-run \`switchboard accounts link\` instead`);
  }
  const [job] = await ctx.sql`select private.request_chatwoot_reprovision(${store.id}) as id`;
  ctx.out(`re-provisioning ${slug} (job ${job.id}); it resumes from the steps already recorded`);
}

/** The zone a store's analytics count days and hours in (an IANA name; `none` for UTC). */
async function setTimeZone(ctx: CliContext, args: string[]) {
  const [slug, zone] = args;
  if (!slug || !zone) {
    throw new CliError("usage: switchboard stores time-zone <slug> <IANA name, e.g. Europe/Lisbon | none>", 2);
  }
  const value = zone === "none" ? null : zone;
  const rows = await ctx.sql`update public.stores set time_zone = ${value} where slug = ${slug} returning slug`
    .catch((err: { code?: string; message?: string }) => {
      if (err?.code === "22023") throw new CliError(`invalid time zone: ${err.message}`);
      throw err;
    });
  if (!rows.length) throw new CliError(`no store with slug "${slug}"`);
  ctx.out(`store ${slug}: analytics days and hours in ${value ?? "UTC"}`);
}

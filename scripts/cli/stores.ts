// `switchboard stores create|list`: the platform's stores, written as the service would.

import { parseArgs } from "node:util";
import { CliContext, CliError, table } from "./context.ts";

export async function storesCommand(ctx: CliContext, args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === "create") return await createStore(ctx, rest);
  if (sub === "list") return await listStores(ctx);
  throw new CliError("usage: switchboard stores <create|list>", 2);
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
    },
    strict: true,
  });
  if (!values.slug || !values.name) {
    throw new CliError(
      "usage: switchboard stores create --slug <slug> --name <name> [--domain d] [--support-email e] [--owner-email e]",
      2,
    );
  }
  const store = await ctx.sql.begin(async (tx) => {
    let ownerId: string | null = null;
    if (values["owner-email"]) {
      const [user] = await tx`select id from auth.users where lower(email) = lower(${values["owner-email"]})`;
      if (!user) throw new CliError(`no user with e-mail ${values["owner-email"]}: create the user first`);
      ownerId = user.id;
    }
    const [row] = await tx`
      insert into public.stores (slug, name, domain, support_email)
      values (${values.slug!}, ${values.name!}, ${values.domain ?? null}, ${values["support-email"] ?? null})
      returning id, slug, name, domain, support_email, status`;
    if (ownerId) {
      await tx`insert into public.store_members (store_id, user_id, role) values (${row.id}, ${ownerId}, 'owner')`;
    }
    return row;
  }).catch((err) => {
    if (err instanceof CliError) throw err;
    if (err?.code === "23505") throw new CliError(`a store with slug "${values.slug}" already exists`);
    if (err?.code === "23514") throw new CliError(`invalid store: ${err.constraint_name ?? err.message}`);
    throw err;
  });
  ctx.out(`created store ${store.slug} (${store.id})`);
}

async function listStores(ctx: CliContext) {
  const rows = await ctx.sql`
    select s.slug, s.name, s.status, s.domain, count(m.user_id)::int as members, s.id
    from public.stores s left join public.store_members m on m.store_id = s.id
    group by s.id order by s.slug`;
  ctx.out(table(rows, ["slug", "name", "status", "domain", "members", "id"]));
}

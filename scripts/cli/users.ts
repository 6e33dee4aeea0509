// `switchboard users invite|create|list`: the project's users, through Supabase Auth's admin API
// (supabase-js `auth.admin`) with the secret key, so the same commands work on hosted and locally.

import { parseArgs } from "node:util";
import { createClient, type User } from "@supabase/supabase-js";
import { type CliContext, CliError, table } from "./context.ts";

const USAGE = `usage: switchboard users invite --email e [--name n] [--redirect-to url]
       switchboard users create --email e [--password p] [--name n] [--platform-admin]
       switchboard users list [--limit n]`;

/** Supabase Auth's admin API as the project's service (the secret key). */
export function authAdmin(ctx: CliContext) {
  if (!ctx.secretKey) {
    throw new CliError(
      "the Auth admin API needs the project's secret key: set SUPABASE_URL and SUPABASE_SECRET_KEY (sb_secret_…, " +
        "Project Settings → API Keys; or the legacy SUPABASE_SERVICE_ROLE_KEY), or run `npm start`",
    );
  }
  return createClient(ctx.apiUrl, ctx.secretKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  }).auth.admin;
}

/** An Auth error as a sentence an operator can act on (codes: GoTrue's apierrors). */
function authFailure(what: string, email: string, error: { status?: number; code?: string; message: string }) {
  if (error.code === "email_exists") {
    return new CliError(`${email} is already registered (see \`switchboard users list\`)`);
  }
  if (error.code === "over_email_send_rate_limit" || error.status === 429) {
    return new CliError(`${what}: Auth's e-mail rate limit is reached (${error.message}); try again later`);
  }
  if (error.code === "not_admin" || error.status === 401 || error.status === 403) {
    return new CliError(`${what}: Auth refused the key (${error.message}); it must be the project's secret key`);
  }
  return new CliError(`${what}: ${error.message}${error.code ? ` (${error.code})` : ""}`);
}

/** Invites `email` (Auth mails them a link to set a password) and returns the new user. */
export async function inviteUser(
  ctx: CliContext,
  email: string,
  opts: { name?: string; redirectTo?: string } = {},
): Promise<User> {
  const { data, error } = await authAdmin(ctx).inviteUserByEmail(email, {
    data: opts.name ? { full_name: opts.name } : undefined,
    redirectTo: opts.redirectTo,
  });
  if (error || !data.user) throw authFailure(`could not invite ${email}`, email, error ?? { message: "no user" });
  return data.user;
}

async function invite(ctx: CliContext, args: string[]) {
  const { values } = parseArgs({
    args,
    options: { email: { type: "string" }, name: { type: "string" }, "redirect-to": { type: "string" } },
    strict: true,
  });
  if (!values.email) throw new CliError(USAGE, 2);
  const user = await inviteUser(ctx, values.email, { name: values.name, redirectTo: values["redirect-to"] });
  ctx.out(`invited ${user.email} (${user.id}): Auth e-mails them a link to set their password`);
}

function randomPassword(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
}

async function create(ctx: CliContext, args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      email: { type: "string" },
      password: { type: "string" },
      name: { type: "string" },
      "platform-admin": { type: "boolean", default: false },
    },
    strict: true,
  });
  if (!values.email) throw new CliError(USAGE, 2);
  const password = values.password ?? randomPassword();
  const { data, error } = await authAdmin(ctx).createUser({
    email: values.email,
    password,
    // Created by an operator, so the address counts as confirmed: they can sign in at once.
    email_confirm: true,
    user_metadata: values.name ? { full_name: values.name } : undefined,
    app_metadata: values["platform-admin"] ? { platform_admin: true } : undefined,
  });
  if (error || !data.user) {
    throw authFailure(`could not create ${values.email}`, values.email, error ?? { message: "no user" });
  }
  ctx.out(`created ${data.user.email} (${data.user.id})${values["platform-admin"] ? ", a platform admin" : ""}`);
  // Shown once, only when generated here: the operator hands it over; the user can change it.
  if (!values.password) ctx.out(`password: ${password}`);
}

async function list(ctx: CliContext, args: string[]) {
  const { values } = parseArgs({ args, options: { limit: { type: "string", default: "200" } }, strict: true });
  const limit = Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new CliError("--limit must be a positive whole number", 2);
  const admin = authAdmin(ctx);
  const perPage = Math.min(limit, 100);
  const users: User[] = [];
  // Page by page until a short page: supabase-js's nextPage reads only the first digit of GoTrue's Link header.
  for (let page = 1; users.length <= limit; page++) {
    const { data, error } = await admin.listUsers({ page, perPage });
    if (error) throw authFailure("could not list users", "", error);
    users.push(...data.users);
    if (data.users.length < perPage) break;
  }
  const shown = users.slice(0, limit);
  // Store memberships live in the project's database, beside Auth's users.
  const ids = shown.map((u) => u.id);
  const memberships = ids.length
    ? await ctx.sql<{ user_id: string; stores: string }[]>`
        select m.user_id::text, string_agg(s.slug || ':' || m.role::text, ', ' order by s.slug) as stores
        from public.store_members m join public.stores s on s.id = m.store_id
        where m.user_id = any(${ids}::uuid[]) group by m.user_id`
    : [];
  const storesOf = new Map(memberships.map((m) => [m.user_id, m.stores]));
  const state = (u: User) =>
    u.email_confirmed_at ? "confirmed" : u.invited_at ? `invited ${u.invited_at.slice(0, 10)}` : "unconfirmed";
  ctx.out(table(
    shown.map((u) => ({
      email: u.email ?? u.phone ?? "",
      state: state(u),
      "platform admin": u.app_metadata?.platform_admin === true ? "yes" : "",
      stores: storesOf.get(u.id) ?? "",
      "last sign-in": u.last_sign_in_at ? u.last_sign_in_at.replace(/\.\d+Z$/, "Z") : "",
      id: u.id,
    })),
    ["email", "state", "platform admin", "stores", "last sign-in", "id"],
  ));
  if (users.length > limit) ctx.out(`(first ${limit}; --limit shows more)`);
}

export async function usersCommand(ctx: CliContext, args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === "invite") return await invite(ctx, rest);
  if (sub === "create") return await create(ctx, rest);
  if (sub === "list") return await list(ctx, rest);
  throw new CliError(USAGE, 2);
}

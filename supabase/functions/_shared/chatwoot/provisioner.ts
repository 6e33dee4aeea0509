// The store provisioner: one checkpointed step at a time, each Chatwoot id recorded as soon as
// Chatwoot returns it. Platform account (tagged with the store id) → administrator user →
// membership → the user's API token → web widget, API and (with a support address) e-mail
// inboxes → the signed account webhook → active. A create whose answer was lost is reconciled
// against what Chatwoot lists before anything is created again.

import { z } from "zod";
import type { Sql } from "../platform/db.ts";
import type { Fetched, PrivateInsert, PrivateRow, PrivateUpdate, Row, Update } from "../platform/rows.ts";
import { type Job, jobKind, type JobRegistry, PermanentFailure } from "../jobs/queue.ts";
import { chatwootJobError } from "./job_errors.ts";
import { type HostResolver, webhookTargetWarning } from "./webhook_target.ts";
import { ChatwootClient, ChatwootError, createWebhook, listWebhooks, updateWebhook } from "./client.ts";
import { newRouteToken, routeTokenHash, webhookUrlFor } from "./accounts.ts";
import {
  addAccountAdministrator,
  type ChatwootInbox,
  createInbox,
  createPlatformAccount,
  createPlatformUser,
  deletePlatformAccount,
  listInboxes,
  listPlatformAccounts,
  setPlatformAccountStatus,
  userApiToken,
} from "./platform.ts";
import type { RateLimiter } from "./rate_limit.ts";

export interface ProvisionerDeps {
  sql: Sql;
  /** The self-hosted Chatwoot with a Platform API; null when not configured. */
  chatwootUrl: string | null;
  platformToken: string | null;
  /** Public base of this deployment's functions: the webhook points here. */
  functionsUrl: string;
  limiter: RateLimiter;
  fetch?: typeof fetch;
  /** How the webhook URL's host is resolved for the SafeFetch check (tests inject one). */
  resolve?: HostResolver;
  /** Told when the webhook URL is one Chatwoot 4.14+ will not deliver to (also recorded on the account). */
  warn?: (message: string) => void;
  /** Test hook: runs after each recorded step; throwing there is a worker dying at that point. */
  afterStep?: (step: ProvisionStep) => void | Promise<void>;
}

export const PROVISION_STEPS = [
  "account",
  "admin_user",
  "membership",
  "token",
  "widget_inbox",
  "api_inbox",
  "email_inbox",
  "webhook",
] as const;
export type ProvisionStep = (typeof PROVISION_STEPS)[number];

/** The checkpoint row and the administrator's token kept beside it (null until the token step). */
type ProvisioningRow =
  & Fetched<Row<"chatwoot_provisioning">, "activated_at" | "created_at" | "updated_at">
  & Pick<PrivateRow<"chatwoot_provisioning_secrets">, "admin_api_token">;

type StoreRow = Pick<Row<"stores">, "id" | "slug" | "name" | "domain" | "support_email" | "chatwoot_provisioning">;

const NO_PLATFORM_API = "has no Platform API (Chatwoot Cloud, or a platform app token is missing). " +
  "Link an existing account instead: npx switchboard accounts link --store <slug> --chatwoot-url <url> " +
  "--account-id <n> --api-token <token>";

function clients(deps: ProvisionerDeps, chatwootUrl: string) {
  return {
    platform: new ChatwootClient({
      baseUrl: chatwootUrl,
      token: deps.platformToken!,
      limiter: deps.limiter,
      fetch: deps.fetch,
    }),
    app: (token: string) =>
      new ChatwootClient({ baseUrl: chatwootUrl, token, limiter: deps.limiter, fetch: deps.fetch }),
  };
}

async function load(
  sql: Sql,
  storeId: string,
): Promise<{ store: StoreRow | undefined; row: ProvisioningRow | undefined }> {
  const [store] = await sql<StoreRow[]>`
    select id, slug, name, domain, support_email, chatwoot_provisioning from public.stores where id = ${storeId}`;
  const [row] = await sql<ProvisioningRow[]>`
    select p.*, s.admin_api_token from public.chatwoot_provisioning p
    left join private.chatwoot_provisioning_secrets s on s.store_id = p.store_id
    where p.store_id = ${storeId}`;
  return { store, row };
}

/** Records checkpoint columns (public row) and secrets (private row) in one short transaction. */
async function record(
  sql: Sql,
  storeId: string,
  fields: Update<"chatwoot_provisioning">,
  secrets: Omit<PrivateUpdate<"chatwoot_provisioning_secrets">, "store_id" | "updated_at"> = {},
) {
  await sql.begin(async (tx) => {
    if (Object.keys(fields).length) {
      await tx`update public.chatwoot_provisioning set ${tx(fields)} where store_id = ${storeId}`;
    }
    if (Object.keys(secrets).length) {
      const row: PrivateInsert<"chatwoot_provisioning_secrets"> = { store_id: storeId, ...secrets };
      await tx`insert into private.chatwoot_provisioning_secrets ${tx(row)}
               on conflict (store_id) do update set ${tx(secrets)}, updated_at = now()`;
    }
  });
}

/** The store owner's e-mail, or a stable address of the store's own when it has no owner yet. */
async function administratorFor(sql: Sql, store: StoreRow): Promise<{ name: string; email: string }> {
  // auth.users is GoTrue's, outside the generated schemas.
  const [owner] = await sql<{ email: string; name: string }[]>`
    select u.email, coalesce(p.full_name, u.raw_user_meta_data ->> 'full_name', u.email) as name
    from public.store_members m join auth.users u on u.id = m.user_id
    left join public.profiles p on p.user_id = u.id
    where m.store_id = ${store.id} and m.role = 'owner' and u.email is not null
    order by m.created_at limit 1`;
  if (owner) return { name: owner.name, email: owner.email };
  return { name: `${store.name} (Switchboard)`, email: `switchboard+${store.id}@stores.switchboard.invalid` };
}

function strongPassword(): string {
  // Chatwoot (Devise + secure_password): 6..128 chars with upper, lower, digit and special.
  return `Sb-${crypto.randomUUID()}-${crypto.randomUUID().slice(0, 8).toUpperCase()}!9a`;
}

function inboxNames(store: StoreRow) {
  return { widget: `${store.name} website`, api: `${store.name} API`, email: `${store.name} e-mail` };
}

/** Creates one inbox unless a previous attempt may already have (in_flight): then adopt it. */
async function ensureInbox(
  deps: ProvisionerDeps,
  storeId: string,
  step: ProvisionStep,
  app: ChatwootClient,
  accountId: number,
  inFlight: string | null,
  match: (i: ChatwootInbox) => boolean,
  body: Record<string, unknown>,
): Promise<ChatwootInbox> {
  if (inFlight === step) {
    const found = (await listInboxes(app, accountId)).find(match);
    if (found) return found;
  }
  await record(deps.sql, storeId, { in_flight: step });
  return await createInbox(app, accountId, body);
}

export async function provisionStore(deps: ProvisionerDeps, storeId: string): Promise<"active" | "skipped"> {
  const { store, row } = await load(deps.sql, storeId);
  if (!store) throw new PermanentFailure(`store ${storeId} no longer exists`);
  if (store.chatwoot_provisioning !== "auto") return "skipped";
  if (!row) throw new PermanentFailure(`store ${store.slug} has no provisioning record`);
  if (row.state === "active" && row.webhook_id !== null) return "active";
  if (!deps.chatwootUrl || !deps.platformToken) {
    throw new PermanentFailure(
      `CHATWOOT_URL/CHATWOOT_PLATFORM_TOKEN are not configured: this deployment ${NO_PLATFORM_API}`,
    );
  }
  const chatwootUrl = row.chatwoot_url ?? deps.chatwootUrl.replace(/\/+$/, "");
  await deps.sql`update public.chatwoot_provisioning set state = 'provisioning', attempts = attempts + 1,
                 chatwoot_url = ${chatwootUrl} where store_id = ${storeId}`;
  const { platform, app: appFor } = clients(deps, chatwootUrl);
  const opened: ChatwootClient[] = [platform];
  const app = (token: string) => {
    const c = appFor(token);
    opened.push(c);
    return c;
  };
  try {
    return await runSteps(deps, store, row, chatwootUrl, platform, app);
  } finally {
    for (const c of opened) c.close();
  }
}

async function runSteps(
  deps: ProvisionerDeps,
  store: StoreRow,
  row: ProvisioningRow,
  chatwootUrl: string,
  platform: ChatwootClient,
  app: (token: string) => ChatwootClient,
): Promise<"active"> {
  const storeId = store.id;
  const after = async (step: ProvisionStep) => await deps.afterStep?.(step);
  let inFlight = row.in_flight;

  // ── account ──────────────────────────────────────────────────────────────────────────────
  let accountId = row.account_id;
  if (accountId === null) {
    if (inFlight === "account") {
      const mine = (await listPlatformAccounts(platform))
        .filter((a) => a.custom_attributes?.switchboard_store_id === storeId)
        .sort((a, b) => a.id - b.id);
      accountId = mine[0]?.id ?? null;
    }
    if (accountId === null) {
      await record(deps.sql, storeId, { in_flight: "account" });
      inFlight = "account";
      try {
        const created = await createPlatformAccount(platform, {
          name: store.name,
          domain: store.domain,
          support_email: store.support_email,
          custom_attributes: { switchboard_store_id: storeId, switchboard_store_slug: store.slug },
        });
        accountId = created.id;
      } catch (err) {
        if (err instanceof ChatwootError && err.status === 404) {
          throw new PermanentFailure(`Chatwoot at ${chatwootUrl} ${NO_PLATFORM_API}`);
        }
        if (err instanceof ChatwootError && err.status === 401) {
          throw new PermanentFailure(
            `Chatwoot at ${chatwootUrl} refused the platform app token (401): check CHATWOOT_PLATFORM_TOKEN`,
          );
        }
        throw err;
      }
    }
    await record(deps.sql, storeId, { account_id: accountId, in_flight: null });
    inFlight = null;
  }
  await after("account");

  // ── administrator, membership, token (Chatwoot makes each of these idempotent) ───────────
  let userId = row.admin_user_id;
  if (userId === null) {
    const admin = await administratorFor(deps.sql, store);
    const user = await createPlatformUser(platform, {
      name: admin.name,
      email: admin.email,
      password: strongPassword(),
      custom_attributes: { switchboard_store_id: storeId },
    });
    userId = user.id;
    await record(deps.sql, storeId, { admin_user_id: userId });
  }
  await after("admin_user");
  if (!row.admin_membership) {
    await addAccountAdministrator(platform, accountId, userId);
    await record(deps.sql, storeId, { admin_membership: true });
  }
  await after("membership");
  let token = row.admin_api_token;
  if (!token) {
    token = await userApiToken(platform, userId);
    await record(deps.sql, storeId, {}, { admin_api_token: token });
  }
  await after("token");
  const api = app(token);
  const names = inboxNames(store);

  // ── inboxes ──────────────────────────────────────────────────────────────────────────────
  if (row.widget_inbox_id === null) {
    const inbox = await ensureInbox(
      deps,
      storeId,
      "widget_inbox",
      api,
      accountId,
      inFlight,
      (i) => i.channel_type === "Channel::WebWidget" && i.name === names.widget,
      {
        name: names.widget,
        channel: { type: "web_widget", website_url: `https://${store.domain ?? `${store.slug}.invalid`}` },
      },
    );
    await record(deps.sql, storeId, {
      widget_inbox_id: inbox.id,
      website_token: inbox.website_token ?? null,
      in_flight: null,
    }, {
      widget_hmac_token: inbox.hmac_token ?? null,
    });
    inFlight = null;
  }
  await after("widget_inbox");
  if (row.api_inbox_id === null) {
    const inbox = await ensureInbox(
      deps,
      storeId,
      "api_inbox",
      api,
      accountId,
      inFlight,
      (i) => i.channel_type === "Channel::Api" && i.name === names.api,
      { name: names.api, channel: { type: "api", webhook_url: "" } },
    );
    await record(deps.sql, storeId, {
      api_inbox_id: inbox.id,
      api_inbox_identifier: inbox.inbox_identifier ?? null,
      in_flight: null,
    }, {
      api_inbox_hmac_token: inbox.hmac_token ?? null,
      api_inbox_secret: inbox.secret ?? null,
    });
    inFlight = null;
  }
  await after("api_inbox");
  if (row.email_inbox_id === null && store.support_email) {
    const inbox = await ensureInbox(
      deps,
      storeId,
      "email_inbox",
      api,
      accountId,
      inFlight,
      (i) => i.channel_type === "Channel::Email" && (i.email === store.support_email || i.name === names.email),
      { name: names.email, channel: { type: "email", email: store.support_email } },
    );
    await record(deps.sql, storeId, { email_inbox_id: inbox.id, in_flight: null });
    inFlight = null;
  }
  await after("email_inbox");

  // ── the signed webhook, the link the mirror uses, and active ────────────────────────────
  const routeToken = newRouteToken();
  const url = webhookUrlFor(deps.functionsUrl, routeToken);
  const targetWarning = await webhookTargetWarning(url, deps.resolve);
  if (targetWarning) deps.warn?.(`store ${store.slug}: ${targetWarning}`);
  const ours = (await listWebhooks(api, accountId)).find((w) => w.url.startsWith(webhookUrlFor(deps.functionsUrl, "")));
  const hook = ours
    ? await updateWebhook(api, accountId, ours.id, { url })
    : await createWebhook(api, accountId, { url, name: "Switchboard" });
  const secret = hook.secret ?? ours?.secret ?? null;
  if (!secret) {
    throw new PermanentFailure(`Chatwoot at ${chatwootUrl} returned no webhook secret: it is older than 4.11.2`);
  }
  await deps.sql.begin(async (tx) => {
    const [account] = await tx<Pick<Row<"chatwoot_accounts">, "id">[]>`
      insert into public.chatwoot_accounts (store_id, chatwoot_url, account_id, webhook_target_warning)
      values (${storeId}, ${chatwootUrl}, ${accountId}, ${targetWarning})
      on conflict (store_id) do update set chatwoot_url = excluded.chatwoot_url, account_id = excluded.account_id,
        webhook_target_warning = excluded.webhook_target_warning
      returning id`;
    await tx`
      insert into private.chatwoot_account_secrets (account_ref, api_token, webhook_id, webhook_secret, route_token_hash)
      values (${account.id}, ${token}, ${hook.id}, ${secret}, ${routeTokenHash(routeToken)})
      on conflict (account_ref) do update set api_token = excluded.api_token, webhook_id = excluded.webhook_id,
        webhook_secret = excluded.webhook_secret, route_token_hash = excluded.route_token_hash, updated_at = now()`;
    await tx`insert into public.chatwoot_sync_cursors (account_ref, store_id) values (${account.id}, ${storeId})
             on conflict (account_ref) do nothing`;
    await tx`update public.chatwoot_provisioning set webhook_id = ${hook.id}, state = 'active', failure_reason = null,
             in_flight = null, activated_at = coalesce(activated_at, now()) where store_id = ${storeId}`;
  });
  await after("webhook");
  return "active";
}

type Lifecycle = "suspend" | "reactivate" | "delete";

export async function applyLifecycle(deps: ProvisionerDeps, storeId: string, action: Lifecycle): Promise<void> {
  const [row] = await deps.sql<Pick<Row<"chatwoot_provisioning">, "state" | "chatwoot_url" | "account_id">[]>`
    select state, chatwoot_url, account_id from public.chatwoot_provisioning where store_id = ${storeId}`;
  if (!row || row.account_id === null) {
    if (action === "delete" && row) {
      await deps.sql`update public.chatwoot_provisioning set state = 'deleted' where store_id = ${storeId}`;
    }
    return; // nothing was created in Chatwoot
  }
  if (!deps.platformToken) {
    throw new PermanentFailure(`CHATWOOT_PLATFORM_TOKEN is not configured: cannot ${action} the account`);
  }
  const { platform } = clients(deps, row.chatwoot_url ?? deps.chatwootUrl!);
  try {
    if (action === "delete") {
      try {
        await deletePlatformAccount(platform, row.account_id);
      } catch (err) {
        if (!(err instanceof ChatwootError && err.status === 404)) throw err; // already gone is done
      }
      await deps.sql.begin(async (tx) => {
        await tx`delete from private.chatwoot_provisioning_secrets where store_id = ${storeId}`;
        await tx`update public.chatwoot_provisioning set state = 'deleted', failure_reason = null where store_id = ${storeId}`;
      });
      return;
    }
    // The store's current status decides, so replays and reordered jobs converge on it.
    const [store] = await deps.sql<
      Pick<Row<"stores">, "status">[]
    >`select status from public.stores where id = ${storeId}`;
    if (!store) return;
    const status = store.status === "suspended" ? "suspended" : "active";
    await setPlatformAccountStatus(platform, row.account_id, status);
    await deps.sql`update public.chatwoot_provisioning set state = ${status === "suspended" ? "suspended" : "active"},
                   failure_reason = null where store_id = ${storeId}`;
  } finally {
    platform.close();
  }
}

/** Every provisioning job names its store. */
const storePayload = z.object({ store_id: z.string().regex(/^[0-9a-f-]{36}$/, "not a store id") });

/** Turns a failure into the job outcome and the state members see (failed only when final). */
async function fail(deps: ProvisionerDeps, job: Job, storeId: string, err: unknown): Promise<never> {
  const message = err instanceof Error ? err.message : String(err);
  const waits = err instanceof ChatwootError && err.kind === "rate_limited"; // deferred: no attempt spent
  const final = err instanceof PermanentFailure || (err instanceof ChatwootError && !err.transient) ||
    (!waits && job.attempts >= job.max_attempts);
  await deps.sql`update public.chatwoot_provisioning
                 set state = case when ${final} then 'failed' else state end,
                     failure_reason = ${final ? message : `retrying after: ${message}`}
                 where store_id = ${storeId}`.catch(() => {});
  throw chatwootJobError(err);
}

export function provisioningJobHandlers(deps: ProvisionerDeps): JobRegistry {
  const run = (action: (storeId: string) => Promise<unknown>) =>
    jobKind(storePayload, async (job) => {
      try {
        await action(job.payload.store_id);
      } catch (err) {
        await fail(deps, job, job.payload.store_id, err);
      }
    });
  return {
    "chatwoot.provision": run((id) => provisionStore(deps, id)),
    "chatwoot.suspend": run((id) => applyLifecycle(deps, id, "suspend")),
    "chatwoot.reactivate": run((id) => applyLifecycle(deps, id, "reactivate")),
    "chatwoot.delete": run((id) => applyLifecycle(deps, id, "delete")),
  };
}

// Linking an existing Chatwoot account to a store (the path for Chatwoot Cloud, which has no
// Platform API): registers or updates the account webhook with a fresh route token, and stores
// the token's hash, the API token and the signing secret where API roles cannot read them.

import { createHash, randomBytes } from "node:crypto";
import type { Sql } from "../platform/db.ts";
import type { PrivateRow, Row } from "../platform/rows.ts";
import { ChatwootClient, ChatwootError, createWebhook, listWebhooks, updateWebhook } from "./client.ts";
import { type HostResolver, webhookTargetWarning } from "./webhook_target.ts";

export interface LinkInput {
  storeSlug: string;
  chatwootUrl: string;
  accountId: number;
  apiToken: string;
  /** Given when the webhook was registered by hand (the token is not an administrator's). */
  webhookSecret?: string;
  /** Chatwoot older than 4.11.2 cannot sign: accept unsigned deliveries for this account. */
  acceptsUnsigned?: boolean;
  /** Public base of this deployment's functions, e.g. https://<ref>.supabase.co/functions/v1 */
  functionsUrl: string;
  /** How the webhook URL's host is resolved for the SafeFetch check (tests inject one). */
  resolve?: HostResolver;
}

export interface LinkResult {
  accountRef: string;
  storeId: string;
  webhookUrl: string;
  /** created/updated: through the API; manual: the person must register webhookUrl in Chatwoot. */
  registration: "created" | "updated" | "manual";
  webhookId: number | null;
  signed: boolean;
  /** Set when Chatwoot 4.14+ would refuse to deliver to webhookUrl (a private address); also recorded. */
  webhookTargetWarning: string | null;
}

export class LinkError extends Error {}

export function newRouteToken(): string {
  return randomBytes(32).toString("base64url");
}

export function routeTokenHash(token: string): Uint8Array {
  return createHash("sha256").update(token, "utf8").digest();
}

export function webhookUrlFor(functionsUrl: string, routeToken: string): string {
  return `${functionsUrl.replace(/\/+$/, "")}/chatwoot-webhook/${routeToken}`;
}

export async function linkChatwootAccount(sql: Sql, client: ChatwootClient, input: LinkInput): Promise<LinkResult> {
  const chatwootUrl = input.chatwootUrl.replace(/\/+$/, "");
  if (!/^https?:\/\/[^/\s]+$/.test(chatwootUrl)) {
    throw new LinkError(
      `--chatwoot-url must be the server's base URL, like https://chat.example.com (got ${input.chatwootUrl})`,
    );
  }
  if (!Number.isInteger(input.accountId) || input.accountId <= 0) {
    throw new LinkError("--account-id must be a positive integer");
  }
  const [store] = await sql<Pick<Row<"stores">, "id">[]>`select id from public.stores where slug = ${input.storeSlug}`;
  if (!store) throw new LinkError(`no store with slug "${input.storeSlug}"`);

  const routeToken = newRouteToken();
  const webhookUrl = webhookUrlFor(input.functionsUrl, routeToken);
  const ourPrefix = webhookUrlFor(input.functionsUrl, "");
  const targetWarning = await webhookTargetWarning(webhookUrl, input.resolve);

  // Network first, database after: no transaction stays open across Chatwoot calls.
  let registration: LinkResult["registration"] = "manual";
  let webhookId: number | null = null;
  let secret: string | null = input.webhookSecret ?? null;
  if (!input.webhookSecret) {
    try {
      const existing = (await listWebhooks(client, input.accountId)).find((w) => w.url.startsWith(ourPrefix));
      const hook = existing
        ? await updateWebhook(client, input.accountId, existing.id, { url: webhookUrl })
        : await createWebhook(client, input.accountId, { url: webhookUrl, name: "Switchboard" });
      registration = existing ? "updated" : "created";
      webhookId = hook.id;
      secret = hook.secret ?? existing?.secret ?? null;
    } catch (err) {
      // Chatwoot Cloud's free plan answers 403 to every token call: no webhook can be registered, by hand or
      // not, and none would be delivered. Linking it anyway would only give jobs that fail.
      if (err instanceof ChatwootError && err.kind === "api_closed") throw new LinkError(err.message);
      if (err instanceof ChatwootError && err.status === 401) {
        registration = "manual"; // not an administrator's token (render_unauthorized): registered by hand
      } else if (err instanceof ChatwootError && err.status === 404) {
        throw new LinkError(`Chatwoot at ${chatwootUrl} has no account ${input.accountId} (404)`);
      } else {
        throw err;
      }
    }
    if (registration !== "manual" && !secret && !input.acceptsUnsigned) {
      throw new LinkError(
        "Chatwoot returned no webhook secret: it is older than 4.11.2 and cannot sign deliveries. " +
          "Upgrade it, or link with --accept-unsigned to take unsigned deliveries from this account.",
      );
    }
  }

  const accountRef = await sql.begin(async (tx) => {
    // A linked store's account is managed by hand from now on: never auto-provisioned over it.
    await tx`update public.stores set chatwoot_provisioning = 'manual' where id = ${store.id}`;
    const [account] = await tx<Pick<Row<"chatwoot_accounts">, "id">[]>`
      insert into public.chatwoot_accounts (store_id, chatwoot_url, account_id, accepts_unsigned, webhook_target_warning)
      values (${store.id}, ${chatwootUrl}, ${input.accountId}, ${input.acceptsUnsigned ?? false}, ${targetWarning})
      on conflict (store_id) do update set chatwoot_url = excluded.chatwoot_url, account_id = excluded.account_id,
        accepts_unsigned = excluded.accepts_unsigned, webhook_target_warning = excluded.webhook_target_warning,
        api_closed_reason = null, api_closed_at = null
      returning id`;
    await tx`
      insert into private.chatwoot_account_secrets (account_ref, api_token, webhook_id, webhook_secret, route_token_hash)
      values (${account.id}, ${input.apiToken}, ${webhookId}, ${secret}, ${routeTokenHash(routeToken)})
      on conflict (account_ref) do update set api_token = excluded.api_token, webhook_id = excluded.webhook_id,
        webhook_secret = excluded.webhook_secret, route_token_hash = excluded.route_token_hash, updated_at = now()`;
    await tx`
      insert into public.chatwoot_sync_cursors (account_ref, store_id) values (${account.id}, ${store.id})
      on conflict (account_ref) do update set next_run_at = now()`;
    return account.id;
  }).catch((err) => {
    if (err?.code === "23505" && err?.constraint_name === "chatwoot_accounts_one_link_per_account") {
      throw new LinkError(`Chatwoot account ${input.accountId} at ${chatwootUrl} is already linked to another store`);
    }
    throw err;
  });

  return {
    accountRef,
    storeId: store.id,
    webhookUrl,
    registration,
    webhookId,
    signed: secret !== null,
    webhookTargetWarning: targetWarning,
  };
}

/** Records that Chatwoot closed this account's API (Cloud free plan): shown by `accounts list` and the admin
 * app, and the reason jobs about the account stop with. Cleared when the account is linked again. */
export async function recordApiClosed(sql: Sql, accountRef: string, reason: string): Promise<void> {
  await sql`update public.chatwoot_accounts set api_closed_reason = ${reason}, api_closed_at = coalesce(api_closed_at, now())
            where id = ${accountRef}`;
}

/** Stores the signing secret of a webhook registered by hand. */
export async function setWebhookSecret(sql: Sql, storeSlug: string, secret: string): Promise<void> {
  if (secret.length < 8) {
    throw new LinkError("the webhook secret looks too short; copy it from Chatwoot's webhook settings");
  }
  const rows = await sql<Pick<PrivateRow<"chatwoot_account_secrets">, "account_ref">[]>`
    update private.chatwoot_account_secrets s set webhook_secret = ${secret}, updated_at = now()
    from public.chatwoot_accounts a join public.stores st on st.id = a.store_id
    where s.account_ref = a.id and st.slug = ${storeSlug}
    returning s.account_ref`;
  if (rows.length === 0) throw new LinkError(`store "${storeSlug}" has no linked Chatwoot account`);
}

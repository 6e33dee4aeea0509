// Test support for Chatwoot ingestion: a store linked to a Chatwoot account directly in the
// database (known secret, route token), signed deliveries, and the shared fixtures.

import type { Sql } from "../../supabase/functions/_shared/platform/db.ts";
import {
  linkChatwootAccount,
  newRouteToken,
  routeTokenHash,
} from "../../supabase/functions/_shared/chatwoot/accounts.ts";
import { ChatwootClient } from "../../supabase/functions/_shared/chatwoot/client.ts";
import { signChatwootPayload } from "../../supabase/functions/_shared/chatwoot/signature.ts";

/** Chatwoot's own webhook payloads (a copy of the project's shared/fixtures/chatwoot, kept in the
 * repository so a clone anywhere can run the tests). */
export const FIXTURES_DIR = new URL("../../fixtures/chatwoot/", import.meta.url);

export function fixture(name: string): Record<string, unknown> {
  return JSON.parse(Deno.readTextFileSync(new URL(name, FIXTURES_DIR)));
}

export function fixtureNames(): string[] {
  return [...Deno.readDirSync(FIXTURES_DIR)].filter((e) => e.name.endsWith(".json")).map((e) => e.name).sort();
}

export interface TestAccount {
  storeId: string;
  slug: string;
  accountRef: string;
  accountId: number;
  routeToken: string;
  secret: string;
}

/** A new store linked to Chatwoot account `accountId` on a host of its own. */
export async function insertLinkedAccount(
  sql: Sql,
  opts: { accountId?: number; secret?: string | null; acceptsUnsigned?: boolean } = {},
): Promise<TestAccount> {
  const slug = `t-${crypto.randomUUID().slice(0, 12)}`;
  const routeToken = newRouteToken();
  const secret = opts.secret === undefined ? crypto.randomUUID().replaceAll("-", "").slice(0, 24) : opts.secret;
  const accountId = opts.accountId ?? 3;
  return await sql.begin(async (tx) => {
    const [store] = await tx`insert into public.stores (slug, name, chatwoot_provisioning)
                             values (${slug}, 'Test store', 'manual') returning id`;
    const [account] = await tx`
      insert into public.chatwoot_accounts (store_id, chatwoot_url, account_id, accepts_unsigned)
      values (${store.id}, ${`https://${slug}.chatwoot.test`}, ${accountId}, ${opts.acceptsUnsigned ?? false})
      returning id`;
    await tx`insert into private.chatwoot_account_secrets (account_ref, webhook_secret, route_token_hash)
             values (${account.id}, ${secret}, ${routeTokenHash(routeToken)})`;
    await tx`insert into public.chatwoot_sync_cursors (account_ref, store_id, next_run_at)
             values (${account.id}, ${store.id}, now() + interval '1 day')`;
    return { storeId: store.id, slug, accountRef: account.id, accountId, routeToken, secret: secret ?? "" };
  }) as TestAccount;
}

export interface DeliverOptions {
  secret?: string | null;
  timestamp?: number;
  deliveryId?: string | null;
  contentType?: string;
  signature?: string;
  rawBody?: string | Uint8Array<ArrayBuffer>;
  now?: number;
  /** The receiving function (the agent bot's receiver shares the account webhook's rules). */
  functionName?: "chatwoot-webhook" | "chatwoot-bot";
  /** Send the body as a stream, without Content-Length (chunked), in pieces of this many bytes. */
  chunkBytes?: number;
}

/** POSTs a delivery the way Chatwoot's Webhooks::Trigger does, signed unless secret is null. */
export async function deliver(
  apiUrl: string,
  account: Pick<TestAccount, "routeToken" | "secret">,
  body: unknown,
  opts: DeliverOptions = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const raw = opts.rawBody ?? JSON.stringify(body);
  const timestamp = opts.timestamp ?? Math.floor((opts.now ?? Date.now()) / 1000);
  const secret = opts.secret === undefined ? account.secret : opts.secret;
  const headers: Record<string, string> = {
    "content-type": opts.contentType ?? "application/json",
    accept: "application/json",
    "user-agent": "rest-client/2.1.0 (linux x86_64) ruby/3.3.0p0",
  };
  if (opts.deliveryId !== null) headers["x-chatwoot-delivery"] = opts.deliveryId ?? crypto.randomUUID();
  if (secret !== null) {
    headers["x-chatwoot-timestamp"] = String(timestamp);
    headers["x-chatwoot-signature"] = opts.signature ?? signChatwootPayload(secret, timestamp, raw);
  }
  const bytes: Uint8Array<ArrayBuffer> = typeof raw === "string" ? new TextEncoder().encode(raw) : raw;
  const chunk = opts.chunkBytes;
  const streamed = chunk
    ? new ReadableStream<Uint8Array<ArrayBuffer>>({
      start(c) {
        for (let at = 0; at < bytes.byteLength; at += chunk) c.enqueue(bytes.subarray(at, at + chunk));
        c.close();
      },
    })
    : null;
  const res = await fetch(`${apiUrl}/functions/v1/${opts.functionName ?? "chatwoot-webhook"}/${account.routeToken}`, {
    method: "POST",
    headers,
    body: streamed ?? bytes,
  });
  const text = await res.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text);
  } catch { /* not JSON */ }
  return { status: res.status, body: parsed };
}

/** Rows the mirror and ledger hold for one account, for "nothing was written" assertions. */
export async function mirrorCounts(sql: Sql, accountRef: string) {
  const [row] = await sql`
    select
      (select count(*) from private.chatwoot_deliveries where account_ref = ${accountRef})::int as deliveries,
      (select count(*) from public.chatwoot_contacts where account_ref = ${accountRef})::int as contacts,
      (select count(*) from public.chatwoot_conversations where account_ref = ${accountRef})::int as conversations,
      (select count(*) from public.chatwoot_messages where account_ref = ${accountRef})::int as messages,
      (select count(*) from public.chatwoot_attachments where account_ref = ${accountRef})::int as attachments`;
  return { ...row } as {
    deliveries: number;
    contacts: number;
    conversations: number;
    messages: number;
    attachments: number;
  };
}

// ── the Chatwoot sandbox of the test stack ───────────────────────────────────────────────────

export interface SandboxEnv {
  url: string;
  platformToken: string;
}

export function sandboxEnv(): SandboxEnv {
  const url = Deno.env.get("CHATWOOT_URL");
  const platformToken = Deno.env.get("CHATWOOT_PLATFORM_TOKEN");
  if (!url || !platformToken) {
    throw new Error("CHATWOOT_URL/CHATWOOT_PLATFORM_TOKEN are not set: run through `npm test`");
  }
  return { url, platformToken };
}

// deno-lint-ignore no-explicit-any
export type Json = any;

export async function sandboxCall(
  env: SandboxEnv,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown } = {},
): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${env.url}${path}`, {
    method,
    headers: {
      "Api-Access-Token": opts.token ?? env.platformToken,
      ...(opts.body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** Platform API provisioning, as Chatwoot's docs describe it: account → user → admin → token. */
export async function provisionSandboxAccount(
  env: SandboxEnv,
  role: "administrator" | "agent" = "administrator",
): Promise<{ accountId: number; token: string; userId: number }> {
  const account = await sandboxCall(env, "POST", "/platform/api/v1/accounts", { body: { name: "Test clinic" } });
  const user = await sandboxCall(env, "POST", "/platform/api/v1/users", {
    body: { name: "Admin", email: `admin-${crypto.randomUUID()}@clinic.test`, password: "Passw0rd!" },
  });
  await sandboxCall(env, "POST", `/platform/api/v1/accounts/${account.body.id}/account_users`, {
    body: { user_id: user.body.id, role },
  });
  const token = await sandboxCall(env, "POST", `/platform/api/v1/users/${user.body.id}/token`);
  return { accountId: account.body.id, token: token.body.access_token, userId: user.body.id };
}

export async function addSandboxMember(env: SandboxEnv, accountId: number, role: "administrator" | "agent") {
  const user = await sandboxCall(env, "POST", "/platform/api/v1/users", {
    body: { name: "Agent", email: `agent-${crypto.randomUUID()}@clinic.test`, password: "Passw0rd!" },
  });
  await sandboxCall(env, "POST", `/platform/api/v1/accounts/${accountId}/account_users`, {
    body: { user_id: user.body.id, role },
  });
  const token = await sandboxCall(env, "POST", `/platform/api/v1/users/${user.body.id}/token`);
  return { token: token.body.access_token as string, userId: user.body.id as number };
}

export async function createSandboxWhatsAppInbox(env: SandboxEnv, accountId: number, token: string): Promise<number> {
  const res = await sandboxCall(env, "POST", `/api/v1/accounts/${accountId}/inboxes`, {
    token,
    body: {
      name: "WhatsApp",
      // Chatwoot keeps WhatsApp numbers unique across inboxes: one per test account.
      channel: {
        type: "whatsapp",
        phone_number: `+5255${String(Date.now() % 1e8).padStart(8, "0")}`,
        provider: "whatsapp_cloud",
      },
    },
  });
  if (res.status !== 200) throw new Error(`inbox: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id;
}

export async function newStore(sql: Sql): Promise<{ id: string; slug: string }> {
  const slug = `t-${crypto.randomUUID().slice(0, 12)}`;
  const [row] = await sql`insert into public.stores (slug, name, chatwoot_provisioning)
                          values (${slug}, 'Sandbox store', 'manual') returning id`;
  return { id: row.id, slug };
}

export interface SandboxAgentBot {
  id: number;
  /** The bot's own access token (account API view: `access_token.token`), sent as Api-Access-Token. */
  token: string;
  /** The bot's webhook signing secret, as an administrator sees it. */
  secret: string;
}

/** Creates an agent bot as the account's administrator and, given an inbox, makes it the inbox's bot. */
export async function createSandboxAgentBot(
  env: SandboxEnv,
  accountId: number,
  adminToken: string,
  outgoingUrl: string,
  inboxId?: number,
): Promise<SandboxAgentBot> {
  const res = await sandboxCall(env, "POST", `/api/v1/accounts/${accountId}/agent_bots`, {
    token: adminToken,
    body: { name: "AI replies", outgoing_url: outgoingUrl },
  });
  if (res.status !== 200) throw new Error(`agent bot: ${res.status} ${JSON.stringify(res.body)}`);
  if (inboxId !== undefined) {
    const set = await sandboxCall(env, "POST", `/api/v1/accounts/${accountId}/inboxes/${inboxId}/set_agent_bot`, {
      token: adminToken,
      body: { agent_bot: res.body.id },
    });
    if (set.status !== 200) throw new Error(`set_agent_bot: ${set.status}`);
  }
  return { id: res.body.id, token: res.body.access_token.token, secret: res.body.secret };
}

/** A new store linked (webhook registered) to a fresh administrator account in the sandbox, as
 * `accounts link` does it, with a client for that account's Application API. */
export async function sandboxLinkedStore(sql: Sql, functionsUrl: string) {
  const env = sandboxEnv();
  const cw = await provisionSandboxAccount(env);
  const store = await newStore(sql);
  const client = new ChatwootClient({ baseUrl: env.url, token: cw.token });
  try {
    const link = await linkChatwootAccount(sql, client, {
      storeSlug: store.slug,
      chatwootUrl: env.url,
      accountId: cw.accountId,
      apiToken: cw.token,
      functionsUrl,
    });
    const api = (method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> =>
      sandboxCall(env, method, `/api/v1/accounts/${cw.accountId}${path}`, { token: cw.token, body });
    return { env, cw, store, accountRef: link.accountRef, api };
  } finally {
    client.close();
  }
}

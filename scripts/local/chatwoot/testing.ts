// Test support for the sandbox's own tests: a webhook receiver that records what arrives, a fast-timing
// sandbox, an in-process API client, and Platform-API provisioning of an account with an admin token.

import { createSandbox, type Sandbox, type SandboxOptions } from "./server.ts";
import type { JsonObject } from "./state.ts";

/** Free-form JSON, for assertions on payloads. */
// deno-lint-ignore no-explicit-any
export type Json = any;

export interface Received {
  path: string;
  headers: Headers;
  body: string;
  json: Json;
}

export interface Receiver {
  url: string;
  requests: Received[];
  /** Status to answer with (default 200); may change between requests. */
  status: number;
  delayMs: number;
  close(): Promise<void>;
}

export function startReceiver(): Receiver {
  const abort = new AbortController();
  const receiver: Receiver = {
    url: "",
    requests: [],
    status: 200,
    delayMs: 0,
    close: async () => {
      abort.abort();
      await server.finished;
    },
  };
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", signal: abort.signal, onListen: () => {} },
    async (req) => {
      const body = await req.text();
      let parsed: Json = {};
      try {
        parsed = JSON.parse(body);
      } catch { /* not JSON */ }
      receiver.requests.push({ path: new URL(req.url).pathname, headers: req.headers, body, json: parsed });
      if (receiver.delayMs) await new Promise((r) => setTimeout(r, receiver.delayMs));
      return new Response("ok", { status: receiver.status });
    },
  );
  receiver.url = `http://127.0.0.1:${server.addr.port}`;
  return receiver;
}

/** A sandbox with short job delays so tests do not wait seconds. */
export function testSandbox(opts: SandboxOptions = {}): Sandbox {
  return createSandbox({
    platformToken: "platform-test-token",
    sendReplyDelayMs: 5,
    transcriptionDelayMs: 5,
    botRetryDelayMs: 10,
    ...opts,
  });
}

export interface CallResult {
  status: number;
  headers: Headers;
  body: Json;
}

export async function call(
  sandbox: Sandbox,
  method: string,
  path: string,
  /** `tokenHeader`: the dashed form by default, which proxies pass on; "api_access_token" to send the other. */
  opts: { token?: string; body?: unknown; tokenHeader?: "Api-Access-Token" | "api_access_token" } = {},
): Promise<CallResult> {
  const headers: Record<string, string> = {};
  if (opts.token !== undefined) headers[opts.tokenHeader ?? "Api-Access-Token"] = opts.token;
  if (opts.body !== undefined) headers["content-type"] = "application/json";
  const res = await sandbox.handler(
    new Request(`http://sandbox.test${path}`, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    }),
  );
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch { /* keep text */ }
  return { status: res.status, headers: res.headers, body };
}

export const platform = (sandbox: Sandbox, method: string, path: string, body?: unknown) =>
  call(sandbox, method, `/platform/api/v1${path}`, { token: sandbox.platformToken, body });

export const control = (sandbox: Sandbox, method: string, path: string, body?: unknown) =>
  call(sandbox, method, `/_control${path}`, { token: sandbox.platformToken, body });

export interface Provisioned {
  accountId: number;
  userId: number;
  token: string;
  /** Application API call as this account's user: `api("GET", "/inboxes")`. */
  api(method: string, path: string, body?: unknown): Promise<CallResult>;
}

let seq = 0;

/** The typical provisioning: account → user → administrator membership → user token. */
export async function provision(
  sandbox: Sandbox,
  opts: { name?: string; role?: "administrator" | "agent" } = {},
): Promise<Provisioned> {
  const account = await platform(sandbox, "POST", "/accounts", { name: opts.name ?? "Acme Clinic" });
  const user = await platform(sandbox, "POST", "/users", {
    name: "Ana Torres",
    email: `ana${++seq}@acme.test`,
    password: "Passw0rd!",
  });
  await platform(sandbox, "POST", `/accounts/${account.body.id}/account_users`, {
    user_id: user.body.id,
    role: opts.role ?? "administrator",
  });
  const token = (await platform(sandbox, "POST", `/users/${user.body.id}/token`)).body.access_token;
  return {
    accountId: account.body.id,
    userId: user.body.id,
    token,
    api: (method, path, body) => call(sandbox, method, `/api/v1/accounts/${account.body.id}${path}`, { token, body }),
  };
}

/** Adds a user with `role` to an existing account and returns that user's API client. */
export async function addMember(
  sandbox: Sandbox,
  accountId: number,
  role: "administrator" | "agent",
): Promise<Provisioned> {
  const user = await platform(sandbox, "POST", "/users", {
    name: "Luis Agent",
    email: `agent${++seq}@acme.test`,
    password: "Passw0rd!",
  });
  await platform(sandbox, "POST", `/accounts/${accountId}/account_users`, { user_id: user.body.id, role });
  const token = (await platform(sandbox, "POST", `/users/${user.body.id}/token`)).body.access_token;
  return {
    accountId,
    userId: user.body.id,
    token,
    api: (method, path, body) => call(sandbox, method, `/api/v1/accounts/${accountId}${path}`, { token, body }),
  };
}

export async function createWhatsAppInbox(acct: Provisioned, phone = "+5215500001111"): Promise<number> {
  const res = await acct.api("POST", "/inboxes", {
    name: "WhatsApp Ventas",
    channel: { type: "whatsapp", phone_number: phone, provider: "whatsapp_cloud" },
  });
  if (res.status !== 200) throw new Error(`inbox: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id;
}

/** Subscribes `url` to `subscriptions` (default: all of them) and returns the webhook JSON. */
export async function createWebhook(acct: Provisioned, url: string, subscriptions?: string[]): Promise<JsonObject> {
  const res = await acct.api("POST", "/webhooks", {
    webhook: {
      url,
      subscriptions: subscriptions ?? [
        "conversation_status_changed",
        "conversation_updated",
        "conversation_created",
        "contact_created",
        "contact_updated",
        "message_created",
        "message_updated",
        "webwidget_triggered",
        "inbox_created",
        "inbox_updated",
        "conversation_typing_on",
        "conversation_typing_off",
      ],
    },
  });
  if (res.status !== 200) throw new Error(`webhook: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.payload.webhook;
}

/**
 * Event names in the order Chatwoot dispatched them. Deliveries run concurrently (as Chatwoot's jobs do),
 * so the order in which a receiver sees them is not guaranteed; the dispatch order is.
 */
export function dispatched(sandbox: Sandbox, kind = "account_webhook"): string[] {
  return sandbox.deliveries().filter((d) => d.kind === kind).map((d) => d.event);
}

export function events(receiver: Receiver, name: string): Received[] {
  return receiver.requests.filter((r) => r.json.event === name);
}

export interface TestBot {
  id: number;
  /** The bot's api_access_token. */
  token: string;
  /** The webhook signing secret (account API, administrators only). */
  secret: string;
  /** Application API call with the bot's token. */
  api(method: string, path: string, body?: unknown): Promise<CallResult>;
}

/** Creates an agent bot through the account API (as Chatwoot's settings page does) and attaches it to `inboxId`. */
export async function createAgentBot(
  sandbox: Sandbox,
  acct: Provisioned,
  outgoingUrl: string,
  inboxId?: number,
): Promise<TestBot> {
  const res = await acct.api("POST", "/agent_bots", { name: "Asistente", outgoing_url: outgoingUrl });
  if (res.status !== 200) throw new Error(`agent bot: ${res.status} ${JSON.stringify(res.body)}`);
  if (inboxId !== undefined) await acct.api("POST", `/inboxes/${inboxId}/set_agent_bot`, { agent_bot: res.body.id });
  const token = res.body.access_token.token;
  return {
    id: res.body.id,
    token,
    secret: res.body.secret,
    api: (method, path, body) => call(sandbox, method, `/api/v1/accounts/${acct.accountId}${path}`, { token, body }),
  };
}

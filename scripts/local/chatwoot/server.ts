// Wiring of the Chatwoot sandbox: `createSandbox` builds the in-process handler (APIs, faults, webhooks,
// traffic, persistence); `startSandbox` serves it over HTTP on a node:http server, which can destroy a
// socket mid-request — Deno.serve cannot — to give a client a real network error for `work_then_drop`.

import { Buffer } from "node:buffer";
import http from "node:http";
import { serveActiveStorage } from "./active_storage.ts";
import { type AppRouter, createApplicationRouter, handleApplicationApi } from "./application_api.ts";
import { controlPath } from "../kit/control.ts";
import { delay } from "../kit/faults.ts";
import { guardDroppedConnections, listen, requestParts, shutDown } from "../kit/node_server.ts";
import { createControlRoutes, handleControlApi } from "./control_api.ts";
import { createFaultInjector, type FaultInjector, faultResponse, isApiMode } from "./faults.ts";
import { ConnectionDropped, json, routeNotFound } from "./http.ts";
import { AccountSetup } from "./account_setup.ts";
import { ChatwootModel } from "./model.ts";
import { Payloads } from "./payloads.ts";
import { loadState, StateFile } from "./persistence.ts";
import { createPlatformRouter, handlePlatformApi, type PlatformRouter } from "./platform_api.ts";
import { DEFAULT_RACK_ATTACK, rackAttack, type RackAttackLimits, Throttle } from "./rate_limits.ts";
import { PlanGatedSender, type Resolver, safeFetch, type SafeFetchOptions } from "./egress.ts";
import { type JsonObject, SandboxState } from "./state.ts";
import { Traffic } from "./traffic.ts";
import { Views } from "./views.ts";
import { type DeliveryRecord, EventDispatcher, type WebhookSender } from "./webhooks.ts";

export const CHATWOOT_VERSION = "4.13.0";
const DEFAULT_FIXTURES_DIR = new URL("../../../fixtures/chatwoot", import.meta.url).pathname;

export interface SandboxOptions {
  /** The platform app's `api_access_token`; generated when omitted (or taken from a loaded state). */
  platformToken?: string;
  /** false = behave like Chatwoot Cloud: every `/platform` path is a 404. */
  platformApi?: boolean;
  /** FRONTEND_URL: the base of attachment data_urls and the widget script. */
  frontendUrl?: string;
  /** Start from this state (e.g. one loaded from a file). */
  state?: SandboxState;
  /** Write the state to this JSON file after changes (debounced). */
  persistPath?: string;
  persistDebounceMs?: number;
  /** WEBHOOK_TIMEOUT in ms (Chatwoot default 5000). */
  webhookTimeoutMs?: number;
  /** Wait between agent-bot retries on 429/500 (Chatwoot: 3 s). */
  botRetryDelayMs?: number;
  /** Delay before a WhatsApp reply gets its wamid (message_updated). */
  sendReplyDelayMs?: number;
  /** Delay before a voice note's transcription arrives (message_updated). */
  transcriptionDelayMs?: number;
  /** Where the fixture payloads live (default: the repository's fixtures/chatwoot). */
  fixturesDir?: string;
  now?: () => number;
  random?: () => number;
  /** Used to deliver webhooks. */
  fetch?: typeof fetch;
  /** Delivery records kept in the log (default 10 000). */
  maxDeliveryLog?: number;
  /** Structured log sink (one JSON object per entry). */
  log?: (entry: JsonObject) => void;
  /** Rack::Attack's throttles (default: on, 3000/min per IP, 100/min contact searches per account). */
  rackAttack?: Partial<RackAttackLimits>;
  /** An nginx in front with its default `underscores_in_headers off`: `api_access_token` never arrives. */
  behindNginx?: boolean;
  /** SafeFetch on webhook and bot targets (default: not enforced; see egress.ts). */
  safeFetch?: Partial<SafeFetchOptions>;
  /** How SafeFetch resolves target hosts (default: the system resolver). */
  resolve?: Resolver;
  /** MAILER_INBOUND_EMAIL_DOMAIN: e-mail inboxes show `forward_to_email` only when it is set. */
  mailerInboundEmailDomain?: string | null;
}

/** Settings the control API can change at run time (`PATCH /_control/options`). */
export interface ResolvedOptions {
  platformApi: boolean;
  frontendUrl: string;
  fixturesDir: string;
  rackAttack: RackAttackLimits;
  behindNginx: boolean;
  safeFetch: SafeFetchOptions;
  mailerInboundEmailDomain: string | null;
}

export interface Sandbox {
  /** The whole HTTP surface as a function; throws ConnectionDropped for `work_then_drop`. */
  handler(req: Request): Promise<Response>;
  readonly state: SandboxState;
  readonly options: ResolvedOptions;
  readonly platformToken: string;
  /** Conversation domain: contacts, conversations, messages. */
  readonly model: ChatwootModel;
  /** Account configuration: accounts, users, bots, inboxes, webhooks, attribute definitions. */
  readonly setup: AccountSetup;
  readonly views: Views;
  readonly payloads: Payloads;
  readonly faults: FaultInjector;
  readonly sender: WebhookSender;
  readonly events: EventDispatcher;
  readonly traffic: Traffic;
  /** The webhook delivery log, oldest first. */
  deliveries(): readonly DeliveryRecord[];
  /** Empties all Chatwoot state, deliveries, faults and throttles; keeps the platform token. */
  reset(): void;
  /** Waits until scheduled jobs and every webhook delivery (delayed, held, retried) are done. */
  settle(): Promise<void>;
  setContactOnline(contactId: number, online: boolean): void;
  setFrontendUrl(url: string): void;
  /** Marks the state changed (persisted after the debounce). */
  changed(): void;
  /** Writes the state file now. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export function createSandbox(opts: SandboxOptions = {}): Sandbox {
  const now = opts.now ?? Date.now;
  const state = opts.state ?? new SandboxState(opts.platformToken);
  if (opts.platformToken) state.platformAppToken = opts.platformToken;
  const options: ResolvedOptions = {
    platformApi: opts.platformApi ?? true,
    frontendUrl: opts.frontendUrl ?? "http://127.0.0.1:3000",
    fixturesDir: opts.fixturesDir ?? Deno.env.get("CHATWOOT_FIXTURES_DIR") ?? DEFAULT_FIXTURES_DIR,
    rackAttack: { ...DEFAULT_RACK_ATTACK, ...opts.rackAttack },
    behindNginx: opts.behindNginx ?? false,
    safeFetch: { enforce: false, allowPrivateNetwork: false, ...opts.safeFetch },
    mailerInboundEmailDomain: opts.mailerInboundEmailDomain ?? null,
  };
  const stateFile = opts.persistPath
    ? new StateFile(opts.persistPath, () => state.toSnapshot(), opts.persistDebounceMs)
    : undefined;
  const changed = () => stateFile?.changed();

  const timers = new Map<ReturnType<typeof setTimeout>, () => void>();
  const jobs = new Set<Promise<void>>();
  const schedule = (ms: number, fn: () => void) => {
    let finish!: () => void;
    const job = new Promise<void>((resolve) => finish = resolve);
    const timer = setTimeout(() => {
      timers.delete(timer);
      try {
        fn();
        changed();
      } catch (e) {
        opts.log?.({ msg: "scheduled job failed", error: String(e) });
      } finally {
        finish();
      }
    }, ms);
    timers.set(timer, finish);
    jobs.add(job);
    job.finally(() => jobs.delete(job));
  };

  const faults = createFaultInjector(opts.random);
  const payloads = new Payloads({ state, now, frontendUrl: () => options.frontendUrl });
  const views = new Views(state, payloads, () => options.mailerInboundEmailDomain);
  // The sender calls back into the model (a failed API-inbox delivery marks the message failed).
  const sender: WebhookSender = new PlanGatedSender({
    faults,
    fetch: safeFetch(opts.fetch ?? fetch, () => options.safeFetch, opts.resolve),
    now,
    timeoutMs: opts.webhookTimeoutMs ?? 5000,
    botRetryDelayMs: opts.botRetryDelayMs ?? 3000,
    isUnsigned: (accountId) => state.accounts.get(accountId)?.unsigned_webhooks ?? false,
    maxLog: opts.maxDeliveryLog,
    onApiInboxFailure: (messageId, error) => {
      model.markDeliveryFailed(messageId, error);
      changed();
    },
    onAgentBotFailure: (messageId) => {
      model.openAfterBotFailure(messageId);
      changed();
    },
    log: opts.log,
  }, state);
  const events = new EventDispatcher(state, payloads, sender);
  const model: ChatwootModel = new ChatwootModel({
    state,
    events,
    now,
    schedule,
    sendReplyDelayMs: opts.sendReplyDelayMs ?? 300,
  });
  const setup = new AccountSetup({ state, events, now });
  const throttle = new Throttle(now);
  const traffic = new Traffic({
    state,
    model,
    sender,
    now,
    schedule,
    changed,
    fixturesDir: options.fixturesDir,
    transcriptionDelayMs: opts.transcriptionDelayMs ?? 1500,
  });
  const apiDeps = { state, model, setup, views, payloads, now };
  const appRouter: AppRouter = createApplicationRouter();
  const platformRouter: PlatformRouter = createPlatformRouter();
  const controlRoutes = createControlRoutes();

  async function route(req: Request, url: URL): Promise<Response> {
    if (url.pathname.startsWith("/platform/")) {
      if (!options.platformApi) return routeNotFound();
      return await handlePlatformApi(
        { state, setup, views, frontendUrl: () => options.frontendUrl },
        platformRouter,
        req,
        url,
      ) ?? routeNotFound();
    }
    return await handleApplicationApi(apiDeps, appRouter, req, url) ?? routeNotFound();
  }

  const sandbox: Sandbox = {
    state,
    options,
    get platformToken() {
      return state.platformAppToken;
    },
    model,
    setup,
    views,
    payloads,
    faults,
    sender,
    events,
    traffic,

    async handler(req: Request): Promise<Response> {
      const url = new URL(req.url);
      const path = url.pathname;
      try {
        if (controlPath(path)) return await handleControlApi(sandbox, controlRoutes, req, url);
        if (path.startsWith("/rails/active_storage/")) return serveActiveStorage(state, url) ?? routeNotFound();
        if (path === "/api" || path === "/health") {
          return json({ version: CHATWOOT_VERSION, timestamp: new Date(now()).toISOString(), queue_services: "ok" });
        }
        if (!path.startsWith("/api/") && !path.startsWith("/platform/")) return routeNotFound();

        if (options.behindNginx) req = withoutUnderscoreHeaders(req);
        const { delayMs, terminal } = faults.forRequest(req.method, url, (rule) => isApiMode(rule.mode));
        if (delayMs) await delay(delayMs);
        const refused = faultResponse(terminal) ?? rackAttack(throttle, options.rackAttack, req, url);
        if (refused) return refused;

        const res = await route(req, url);
        if (req.method !== "GET" && req.method !== "HEAD") changed();
        if (terminal?.mode === "work_then_drop") {
          await res.body?.cancel();
          throw new ConnectionDropped();
        }
        return res;
      } catch (e) {
        if (e instanceof ConnectionDropped) throw e;
        opts.log?.({ msg: "sandbox handler error", path, error: String(e), stack: (e as Error)?.stack });
        return json({ status: 500, error: "Internal Server Error" }, 500);
      }
    },

    deliveries: () => sender.log,

    reset() {
      for (const [timer, finish] of timers) {
        clearTimeout(timer);
        finish();
      }
      timers.clear();
      events.drain();
      state.clear();
      events.emitted.length = 0;
      sender.releaseHeld(false);
      sender.clear();
      faults.clear();
      throttle.clear();
      changed();
    },

    async settle() {
      while (true) {
        events.drain();
        if (jobs.size) await Promise.allSettled([...jobs]);
        else if (sender.busy) await sender.settle();
        else {
          // A failed delivery can emit new events (API inbox → message failed): go round until all is quiet.
          await Promise.resolve();
          if (!events.pending && !jobs.size && !sender.busy) return;
        }
      }
    },

    setContactOnline(contactId: number, online: boolean) {
      if (online) state.onlineContacts.add(contactId);
      else state.onlineContacts.delete(contactId);
      changed();
    },

    setFrontendUrl(url: string) {
      options.frontendUrl = url;
    },

    changed,

    flush: () => stateFile?.flush() ?? Promise.resolve(),

    async close() {
      for (const [timer, finish] of timers) {
        clearTimeout(timer);
        finish();
      }
      timers.clear();
      events.drain();
      sender.close();
      await sender.settle();
      await stateFile?.flush();
    },
  };
  return sandbox;
}

/**
 * nginx drops request headers whose names contain underscores unless `underscores_in_headers on` (its default is
 * off; ngx_http_core_module docs), so behind a default nginx `api_access_token: …` reaches Rails as no token.
 */
function withoutUnderscoreHeaders(req: Request): Request {
  const headers = new Headers();
  for (const [name, value] of req.headers) if (!name.includes("_")) headers.set(name, value);
  return new Request(req, { headers });
}

export interface StartOptions extends SandboxOptions {
  port?: number;
  hostname?: string;
}

export interface RunningSandbox {
  url: string;
  sandbox: Sandbox;
  close(): Promise<void>;
}

/** Serves a sandbox over HTTP. With `persistPath`, state is loaded from and saved to that JSON file. */
export async function startSandbox(opts: StartOptions = {}): Promise<RunningSandbox> {
  const { port = 3000, hostname = "127.0.0.1", ...rest } = opts;
  const loaded = rest.persistPath && !rest.state ? await loadState(rest.persistPath) : undefined;
  const sandbox = createSandbox({ ...rest, state: rest.state ?? loaded });

  const server = http.createServer(async (req, res) => {
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const { url, headers } = requestParts(req, `${hostname}:${port}`);
      const method = req.method ?? "GET";
      const request = new Request(url, {
        method,
        headers,
        body: method === "GET" || method === "HEAD" || !chunks.length ? undefined : Buffer.concat(chunks),
      });
      const response = await sandbox.handler(request);
      const body = new Uint8Array(await response.arrayBuffer());
      const outHeaders: Record<string, string> = { ...Object.fromEntries(response.headers), ...dropGuard() };
      if (response.status !== 204 && response.status !== 304) outHeaders["content-length"] = String(body.byteLength);
      res.writeHead(response.status, outHeaders);
      res.end(body);
    } catch (e) {
      if (e instanceof ConnectionDropped) {
        req.socket.destroy();
        return;
      }
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ status: 500, error: "Internal Server Error" }));
    }
  });
  const dropGuard = guardDroppedConnections(server, sandbox.faults);
  const url = await listen(server, port, hostname);
  if (!opts.frontendUrl) sandbox.setFrontendUrl(url);

  return {
    url,
    sandbox,
    async close() {
      await shutDown(server);
      await sandbox.close();
    },
  };
}

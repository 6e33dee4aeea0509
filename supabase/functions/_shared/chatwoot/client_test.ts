// The client against the Chatwoot sandbox in-process (its handler as fetch), on an injected clock: Rack::Attack's
// bare 429 is waited out to the window's end, a proxy's Retry-After is honoured, a wait longer than a run allows
// becomes a deferral, the token travels as Api-Access-Token, and the Cloud free plan's 403 is its own error.

import assert from "node:assert/strict";
import { z } from "zod";
import { createSandbox } from "../../../../scripts/local/chatwoot/server.ts";
import { createAgentBot, createWhatsAppInbox, provision } from "../../../../scripts/local/chatwoot/testing.ts";
import { BotActions } from "../ai/agent_bot.ts";
import { conversationSchema } from "./events.ts";
import { normalizeConversation } from "./normalize.ts";
import { restConversation } from "./reconcile.ts";
import { Deferred, PermanentFailure } from "../jobs/queue.ts";
import { ChatwootClient, ChatwootError, listConversations, rateLimitWaitMs } from "./client.ts";
import { findContacts } from "./contacts.ts";
import { chatwootJobError } from "./job_errors.ts";

/** A sandbox and a client sharing one clock; the client's sleep moves the clock on. */
async function setup(start: string, opts: Parameters<typeof createSandbox>[0] = {}, maxRetryAfterMs?: number) {
  let clock = Date.parse(start);
  // Webhook deliveries (a bot's) go nowhere: these tests never leave the process.
  const sandbox = createSandbox({ now: () => clock, fetch: () => Promise.resolve(new Response("ok")), ...opts });
  const acct = await provision(sandbox);
  const slept: number[] = [];
  const client = new ChatwootClient({
    baseUrl: "http://sandbox.test",
    token: acct.token,
    fetch: (input, init) => sandbox.handler(new Request(input, init)),
    now: () => clock,
    random: () => 0.5,
    sleep: (ms) => {
      slept.push(ms);
      clock += ms;
      return Promise.resolve();
    },
    maxRetryAfterMs,
  });
  return { sandbox, acct, client, slept, advance: (ms: number) => (clock += ms) };
}

const searchSchema = z.looseObject({ payload: z.array(z.unknown()) });
const search = (c: ChatwootClient, accountId: number) =>
  c.request("GET", `/api/v1/accounts/${accountId}/contacts/search`, { query: { q: "ana" }, schema: searchSchema });

Deno.test("a bare 429 waits until the next minute boundary (plus margin and jitter), not 1-4 s", async () => {
  const { sandbox, acct, client, slept } = await setup("2026-04-20T14:00:50Z", { rackAttack: { contactSearch: 3 } });
  for (let i = 0; i < 3; i++) await search(client, acct.accountId);
  assert.deepEqual(slept, []);
  await search(client, acct.accountId); // 429, then waits into 14:01:00.xxx and succeeds
  assert.equal(slept.length, 1);
  // 10 s to 14:01:00, + 250 ms margin, + 500 ms jitter (random = 0.5 of 1 s).
  assert.equal(slept[0], 10_000 + 250 + 500);
  await sandbox.close();
});

Deno.test("a proxy's Retry-After is honoured instead of the window", async () => {
  const { sandbox, acct, client, slept } = await setup("2026-04-20T14:00:10Z");
  sandbox.faults.add({ mode: "429", path: "/api/v1/accounts/*/contacts/search", count: 1, retry_after: 7 });
  await search(client, acct.accountId);
  assert.deepEqual(slept, [7_000 + 750]);
  await sandbox.close();
});

Deno.test("a wait longer than a run allows is not slept: the job defers for it and keeps its attempts", async () => {
  const { sandbox, acct, client, slept } = await setup(
    "2026-04-20T14:00:05Z",
    { rackAttack: { contactSearch: 1 } },
    10_000,
  );
  await search(client, acct.accountId);
  const err = await search(client, acct.accountId).catch((e) => e);
  assert.ok(err instanceof ChatwootError);
  assert.equal(err.kind, "rate_limited");
  assert.equal(err.retryAfterMs, 55_000 + 750);
  assert.deepEqual(slept, [], "it did not sleep into the same window");
  const outcome = chatwootJobError(err);
  assert.ok(outcome instanceof Deferred, "a deferral, which gives the attempt back");
  assert.equal((outcome as Deferred).delayMs, 55_750);
  await sandbox.close();
});

Deno.test("rateLimitWaitMs: the window is aligned to the epoch minute, whatever the clock", () => {
  const at = (iso: string) => rateLimitWaitMs(null, Date.parse(iso), () => 0);
  assert.equal(at("2026-04-20T14:00:00.000Z"), 60_000 + 250);
  assert.equal(at("2026-04-20T14:00:59.900Z"), 100 + 250);
  assert.equal(rateLimitWaitMs("3", 0, () => 0.999), 3_000 + 250 + 999);
  assert.equal(rateLimitWaitMs("Mon, 20 Apr 2026 14:00:30 GMT", Date.parse("2026-04-20T14:00:00Z"), () => 0), 30_250);
});

Deno.test("the token goes as Api-Access-Token, which an nginx in front lets through", async () => {
  const { sandbox, acct, client } = await setup("2026-04-20T14:00:00Z", { behindNginx: true });
  assert.deepEqual(await findContacts(client, acct.accountId, { email: "nobody@x.test" }), []);
  await sandbox.close();
});

Deno.test("Cloud free plan: the 403 is api_closed with a plain message, and a job stops instead of retrying", async () => {
  const { sandbox, acct, client } = await setup("2026-04-20T14:00:00Z");
  sandbox.state.accounts.get(acct.accountId)!.cloud_free_plan = true;
  const err = await findContacts(client, acct.accountId, { email: "x@x.test" }).catch((e) => e);
  assert.ok(err instanceof ChatwootError);
  assert.equal(err.kind, "api_closed");
  assert.equal(err.status, 403);
  assert.equal(err.transient, false);
  assert.match(err.message, /^this Chatwoot Cloud account \(\d+\) is on the free plan: its API is closed/);
  assert.ok(chatwootJobError(err) instanceof PermanentFailure);
  await sandbox.close();
});

Deno.test("an ordinary permission error stays a 401 http error, not a closed API", async () => {
  const { sandbox, acct } = await setup("2026-04-20T14:00:00Z");
  const wrong = new ChatwootClient({
    baseUrl: "http://sandbox.test",
    token: "not-a-token",
    fetch: (input, init) => sandbox.handler(new Request(input, init)),
  });
  const err = await findContacts(wrong, acct.accountId, { email: "x@x.test" }).catch((e) => e);
  assert.equal(err.kind, "http");
  assert.equal(err.status, 401);
  await sandbox.close();
});

Deno.test("REST shapes: a bot's handoff toggle_status (success: null) is accepted; meta.assignee_type and meta.team are read", async () => {
  const { sandbox, acct, client } = await setup("2026-04-20T14:00:00Z");
  const receiver = { url: "https://bot.example/hook" };
  const inboxId = await createWhatsAppInbox(acct);
  const bot = await createAgentBot(sandbox, acct, receiver.url, inboxId);
  const { conversation } = sandbox.traffic.whatsappInbound({ inbox_id: inboxId, from: "5215512345678", text: "Hola" });
  assert.equal(conversation!.status, "pending");
  const botClient = new ChatwootClient({
    baseUrl: "http://sandbox.test",
    token: bot.token,
    fetch: (input, init) => sandbox.handler(new Request(input, init)),
  });
  await new BotActions(botClient, acct.accountId).setStatus(conversation!.display_id, "open");
  assert.equal(conversation!.status, "open");

  await acct.api("POST", `/conversations/${conversation!.display_id}/assignments`, {
    assignee_id: bot.id,
    assignee_type: "AgentBot",
  });
  const { conversations } = await listConversations(client, acct.accountId, { page: 1 });
  const rest = restConversation(conversations[0]);
  assert.equal((rest.meta as Record<string, unknown>).assignee_type, "AgentBot");
  const parsed = conversationSchema.parse(rest);
  assert.deepEqual(normalizeConversation(parsed, acct.accountId).assignee, { type: "agent_bot", id: bot.id });
  // Teams are not emulated by the sandbox: the same REST view with a team, as Chatwoot renders it.
  const withTeam = conversationSchema.parse({
    ...rest,
    meta: { ...(rest.meta as object), team: { id: 4, name: "Ventas" } },
  });
  assert.equal(normalizeConversation(withTeam, acct.accountId).team_id, 4);
  await sandbox.close();
});

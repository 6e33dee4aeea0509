// The sandbox's own control API under `/_sandbox/…` — not part of Chatwoot. Protected by the platform app
// token; drives scripted traffic, fault rules, fixture replay, and exposes the webhook delivery log.

import { z } from "zod";
import { accessToken } from "./application_api.ts";
import { errorToResponse, json, notFound, readBody, Router, unauthorized } from "./http.ts";
import { FaultRuleInput } from "./faults.ts";
import type { Sandbox } from "./server.ts";
import {
  AgentReply,
  FixtureReplay,
  IncomingMessage,
  StatusChange,
  type TrafficResult,
  WhatsAppInbound,
  WhatsAppStatus,
  WidgetMessage,
  WidgetOpen,
} from "./traffic.ts";
import type { JsonObject } from "./state.ts";
import type { DeliveryRecord } from "./webhooks.ts";

interface ControlContext {
  sandbox: Sandbox;
  params: Record<string, string>;
  query: URLSearchParams;
  body: JsonObject;
}
type ControlHandler = (ctx: ControlContext) => Response | Promise<Response>;

export function filterDeliveries(log: DeliveryRecord[], query: URLSearchParams): DeliveryRecord[] {
  const event = query.get("event");
  const kind = query.get("kind");
  const accountId = query.get("account_id");
  const sinceSeq = Number(query.get("since_seq") ?? 0);
  return log.filter((d) =>
    (!event || d.event === event) && (!kind || d.kind === kind) &&
    (!accountId || String(d.account_id) === accountId) && d.seq > sinceSeq
  );
}

function trafficView(ctx: ControlContext, r: TrafficResult): JsonObject {
  const v = ctx.sandbox.views;
  return {
    contact: v.contact(r.contact, true, true),
    source_id: r.contactInbox.source_id,
    conversation: r.conversation ? v.conversation(r.conversation) : null,
    message: r.message ? v.message(r.message) : null,
  };
}

const AccountFlags = z.object({
  unsigned_webhooks: z.boolean(),
  keep_pending_on_bot_failure: z.boolean(),
  open_pending_on_human_reply: z.boolean(),
}).partial();
const Presence = z.object({ online: z.boolean() });

export function createControlRouter(): Router<ControlHandler> {
  const r = new Router<ControlHandler>();
  r.add("GET", "/", (ctx) =>
    json({
      sandbox: "chatwoot",
      chatwoot_version: "4.13.0",
      platform_api: ctx.sandbox.options.platformApi,
      counts: {
        accounts: ctx.sandbox.state.accounts.size,
        users: ctx.sandbox.state.users.size,
        inboxes: ctx.sandbox.state.inboxes.size,
        contacts: ctx.sandbox.state.contacts.size,
        conversations: ctx.sandbox.state.conversations.size,
        messages: ctx.sandbox.state.messages.size,
        deliveries: ctx.sandbox.sender.log.length,
      },
    }));
  r.add("POST", "/reset", (ctx) => {
    ctx.sandbox.reset();
    return json({ ok: true });
  });
  r.add("POST", "/settle", async (ctx) => {
    await ctx.sandbox.settle();
    return json({ ok: true });
  });

  r.add("GET", "/deliveries", (ctx) => json({ deliveries: filterDeliveries(ctx.sandbox.sender.log, ctx.query) }));
  r.add("DELETE", "/deliveries", (ctx) => {
    ctx.sandbox.sender.clear();
    return json({ ok: true });
  });

  r.add("GET", "/faults", (ctx) => json({ faults: ctx.sandbox.faults.list() }));
  r.add("POST", "/faults", (ctx) => json({ fault: ctx.sandbox.faults.add(FaultRuleInput.parse(ctx.body)) }, 201));
  r.add("DELETE", "/faults", (ctx) => {
    ctx.sandbox.faults.clear();
    return json({ ok: true });
  });
  r.add("DELETE", "/faults/:id", (ctx) => {
    if (!ctx.sandbox.faults.remove(ctx.params.id)) throw notFound();
    return json({ ok: true });
  });
  r.add("POST", "/faults/release", (ctx) => {
    ctx.sandbox.sender.releaseHeld();
    return json({ ok: true });
  });

  r.add("PATCH", "/accounts/:id", (ctx) => {
    const account = ctx.sandbox.state.accounts.get(ctx.params.id);
    if (!account) throw notFound();
    Object.assign(account, AccountFlags.parse(ctx.body));
    ctx.sandbox.changed();
    return json({
      id: account.id,
      unsigned_webhooks: account.unsigned_webhooks,
      keep_pending_on_bot_failure: account.keep_pending_on_bot_failure ?? false,
      open_pending_on_human_reply: account.open_pending_on_human_reply ?? false,
    });
  });
  r.add("POST", "/contacts/:id/presence", (ctx) => {
    const contact = ctx.sandbox.state.contacts.get(ctx.params.id);
    if (!contact) throw notFound();
    ctx.sandbox.setContactOnline(contact.id, Presence.parse(ctx.body).online);
    return json({ id: contact.id, online: ctx.sandbox.state.onlineContacts.has(contact.id) });
  });

  const t = (ctx: ControlContext) => ctx.sandbox.traffic;
  r.add(
    "POST",
    "/traffic/whatsapp",
    (ctx) => json(trafficView(ctx, t(ctx).whatsappInbound(WhatsAppInbound.parse(ctx.body)))),
  );
  r.add(
    "POST",
    "/traffic/whatsapp_status",
    (ctx) => json({ message: ctx.sandbox.views.message(t(ctx).whatsappStatus(WhatsAppStatus.parse(ctx.body))) }),
  );
  r.add("POST", "/traffic/widget_open", (ctx) => json(trafficView(ctx, t(ctx).widgetOpen(WidgetOpen.parse(ctx.body)))));
  r.add(
    "POST",
    "/traffic/widget_message",
    (ctx) => json(trafficView(ctx, t(ctx).widgetMessage(WidgetMessage.parse(ctx.body)))),
  );
  r.add(
    "POST",
    "/traffic/incoming",
    (ctx) => json(trafficView(ctx, t(ctx).incomingMessage(IncomingMessage.parse(ctx.body)))),
  );
  r.add("GET", "/accounts/:account_id/conversations/:id", (ctx) => {
    const { conversation, messages } = t(ctx).conversationWithMessages(
      Number(ctx.params.account_id),
      Number(ctx.params.id),
    );
    const v = ctx.sandbox.views;
    return json({ conversation: v.conversation(conversation), messages: messages.map((m) => v.message(m)) });
  });
  r.add(
    "POST",
    "/traffic/agent_reply",
    (ctx) => json({ message: ctx.sandbox.views.message(t(ctx).agentReply(AgentReply.parse(ctx.body))) }),
  );
  r.add(
    "POST",
    "/traffic/status",
    (ctx) => json({ conversation: ctx.sandbox.views.conversation(t(ctx).statusChange(StatusChange.parse(ctx.body))) }),
  );

  r.add("GET", "/fixtures", async (ctx) => json({ fixtures: await t(ctx).listFixtures() }));
  r.add("POST", "/fixtures/:name/replay", async (ctx) => {
    const deliveries = await t(ctx).replayFixture(ctx.params.name, FixtureReplay.parse(ctx.body));
    return json({ deliveries: deliveries.map((d) => ({ delivery_id: d.delivery_id, url: d.url, event: d.event })) });
  });
  return r;
}

/** Handles `/_sandbox/…` with the platform token in `api_access_token` (or `Authorization: Bearer`). */
export async function handleControlApi(
  sandbox: Sandbox,
  router: Router<ControlHandler>,
  req: Request,
  url: URL,
): Promise<Response> {
  const route = router.match(req.method, url.pathname.slice("/_sandbox".length) || "/");
  if (!route) return json({ error: `no sandbox control route ${req.method} ${url.pathname}` }, 404);
  try {
    const bearer = req.headers.get("authorization")?.replace(/^Bearer\s+/i, "");
    const token = accessToken(req) || bearer;
    if (token !== sandbox.state.platformAppToken) throw unauthorized("Invalid access_token");
    return await route.handler({ sandbox, params: route.params, query: url.searchParams, body: await readBody(req) });
  } catch (e) {
    if (e instanceof z.ZodError) return json({ error: "invalid request body", issues: e.issues }, 400);
    return errorToResponse(e);
  }
}

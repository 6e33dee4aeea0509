// The sandbox's own control API under `/_control/…` — not part of Chatwoot. Protected by the platform app
// token; drives scripted traffic, fault rules, fixture replay, and exposes the webhook delivery log.

import { z } from "zod";
import { accessToken } from "./application_api.ts";
import { ControlRoutes } from "../kit/control.ts";
import { errorToResponse, json, notFound, readBody, unauthorized } from "./http.ts";
import type { Sandbox } from "./server.ts";
import {
  AgentReply,
  FixtureReplay,
  IncomingMessage,
  LabelsChange,
  StatusChange,
  type TrafficResult,
  WhatsAppInbound,
  WhatsAppStatus,
  WidgetMessage,
  WidgetOpen,
} from "./traffic.ts";
import type { JsonObject } from "./state.ts";
import type { DeliveryRecord } from "./webhooks.ts";

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

function trafficView(sandbox: Sandbox, r: TrafficResult): JsonObject {
  const v = sandbox.views;
  return {
    contact: v.contact(r.contact, true, true),
    source_id: r.contactInbox.source_id,
    conversation: r.conversation ? v.conversation(r.conversation) : null,
    message: r.message ? v.message(r.message) : null,
  };
}

const AccountFlags = z.object({
  unsigned_webhooks: z.boolean(),
  cloud_free_plan: z.boolean(),
  keep_pending_on_bot_failure: z.boolean(),
  open_pending_on_human_reply: z.boolean(),
  develop_payloads: z.boolean(),
}).partial();
const Presence = z.object({ online: z.boolean() });
/** The installation-level switches of ResolvedOptions (server.ts) a test may turn at run time. */
const Options = z.object({
  behind_nginx: z.boolean(),
  rack_attack: z.object({
    enabled: z.boolean(),
    per_ip: z.number().int().min(1),
    contact_search: z.number().int().min(1),
  })
    .partial(),
  safe_fetch: z.object({ enforce: z.boolean(), allow_private_network: z.boolean() }).partial(),
  mailer_inbound_email_domain: z.string().min(1).nullable(),
}).partial();

function optionsView(sandbox: Sandbox): JsonObject {
  const o = sandbox.options;
  return {
    behind_nginx: o.behindNginx,
    rack_attack: {
      enabled: o.rackAttack.enabled,
      per_ip: o.rackAttack.perIp,
      contact_search: o.rackAttack.contactSearch,
    },
    safe_fetch: { enforce: o.safeFetch.enforce, allow_private_network: o.safeFetch.allowPrivateNetwork },
    mailer_inbound_email_domain: o.mailerInboundEmailDomain,
  };
}

export type SandboxControl = ControlRoutes<Sandbox, Response>;

export function createControlRoutes(): SandboxControl {
  const r: SandboxControl = new ControlRoutes({ json, noContent: () => new Response(null, { status: 204 }) });
  r.add("GET", "/", (sandbox) =>
    json({
      sandbox: "chatwoot",
      chatwoot_version: "4.13.0",
      platform_api: sandbox.options.platformApi,
      counts: {
        accounts: sandbox.state.accounts.size,
        users: sandbox.state.users.size,
        inboxes: sandbox.state.inboxes.size,
        contacts: sandbox.state.contacts.size,
        conversations: sandbox.state.conversations.size,
        messages: sandbox.state.messages.size,
        deliveries: sandbox.sender.log.length,
      },
    }));
  r.add("POST", "/reset", (sandbox) => {
    sandbox.reset();
    return json({ ok: true });
  });
  r.add("POST", "/settle", async (sandbox) => {
    await sandbox.settle();
    return json({ ok: true });
  });

  r.add("GET", "/deliveries", (sandbox, req) => json({ deliveries: filterDeliveries(sandbox.sender.log, req.query) }));
  r.add("DELETE", "/deliveries", (sandbox) => {
    sandbox.sender.clear();
    return json({ ok: true });
  });

  r.faults((sandbox) => sandbox.faults);
  r.add("POST", "/faults/release", (sandbox) => {
    sandbox.sender.releaseHeld();
    return json({ ok: true });
  });

  r.add("GET", "/options", (sandbox) => json(optionsView(sandbox)));
  r.add("PATCH", "/options", (sandbox, req) => {
    const patch = Options.parse(req.body);
    const o = sandbox.options;
    if (patch.behind_nginx !== undefined) o.behindNginx = patch.behind_nginx;
    const ra = patch.rack_attack;
    if (ra) {
      o.rackAttack = {
        enabled: ra.enabled ?? o.rackAttack.enabled,
        perIp: ra.per_ip ?? o.rackAttack.perIp,
        contactSearch: ra.contact_search ?? o.rackAttack.contactSearch,
      };
    }
    const sf = patch.safe_fetch;
    if (sf) {
      o.safeFetch = {
        enforce: sf.enforce ?? o.safeFetch.enforce,
        allowPrivateNetwork: sf.allow_private_network ?? o.safeFetch.allowPrivateNetwork,
      };
    }
    if (patch.mailer_inbound_email_domain !== undefined) o.mailerInboundEmailDomain = patch.mailer_inbound_email_domain;
    return json(optionsView(sandbox));
  });

  r.add("PATCH", "/accounts/:id", (sandbox, req) => {
    const account = sandbox.state.accounts.get(req.params.id);
    if (!account) throw notFound();
    const flags = AccountFlags.parse(req.body);
    Object.assign(account, flags);
    // The plan gate is the account's `api_and_webhooks` feature (PR #14972/#14973).
    if (flags.cloud_free_plan !== undefined) account.features.api_and_webhooks = !flags.cloud_free_plan;
    sandbox.changed();
    return json({
      id: account.id,
      unsigned_webhooks: account.unsigned_webhooks,
      cloud_free_plan: account.cloud_free_plan ?? false,
      keep_pending_on_bot_failure: account.keep_pending_on_bot_failure ?? false,
      open_pending_on_human_reply: account.open_pending_on_human_reply ?? false,
      develop_payloads: account.develop_payloads ?? false,
    });
  });
  r.add("POST", "/contacts/:id/presence", (sandbox, req) => {
    const contact = sandbox.state.contacts.get(req.params.id);
    if (!contact) throw notFound();
    sandbox.setContactOnline(contact.id, Presence.parse(req.body).online);
    return json({ id: contact.id, online: sandbox.state.onlineContacts.has(contact.id) });
  });

  r.add(
    "POST",
    "/traffic/whatsapp",
    (s, req) => json(trafficView(s, s.traffic.whatsappInbound(WhatsAppInbound.parse(req.body)))),
  );
  r.add(
    "POST",
    "/traffic/whatsapp_status",
    (s, req) => json({ message: s.views.message(s.traffic.whatsappStatus(WhatsAppStatus.parse(req.body))) }),
  );
  r.add(
    "POST",
    "/traffic/widget_open",
    (s, req) => json(trafficView(s, s.traffic.widgetOpen(WidgetOpen.parse(req.body)))),
  );
  r.add(
    "POST",
    "/traffic/widget_message",
    (s, req) => json(trafficView(s, s.traffic.widgetMessage(WidgetMessage.parse(req.body)))),
  );
  r.add(
    "POST",
    "/traffic/incoming",
    (s, req) => json(trafficView(s, s.traffic.incomingMessage(IncomingMessage.parse(req.body)))),
  );
  r.add("GET", "/accounts/:account_id/conversations/:id", (s, req) => {
    const { conversation, messages } = s.traffic.conversationWithMessages(
      Number(req.params.account_id),
      Number(req.params.id),
    );
    return json({
      conversation: s.views.conversation(conversation),
      messages: messages.map((m) => s.views.message(m)),
    });
  });
  r.add(
    "POST",
    "/traffic/agent_reply",
    (s, req) => json({ message: s.views.message(s.traffic.agentReply(AgentReply.parse(req.body))) }),
  );
  r.add(
    "POST",
    "/traffic/labels",
    (s, req) => json({ conversation: s.views.conversation(s.traffic.labelsChange(LabelsChange.parse(req.body))) }),
  );
  r.add(
    "POST",
    "/traffic/status",
    (s, req) => json({ conversation: s.views.conversation(s.traffic.statusChange(StatusChange.parse(req.body))) }),
  );

  r.add("GET", "/fixtures", async (s) => json({ fixtures: await s.traffic.listFixtures() }));
  r.add("POST", "/fixtures/:name/replay", async (s, req) => {
    const deliveries = await s.traffic.replayFixture(req.params.name, FixtureReplay.parse(req.body));
    return json({ deliveries: deliveries.map((d) => ({ delivery_id: d.delivery_id, url: d.url, event: d.event })) });
  });
  return r;
}

/** Handles `/_control/…` with the platform token in `api_access_token` (or `Authorization: Bearer`). */
export async function handleControlApi(
  sandbox: Sandbox,
  routes: SandboxControl,
  req: Request,
  url: URL,
): Promise<Response> {
  try {
    const bearer = req.headers.get("authorization")?.replace(/^Bearer\s+/i, "");
    const token = accessToken(req) || bearer;
    if (token !== sandbox.state.platformAppToken) throw unauthorized("Invalid access_token");
    return await routes.answer(sandbox, {
      method: req.method,
      pathname: url.pathname,
      query: url.searchParams,
      readBody: () => readBody(req),
    });
  } catch (e) {
    return errorToResponse(e);
  }
}

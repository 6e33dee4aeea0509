// Conversations and messages in the Application API: ConversationFinder listing (status, assignee, sort,
// page, updated_within), ConversationBuilder, toggle_status with bot handoff, assignments, typing, and the
// messages endpoints with MessageFinder's before/after windows and the API-inbox status update.

import type { AppContext, AppRouter } from "./application_api.ts";
import { findInbox } from "./application_api.ts";
import { asObject, forbidden, headOk, json, notFound, unprocessable } from "./http.ts";
import { type Actor, CONVERSATION_STATUSES, type MessageInput, PRIORITIES } from "./model.ts";
import { isoOrNull } from "./payloads.ts";
import {
  type Conversation,
  type ConversationStatus,
  type JsonObject,
  type Message,
  MESSAGE_TYPE_NAMES,
  MESSAGE_TYPES,
} from "./state.ts";

const PER_PAGE = 25;

function findConversation(ctx: AppContext): Conversation {
  const displayId = Number(ctx.params.id);
  const conversation = ctx.deps.state.conversations.by(ctx.account.id).find((c) => c.display_id === displayId);
  if (!conversation) throw notFound();
  return conversation;
}

function findMessage(ctx: AppContext, conversation: Conversation): Message {
  const message = ctx.deps.state.messages.get(ctx.params.message_id);
  if (!message || message.conversation_id !== conversation.id) throw notFound();
  return message;
}

/** ConversationFinder::SORT_OPTIONS (and the older aliases). */
const SORTS: Record<string, [keyof Conversation, "asc" | "desc"]> = {
  last_activity_at_desc: ["last_activity_at", "desc"],
  last_activity_at_asc: ["last_activity_at", "asc"],
  created_at_desc: ["created_at", "desc"],
  created_at_asc: ["created_at", "asc"],
  priority_desc: ["priority", "desc"],
  priority_asc: ["priority", "asc"],
  waiting_since_desc: ["waiting_since", "desc"],
  waiting_since_asc: ["waiting_since", "asc"],
  latest: ["last_activity_at", "desc"],
  sort_on_created_at: ["created_at", "asc"],
  sort_on_priority: ["priority", "desc"],
  sort_on_waiting_since: ["waiting_since", "asc"],
};
const PRIORITY_RANK: Record<string, number> = { low: 1, medium: 2, high: 3, urgent: 4 };

function sortConversations(rows: Conversation[], sortBy: string | null): Conversation[] {
  const [key, dir] = SORTS[sortBy ?? ""] ?? SORTS.last_activity_at_desc;
  const value = (c: Conversation) =>
    key === "priority" ? PRIORITY_RANK[c.priority ?? ""] ?? null : c[key] as number | null;
  return [...rows].sort((a, b) => {
    const va = value(a);
    const vb = value(b);
    if (va === vb) return dir === "desc" ? b.id - a.id : a.id - b.id;
    if (va === null) return 1;
    if (vb === null) return -1;
    return dir === "desc" ? vb - va : va - vb;
  });
}

function actorSender(actor: AppContext["actor"]): MessageInput["sender"] {
  return actor.kind === "user" ? { type: "User", id: actor.user.id } : { type: "AgentBot", id: actor.bot.id };
}

/** Accepts a unix timestamp (seconds) or an ISO string, as Rails' time casting does. */
function parseTime(value: unknown): number | null {
  if (value === null || value === undefined || value === "") return null;
  const n = Number(value);
  if (Number.isFinite(n)) return n * 1000;
  const t = Date.parse(String(value));
  return Number.isNaN(t) ? null : t;
}

function messageInput(ctx: AppContext, conversation: Conversation): MessageInput {
  const b = ctx.body;
  const typeName = String(b.message_type ?? "outgoing");
  if (!(MESSAGE_TYPE_NAMES as readonly string[]).includes(typeName)) {
    throw unprocessable(`'${typeName}' is not a valid message_type`);
  }
  const inbox = ctx.deps.state.inboxes.get(conversation.inbox_id)!;
  if (typeName === "incoming" && inbox.channel_type !== "Channel::Api") {
    throw unprocessable("Incoming messages are only allowed in Api inboxes");
  }
  let sender: MessageInput["sender"];
  if (typeName === "incoming") sender = { type: "Contact", id: conversation.contact_id };
  else if (b.sender_type === "AgentBot" && b.sender_id !== undefined) {
    const bot = ctx.deps.state.agentBots.get(b.sender_id as number);
    if (!bot) throw notFound();
    sender = { type: "AgentBot", id: bot.id };
  } else sender = actorSender(ctx.actor);
  const additional: JsonObject = {};
  if (b.template_params) additional.template_params = asObject(b.template_params);
  if (b.campaign_id !== undefined) additional.campaign_id = b.campaign_id;
  const contentAttributes = asObject(b.content_attributes);
  if (b.external_created_at !== undefined) contentAttributes.external_created_at = b.external_created_at;
  return {
    message_type: MESSAGE_TYPES[typeName as keyof typeof MESSAGE_TYPES],
    content: b.content === undefined || b.content === null ? null : String(b.content),
    content_type: b.content_type ? String(b.content_type) : "text",
    content_attributes: contentAttributes,
    additional_attributes: additional,
    private: b.private === true || b.private === "true",
    source_id: b.source_id ? String(b.source_id) : null,
    sender,
  };
}

export function conversationRoutes(router: AppRouter): void {
  router.add("GET", "/conversations", {
    run: (ctx) => {
      const q = ctx.query;
      const status = q.get("status") ?? "open";
      const inboxId = q.get("inbox_id");
      let rows = ctx.deps.state.conversations.by(ctx.account.id)
        .filter((c) => status === "all" || c.status === status)
        .filter((c) => !inboxId || String(c.inbox_id) === inboxId);
      const me = ctx.actor.kind === "user" ? ctx.actor.user.id : -1;
      const counts = {
        mine_count: rows.filter((c) => c.assignee_id === me).length,
        assigned_count: rows.filter((c) => c.assignee_id !== null).length,
        unassigned_count: rows.filter((c) => c.assignee_id === null).length,
        all_count: rows.length,
      };
      const assigneeType = q.get("assignee_type");
      if (assigneeType === "me") rows = rows.filter((c) => c.assignee_id === me);
      if (assigneeType === "unassigned") rows = rows.filter((c) => c.assignee_id === null);
      if (assigneeType === "assigned") rows = rows.filter((c) => c.assignee_id !== null);
      rows = sortConversations(rows, q.get("sort_by"));
      const within = q.get("updated_within");
      if (within) {
        // Reconciliation: everything updated in the last N seconds, unpaginated.
        const since = ctx.deps.now() - Number(within) * 1000;
        rows = rows.filter((c) => c.updated_at > since);
      } else {
        const p = Math.max(1, Number(q.get("page") ?? 1) || 1);
        rows = rows.slice((p - 1) * PER_PAGE, p * PER_PAGE);
      }
      return json({ data: { meta: counts, payload: rows.map((c) => ctx.deps.views.conversation(c)) } });
    },
  });

  router.add("GET", "/conversations/:id", { run: (ctx) => json(ctx.deps.views.conversation(findConversation(ctx))) });

  router.add("POST", "/conversations", {
    bot: true,
    run: (ctx) => {
      const b = ctx.body;
      const s = ctx.deps.state;
      let contactInbox;
      let inbox;
      if (b.contact_id !== undefined && b.inbox_id !== undefined) {
        inbox = findInbox(ctx, String(b.inbox_id));
        const contact = s.contacts.get(b.contact_id as number);
        if (!contact || contact.account_id !== ctx.account.id) throw notFound();
        contactInbox = ctx.deps.model.findOrCreateContactInbox(contact, inbox, b.source_id as string | undefined);
      } else {
        contactInbox = s.contactInboxes.find((ci) =>
          ci.source_id === String(b.source_id ?? "") && s.inboxes.get(ci.inbox_id)?.account_id === ctx.account.id
        );
        if (!contactInbox) throw notFound();
        inbox = s.inboxes.get(contactInbox.inbox_id)!;
      }
      if (inbox.lock_to_single_conversation) {
        const last = s.conversations.by(ctx.account.id).filter((c) => c.contact_inbox_id === contactInbox.id).at(-1);
        if (last) return json(ctx.deps.views.conversation(last));
      }
      const status = b.status as ConversationStatus | undefined;
      const assignee = b.assignee_id !== undefined
        ? s.accountUsers.by(ctx.account.id).find((au) => au.user_id === Number(b.assignee_id))?.user_id ?? null
        : null;
      const conversation = ctx.deps.model.createConversation(ctx.account, inbox, contactInbox, {
        status,
        assignee_id: assignee,
        additional_attributes: asObject(b.additional_attributes),
        custom_attributes: asObject(b.custom_attributes),
        snoozed_until: parseTime(b.snoozed_until),
      });
      const message = asObject(b.message);
      if (message.content !== undefined || message.template_params) {
        const additional: JsonObject = {};
        if (message.template_params) additional.template_params = asObject(message.template_params);
        ctx.deps.model.createMessage(conversation, {
          message_type: MESSAGE_TYPES.outgoing,
          content: message.content === undefined ? null : String(message.content),
          additional_attributes: additional,
          sender: actorSender(ctx.actor),
        });
      }
      return json(ctx.deps.views.conversation(conversation));
    },
  });

  router.add("PATCH", "/conversations/:id", {
    bot: true,
    run: (ctx) => {
      const conversation = findConversation(ctx);
      if ("priority" in ctx.body) {
        const priority = ctx.body.priority as string | null;
        if (priority !== null && !PRIORITIES.includes(priority)) {
          throw unprocessable(`'${priority}' is not a valid priority`);
        }
        ctx.deps.model.updateConversation(conversation, { priority }, ctx.actor);
      }
      return json(ctx.deps.views.conversation(conversation));
    },
  });

  router.add("POST", "/conversations/:id/toggle_status", {
    bot: true,
    run: (ctx) => {
      const conversation = findConversation(ctx);
      const requested = ctx.body.status as string | undefined;
      if (requested !== undefined && !CONVERSATION_STATUSES.includes(requested as ConversationStatus)) {
        throw unprocessable(`'${requested}' is not a valid status`);
      }
      const status: ConversationStatus = (requested as ConversationStatus) ??
        (conversation.status === "open" ? "resolved" : "open");
      const patch: Partial<Conversation> = {
        status,
        snoozed_until: status === "snoozed" ? parseTime(ctx.body.snoozed_until) : null,
      };
      // AgentBot pending → open is Conversation#bot_handoff!: `update(waiting_since: now)` when blank — its own
      // save, so its own conversation_updated — then `open!`, then conversation.bot_handoff (no webhook).
      const botHandoff = ctx.actor.kind === "bot" && conversation.status === "pending" && status === "open";
      if (botHandoff) {
        if (conversation.waiting_since === null) {
          ctx.deps.model.updateConversation(conversation, { waiting_since: ctx.deps.now() });
        }
      }
      // An agent-role user who opens an unassigned conversation gets it.
      if (
        ctx.actor.kind === "user" && ctx.accountUser?.role === "agent" && status === "open" &&
        conversation.assignee_id === null
      ) patch.assignee_id = ctx.actor.user.id;
      ctx.deps.model.updateConversation(conversation, patch, ctx.actor);
      return json({
        meta: {},
        payload: {
          // ConversationsController#toggle_status sets @status only on the save branches; the bot_handoff! branch
          // (pending_to_open_by_bot?) leaves it nil, so toggle_status.json.jbuilder renders `success: null`.
          success: botHandoff ? null : true,
          conversation_id: conversation.display_id,
          current_status: conversation.status,
          snoozed_until: isoOrNull(conversation.snoozed_until),
        },
      });
    },
  });

  router.add("POST", "/conversations/:id/toggle_priority", {
    bot: true,
    run: (ctx) => {
      const conversation = findConversation(ctx);
      const priority = (ctx.body.priority ?? null) as string | null;
      if (priority !== null && !PRIORITIES.includes(priority)) {
        throw unprocessable(`'${priority}' is not a valid priority`);
      }
      ctx.deps.model.updateConversation(conversation, { priority }, ctx.actor);
      return headOk();
    },
  });

  router.add("POST", "/conversations/:id/custom_attributes", {
    bot: true,
    run: (ctx) => {
      const conversation = findConversation(ctx);
      // Replaces the hash (unlike contact PATCH, which merges).
      ctx.deps.model.updateConversation(conversation, { custom_attributes: asObject(ctx.body.custom_attributes) });
      return json({ custom_attributes: conversation.custom_attributes });
    },
  });

  router.add("POST", "/conversations/:id/toggle_typing_status", {
    bot: true,
    run: (ctx) => {
      const conversation = findConversation(ctx);
      const on = ["on", "recording"].includes(String(ctx.body.typing_status ?? ""));
      const isPrivate = ctx.body.is_private === true || ctx.body.is_private === "true";
      ctx.deps.model.typing(conversation, ctx.actor as Actor, on, isPrivate);
      return headOk();
    },
  });

  router.add("POST", "/conversations/:id/assignments", {
    bot: true,
    run: (ctx) => {
      const conversation = findConversation(ctx);
      const b = ctx.body;
      const s = ctx.deps.state;
      if (b.assignee_type === "AgentBot") {
        const bot = s.agentBots.get(b.assignee_id as number);
        if (!bot || (bot.account_id !== null && bot.account_id !== ctx.account.id)) throw notFound();
        ctx.deps.model.updateConversation(conversation, { assignee_agent_bot_id: bot.id }, ctx.actor);
        return json(ctx.deps.views.accountAgentBot(bot, false));
      }
      if (b.team_id !== undefined) return json(null); // teams are not emulated: Chatwoot renders the nil team
      const member = s.accountUsers.by(ctx.account.id).find((au) => au.user_id === Number(b.assignee_id));
      const user = member ? s.users.get(member.user_id) : undefined;
      ctx.deps.model.updateConversation(conversation, { assignee_id: user?.id ?? null }, ctx.actor);
      return json(user ? ctx.deps.views.agent(user, ctx.account.id) : null);
    },
  });

  router.add("GET", "/conversations/:id/messages", {
    run: (ctx) => {
      const conversation = findConversation(ctx);
      const all = ctx.deps.state.messages.by(conversation.id);
      const before = ctx.query.get("before");
      const after = ctx.query.get("after");
      let page: Message[];
      // MessageFinder: latest 20; before → 20 older; after → up to 100 newer; both → up to 1000 between.
      if (after && before) page = all.filter((m) => m.id >= Number(after) && m.id < Number(before)).slice(0, 1000);
      else if (before) page = all.filter((m) => m.id < Number(before)).slice(-20);
      else if (after) page = all.filter((m) => m.id > Number(after)).slice(0, 100);
      else page = all.slice(-20);
      const s = ctx.deps.state;
      const contact = s.contacts.get(conversation.contact_id);
      const assignee = s.users.get(conversation.assignee_id);
      const meta: JsonObject = {
        labels: conversation.labels,
        additional_attributes: conversation.additional_attributes,
        contact: contact ? ctx.deps.payloads.contactPushEventData(contact) : null,
      };
      if (assignee) meta.assignee = ctx.deps.payloads.userPushEventData(assignee);
      meta.agent_last_seen_at = isoOrNull(conversation.agent_last_seen_at);
      meta.assignee_last_seen_at = isoOrNull(conversation.assignee_last_seen_at);
      return json({ meta, payload: page.map((m) => ctx.deps.views.message(m)) });
    },
  });

  router.add("POST", "/conversations/:id/messages", {
    bot: true,
    run: (ctx) => {
      const conversation = findConversation(ctx);
      const message = ctx.deps.model.createMessage(conversation, messageInput(ctx, conversation));
      return json(ctx.deps.views.message(message));
    },
  });

  router.add("PATCH", "/conversations/:id/messages/:message_id", {
    run: (ctx) => {
      const conversation = findConversation(ctx);
      const message = findMessage(ctx, conversation);
      if (ctx.deps.state.inboxes.get(conversation.inbox_id)?.channel_type !== "Channel::Api") {
        throw forbidden("Message status update is only allowed for API inboxes");
      }
      ctx.deps.model.updateMessageStatus(message, ctx.body.status, ctx.body.external_error);
      return json(ctx.deps.views.message(message));
    },
  });

  router.add("DELETE", "/conversations/:id/messages/:message_id", {
    run: (ctx) => {
      const conversation = findConversation(ctx);
      const message = findMessage(ctx, conversation);
      ctx.deps.model.deleteMessage(message);
      return json(ctx.deps.views.message(message));
    },
  });
}

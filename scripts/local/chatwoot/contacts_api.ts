// Contacts in the Application API: listing (resolved contacts only, 15 a page), search with its per-account
// Rack::Attack throttle, filter, create/update/delete with Chatwoot's validations, custom attributes, merge.

import type { AppContext, AppRouter } from "./application_api.ts";
import { findInbox } from "./application_api.ts";
import { ApiError, asObject, headOk, json, notFound, unprocessable } from "./http.ts";
import type { ContactInput } from "./model.ts";
import type { Contact, JsonObject } from "./state.ts";

const PER_PAGE = 15;

function findContact(ctx: AppContext, id: unknown): Contact {
  const contact = ctx.deps.state.contacts.get(id as number);
  if (!contact || contact.account_id !== ctx.account.id) throw notFound();
  return contact;
}

function contactInput(body: JsonObject): ContactInput {
  const input: ContactInput = {};
  for (const key of ["name", "email", "phone_number", "identifier"] as const) {
    if (key in body) input[key] = body[key] === null ? null : String(body[key]);
  }
  if ("blocked" in body) input.blocked = body.blocked === true || body.blocked === "true";
  if ("additional_attributes" in body) input.additional_attributes = asObject(body.additional_attributes);
  if ("custom_attributes" in body) input.custom_attributes = asObject(body.custom_attributes);
  return input;
}

function page(ctx: AppContext): number {
  return Math.max(1, Number(ctx.query.get("page") ?? ctx.body.page ?? 1) || 1);
}

/** `?sort=name` ascending, `?sort=-last_activity_at` descending; nulls last either way. */
function sortContacts(contacts: Contact[], sort: string | null): Contact[] {
  const desc = sort?.startsWith("-") ?? true;
  const key = sort ? sort.replace(/^-/, "") : "last_activity_at";
  const value = (c: Contact): string | number | null => {
    if (key === "company") return (c.additional_attributes.company_name as string) ?? null;
    if (key === "city" || key === "country") return (c.additional_attributes[key] as string) ?? null;
    const v = (c as unknown as JsonObject)[key];
    return v === undefined ? null : v as string | number | null;
  };
  return [...contacts].sort((a, b) => {
    const va = value(a);
    const vb = value(b);
    if (va === vb) return b.id - a.id;
    if (va === null) return 1;
    if (vb === null) return -1;
    const cmp = va < vb ? -1 : 1;
    return desc ? -cmp : cmp;
  });
}

function paginate<T>(rows: T[], pageNo: number): T[] {
  return rows.slice((pageNo - 1) * PER_PAGE, pageNo * PER_PAGE);
}

const STANDARD_FILTER_KEYS: Record<string, (c: Contact) => unknown> = {
  name: (c) => c.name,
  email: (c) => c.email,
  phone_number: (c) => c.phone_number,
  identifier: (c) => c.identifier,
  blocked: (c) => c.blocked,
  created_at: (c) => c.created_at,
  last_activity_at: (c) => c.last_activity_at,
  country_code: (c) => c.additional_attributes.country_code,
  city: (c) => c.additional_attributes.city,
  company: (c) => c.additional_attributes.company_name,
  referer: (c) => c.additional_attributes.referer,
};

/** Evaluates `POST /contacts/filter` conditions with SQL precedence (AND binds tighter than OR). */
function filterContacts(ctx: AppContext, conditions: JsonObject[]): Contact[] {
  const customKeys = new Set(
    ctx.deps.state.customAttributeDefinitions.by(ctx.account.id)
      .filter((d) => d.attribute_model === "contact_attribute").map((d) => d.attribute_key),
  );
  const tests = conditions.map((cond) => {
    const key = String(cond.attribute_key ?? "");
    const op = String(cond.filter_operator ?? "");
    const values = (Array.isArray(cond.values) ? cond.values : [cond.values]).map((v) => String(v).toLowerCase());
    const read = STANDARD_FILTER_KEYS[key] ?? (customKeys.has(key) ? (c: Contact) => c.custom_attributes[key] : null);
    if (!read) throw new ApiError(422, { error: `Invalid attribute key - [${key}]` });
    return (c: Contact): boolean => {
      const raw = read(c);
      const v = raw === null || raw === undefined ? "" : String(raw).toLowerCase();
      switch (op) {
        case "equal_to":
          return values.includes(v);
        case "not_equal_to":
          return !values.includes(v);
        case "contains":
          return values.some((x) => v.includes(x));
        case "does_not_contain":
          return !values.some((x) => v.includes(x));
        case "starts_with":
          return values.some((x) => v.startsWith(x));
        case "is_present":
          return v !== "";
        case "is_not_present":
          return v === "";
        case "is_greater_than":
          return Number(raw) > Number(values[0]);
        case "is_less_than":
          return Number(raw) < Number(values[0]);
        default:
          throw new ApiError(422, { error: `Invalid operator. The allowed operators for ${key} are [${op}].` });
      }
    };
  });
  const contacts = ctx.deps.state.contacts.by(ctx.account.id);
  return contacts.filter((c) => {
    let anyGroup = false;
    let group = true;
    tests.forEach((test, i) => {
      group = group && test(c);
      const joiner = String(conditions[i].query_operator ?? "").toUpperCase();
      if (joiner === "OR" || i === tests.length - 1) {
        anyGroup = anyGroup || group;
        group = true;
      }
    });
    return anyGroup;
  });
}

export function contactRoutes(router: AppRouter): void {
  const view = (ctx: AppContext, c: Contact, withInboxes = true) => ctx.deps.views.contact(c, withInboxes, ctx.isAdmin);

  router.add("GET", "/contacts", {
    run: (ctx) => {
      // Only "resolved" contacts: anonymous widget visitors (no email, phone or identifier) are not listed.
      const resolved = ctx.deps.state.contacts.by(ctx.account.id).filter((c) =>
        c.email || c.phone_number || c.identifier
      );
      const withInboxes = (ctx.query.get("include_contact_inboxes") ?? "true") === "true";
      const p = page(ctx);
      return json({
        meta: { count: resolved.length, current_page: p },
        payload: paginate(sortContacts(resolved, ctx.query.get("sort")), p).map((c) => view(ctx, c, withInboxes)),
      });
    },
  });

  router.add("GET", "/contacts/search", {
    run: (ctx) => {
      // Throttled before routing, by Rack::Attack (rate_limits.ts).
      const q = ctx.query.get("q") ?? "";
      if (!q.trim()) throw unprocessable("Specify search string with parameter q");
      const needle = q.toLowerCase();
      const matches = ctx.deps.state.contacts.by(ctx.account.id).filter((c) =>
        c.name.toLowerCase().includes(needle) || (c.email ?? "").toLowerCase().includes(needle) ||
        (c.phone_number ?? "").toLowerCase().includes(needle) || (c.identifier ?? "").includes(q)
      );
      const p = page(ctx);
      const sorted = sortContacts(matches, ctx.query.get("sort"));
      return json({
        meta: { count: matches.length, current_page: p, has_more: matches.length > p * PER_PAGE },
        payload: paginate(sorted, p).map((c) => view(ctx, c)),
      });
    },
  });

  router.add("POST", "/contacts/filter", {
    run: (ctx) => {
      const conditions = Array.isArray(ctx.body.payload) ? ctx.body.payload as JsonObject[] : [];
      if (!conditions.length) throw unprocessable("Invalid filter payload");
      const matches = filterContacts(ctx, conditions);
      const p = page(ctx);
      return json({
        meta: { count: matches.length, current_page: p },
        payload: paginate(sortContacts(matches, ctx.query.get("sort")), p).map((c) => view(ctx, c)),
      });
    },
  });

  router.add("POST", "/contacts", {
    run: (ctx) => {
      const inbox = ctx.body.inbox_id ? findInbox(ctx, String(ctx.body.inbox_id)) : undefined;
      const contact = ctx.deps.model.createContact(ctx.account, contactInput(ctx.body));
      let contactInbox = undefined;
      if (inbox) {
        try {
          contactInbox = ctx.deps.model.findOrCreateContactInbox(contact, inbox, ctx.body.source_id as string);
        } catch (e) {
          ctx.deps.state.contacts.delete(contact.id); // the controller's transaction rolls back
          throw e;
        }
      }
      return json({
        payload: {
          contact: view(ctx, contact),
          contact_inbox: {
            inbox: inbox ? ctx.deps.views.inboxRow(inbox) : null,
            source_id: contactInbox?.source_id ?? null,
          },
        },
      });
    },
  });

  router.add("GET", "/contacts/:id", { run: (ctx) => json({ payload: view(ctx, findContact(ctx, ctx.params.id)) }) });

  const update = (ctx: AppContext) => {
    const contact = findContact(ctx, ctx.params.id);
    ctx.deps.model.updateContact(contact, contactInput(ctx.body));
    return json({ payload: view(ctx, contact) });
  };
  router.add("PATCH", "/contacts/:id", { run: update });
  router.add("PUT", "/contacts/:id", { run: update });

  router.add("DELETE", "/contacts/:id", {
    admin: true,
    run: (ctx) => {
      ctx.deps.model.deleteContact(findContact(ctx, ctx.params.id));
      return headOk();
    },
  });

  router.add("POST", "/contacts/:id/destroy_custom_attributes", {
    run: (ctx) => {
      const contact = findContact(ctx, ctx.params.id);
      const keys = Array.isArray(ctx.body.custom_attributes) ? ctx.body.custom_attributes.map(String) : [];
      ctx.deps.model.destroyCustomAttributes(contact, keys);
      return json({ payload: view(ctx, contact) });
    },
  });

  router.add("GET", "/contacts/:id/conversations", {
    run: (ctx) => {
      const contact = findContact(ctx, ctx.params.id);
      const conversations = ctx.deps.state.conversations.by(ctx.account.id).filter((c) => c.contact_id === contact.id);
      return json({ payload: conversations.map((c) => ctx.deps.views.conversation(c)) });
    },
  });

  router.add("POST", "/actions/contact_merge", {
    run: (ctx) => {
      const base = findContact(ctx, ctx.body.base_contact_id);
      const mergee = findContact(ctx, ctx.body.mergee_contact_id);
      return json(view(ctx, ctx.deps.model.mergeContacts(base, mergee), false));
    },
  });
}

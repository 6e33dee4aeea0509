// What Chatwoot should hold for a customer: the contact fields and custom attributes built from
// the platform's row, with values Chatwoot would refuse left out (and why), a stable hash of it,
// and the difference from what Chatwoot holds now (PATCH merges, so only the difference goes).

import { z } from "zod";
import type { CountryCode } from "libphonenumber-js";
import { normalizePhoneE164 } from "../platform/phone.ts";
import type { Fetched, Row } from "../platform/rows.ts";

/** The customer columns a contact is built from, as postgres.js reads them (lifetime_value is numeric). */
export type CustomerRow = Fetched<
  Pick<
    Row<"customers">,
    | "id"
    | "store_id"
    | "external_id"
    | "user_id"
    | "name"
    | "email"
    | "phone"
    | "order_count"
    | "lifetime_value"
    | "last_order_at"
    | "tier"
    | "created_at"
  >,
  "last_order_at" | "created_at",
  "lifetime_value"
>;

export interface PayloadSettings {
  currency: string;
  defaultPhoneCountry: string | null;
  platformUrlTemplate: string | null;
}

export type ContactField = "name" | "email" | "phone_number" | "identifier";

export interface ContactPayload {
  name?: string;
  email?: string;
  phone_number?: string;
  identifier: string;
  custom_attributes: Record<string, string | number | null>;
}

export interface DesiredContact {
  payload: ContactPayload;
  /** Fields left out and the reason, for the admin (never a failed sync). */
  omitted: Partial<Record<ContactField, string>>;
  hash: string;
}

/** The contact custom attributes this project writes, created once per Chatwoot account. */
export const CONTACT_ATTRIBUTES = [
  { key: "order_count", display: "Orders", type: "number", description: "Paid or fulfilled orders" },
  { key: "lifetime_value", display: "Lifetime value", type: "currency", description: "Sum of paid orders" },
  { key: "last_order_at", display: "Last order", type: "date", description: "When the last order was placed" },
  { key: "tier", display: "Tier", type: "text", description: "The store's customer tier" },
  { key: "customer_since", display: "Customer since", type: "date", description: "When the customer was created" },
  { key: "platform_url", display: "Open in platform", type: "link", description: "The customer in the platform" },
] as const;

// Chatwoot's validations (app/models/contact.rb): Devise's e-mail regex, E.164 with a leading +.
const emailSchema = z.email();
const CHATWOOT_PHONE = /^\+[1-9]\d{1,14}$/;

/** The contact identifier: the platform user's id when the customer has an account (the same
 * identity the widget's setUser passes), else the platform's own customer id. */
export function contactIdentifier(c: Pick<CustomerRow, "user_id" | "external_id">): string {
  return c.user_id ?? c.external_id;
}

function isoDate(d: Date | null): string | null {
  return d ? d.toISOString().slice(0, 10) : null;
}

function platformUrl(template: string | null, c: CustomerRow): string | null {
  if (!template) return null;
  return template.replaceAll("{external_id}", encodeURIComponent(c.external_id))
    .replaceAll("{customer_id}", encodeURIComponent(c.id));
}

export async function desiredContact(c: CustomerRow, s: PayloadSettings): Promise<DesiredContact> {
  const omitted: DesiredContact["omitted"] = {};
  const payload: ContactPayload = {
    identifier: contactIdentifier(c),
    custom_attributes: {
      order_count: c.order_count,
      lifetime_value: Number(c.lifetime_value),
      last_order_at: isoDate(c.last_order_at),
      tier: c.tier,
      customer_since: isoDate(c.created_at),
      platform_url: platformUrl(s.platformUrlTemplate, c),
    },
  };
  const name = c.name?.trim();
  if (name) payload.name = name.slice(0, 255);
  const email = c.email?.trim().toLowerCase();
  if (email) {
    if (emailSchema.safeParse(email).success) payload.email = email;
    else omitted.email = "not a valid e-mail address";
  }
  const rawPhone = c.phone?.trim();
  if (rawPhone) {
    const e164 = normalizePhoneE164(rawPhone, (s.defaultPhoneCountry ?? undefined) as CountryCode | undefined);
    if (e164 && CHATWOOT_PHONE.test(e164)) payload.phone_number = e164;
    else {
      omitted.phone_number = s.defaultPhoneCountry
        ? `not a valid phone number (read as ${s.defaultPhoneCountry} when it has no country code)`
        : "not a valid phone number in international form (+country code); set the store's default phone country";
    }
  }
  return { payload, omitted, hash: await payloadHash(payload) };
}

/** JSON with sorted keys, so equal payloads hash equally whatever order they were built in. */
function canonical(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
}

export async function payloadHash(payload: ContactPayload): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical(payload)));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** What Chatwoot holds of a contact, in the payload's shape (from an API answer or a snapshot). */
export interface ContactState {
  name?: string | null;
  email?: string | null;
  phone_number?: string | null;
  identifier?: string | null;
  custom_attributes?: Record<string, unknown>;
}

export function contactState(contact: Record<string, unknown>): ContactState {
  return {
    name: (contact.name as string | null) ?? null,
    email: (contact.email as string | null) ?? null,
    phone_number: (contact.phone_number as string | null) ?? null,
    identifier: (contact.identifier as string | null) ?? null,
    custom_attributes: (contact.custom_attributes as Record<string, unknown>) ?? {},
  };
}

/** The PATCH body that brings `current` to `desired`; null when nothing differs. Chatwoot
 * merges custom_attributes, so only changed keys are sent; a field left out of `desired` is
 * left alone in Chatwoot. */
export function contactDiff(current: ContactState, desired: ContactPayload): Partial<ContactPayload> | null {
  const diff: Partial<ContactPayload> = {};
  for (const key of ["name", "email", "phone_number", "identifier"] as const) {
    const want = desired[key];
    if (want === undefined) continue;
    const have = current[key] ?? null;
    const same = key === "email" ? (have ?? "").toLowerCase() === want.toLowerCase() : have === want;
    if (!same) diff[key] = want;
  }
  const attrs: Record<string, string | number | null> = {};
  for (const [k, v] of Object.entries(desired.custom_attributes)) {
    const have = current.custom_attributes?.[k];
    if ((have ?? null) !== v && !(v === null && have === undefined)) attrs[k] = v;
  }
  if (Object.keys(attrs).length) diff.custom_attributes = attrs;
  return Object.keys(diff).length ? diff : null;
}

/** The state Chatwoot holds after applying `diff` to `current` (PATCH's merge semantics). */
export function applyDiff(current: ContactState, diff: Partial<ContactPayload>): ContactState {
  return {
    ...current,
    ...Object.fromEntries(Object.entries(diff).filter(([k]) => k !== "custom_attributes")),
    custom_attributes: { ...(current.custom_attributes ?? {}), ...(diff.custom_attributes ?? {}) },
  };
}

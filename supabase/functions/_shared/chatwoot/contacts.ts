// Chatwoot's contacts endpoints as the contact sync uses them: exact lookup through
// /contacts/filter (not /search, which is throttled to 100/min per account), create, update,
// merge, delete, and the contact custom attribute definitions.

import { z } from "zod";
import { type ChatwootClient, ChatwootError } from "./client.ts";

export const contactSchema = z.looseObject({
  id: z.number().int(),
  name: z.string().nullable().optional(),
  email: z.string().nullable().optional(),
  phone_number: z.string().nullable().optional(),
  identifier: z.string().nullable().optional(),
  custom_attributes: z.record(z.string(), z.unknown()).nullable().optional(),
});
export type ChatwootContact = z.infer<typeof contactSchema>;

const listSchema = z.looseObject({ payload: z.array(contactSchema) });
const createdSchema = z.looseObject({ payload: z.looseObject({ contact: contactSchema }) });
const oneSchema = z.looseObject({ payload: contactSchema });

export type LookupKey = "identifier" | "email" | "phone_number";

/** Every contact whose identifier, e-mail or phone equals one of the given values: one request. */
export async function findContacts(
  client: ChatwootClient,
  accountId: number,
  by: Partial<Record<LookupKey, string>>,
): Promise<ChatwootContact[]> {
  const keys = (Object.entries(by) as [LookupKey, string | undefined][]).filter(([, v]) => v);
  if (!keys.length) return [];
  const payload = keys.map(([key, value], i) => ({
    attribute_key: key,
    filter_operator: "equal_to",
    values: [value],
    query_operator: i < keys.length - 1 ? "OR" : null,
  }));
  // Filtering is a read: safe to repeat after a timeout.
  const res = await client.request("POST", `/api/v1/accounts/${accountId}/contacts/filter`, {
    body: { payload },
    schema: listSchema,
    idempotent: true,
  });
  return res.payload;
}

export async function createContact(
  client: ChatwootClient,
  accountId: number,
  body: Record<string, unknown>,
): Promise<ChatwootContact> {
  const res = await client.request("POST", `/api/v1/accounts/${accountId}/contacts`, { body, schema: createdSchema });
  return res.payload.contact;
}

export async function updateContact(
  client: ChatwootClient,
  accountId: number,
  contactId: number,
  body: Record<string, unknown>,
): Promise<ChatwootContact> {
  const res = await client.request("PATCH", `/api/v1/accounts/${accountId}/contacts/${contactId}`, {
    body,
    schema: oneSchema,
    idempotent: true,
  });
  return res.payload;
}

/** Moves the mergee's conversations and notes to base and deletes the mergee; base wins attributes. */
export async function mergeContacts(
  client: ChatwootClient,
  accountId: number,
  baseId: number,
  mergeeId: number,
): Promise<ChatwootContact> {
  return await client.request("POST", `/api/v1/accounts/${accountId}/actions/contact_merge`, {
    body: { base_contact_id: baseId, mergee_contact_id: mergeeId },
    schema: contactSchema,
  });
}

export async function deleteContact(client: ChatwootClient, accountId: number, contactId: number): Promise<void> {
  await client.request("DELETE", `/api/v1/accounts/${accountId}/contacts/${contactId}`, {
    schema: z.unknown(),
    idempotent: true,
  });
}

const definitionSchema = z.looseObject({ attribute_key: z.string(), attribute_model: z.unknown().optional() });

export async function listContactAttributeKeys(client: ChatwootClient, accountId: number): Promise<string[]> {
  const res = await client.request("GET", `/api/v1/accounts/${accountId}/custom_attribute_definitions`, {
    query: { attribute_model: "contact_attribute" },
    schema: z.array(definitionSchema),
  });
  return res.map((d) => d.attribute_key);
}

export async function createContactAttribute(
  client: ChatwootClient,
  accountId: number,
  def: { key: string; display: string; type: string; description: string },
): Promise<void> {
  await client.request("POST", `/api/v1/accounts/${accountId}/custom_attribute_definitions`, {
    body: {
      attribute_display_name: def.display,
      attribute_key: def.key,
      attribute_model: "contact_attribute",
      attribute_display_type: def.type,
      attribute_description: def.description,
    },
    schema: z.unknown(),
  });
}

/** GET /contacts/:id, or null when Chatwoot no longer has it (merged away or deleted). */
export async function getContact(
  client: ChatwootClient,
  accountId: number,
  contactId: number,
): Promise<ChatwootContact | null> {
  try {
    const res = await client.request("GET", `/api/v1/accounts/${accountId}/contacts/${contactId}`, {
      schema: oneSchema,
    });
    return res.payload;
  } catch (err) {
    if (err instanceof ChatwootError && err.status === 404) return null;
    throw err;
  }
}

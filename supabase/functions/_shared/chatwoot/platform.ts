// Chatwoot's Platform API (super-admin "platform app" token) and the Application API inbox
// calls provisioning makes. Shapes from app/views/platform/api/v1 and api/v1/models/_inbox.

import { z } from "zod";
import type { ChatwootClient } from "./client.ts";

export const platformAccountSchema = z.looseObject({
  id: z.number(),
  name: z.string().nullish(),
  status: z.string().nullish(),
  custom_attributes: z.record(z.string(), z.unknown()).nullish(),
});
export type PlatformAccount = z.infer<typeof platformAccountSchema>;

export const platformUserSchema = z.looseObject({ id: z.number(), email: z.string().nullish() });

export const inboxSchema = z.looseObject({
  id: z.number(),
  name: z.string().nullish(),
  channel_type: z.string().nullish(),
  website_token: z.string().nullish(),
  hmac_token: z.string().nullish(),
  inbox_identifier: z.string().nullish(),
  secret: z.string().nullish(),
  email: z.string().nullish(),
});
export type ChatwootInbox = z.infer<typeof inboxSchema>;

export function listPlatformAccounts(platform: ChatwootClient): Promise<PlatformAccount[]> {
  return platform.request("GET", "/platform/api/v1/accounts", { schema: z.array(platformAccountSchema) });
}

export function createPlatformAccount(
  platform: ChatwootClient,
  input: {
    name: string;
    domain?: string | null;
    support_email?: string | null;
    custom_attributes: Record<string, unknown>;
  },
): Promise<PlatformAccount> {
  return platform.request("POST", "/platform/api/v1/accounts", { body: input, schema: platformAccountSchema });
}

export function setPlatformAccountStatus(
  platform: ChatwootClient,
  accountId: number,
  status: "active" | "suspended",
): Promise<PlatformAccount> {
  return platform.request("PATCH", `/platform/api/v1/accounts/${accountId}`, {
    body: { status },
    schema: platformAccountSchema,
    idempotent: true,
  });
}

export async function deletePlatformAccount(platform: ChatwootClient, accountId: number): Promise<void> {
  await platform.request("DELETE", `/platform/api/v1/accounts/${accountId}`, { schema: z.unknown(), idempotent: true });
}

/** Chatwoot returns the existing user for an e-mail it already knows, so this is idempotent. */
export function createPlatformUser(
  platform: ChatwootClient,
  input: { name: string; email: string; password: string; custom_attributes?: Record<string, unknown> },
): Promise<z.infer<typeof platformUserSchema>> {
  return platform.request("POST", "/platform/api/v1/users", {
    body: input,
    schema: platformUserSchema,
    idempotent: true,
  });
}

/** find_or_initialize by user: repeating it changes nothing. */
export async function addAccountAdministrator(platform: ChatwootClient, accountId: number, userId: number) {
  await platform.request("POST", `/platform/api/v1/accounts/${accountId}/account_users`, {
    body: { user_id: userId, role: "administrator" },
    schema: z.looseObject({ user_id: z.number().nullish() }),
    idempotent: true,
  });
}

export async function userApiToken(platform: ChatwootClient, userId: number): Promise<string> {
  const res = await platform.request("POST", `/platform/api/v1/users/${userId}/token`, {
    schema: z.looseObject({ access_token: z.string() }),
    idempotent: true,
  });
  return res.access_token;
}

export async function listInboxes(app: ChatwootClient, accountId: number): Promise<ChatwootInbox[]> {
  const res = await app.request("GET", `/api/v1/accounts/${accountId}/inboxes`, {
    schema: z.looseObject({ payload: z.array(inboxSchema) }),
  });
  return res.payload;
}

export function createInbox(
  app: ChatwootClient,
  accountId: number,
  body: Record<string, unknown>,
): Promise<ChatwootInbox> {
  return app.request("POST", `/api/v1/accounts/${accountId}/inboxes`, { body, schema: inboxSchema });
}

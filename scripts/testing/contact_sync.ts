// Test support for the contact sync: a store linked (webhook included) to a fresh account in
// the stack's Chatwoot sandbox, with its contact sync settings, and customers to sync.

import type { Sql } from "../../supabase/functions/_shared/platform/db.ts";
import { type Json, sandboxLinkedStore } from "./chatwoot.ts";
import { testStack } from "./env.ts";

export interface SyncSettings {
  auto_sync?: boolean;
  conflict_policy?: "link" | "merge";
  agent_edits?: "apply" | "ignore";
  debounce_ms?: number;
  platform_url_template?: string;
}

export async function linkedSandboxStore(sql: Sql, settings: SyncSettings = {}) {
  const linked = await sandboxLinkedStore(sql, `${testStack().apiUrl}/functions/v1`);
  await sql`insert into public.contact_sync_settings
              (store_id, auto_sync, conflict_policy, agent_edits, debounce_ms, platform_url_template)
            values (${linked.store.id}, ${settings.auto_sync ?? false}, ${settings.conflict_policy ?? "link"},
                    ${settings.agent_edits ?? "apply"}, ${settings.debounce_ms ?? 1000},
                    ${settings.platform_url_template ?? null})`;
  return linked;
}

export async function insertCustomer(
  sql: Sql,
  storeId: string,
  c: { external_id?: string; name?: string | null; email?: string | null; phone?: string | null; user_id?: string },
): Promise<string> {
  const [row] = await sql`
    insert into public.customers (store_id, external_id, name, email, phone, user_id)
    values (${storeId}, ${c.external_id ?? `cus_${crypto.randomUUID().slice(0, 8)}`}, ${c.name ?? null},
            ${c.email ?? null}, ${c.phone ?? null}, ${c.user_id ?? null})
    returning id`;
  return row.id;
}

/** Every contact of the account, through Chatwoot's own list (15 a page). */
export async function allContacts(
  api: (m: string, p: string, b?: unknown) => Promise<{ status: number; body: Json }>,
): Promise<Json[]> {
  const out: Json[] = [];
  for (let page = 1;; page++) {
    const res = await api("GET", `/contacts?page=${page}&include_contact_inboxes=false`);
    out.push(...res.body.payload);
    if (res.body.payload.length < 15) return out;
  }
}

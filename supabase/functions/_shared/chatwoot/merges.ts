// Contact merges as the mirror and the customer links learn of them. Chatwoot's ContactMergeAction
// (app/actions/contact_merge_action.rb) moves the mergee's conversations, messages and contact inboxes to the
// base and destroys the mergee, and no webhook says so: only a contact_updated for the base follows. So a merge
// is recorded by whoever knows of it: the contact sync for the merges it asks for, and reconciliation, which finds
// a mirrored contact gone from Chatwoot and works out where it went (its conversations' new contact, or the
// contact that now carries its customer's identifier).

import type { Sql } from "../platform/db.ts";
import type { ChatwootClient } from "./client.ts";
import { findContacts, getContact } from "./contacts.ts";
import { z } from "zod";

export interface MergeRecorded {
  conversations: number;
  links_followed: number;
  links_blocked: number;
}

/** Marks `mergee` merged into `base` in the mirror and moves the customer link, in one transaction
 * (private.record_chatwoot_contact_merge). */
export async function recordContactMerge(
  sql: Sql,
  accountRef: string,
  mergee: number,
  base: number,
  source: string,
): Promise<MergeRecorded> {
  const [row] = await sql<{ r: MergeRecorded }[]>`
    select private.record_chatwoot_contact_merge(${accountRef}, ${mergee}, ${base}, ${source}) as r`;
  return row.r;
}

const conversationMeta = z.looseObject({
  meta: z.looseObject({ sender: z.looseObject({ id: z.number() }).nullish() }).nullish(),
});

/**
 * Where a contact Chatwoot no longer has went: the contact its conversations now belong to (a merge moves them;
 * a deletion deletes them), else the contact that carries its customer's identifier. Null when neither says: it
 * was deleted, not merged.
 */
export async function resolveMergedContact(
  sql: Sql,
  client: ChatwootClient,
  account: { ref: string; accountId: number },
  missing: number,
): Promise<{ base: number; by: "conversation" | "identifier" } | null> {
  const conversations = await sql<{ display_id: number }[]>`
    select display_id from public.chatwoot_conversations
    where account_ref = ${account.ref} and contact_id = ${missing} order by last_activity_at desc nulls last limit 1`;
  for (const { display_id } of conversations) {
    try {
      const c = await client.request("GET", `/api/v1/accounts/${account.accountId}/conversations/${display_id}`, {
        schema: conversationMeta,
      });
      const sender = c.meta?.sender?.id;
      if (sender !== undefined && sender !== missing) return { base: sender, by: "conversation" };
    } catch { /* the conversation is gone too: a deletion, or look further */ }
  }
  const [link] = await sql<{ identifier: string }[]>`
    select coalesce(cu.user_id::text, cu.external_id) as identifier
    from public.customer_contact_links l join public.customers cu on cu.id = l.customer_id
    where l.account_ref = ${account.ref} and l.contact_id = ${missing}`;
  const identifier = link?.identifier ??
    (await sql<{ identifier: string | null }[]>`
      select identifier from public.chatwoot_contacts where account_ref = ${account.ref} and contact_id = ${missing}`)[
      0
    ]
      ?.identifier;
  if (!identifier) return null;
  const holder = (await findContacts(client, account.accountId, { identifier }))
    .find((c) => c.identifier === identifier && c.id !== missing);
  return holder ? { base: holder.id, by: "identifier" } : null;
}

export interface ContactCheck {
  checked: number;
  merged: number;
  gone: number;
}

/**
 * Asks Chatwoot about up to `limit` mirrored contacts of the account, the least recently checked first: each one
 * it no longer has is resolved to the contact it was merged into and recorded. A few requests a run, so every
 * contact is looked at in turn without a sweep that would spend the host's rate limit.
 */
export async function checkMirroredContacts(
  sql: Sql,
  client: ChatwootClient,
  account: { ref: string; accountId: number },
  limit: number,
): Promise<ContactCheck> {
  const result: ContactCheck = { checked: 0, merged: 0, gone: 0 };
  if (limit <= 0) return result;
  const due = await sql<{ contact_id: number }[]>`
    select contact_id from public.chatwoot_contacts
    where account_ref = ${account.ref} and merged_into is null
    order by checked_at nulls first, contact_id limit ${limit}`;
  for (const { contact_id } of due) {
    result.checked++;
    const found = await getContact(client, account.accountId, contact_id);
    if (!found) {
      const base = await resolveMergedContact(sql, client, account, contact_id);
      if (base) {
        await recordContactMerge(
          sql,
          account.ref,
          contact_id,
          base.base,
          `found by reconciliation, by its ${base.by === "conversation" ? "conversations" : "customer's identifier"}`,
        );
        result.merged++;
      } else result.gone++;
    }
    await sql`update public.chatwoot_contacts set checked_at = now()
              where account_ref = ${account.ref} and contact_id = ${contact_id}`;
  }
  return result;
}

// Which platform user a WhatsApp number belongs to, per store. One row per (store, phone):
// an administrator's mapping is final; otherwise a number is matched automatically against
// user profiles in every spelling of it (Brazil's 9th digit, Mexico's +52 1), once, and kept.

import type { Sql, TransactionSql } from "../platform/db.ts";
import { phoneVariants } from "../platform/phone.ts";
import type { Constrained, Row } from "../platform/rows.ts";

type ContactStatus = "mapped" | "unmapped" | "ignored";
type ContactRow = Constrained<Pick<Row<"archive_contacts">, "status" | "user_id">, { status: ContactStatus }>;

export interface ArchiveContact {
  status: ContactStatus;
  userId: string | null;
}

export async function resolveArchiveContact(
  sql: Sql | TransactionSql,
  input: { storeId: string; phone: string; name: string | null; email: string | null },
): Promise<ArchiveContact> {
  await sql`
    insert into public.archive_contacts (store_id, phone_e164, status, contact_name, contact_email)
    values (${input.storeId}, ${input.phone}, 'unmapped', ${input.name}, ${input.email})
    on conflict (store_id, phone_e164) do update
      set contact_name = coalesce(excluded.contact_name, archive_contacts.contact_name),
          contact_email = coalesce(excluded.contact_email, archive_contacts.contact_email)
      where archive_contacts.contact_name is distinct from coalesce(excluded.contact_name, archive_contacts.contact_name)
         or archive_contacts.contact_email is distinct from coalesce(excluded.contact_email, archive_contacts.contact_email)`;
  const [row] = await sql<ContactRow[]>`select status, user_id from public.archive_contacts
                          where store_id = ${input.storeId} and phone_e164 = ${input.phone}`;
  if (row.status !== "unmapped") return { status: row.status, userId: row.user_id };

  const matches = await sql<
    Pick<Row<"profiles">, "user_id">[]
  >`select user_id from public.profiles where phone_e164 = any(${phoneVariants(input.phone)})`;
  if (matches.length !== 1) return { status: "unmapped", userId: null }; // none, or ambiguous: a person decides
  const [mapped] = await sql<ContactRow[]>`
    update public.archive_contacts set status = 'mapped', user_id = ${
    matches[0].user_id
  }, mapped_by = 'auto', updated_at = now()
    where store_id = ${input.storeId} and phone_e164 = ${input.phone} and status = 'unmapped'
    returning status, user_id`;
  if (mapped) return { status: "mapped", userId: mapped.user_id };
  const [now] = await sql<ContactRow[]>`select status, user_id from public.archive_contacts
                          where store_id = ${input.storeId} and phone_e164 = ${input.phone}`;
  return { status: now.status, userId: now.user_id };
}

// Replaying kept deliveries: an authenticated delivery that could not be applied (a schema miss, an
// account mismatch, a body that was not JSON, an event not understood yet) stays in the ledger with
// its payload or raw bytes. Once the cause is fixed (the code, the account link), replay runs it
// through the receiver's own parse → normalize → ingest again, under its original delivery id.

import type { Sql } from "../platform/db.ts";
import type { Logger } from "../platform/log.ts";
import { acceptDelivery, type RouteAccount } from "./webhook_receiver.ts";

/** The outcomes a kept delivery can have; only these are replayed. */
export const REPLAYABLE_OUTCOMES = ["rejected", "unknown_event"] as const;

export interface ReplayResult {
  delivery_id: string;
  event: string;
  before: string;
  /** What the receiver says now: applied, stale, rejected (still kept), kept (still unreadable)… */
  after: string;
  issues?: string[];
}

interface KeptRow {
  event: string;
  outcome: string;
  payload: unknown;
  raw_body: Uint8Array | null;
  received_at: Date;
}

/**
 * Replays one kept delivery in one transaction: the ledger row is taken out and the delivery goes
 * through `acceptDelivery` again with the same id (so it is still exactly once), keeping its first
 * arrival time and stamping replayed_at. A delivery that still does not apply stays kept, with the
 * new reasons. Raw bytes (kept because they were not JSON) are read as JSON this time. Returns
 * null when there is no such kept delivery.
 */
export async function replayKeptDelivery(
  deps: { sql: Sql; log: Logger },
  key: { accountRef: string; deliveryId: string },
): Promise<ReplayResult | null> {
  return await deps.sql.begin(async (tx) => {
    const [row] = await tx<KeptRow[]>`
      delete from private.chatwoot_deliveries d
      where d.account_ref = ${key.accountRef} and d.delivery_id = ${key.deliveryId}
        and d.outcome in ${tx([...REPLAYABLE_OUTCOMES])}
      returning d.event, d.outcome, d.payload, d.raw_body, d.received_at`;
    if (!row) return null;
    const [account] = await tx<RouteAccount[]>`
      select a.id as account_ref, a.store_id, a.account_id, s.webhook_secret, a.accepts_unsigned
      from public.chatwoot_accounts a
      left join private.chatwoot_account_secrets s on s.account_ref = a.id
      where a.id = ${key.accountRef}`;
    const bytes = row.raw_body ?? new TextEncoder().encode(JSON.stringify(row.payload));
    const result = await acceptDelivery({ sql: tx, log: deps.log }, account, {
      bytes,
      contentType: "application/json",
      deliveryId: key.deliveryId,
    });
    // What applied needs its body no more; what is still kept keeps it.
    await tx`
      update private.chatwoot_deliveries d
      set replayed_at = now(), received_at = ${row.received_at},
          payload = case when d.outcome in ${tx([...REPLAYABLE_OUTCOMES])} then d.payload end,
          raw_body = case when d.outcome = 'rejected' then d.raw_body end
      where d.account_ref = ${key.accountRef} and d.delivery_id = ${key.deliveryId}`;
    deps.log.info("kept delivery replayed", { delivery_id: key.deliveryId, before: row.outcome, after: result.status });
    return {
      delivery_id: key.deliveryId,
      event: result.event,
      before: row.outcome,
      after: result.status,
      ...(result.issues ? { issues: result.issues } : {}),
    };
  });
}

/** Every kept delivery of an account (or of all accounts), oldest first. */
export async function keptDeliveries(
  sql: Sql,
  opts: { accountRef?: string | null; limit?: number } = {},
): Promise<{ account_ref: string; delivery_id: string; event: string; outcome: string; received_at: Date }[]> {
  return await sql`
    select d.account_ref, d.delivery_id, d.event, d.outcome, d.received_at
    from private.chatwoot_deliveries d
    where d.outcome in ${sql([...REPLAYABLE_OUTCOMES])}
      and (${opts.accountRef ?? null}::uuid is null or d.account_ref = ${opts.accountRef ?? null}::uuid)
    order by d.received_at, d.delivery_id
    limit ${opts.limit ?? 1000}`;
}

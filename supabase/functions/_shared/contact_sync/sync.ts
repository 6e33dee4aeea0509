// Customer → Chatwoot contact sync: one round brings a customer's contact to what the platform
// holds (link by contact id, else find by identifier, e-mail, phone, else create), resolves
// Chatwoot's uniqueness conflicts per store policy, and records what was sent. Also erasure.
// Runs as jobs (chatwoot.contact_sync, chatwoot.contact_erase, chatwoot.contact_backfill) and
// from `switchboard contacts sync`.

import type { Sql } from "../platform/db.ts";
import { type Job, type JobHandler, PermanentFailure, RetryLater } from "../jobs/queue.ts";
import { ChatwootClient, ChatwootError } from "../chatwoot/client.ts";
import type { RateLimiter } from "../chatwoot/rate_limit.ts";
import {
  type ChatwootContact,
  createContact,
  createContactAttribute,
  deleteContact,
  findContacts,
  listContactAttributeKeys,
  type LookupKey,
  mergeContacts,
  updateContact,
} from "../chatwoot/contacts.ts";
import {
  CONTACT_ATTRIBUTES,
  contactDiff,
  contactIdentifier,
  type ContactPayload,
  type ContactState,
  contactState,
  type CustomerRow,
  desiredContact,
  type PayloadSettings,
} from "./payload.ts";

export interface ContactSyncDeps {
  sql: Sql;
  limiter: RateLimiter;
  fetch?: typeof fetch;
  /** Observes every Chatwoot request (benchmarks, tests). */
  onRequest?: (info: { method: string; path: string; status: number | null; waitedMs: number }) => void;
  /** How long to wait before retrying a delete Chatwoot refuses because the contact is online. */
  onlineRetryMs?: number;
  /** Erases the platform user's WhatsApp archive (the archive's own erasure). */
  eraseArchive?: (userId: string, actor: string) => Promise<{ messages: number; media: number }>;
}

export type SyncOutcome = "created" | "updated" | "linked" | "unchanged" | "no_account" | "gone";

export interface SyncResult {
  outcome: SyncOutcome;
  requests: number;
  conflicts: number;
  contactId: number | null;
}

interface Conflict {
  field: LookupKey;
  contactId: number | null;
  otherContactId: number | null;
  resolution: "linked" | "merged" | "omitted";
  detail: string;
}

interface Round {
  customer: CustomerRow;
  account: { ref: string; url: string; accountId: number; token: string | null };
  settings: { conflictPolicy: "link" | "merge" };
  link: {
    contact_id: number;
    snapshot: ContactState;
    sent_hash: string | null;
    omitted: Record<string, string>;
  } | null;
  attributesReady: boolean;
}

/** Bumps the customer's sync epoch under its row lock (so any later change enqueues a new round)
 * and reads everything one round needs in the same statement. */
async function startRound(
  sql: Sql,
  customerId: string,
): Promise<{ round: Round; payloadSettings: PayloadSettings } | null> {
  const [row] = await sql`
    with bumped as (
      update public.customers set contact_sync_epoch = contact_sync_epoch + 1 where id = ${customerId}
      returning id, store_id, external_id, user_id, name, email, phone, order_count, lifetime_value,
                last_order_at, tier, created_at)
    select b.*, coalesce(cs.currency, 'USD') as currency, cs.default_phone_country,
           ss.platform_url_template, coalesce(ss.conflict_policy, 'link') as conflict_policy,
           a.id as account_ref, a.chatwoot_url, a.account_id, sec.api_token,
           l.contact_id as link_contact_id, l.snapshot as link_snapshot, l.sent_hash as link_sent_hash,
           l.omitted as link_omitted,
           (ca.attribute_keys is not null and ca.attribute_keys @> ${CONTACT_ATTRIBUTES.map((a) => a.key)}::text[])
             as attributes_ready
    from bumped b
    left join public.customer_settings cs on cs.store_id = b.store_id
    left join public.contact_sync_settings ss on ss.store_id = b.store_id
    left join public.chatwoot_accounts a on a.store_id = b.store_id
    left join private.chatwoot_account_secrets sec on sec.account_ref = a.id
    left join public.customer_contact_links l on l.customer_id = b.id and l.account_ref = a.id
    left join private.chatwoot_contact_attributes ca on ca.account_ref = a.id`;
  if (!row) return null;
  const round: Round = {
    customer: row as unknown as CustomerRow,
    account: { ref: row.account_ref, url: row.chatwoot_url, accountId: row.account_id, token: row.api_token },
    settings: { conflictPolicy: row.conflict_policy },
    link: row.link_contact_id === null ? null : {
      contact_id: row.link_contact_id,
      snapshot: row.link_snapshot,
      sent_hash: row.link_sent_hash,
      omitted: row.link_omitted,
    },
    attributesReady: row.attributes_ready === true,
  };
  const payloadSettings: PayloadSettings = {
    currency: row.currency,
    defaultPhoneCountry: row.default_phone_country ?? null,
    platformUrlTemplate: row.platform_url_template ?? null,
  };
  return { round, payloadSettings };
}

/** A client that counts its requests (each attempt) into `counter` and reports them. */
function countingClient(deps: ContactSyncDeps, baseUrl: string, token: string, counter: { n: number }): ChatwootClient {
  return new ChatwootClient({
    baseUrl,
    token,
    limiter: deps.limiter,
    fetch: deps.fetch,
    onAttempt: (info) => {
      counter.n++;
      deps.onRequest?.(info);
    },
  });
}

// Rounds in flight in this process share one check per account (a backfill starts many at once).
const ensuring = new Map<string, Promise<void>>();
const ensured = new Set<string>();

/** Creates the contact custom attribute definitions the account lacks; once per account. */
async function ensureAttributes(sql: Sql, client: ChatwootClient, round: Round): Promise<void> {
  if (round.attributesReady || ensured.has(round.account.ref)) return;
  const pending = ensuring.get(round.account.ref);
  if (pending) return await pending;
  const work = createMissingAttributes(sql, client, round)
    .then(() => void ensured.add(round.account.ref))
    .finally(() => ensuring.delete(round.account.ref));
  ensuring.set(round.account.ref, work);
  await work;
}

async function createMissingAttributes(sql: Sql, client: ChatwootClient, round: Round): Promise<void> {
  const existing = new Set(await listContactAttributeKeys(client, round.account.accountId));
  for (const def of CONTACT_ATTRIBUTES) {
    if (existing.has(def.key)) continue;
    try {
      await createContactAttribute(client, round.account.accountId, def);
    } catch (err) {
      // Another worker created it first: the key is taken, which is what we wanted.
      if (!(err instanceof ChatwootError && err.status === 422)) throw err;
    }
    existing.add(def.key);
  }
  await sql`insert into private.chatwoot_contact_attributes (account_ref, attribute_keys)
            values (${round.account.ref}, ${[...existing]})
            on conflict (account_ref) do update set attribute_keys = excluded.attribute_keys, ensured_at = now()`;
}

function lookupValues(p: ContactPayload): Partial<Record<LookupKey, string>> {
  return { identifier: p.identifier, email: p.email, phone_number: p.phone_number };
}

function owns(c: ChatwootContact, key: LookupKey, value: string | undefined): boolean {
  if (!value) return false;
  const have = c[key];
  if (typeof have !== "string") return false;
  return key === "email" ? have.toLowerCase() === value.toLowerCase() : have === value;
}

/** Contacts already linked to another customer of this account. */
async function linkedElsewhere(sql: Sql, accountRef: string, customerId: string, ids: number[]): Promise<Set<number>> {
  if (!ids.length) return new Set();
  const rows = await sql`select contact_id from public.customer_contact_links
                         where account_ref = ${accountRef} and contact_id = any(${ids}) and customer_id <> ${customerId}`;
  return new Set(rows.map((r) => r.contact_id as number));
}

export async function syncCustomer(deps: ContactSyncDeps, customerId: string): Promise<SyncResult> {
  const counter = { n: 0 };
  const started = await startRound(deps.sql, customerId);
  if (!started) return { outcome: "gone", requests: 0, conflicts: 0, contactId: null };
  const { round, payloadSettings } = started;
  if (!round.account.ref) return { outcome: "no_account", requests: 0, conflicts: 0, contactId: null };
  if (!round.account.token) {
    throw new RetryLater(`store ${round.customer.store_id}'s Chatwoot account has no API token yet`, 30_000);
  }
  const desired = await desiredContact(round.customer, payloadSettings);
  if (round.link && round.link.sent_hash === desired.hash) {
    return { outcome: "unchanged", requests: 0, conflicts: 0, contactId: round.link.contact_id };
  }

  const client = countingClient(deps, round.account.url, round.account.token, counter);
  const conflicts: Conflict[] = [];
  const omitted: Record<string, string> = { ...desired.omitted };
  try {
    let outcome: SyncOutcome;
    let contactId: number;
    let state: ContactState;
    let linkedBy: string;

    // What goes out: the desired payload minus values another contact owns (kept from an
    // earlier round under the 'link' policy, until the customer's values change).
    const payload: ContactPayload = structuredClone(desired.payload);

    await ensureAttributes(deps.sql, client, round);
    if (round.link) {
      const r = await updateLinked(deps, client, round, payload, conflicts, omitted);
      if (r) {
        ({ contactId, state } = r);
        outcome = r.sent ? "updated" : "unchanged";
        linkedBy = "keep";
      } else {
        // The linked contact is gone from Chatwoot (deleted by an agent): find or create anew.
        await deps.sql`delete from public.customer_contact_links where customer_id = ${customerId}`;
        round.link = null;
        ({ contactId, state, outcome, linkedBy } = await findOrCreate(
          deps,
          client,
          round,
          payload,
          conflicts,
          omitted,
        ));
      }
    } else {
      ({ contactId, state, outcome, linkedBy } = await findOrCreate(deps, client, round, payload, conflicts, omitted));
    }

    await deps.sql.begin(async (tx) => {
      await tx`
        insert into public.customer_contact_links as l
          (customer_id, store_id, account_ref, contact_id, linked_by, snapshot, sending, sent_hash, omitted,
           rounds, requests, last_round_requests, synced_at)
        values (${customerId}, ${round.customer.store_id}, ${round.account.ref}, ${contactId},
                ${linkedBy === "keep" ? "identifier" : linkedBy}, ${tx.json(snapshotOf(state) as never)}, null,
                ${desired.hash}, ${tx.json(omitted)}, 1, ${counter.n}, ${counter.n}, now())
        on conflict (customer_id) do update set
          account_ref = excluded.account_ref, contact_id = excluded.contact_id,
          linked_by = case when ${linkedBy === "keep"} then l.linked_by else excluded.linked_by end,
          snapshot = excluded.snapshot, sending = null, sent_hash = excluded.sent_hash, omitted = excluded.omitted,
          rounds = l.rounds + 1, requests = l.requests + excluded.requests,
          last_round_requests = excluded.last_round_requests, synced_at = now()`;
      for (const c of conflicts) {
        await tx`insert into public.contact_sync_conflicts
                   (store_id, customer_id, account_ref, field, contact_id, other_contact_id, resolution, detail)
                 select ${round.customer.store_id}, ${customerId}, ${round.account.ref}, ${c.field}, ${c.contactId},
                        ${c.otherContactId}, ${c.resolution}, ${c.detail}
                 where not exists (select 1 from public.contact_sync_conflicts x
                                   where x.customer_id = ${customerId} and x.field = ${c.field}
                                     and x.other_contact_id is not distinct from ${c.otherContactId}
                                     and x.resolution = ${c.resolution})`;
      }
    });
    return { outcome, requests: counter.n, conflicts: conflicts.length, contactId };
  } catch (err) {
    await deps.sql`update public.customer_contact_links set sending = null where customer_id = ${customerId}`;
    if (err instanceof ChatwootError && err.kind === "rate_limited") {
      throw new RetryLater(err.message, err.retryAfterMs ?? 5_000);
    }
    if (err instanceof ChatwootError && !err.transient) throw new PermanentFailure(err.message);
    throw err;
  } finally {
    client.close();
  }
}

function snapshotOf(s: ContactState): ContactState {
  return {
    name: s.name ?? null,
    email: s.email ?? null,
    phone_number: s.phone_number ?? null,
    identifier: s.identifier ?? null,
    custom_attributes: s.custom_attributes ?? {},
  };
}

/** Marks the fields of a write in flight, so the webhook echo of our own write is not taken
 * for an agent's edit (the back-sync trigger compares against both). */
async function markSending(sql: Sql, customerId: string, body: Partial<ContactPayload>): Promise<void> {
  const sending = Object.fromEntries(
    (["name", "email", "phone_number"] as const).filter((k) => k in body).map((k) => [k, body[k] ?? null]),
  );
  if (!Object.keys(sending).length) return;
  await sql`update public.customer_contact_links set sending = ${sql.json(sending)} where customer_id = ${customerId}`;
}

/** PATCHes the linked contact with what differs; resolves a 422 per policy and retries once per
 * field. Null when the contact no longer exists. */
async function updateLinked(
  deps: ContactSyncDeps,
  client: ChatwootClient,
  round: Round,
  payload: ContactPayload,
  conflicts: Conflict[],
  omitted: Record<string, string>,
): Promise<{ contactId: number; state: ContactState; sent: boolean } | null> {
  const link = round.link!;
  // Fields an earlier round found owned by another contact stay out while their value is unchanged.
  for (const [field, reason] of Object.entries(link.omitted)) {
    if (reason.startsWith("owned by contact") && field in payload) leaveOut(payload, omitted, field, reason);
  }
  const state = link.snapshot;
  for (let attempt = 0; attempt < 4; attempt++) {
    const diff = contactDiff(state, payload);
    if (!diff) return { contactId: link.contact_id, state, sent: attempt > 0 };
    await markSending(deps.sql, round.customer.id, diff);
    try {
      const contact = await updateContact(client, round.account.accountId, link.contact_id, diff);
      return { contactId: link.contact_id, state: contactState(contact), sent: true };
    } catch (err) {
      if (err instanceof ChatwootError && err.status === 404) return null;
      if (!(err instanceof ChatwootError && err.status === 422)) throw err;
      const fields = conflictFields(err, diff);
      if (!fields.length) throw new PermanentFailure(`Chatwoot refused the contact update: ${err.message}`);
      // Refused values are now out of the payload (or merged away): the next diff goes again.
      await resolveConflicts(deps, client, round, link.contact_id, payload, fields, conflicts, omitted);
    }
  }
  throw new RetryLater("the contact kept conflicting with others; trying again later", 60_000);
}

/** Which of our values Chatwoot refused (422 attributes, or its message when it names none). */
function conflictFields(err: ChatwootError, body: Partial<ContactPayload>): LookupKey[] {
  const named = err.attributes.filter((a): a is LookupKey =>
    a === "email" || a === "phone_number" || a === "identifier"
  );
  if (named.length) return named.filter((f) => f in body);
  return (["email", "phone_number", "identifier"] as const).filter((f) =>
    f in body && err.message.toLowerCase().includes(f.replace("_", " "))
  );
}

/** Leaves a value out of what is sent, with the reason the admin sees. */
function leaveOut(payload: ContactPayload, omitted: Record<string, string>, field: string, reason: string): void {
  omitted[field] = reason;
  delete (payload as unknown as Record<string, unknown>)[field];
}

/** Another contact owns this value: it stays there and out of ours, recorded as a conflict. */
function ownedElsewhere(
  payload: ContactPayload,
  omitted: Record<string, string>,
  conflicts: Conflict[],
  c: { field: LookupKey; ourId: number | null; ownerId: number; why: string },
): void {
  leaveOut(payload, omitted, c.field, `owned by contact ${c.ownerId}`);
  conflicts.push({
    field: c.field,
    contactId: c.ourId,
    otherContactId: c.ownerId,
    resolution: "omitted",
    detail: `contact ${c.ownerId} holds this ${c.field}${c.why}; left out` + (c.ourId ? ` of contact ${c.ourId}` : ""),
  });
}

/** Store policy 'merge': the owner of the value is merged into our contact, recorded as a conflict. */
async function mergeOwnerInto(
  client: ChatwootClient,
  round: Round,
  conflicts: Conflict[],
  c: { field: LookupKey; ourId: number; ownerId: number },
): Promise<void> {
  await mergeContacts(client, round.account.accountId, c.ourId, c.ownerId);
  conflicts.push({
    field: c.field,
    contactId: c.ourId,
    otherContactId: c.ownerId,
    resolution: "merged",
    detail: `contact ${c.ownerId} held this ${c.field} and was merged into contact ${c.ourId}`,
  });
}

/** For each refused field: find the contact that owns the value, then merge it into ours
 * ('merge') or leave the value out of ours ('link'); an invalid value is left out either way. */
async function resolveConflicts(
  deps: ContactSyncDeps,
  client: ChatwootClient,
  round: Round,
  ourId: number,
  payload: ContactPayload,
  fields: LookupKey[],
  conflicts: Conflict[],
  omitted: Record<string, string>,
): Promise<void> {
  const by = Object.fromEntries(fields.map((f) => [f, payload[f]])) as Partial<Record<LookupKey, string>>;
  const owners = (await findContacts(client, round.account.accountId, by)).filter((c) => c.id !== ourId);
  const taken = await linkedElsewhere(deps.sql, round.account.ref, round.customer.id, owners.map((o) => o.id));
  for (const field of fields) {
    const owner = owners.find((o) => owns(o, field, payload[field]));
    if (!owner) {
      // Nobody owns it: Chatwoot refused the value itself.
      leaveOut(payload, omitted, field, "refused by Chatwoot");
    } else if (round.settings.conflictPolicy === "merge" && !taken.has(owner.id) && field !== "identifier") {
      await mergeOwnerInto(client, round, conflicts, { field, ourId, ownerId: owner.id });
    } else {
      const why = taken.has(owner.id) ? " and belongs to another customer" : " (store policy: link)";
      ownedElsewhere(payload, omitted, conflicts, { field, ourId, ownerId: owner.id, why });
    }
  }
}

/** No link yet: one filter request finds candidates by identifier, e-mail and phone (in that
 * order of trust); the best one is linked and updated, or a new contact is created. */
async function findOrCreate(
  deps: ContactSyncDeps,
  client: ChatwootClient,
  round: Round,
  payload: ContactPayload,
  conflicts: Conflict[],
  omitted: Record<string, string>,
): Promise<{ contactId: number; state: ContactState; outcome: SyncOutcome; linkedBy: string }> {
  const accountId = round.account.accountId;
  let candidates = await findContacts(client, accountId, lookupValues(payload));
  for (let attempt = 0; attempt < 3; attempt++) {
    const taken = await linkedElsewhere(deps.sql, round.account.ref, round.customer.id, candidates.map((c) => c.id));
    // A candidate found by e-mail or phone that carries another identifier, or is linked to
    // another customer, is someone else's: its values are conflicts, not a match.
    const foreign = (c: ChatwootContact) =>
      taken.has(c.id) ||
      (typeof c.identifier === "string" && c.identifier !== "" && c.identifier !== payload.identifier);
    let chosen: ChatwootContact | undefined;
    let linkedBy: LookupKey | undefined;
    for (const key of ["identifier", "email", "phone_number"] as const) {
      const hit = candidates.find((c) => owns(c, key, payload[key]) && (key === "identifier" || !foreign(c)));
      if (hit) {
        chosen = hit;
        linkedBy = key;
        break;
      }
    }
    // Values owned by contacts other than the chosen one.
    for (const key of ["email", "phone_number"] as const) {
      const owner = candidates.find((c) => c.id !== chosen?.id && owns(c, key, payload[key]));
      if (!owner) continue;
      if (chosen && round.settings.conflictPolicy === "merge" && !taken.has(owner.id) && !foreign(owner)) {
        await mergeOwnerInto(client, round, conflicts, { field: key, ourId: chosen.id, ownerId: owner.id });
      } else {
        const why = foreign(owner) ? " and belongs to someone else" : " (store policy: link)";
        ownedElsewhere(payload, omitted, conflicts, { field: key, ourId: chosen?.id ?? null, ownerId: owner.id, why });
      }
    }

    if (chosen) {
      const current = contactState(chosen);
      const diff = contactDiff(current, payload);
      let state = current;
      if (diff) {
        try {
          state = contactState(await updateContact(client, accountId, chosen.id, diff));
        } catch (err) {
          if (!(err instanceof ChatwootError && err.status === 422)) throw err;
          const fields = conflictFields(err, diff);
          if (!fields.length) throw new PermanentFailure(`Chatwoot refused the contact update: ${err.message}`);
          await resolveConflicts(deps, client, round, chosen.id, payload, fields, conflicts, omitted);
          const retry = contactDiff(current, payload);
          if (retry) state = contactState(await updateContact(client, accountId, chosen.id, retry));
        }
      }
      return { contactId: chosen.id, state, outcome: "linked", linkedBy: linkedBy! };
    }

    try {
      const contact = await createContact(client, accountId, { ...payload });
      return { contactId: contact.id, state: contactState(contact), outcome: "created", linkedBy: "created" };
    } catch (err) {
      // Created meanwhile by someone else (a widget visit, another round): look again by the
      // values Chatwoot says are taken, then decide as above.
      if (!(err instanceof ChatwootError && err.status === 422)) throw err;
      const fields = conflictFields(err, payload);
      if (!fields.length) throw new PermanentFailure(`Chatwoot refused the new contact: ${err.message}`);
      const more = await findContacts(
        client,
        accountId,
        Object.fromEntries(fields.map((f) => [f, payload[f]])) as Partial<Record<LookupKey, string>>,
      );
      const known = new Set(candidates.map((c) => c.id));
      const fresh = more.filter((c) => !known.has(c.id));
      if (!fresh.length) {
        for (const f of fields) {
          if (f === "identifier") throw new PermanentFailure(`Chatwoot refused identifier: ${err.message}`);
          leaveOut(payload, omitted, f, "refused by Chatwoot");
        }
      }
      candidates = [...candidates, ...fresh];
    }
  }
  throw new RetryLater("could not settle the contact's conflicts in this round", 60_000);
}

// ── erasure ──────────────────────────────────────────────────────────────────────────────────

export interface ErasurePayload {
  customer_id: string;
  store_id: string;
  account_ref: string | null;
  contact_id: number | null;
  external_id: string;
  user_id: string | null;
}

/** Deletes the customer's Chatwoot contact (retrying while Chatwoot says it is online), its
 * mirror rows, and, for a platform user, their WhatsApp archive. The audit entry records what
 * was erased (ids and counts), never the data. */
export async function eraseCustomer(deps: ContactSyncDeps, p: ErasurePayload): Promise<Record<string, unknown>> {
  const detail: Record<string, unknown> = { store_id: p.store_id };
  if (p.account_ref) {
    const [account] = await deps.sql`
      select a.chatwoot_url, a.account_id, s.api_token from public.chatwoot_accounts a
      join private.chatwoot_account_secrets s on s.account_ref = a.id where a.id = ${p.account_ref}`;
    if (account?.api_token) {
      const counter = { n: 0 };
      const client = countingClient(deps, account.chatwoot_url, account.api_token, counter);
      try {
        let contactId = p.contact_id;
        if (contactId === null) {
          // Never linked (or the link was lost mid-round): the identifier still finds it.
          const identifier = contactIdentifier({ user_id: p.user_id, external_id: p.external_id });
          const found = await findContacts(client, account.account_id, { identifier });
          contactId = found.find((c) => c.identifier === identifier)?.id ?? null;
        }
        if (contactId !== null) {
          try {
            await deleteContact(client, account.account_id, contactId);
            detail.chatwoot_contact_deleted = contactId;
          } catch (err) {
            if (err instanceof ChatwootError && err.status === 404) detail.chatwoot_contact_already_gone = contactId;
            else if (err instanceof ChatwootError && err.status === 422) {
              throw new RetryLater(
                `Chatwoot will not delete contact ${contactId} yet: ${err.message}`,
                deps.onlineRetryMs ?? 15_000,
              );
            } else throw err;
          }
          const [mirror] = await deps
            .sql`select private.erase_chatwoot_contact_mirror(${p.account_ref}, ${contactId}) as n`;
          detail.mirror = mirror.n;
        }
      } finally {
        client.close();
      }
    } else if (account) {
      throw new RetryLater("the store's Chatwoot account has no API token yet", 60_000);
    }
  }
  if (p.user_id) {
    if (!deps.eraseArchive) throw new RetryLater("this worker cannot reach the archive to erase it", 60_000);
    detail.archive = await deps.eraseArchive(p.user_id, `contact-sync:erase:${p.customer_id}`);
  }
  await deps.sql`insert into private.audit_log (actor, action, target, detail)
                 values ('contact-sync', 'customer.erase', ${`customer:${p.customer_id}`}, ${
    deps.sql.json(detail as never)
  })`;
  return detail;
}

// ── job handlers ─────────────────────────────────────────────────────────────────────────────

export function contactSyncJobHandlers(deps: ContactSyncDeps): Record<string, JobHandler> {
  return {
    "chatwoot.contact_sync": async (job: Job, ctx) => {
      const customerId = job.payload.customer_id;
      if (typeof customerId !== "string") throw new PermanentFailure("chatwoot.contact_sync needs customer_id");
      const r = await syncCustomer(deps, customerId);
      ctx.log.debug("contact synced", { customer_id: customerId, ...r });
    },
    "chatwoot.contact_erase": async (job: Job, ctx) => {
      const p = job.payload as unknown as ErasurePayload;
      if (typeof p.customer_id !== "string" || typeof p.store_id !== "string") {
        throw new PermanentFailure("chatwoot.contact_erase needs customer_id and store_id");
      }
      const detail = await eraseCustomer(deps, {
        ...p,
        account_ref: p.account_ref ?? null,
        contact_id: p.contact_id ?? null,
        user_id: p.user_id ?? null,
      });
      ctx.log.info("customer erased", { customer_id: p.customer_id, ...detail });
    },
    "chatwoot.contact_backfill": async (job: Job, ctx) => {
      const storeId = job.payload.store_id;
      if (typeof storeId !== "string") throw new PermanentFailure("chatwoot.contact_backfill needs store_id");
      const [row] = await deps.sql`select private.enqueue_store_contact_sync(${storeId}) as n`;
      ctx.log.info("store customers queued for contact sync", { store_id: storeId, customers: row.n });
    },
  };
}

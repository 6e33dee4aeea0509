// Customer → Chatwoot contact sync: one round brings a customer's contact to what the platform
// holds (link by contact id, else find by identifier, e-mail, phone, else create), resolves
// Chatwoot's uniqueness conflicts per store policy, and records what was sent. Also erasure.
// Runs as jobs (chatwoot.contact_sync, chatwoot.contact_erase, chatwoot.contact_backfill) and
// from `switchboard contacts sync`.

import { z } from "zod";
import type { Sql } from "../platform/db.ts";
import type { Fetched, PrivateRow, Row } from "../platform/rows.ts";
import { jobKind, type JobRegistry, PermanentFailure, RetryLater } from "../jobs/queue.ts";
import { ChatwootClient, ChatwootError } from "../chatwoot/client.ts";
import { recordApiClosed } from "../chatwoot/accounts.ts";
import { chatwootJobError } from "../chatwoot/job_errors.ts";
import { recordContactMerge, resolveMergedContact } from "../chatwoot/merges.ts";
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
  type DesiredContact,
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
  /** Starts (or finds) the erasure of a user's WhatsApp archive; returns its id. */
  eraseArchive?: (userId: string, actor: string) => Promise<string>;
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

/** The customer's link as the last round left it: the contact and what was sent to it. */
interface Link {
  contact_id: number;
  snapshot: ContactState;
  sent_hash: string | null;
  omitted: Record<string, string>;
}

/** The customer as the round's statement returns it (its sync bookkeeping aside). */
type RoundCustomer = Fetched<
  Omit<Row<"customers">, "contact_sync_epoch" | "updated_at">,
  "last_order_at" | "created_at",
  "lifetime_value"
>;

/** A store's Chatwoot account and its API token (none until the account is set up). */
type ChatwootAccountRow =
  & { account_ref: Row<"chatwoot_accounts">["id"] }
  & Pick<Row<"chatwoot_accounts">, "chatwoot_url" | "account_id" | "api_closed_reason">
  & Pick<PrivateRow<"chatwoot_account_secrets">, "api_token">;

interface Account {
  ref: string;
  url: string;
  accountId: number;
}

/** The row startRound reads: the customer (bumped) joined with its store's settings, Chatwoot
 * account, link and attribute definitions, each of which may be missing. */
type RoundRow =
  & RoundCustomer
  & Pick<Row<"customer_settings">, "currency" | "default_phone_country">
  & Pick<Row<"contact_sync_settings">, "platform_url_template">
  // contact_sync_settings' check constraint allows exactly these.
  & { conflict_policy: "link" | "merge" }
  & (
    | { account_ref: null; chatwoot_url: null; account_id: null; api_closed_reason: null; api_token: null }
    | ChatwootAccountRow
  )
  // jsonb this module writes (snapshotOf, the omitted reasons): it holds these shapes.
  & { link_contact_id: number | null; link_snapshot: ContactState; link_sent_hash: string | null }
  & { link_omitted: Record<string, string>; attributes_ready: boolean | null };

/** What a round knows when it starts: one statement's worth (startRound). */
interface RoundStart {
  customer: RoundCustomer;
  /** Null when the store has no Chatwoot account; token null until it has an API token; closed when Chatwoot
   * refuses its API (Cloud free plan). */
  account: (Account & { token: string | null; closed: string | null }) | null;
  conflictPolicy: "link" | "merge";
  link: Link | null;
  attributesReady: boolean;
  payloadSettings: PayloadSettings;
}

/** Bumps the customer's sync epoch under its row lock (so any later change enqueues a new round)
 * and reads everything one round needs in the same statement. */
async function startRound(sql: Sql, customerId: string): Promise<RoundStart | null> {
  const [row] = await sql<RoundRow[]>`
    with bumped as (
      update public.customers set contact_sync_epoch = contact_sync_epoch + 1 where id = ${customerId}
      returning id, store_id, external_id, user_id, name, email, phone, order_count, lifetime_value,
                last_order_at, tier, created_at)
    select b.*, coalesce(cs.currency, 'USD') as currency, cs.default_phone_country,
           ss.platform_url_template, coalesce(ss.conflict_policy, 'link') as conflict_policy,
           a.id as account_ref, a.chatwoot_url, a.account_id, a.api_closed_reason, sec.api_token,
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
  return {
    customer: row,
    account: row.account_ref === null ? null : {
      ref: row.account_ref,
      url: row.chatwoot_url,
      accountId: row.account_id,
      token: row.api_token,
      closed: row.api_closed_reason,
    },
    conflictPolicy: row.conflict_policy,
    link: row.link_contact_id === null ? null : {
      contact_id: row.link_contact_id,
      snapshot: row.link_snapshot,
      sent_hash: row.link_sent_hash,
      omitted: row.link_omitted,
    },
    attributesReady: row.attributes_ready === true,
    payloadSettings: {
      currency: row.currency,
      defaultPhoneCountry: row.default_phone_country ?? null,
      platformUrlTemplate: row.platform_url_template ?? null,
    },
  };
}

/** A client that reports each request (each attempt) to `deps.onRequest` and to `count`. */
function chatwootClient(deps: ContactSyncDeps, baseUrl: string, token: string, count?: () => void): ChatwootClient {
  return new ChatwootClient({
    baseUrl,
    token,
    limiter: deps.limiter,
    fetch: deps.fetch,
    onAttempt: (info) => {
      count?.();
      deps.onRequest?.(info);
    },
  });
}

// Rounds in flight in this process share one attribute check per account. A backfill starts
// several rounds at once, and two creating the same definition race past Chatwoot's uniqueness
// validation into its unique index (attribute_key_model_index in Chatwoot's db/schema.rb): the
// loser gets a 500 (RecordNotUnique is not rescued) and its round fails. A settled check stays, so
// rounds that read attributes_ready before the first one recorded it skip the list request too.
const attributeChecks = new Map<string, Promise<void>>();

const LOOKUP_ORDER = ["identifier", "email", "phone_number"] as const;

function owns(c: ChatwootContact, key: LookupKey, value: string | undefined): boolean {
  if (!value) return false;
  const have = c[key];
  if (typeof have !== "string") return false;
  return key === "email" ? have.toLowerCase() === value.toLowerCase() : have === value;
}

/** Which of our values Chatwoot refused (422 attributes, or its message when it names none). */
function conflictFields(err: ChatwootError, body: Partial<ContactPayload>): LookupKey[] {
  const named = err.attributes.filter((a): a is LookupKey =>
    a === "email" || a === "phone_number" || a === "identifier"
  );
  if (named.length) return named.filter((f) => f in body);
  return LOOKUP_ORDER.filter((f) => f in body && err.message.toLowerCase().includes(f.replace("_", " ")));
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

/** The contact a round reached, and how. */
interface Reached {
  contactId: number;
  state: ContactState;
  outcome: SyncOutcome;
  /** How the link was made (a lookup key or "created"), or "keep" for the existing link. */
  linkedBy: LookupKey | "created" | "keep";
}

/** One customer's round against Chatwoot. It owns what the round accumulates on the way: the
 * payload that goes out (the desired one minus values another contact owns or Chatwoot refuses),
 * why each value was left out, the conflicts met, and the requests made. */
class SyncRound {
  readonly payload: ContactPayload;
  readonly omitted: Record<string, string>;
  readonly conflicts: Conflict[] = [];
  requests = 0;
  private readonly client: ChatwootClient;

  constructor(
    private readonly deps: ContactSyncDeps,
    private readonly start: RoundStart,
    private readonly account: Account & { token: string },
    private readonly desired: DesiredContact,
  ) {
    this.payload = structuredClone(desired.payload);
    this.omitted = { ...desired.omitted };
    this.client = chatwootClient(deps, account.url, account.token, () => this.requests++);
  }

  async run(): Promise<SyncResult> {
    const customerId = this.start.customer.id;
    try {
      await this.ensureAttributes();
      const reached = await this.reach();
      await this.record(reached);
      return {
        outcome: reached.outcome,
        requests: this.requests,
        conflicts: this.conflicts.length,
        contactId: reached.contactId,
      };
    } catch (err) {
      await this.deps.sql`update public.customer_contact_links set sending = null where customer_id = ${customerId}`;
      if (err instanceof ChatwootError && err.kind === "api_closed") {
        await recordApiClosed(this.deps.sql, this.account.ref, err.message);
      }
      throw chatwootJobError(err);
    } finally {
      this.client.close();
    }
  }

  /** Creates the contact custom attribute definitions the account lacks; once per account. */
  private async ensureAttributes(): Promise<void> {
    if (this.start.attributesReady) return;
    const ref = this.account.ref;
    let check = attributeChecks.get(ref);
    if (!check) {
      check = this.createMissingAttributes();
      attributeChecks.set(ref, check);
      // A failed check is not kept: the next round tries again.
      check.catch(() => attributeChecks.delete(ref));
    }
    await check;
  }

  private async createMissingAttributes(): Promise<void> {
    const existing = new Set(await listContactAttributeKeys(this.client, this.account.accountId));
    for (const def of CONTACT_ATTRIBUTES) {
      if (existing.has(def.key)) continue;
      try {
        await createContactAttribute(this.client, this.account.accountId, def);
      } catch (err) {
        // Another worker created it first: the key is taken, which is what we wanted.
        if (!(err instanceof ChatwootError && err.status === 422)) throw err;
      }
      existing.add(def.key);
    }
    await this.deps.sql`
      insert into private.chatwoot_contact_attributes (account_ref, attribute_keys)
      values (${this.account.ref}, ${[...existing]})
      on conflict (account_ref) do update set attribute_keys = excluded.attribute_keys, ensured_at = now()`;
  }

  /** The linked contact, brought up to date; else (no link, or its contact was deleted in
   * Chatwoot by an agent) one found or created anew. */
  private async reach(): Promise<Reached> {
    const link = this.start.link;
    if (link) {
      const updated = await this.updateLinked(link);
      if (updated) {
        const outcome = updated.sent ? "updated" : "unchanged";
        return { contactId: link.contact_id, state: updated.state, outcome, linkedBy: "keep" };
      }
      // Gone from Chatwoot. Merged (an agent merged it, and no webhook said so)? Then the mirror and the link
      // follow it to the base, and the round brings the base up to date.
      const merged = await this.followMerge(link.contact_id);
      if (merged) {
        const moved: Link = { ...link, contact_id: merged, snapshot: snapshotOf({}), omitted: {} };
        const again = await this.updateLinked(moved);
        if (again) return { contactId: merged, state: again.state, outcome: "updated", linkedBy: "keep" };
      }
      await this.deps.sql`delete from public.customer_contact_links where customer_id = ${this.start.customer.id}`;
    }
    return await this.findOrCreate();
  }

  /** The contact `missing` was merged into (by the mirror's record, its conversations or our identifier), with
   * the merge recorded; null when it was deleted. */
  private async followMerge(missing: number): Promise<number | null> {
    const [known] = await this.deps.sql<{ merged_into: number | null }[]>`
      select merged_into from public.chatwoot_contacts where account_ref = ${this.account.ref} and contact_id = ${missing}`;
    const account = { ref: this.account.ref, accountId: this.account.accountId };
    const base = known?.merged_into ?? (await resolveMergedContact(this.deps.sql, this.client, account, missing))?.base;
    if (base === undefined || base === null) return null;
    const r = await recordContactMerge(this.deps.sql, this.account.ref, missing, base, "found by the contact sync");
    return r.links_blocked > 0 ? null : base;
  }

  /** PATCHes the linked contact with what differs; resolves a 422 per policy and retries once per
   * field. Null when the contact no longer exists. */
  private async updateLinked(link: Link): Promise<{ state: ContactState; sent: boolean } | null> {
    // Fields an earlier round found owned by another contact stay out while their value is unchanged.
    for (const [field, reason] of Object.entries(link.omitted)) {
      if (reason.startsWith("owned by contact") && field in this.payload) this.leaveOut(field, reason);
    }
    const state = link.snapshot;
    for (let attempt = 0; attempt < 4; attempt++) {
      const diff = contactDiff(state, this.payload);
      if (!diff) return { state, sent: attempt > 0 };
      await this.markSending(diff);
      try {
        const contact = await updateContact(this.client, this.account.accountId, link.contact_id, diff);
        return { state: contactState(contact), sent: true };
      } catch (err) {
        if (err instanceof ChatwootError && err.status === 404) return null;
        if (!(err instanceof ChatwootError && err.status === 422)) throw err;
        const fields = conflictFields(err, diff);
        if (!fields.length) throw new PermanentFailure(`Chatwoot refused the contact update: ${err.message}`);
        // Refused values are now out of the payload (or merged away): the next diff goes again.
        await this.resolveConflicts(link.contact_id, fields);
      }
    }
    throw new RetryLater("the contact kept conflicting with others; trying again later", 60_000);
  }

  /** No link yet: one filter request finds candidates by identifier, e-mail and phone (in that
   * order of trust); the best one is linked and updated, or a new contact is created. */
  private async findOrCreate(): Promise<Reached> {
    let candidates = await findContacts(this.client, this.account.accountId, this.valuesOf(LOOKUP_ORDER));
    for (let attempt = 0; attempt < 3; attempt++) {
      const taken = await this.linkedElsewhere(candidates.map((c) => c.id));
      // A candidate found by e-mail or phone that carries another identifier, or is linked to
      // another customer, is someone else's: its values are conflicts, not a match.
      const foreign = (c: ChatwootContact) =>
        taken.has(c.id) ||
        (typeof c.identifier === "string" && c.identifier !== "" && c.identifier !== this.payload.identifier);
      const match = this.bestMatch(candidates, foreign);
      await this.settleValuesOwnedByOthers(candidates, match?.contact, taken, foreign);
      if (match) return await this.linkTo(match.contact, match.by);
      const created = await this.createOrLookAgain(candidates);
      if (!Array.isArray(created)) return created;
      candidates = created;
    }
    throw new RetryLater("could not settle the contact's conflicts in this round", 60_000);
  }

  /** The first candidate owning our identifier, else (not someone else's) our e-mail, else phone. */
  private bestMatch(candidates: ChatwootContact[], foreign: (c: ChatwootContact) => boolean) {
    for (const key of LOOKUP_ORDER) {
      const hit = candidates.find((c) => owns(c, key, this.payload[key]) && (key === "identifier" || !foreign(c)));
      if (hit) return { contact: hit, by: key };
    }
    return null;
  }

  /** E-mail and phone held by candidates other than the chosen one: merged into ours (policy
   * 'merge', when it is nobody else's), else left out of ours. */
  private async settleValuesOwnedByOthers(
    candidates: ChatwootContact[],
    chosen: ChatwootContact | undefined,
    taken: Set<number>,
    foreign: (c: ChatwootContact) => boolean,
  ): Promise<void> {
    for (const key of ["email", "phone_number"] as const) {
      const owner = candidates.find((c) => c.id !== chosen?.id && owns(c, key, this.payload[key]));
      if (!owner) continue;
      if (chosen && this.start.conflictPolicy === "merge" && !taken.has(owner.id) && !foreign(owner)) {
        await this.mergeOwnerInto({ field: key, ourId: chosen.id, ownerId: owner.id });
      } else {
        const why = foreign(owner) ? " and belongs to someone else" : " (store policy: link)";
        this.ownedElsewhere({ field: key, ourId: chosen?.id ?? null, ownerId: owner.id, why });
      }
    }
  }

  /** Links the chosen contact and sends what differs; a refused value is resolved per policy and
   * the rest sent again. */
  private async linkTo(chosen: ChatwootContact, linkedBy: LookupKey): Promise<Reached> {
    const current = contactState(chosen);
    const diff = contactDiff(current, this.payload);
    let state = current;
    if (diff) {
      try {
        state = contactState(await updateContact(this.client, this.account.accountId, chosen.id, diff));
      } catch (err) {
        if (!(err instanceof ChatwootError && err.status === 422)) throw err;
        const fields = conflictFields(err, diff);
        if (!fields.length) throw new PermanentFailure(`Chatwoot refused the contact update: ${err.message}`);
        await this.resolveConflicts(chosen.id, fields);
        const retry = contactDiff(current, this.payload);
        if (retry) state = contactState(await updateContact(this.client, this.account.accountId, chosen.id, retry));
      }
    }
    return { contactId: chosen.id, state, outcome: "linked", linkedBy };
  }

  /** Creates the contact. When Chatwoot says a value is taken (created meanwhile by a widget
   * visit, another round), the contacts holding it join the candidates for another look; values
   * nobody holds are refused ones and stay out. */
  private async createOrLookAgain(candidates: ChatwootContact[]): Promise<Reached | ChatwootContact[]> {
    try {
      const contact = await createContact(this.client, this.account.accountId, { ...this.payload });
      return { contactId: contact.id, state: contactState(contact), outcome: "created", linkedBy: "created" };
    } catch (err) {
      if (!(err instanceof ChatwootError && err.status === 422)) throw err;
      const fields = conflictFields(err, this.payload);
      if (!fields.length) throw new PermanentFailure(`Chatwoot refused the new contact: ${err.message}`);
      const more = await findContacts(this.client, this.account.accountId, this.valuesOf(fields));
      const known = new Set(candidates.map((c) => c.id));
      const fresh = more.filter((c) => !known.has(c.id));
      if (!fresh.length) {
        for (const f of fields) {
          if (f === "identifier") throw new PermanentFailure(`Chatwoot refused identifier: ${err.message}`);
          this.leaveOut(f, "refused by Chatwoot");
        }
      }
      return [...candidates, ...fresh];
    }
  }

  /** For each refused field: find the contact that owns the value, then merge it into ours
   * ('merge') or leave the value out of ours ('link'); an invalid value is left out either way. */
  private async resolveConflicts(ourId: number, fields: LookupKey[]): Promise<void> {
    const owners = (await findContacts(this.client, this.account.accountId, this.valuesOf(fields)))
      .filter((c) => c.id !== ourId);
    const taken = await this.linkedElsewhere(owners.map((o) => o.id));
    for (const field of fields) {
      const owner = owners.find((o) => owns(o, field, this.payload[field]));
      if (!owner) {
        // Nobody owns it: Chatwoot refused the value itself.
        this.leaveOut(field, "refused by Chatwoot");
      } else if (this.start.conflictPolicy === "merge" && !taken.has(owner.id) && field !== "identifier") {
        await this.mergeOwnerInto({ field, ourId, ownerId: owner.id });
      } else {
        const why = taken.has(owner.id) ? " and belongs to another customer" : " (store policy: link)";
        this.ownedElsewhere({ field, ourId, ownerId: owner.id, why });
      }
    }
  }

  /** Store policy 'merge': the owner of the value is merged into our contact, recorded as a conflict. */
  private async mergeOwnerInto(c: { field: LookupKey; ourId: number; ownerId: number }): Promise<void> {
    await mergeContacts(this.client, this.account.accountId, c.ourId, c.ownerId);
    // Chatwoot deleted the owner and will say nothing of it: the mirror marks it merged now.
    await recordContactMerge(
      this.deps.sql,
      this.account.ref,
      c.ownerId,
      c.ourId,
      `merged by the contact sync (${c.field})`,
    );
    this.conflicts.push({
      field: c.field,
      contactId: c.ourId,
      otherContactId: c.ownerId,
      resolution: "merged",
      detail: `contact ${c.ownerId} held this ${c.field} and was merged into contact ${c.ourId}`,
    });
  }

  /** Another contact owns this value: it stays there and out of ours, recorded as a conflict. */
  private ownedElsewhere(c: { field: LookupKey; ourId: number | null; ownerId: number; why: string }): void {
    this.leaveOut(c.field, `owned by contact ${c.ownerId}`);
    this.conflicts.push({
      field: c.field,
      contactId: c.ourId,
      otherContactId: c.ownerId,
      resolution: "omitted",
      detail: `contact ${c.ownerId} holds this ${c.field}${c.why}; left out` +
        (c.ourId ? ` of contact ${c.ourId}` : ""),
    });
  }

  /** Leaves a value out of what is sent, with the reason the admin sees (the identifier too, when
   * Chatwoot refuses it, though the payload's type says it is always there). */
  private leaveOut(field: string, reason: string): void {
    this.omitted[field] = reason;
    Reflect.deleteProperty(this.payload, field);
  }

  /** Our values for these lookup keys (a filter request's criteria). */
  private valuesOf(fields: readonly LookupKey[]): Partial<Record<LookupKey, string>> {
    const by: Partial<Record<LookupKey, string>> = {};
    for (const f of fields) by[f] = this.payload[f];
    return by;
  }

  /** Contacts already linked to another customer of this account. */
  private async linkedElsewhere(ids: number[]): Promise<Set<number>> {
    if (!ids.length) return new Set();
    const rows = await this.deps.sql<{ contact_id: number }[]>`
      select contact_id from public.customer_contact_links
      where account_ref = ${this.account.ref} and contact_id = any(${ids}) and customer_id <> ${this.start.customer.id}`;
    return new Set(rows.map((r) => r.contact_id));
  }

  /** Marks the fields of a write in flight, so the webhook echo of our own write is not taken
   * for an agent's edit (the back-sync trigger compares against both). */
  private async markSending(body: Partial<ContactPayload>): Promise<void> {
    const sending = Object.fromEntries(
      (["name", "email", "phone_number"] as const).filter((k) => k in body).map((k) => [k, body[k] ?? null]),
    );
    if (!Object.keys(sending).length) return;
    await this.deps.sql`update public.customer_contact_links set sending = ${this.deps.sql.json(sending)}
                        where customer_id = ${this.start.customer.id}`;
  }

  /** Records the round in one transaction: the link with the snapshot the next round diffs
   * against, and each conflict once. */
  private async record(r: Reached): Promise<void> {
    const { customer } = this.start;
    const ref = this.account.ref;
    await this.deps.sql.begin(async (tx) => {
      await tx`
        insert into public.customer_contact_links as l
          (customer_id, store_id, account_ref, contact_id, linked_by, snapshot, sending, sent_hash, omitted,
           rounds, requests, last_round_requests, synced_at)
        values (${customer.id}, ${customer.store_id}, ${ref}, ${r.contactId},
                ${r.linkedBy === "keep" ? "identifier" : r.linkedBy}, ${tx.json(snapshotOf(r.state) as never)}, null,
                ${this.desired.hash}, ${tx.json(this.omitted)}, 1, ${this.requests}, ${this.requests}, now())
        on conflict (customer_id) do update set
          account_ref = excluded.account_ref, contact_id = excluded.contact_id,
          linked_by = case when ${r.linkedBy === "keep"} then l.linked_by else excluded.linked_by end,
          snapshot = excluded.snapshot, sending = null, sent_hash = excluded.sent_hash, omitted = excluded.omitted,
          rounds = l.rounds + 1, requests = l.requests + excluded.requests,
          last_round_requests = excluded.last_round_requests, synced_at = now()`;
      for (const c of this.conflicts) {
        await tx`insert into public.contact_sync_conflicts
                   (store_id, customer_id, account_ref, field, contact_id, other_contact_id, resolution, detail)
                 select ${customer.store_id}, ${customer.id}, ${ref}, ${c.field}, ${c.contactId},
                        ${c.otherContactId}, ${c.resolution}, ${c.detail}
                 where not exists (select 1 from public.contact_sync_conflicts x
                                   where x.customer_id = ${customer.id} and x.field = ${c.field}
                                     and x.other_contact_id is not distinct from ${c.otherContactId}
                                     and x.resolution = ${c.resolution})`;
      }
    });
  }
}

export async function syncCustomer(deps: ContactSyncDeps, customerId: string): Promise<SyncResult> {
  const start = await startRound(deps.sql, customerId);
  if (!start) return { outcome: "gone", requests: 0, conflicts: 0, contactId: null };
  const { account } = start;
  if (!account) return { outcome: "no_account", requests: 0, conflicts: 0, contactId: null };
  const { token } = account;
  if (account.closed) throw new PermanentFailure(account.closed);
  if (!token) throw new RetryLater(`store ${start.customer.store_id}'s Chatwoot account has no API token yet`, 30_000);
  const desired = await desiredContact(start.customer, start.payloadSettings);
  if (start.link && start.link.sent_hash === desired.hash) {
    return { outcome: "unchanged", requests: 0, conflicts: 0, contactId: start.link.contact_id };
  }
  return await new SyncRound(deps, start, { ...account, token }, desired).run();
}

// ── erasure ──────────────────────────────────────────────────────────────────────────────────

const erasurePayload = z.object({
  customer_id: z.guid(),
  store_id: z.guid(),
  account_ref: z.guid().nullable().default(null),
  contact_id: z.number().int().nullable().default(null),
  external_id: z.string(),
  user_id: z.guid().nullable().default(null),
});

/** What the erasure trigger puts in the job: what the customer row held (it is gone by then). */
export type ErasurePayload = z.output<typeof erasurePayload>;

/** Deletes the customer's Chatwoot contact (retrying while Chatwoot says it is online), its
 * mirror rows, and, for a platform user, their WhatsApp archive. The audit entry records what
 * was erased (ids and counts), never the data. */
export async function eraseCustomer(deps: ContactSyncDeps, p: ErasurePayload): Promise<Record<string, unknown>> {
  const detail: Record<string, unknown> = { store_id: p.store_id };
  if (p.account_ref) Object.assign(detail, await eraseContact(deps, p, p.account_ref));
  if (p.user_id) {
    if (!deps.eraseArchive) throw new RetryLater("this worker cannot reach the archive to erase it", 60_000);
    // The archive erases itself in resumable runs (public.archive_erasures, its own audit entry).
    detail.archive_erasure_id = await deps.eraseArchive(p.user_id, `contact-sync:erase:${p.customer_id}`);
  }
  await deps.sql`insert into private.audit_log (actor, action, target, detail)
                 values ('contact-sync', 'customer.erase', ${`customer:${p.customer_id}`}, ${
    deps.sql.json(detail as never)
  })`;
  return detail;
}

/** The Chatwoot side of an erasure: the contact (found by identifier when it was never linked)
 * and its mirror rows; what was erased, for the audit entry. */
async function eraseContact(deps: ContactSyncDeps, p: ErasurePayload, accountRef: string) {
  const detail: Record<string, unknown> = {};
  const [account] = await deps.sql<Omit<ChatwootAccountRow, "account_ref">[]>`
    select a.chatwoot_url, a.account_id, s.api_token from public.chatwoot_accounts a
    join private.chatwoot_account_secrets s on s.account_ref = a.id where a.id = ${accountRef}`;
  if (!account) return detail;
  if (!account.api_token) throw new RetryLater("the store's Chatwoot account has no API token yet", 60_000);
  const client = chatwootClient(deps, account.chatwoot_url, account.api_token);
  try {
    let contactId = p.contact_id;
    if (contactId === null) {
      // Never linked (or the link was lost mid-round): the identifier still finds it.
      const identifier = contactIdentifier({ user_id: p.user_id, external_id: p.external_id });
      const found = await findContacts(client, account.account_id, { identifier });
      contactId = found.find((c) => c.identifier === identifier)?.id ?? null;
    }
    if (contactId === null) return detail;
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
    const [mirror] = await deps.sql`select private.erase_chatwoot_contact_mirror(${accountRef}, ${contactId}) as n`;
    detail.mirror = mirror.n;
    return detail;
  } finally {
    client.close();
  }
}

// ── job handlers ─────────────────────────────────────────────────────────────────────────────

/** The contact sync's job kinds and their payloads, for the job registry (_shared/jobs/registry.ts). */
export function contactSyncJobHandlers(deps: ContactSyncDeps): JobRegistry {
  return {
    "chatwoot.contact_sync": jobKind(z.object({ customer_id: z.guid() }), async ({ payload }, ctx) => {
      const r = await syncCustomer(deps, payload.customer_id);
      ctx.log.debug("contact synced", { customer_id: payload.customer_id, ...r });
    }),
    "chatwoot.contact_erase": jobKind(erasurePayload, async ({ payload }, ctx) => {
      const detail = await eraseCustomer(deps, payload);
      ctx.log.info("customer erased", { customer_id: payload.customer_id, ...detail });
    }),
    "chatwoot.contact_backfill": jobKind(z.object({ store_id: z.guid() }), async ({ payload }, ctx) => {
      const [row] = await deps.sql`select private.enqueue_store_contact_sync(${payload.store_id}) as n`;
      ctx.log.info("store customers queued for contact sync", { store_id: payload.store_id, customers: row.n });
    }),
  };
}

// The review queue: WhatsApp numbers that match no platform user, filtered by store, age, media
// and a search, paged by the API's keyset cursor; a row opens the contact, checkboxes select
// contacts to ignore or map in bulk.

import { useEffect, useMemo, useState } from "react";
import { useApi, useMe } from "../auth/session.tsx";
import type { BulkResult, UnmappedContact, UnmappedFilters } from "../api/types.ts";
import { ConfirmDialog } from "../components/Dialog.tsx";
import { EmptyState, ErrorAlert, Loading, Notice } from "../components/feedback.tsx";
import { type PickedUser, UserPicker } from "../components/UserPicker.tsx";
import { formatAge, formatCount, formatDateTime } from "../format.ts";
import { useLoader } from "../hooks/useLoader.ts";
import { usePagedList } from "../hooks/usePagedList.ts";
import { href, navigate } from "../router.ts";

const AGES = [
  { value: "", label: "Any age" },
  { value: "1", label: "Waiting 1+ day" },
  { value: "7", label: "Waiting 7+ days" },
  { value: "30", label: "Waiting 30+ days" },
];

const contactKey = (c: { store_id: string; phone_e164: string }) => `${c.store_id}|${c.phone_e164}`;

function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return debounced;
}

export function UnmappedPage() {
  const api = useApi();
  const me = useMe();
  const [storeId, setStoreId] = useState("");
  const [age, setAge] = useState("");
  const [media, setMedia] = useState<"" | "true" | "false">("");
  const [search, setSearch] = useState("");
  const q = useDebounced(search.trim(), 300);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [dialog, setDialog] = useState<null | "ignore" | "map">(null);
  const [outcome, setOutcome] = useState<{ done: string; failed: BulkResult[] } | null>(null);

  const [stores] = useLoader(() => api.stores(), [api]);
  const storeOptions = stores.status === "ready" ? stores.data : me.stores;

  const filters: UnmappedFilters = useMemo(
    () => ({
      store_id: storeId || undefined,
      q: q || undefined,
      has_media: media || undefined,
      min_age_days: age ? Number(age) : undefined,
    }),
    [storeId, q, media, age],
  );
  const list = usePagedList((after) => api.unmapped(filters, after), [api, filters]);

  useEffect(() => setSelected(new Set()), [filters]);

  const selectedContacts = list.items.filter((c) => selected.has(contactKey(c)));
  const allSelected = list.items.length > 0 && selectedContacts.length === list.items.length;
  const filtered = Boolean(storeId || q || media || age);

  function toggle(c: UnmappedContact) {
    setSelected((prev) => {
      const next = new Set(prev);
      const k = contactKey(c);
      if (next.has(k)) next.delete(k);
      else next.add(k);
      return next;
    });
  }

  async function runBulk(action: "ignore" | "map", user?: PickedUser) {
    const items = selectedContacts.map((c) => ({
      store_id: c.store_id,
      phone_e164: c.phone_e164,
      ...(user ? { user_id: user.user_id } : {}),
    }));
    const results = await api.bulk(action, items);
    const okPhones = new Set(results.filter((r) => r.ok).map((r) => r.phone_e164));
    const okKeys = new Set(selectedContacts.filter((c) => okPhones.has(c.phone_e164)).map(contactKey));
    list.setItems((all) => all.filter((c) => !okKeys.has(contactKey(c))));
    setSelected(new Set([...selected].filter((k) => !okKeys.has(k))));
    const verb = action === "ignore" ? "Ignored" : `Mapping to ${user?.label ?? "the user"} started for`;
    setOutcome({
      done: okKeys.size > 0 ? `${verb} ${formatCount(okKeys.size, "contact")}.` : "",
      failed: results.filter((r) => !r.ok),
    });
    setDialog(null);
  }

  return (
    <section className="page" data-testid="unmapped-page">
      <div className="page-head">
        <div>
          <h1>Unmapped contacts</h1>
          <p className="muted">
            WhatsApp numbers that match no platform user. Map each to the right user, or ignore it.
          </p>
        </div>
      </div>

      <form className="filters" role="search" aria-label="Filter unmapped contacts" onSubmit={(e) => e.preventDefault()}>
        <label className="field field-inline">
          <span>Store</span>
          <select value={storeId} onChange={(e) => setStoreId(e.target.value)} data-testid="filter-store">
            <option value="">All stores</option>
            {storeOptions.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name} ({s.slug})
              </option>
            ))}
          </select>
        </label>
        <label className="field field-inline">
          <span>Age</span>
          <select value={age} onChange={(e) => setAge(e.target.value)} data-testid="filter-age">
            {AGES.map((a) => (
              <option key={a.value} value={a.value}>
                {a.label}
              </option>
            ))}
          </select>
        </label>
        <label className="field field-inline">
          <span>Media</span>
          <select value={media} onChange={(e) => setMedia(e.target.value as "" | "true" | "false")} data-testid="filter-media">
            <option value="">With or without</option>
            <option value="true">Has media</option>
            <option value="false">No media</option>
          </select>
        </label>
        <label className="field field-inline field-grow">
          <span>Search</span>
          <input
            type="search"
            value={search}
            onChange={(e) => setSearch(e.target.value)}
            placeholder="Number or name"
            data-testid="filter-search"
          />
        </label>
      </form>

      {outcome && (
        <div className="stack">
          {outcome.done && (
            <Notice onDismiss={() => setOutcome(null)} testId="bulk-notice">
              {outcome.done}
            </Notice>
          )}
          {outcome.failed.length > 0 && (
            <ErrorAlert
              title={`${formatCount(outcome.failed.length, "contact")} could not be changed`}
              error={outcome.failed.map((f) => `${f.phone_e164}: ${f.error ?? "failed"}`).join("; ")}
              testId="bulk-errors"
            />
          )}
        </div>
      )}

      {selectedContacts.length > 0 && (
        <div className="bulkbar" role="region" aria-label="Bulk actions" data-testid="bulk-bar">
          <strong>{formatCount(selectedContacts.length, "contact")} selected</strong>
          <button type="button" className="button" onClick={() => setDialog("ignore")} data-testid="bulk-ignore">
            Ignore selected
          </button>
          <button type="button" className="button button-primary" onClick={() => setDialog("map")} data-testid="bulk-map">
            Map selected to a user…
          </button>
          <button type="button" className="button button-quiet" onClick={() => setSelected(new Set())}>
            Clear selection
          </button>
        </div>
      )}

      {list.status === "loading" && <Loading label="Loading unmapped contacts…" />}
      {list.status === "error" && list.error && (
        <ErrorAlert error={list.error} title="Could not load unmapped contacts" onRetry={list.reload} />
      )}
      {list.status === "ready" && list.items.length === 0 && (
        <EmptyState title={filtered ? "No unmapped contact matches these filters" : "No unmapped contacts"}>
          {filtered ? "Change or clear the filters to see more." : "Every WhatsApp number is mapped to a user or ignored."}
        </EmptyState>
      )}
      {list.status === "ready" && list.items.length > 0 && (
        <>
          <div className="table-wrap">
            <table className="table" data-testid="unmapped-table">
              <thead>
                <tr>
                  <th className="col-check">
                    <input
                      type="checkbox"
                      aria-label="Select all shown contacts"
                      checked={allSelected}
                      onChange={() =>
                        setSelected(allSelected ? new Set() : new Set(list.items.map(contactKey)))}
                      data-testid="select-all"
                    />
                  </th>
                  <th>Number</th>
                  <th>Contact</th>
                  <th>Store</th>
                  <th className="num">Messages</th>
                  <th className="num">Media</th>
                  <th>First seen</th>
                  <th>Last message</th>
                </tr>
              </thead>
              <tbody>
                {list.items.map((c) => {
                  const key = contactKey(c);
                  const to = href({ page: "contact", storeId: c.store_id, phone: c.phone_e164 });
                  return (
                    <tr
                      key={key}
                      className={selected.has(key) ? "row-link row-selected" : "row-link"}
                      data-testid="unmapped-row"
                      data-phone={c.phone_e164}
                      data-store={c.store_slug}
                      onClick={(e) => {
                        const t = e.target as HTMLElement;
                        if (t.closest("a, input, button, label")) return;
                        navigate({ page: "contact", storeId: c.store_id, phone: c.phone_e164 });
                      }}
                    >
                      <td className="col-check">
                        <input
                          type="checkbox"
                          aria-label={`Select ${c.phone_e164}`}
                          checked={selected.has(key)}
                          onChange={() => toggle(c)}
                          data-testid="row-select"
                        />
                      </td>
                      <td>
                        <a href={to} className="mono" data-testid="contact-link">
                          {c.phone_e164}
                        </a>
                      </td>
                      <td>
                        <div>{c.contact_name ?? <span className="muted">No name</span>}</div>
                        {c.contact_email && <div className="muted small">{c.contact_email}</div>}
                      </td>
                      <td>{c.store_slug}</td>
                      <td className="num">{c.messages}</td>
                      <td className="num">{c.media}</td>
                      <td title={formatDateTime(c.first_seen_at)}>{formatAge(c.first_seen_at)}</td>
                      <td title={formatDateTime(c.last_message_at)}>{formatAge(c.last_message_at)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          <div className="pager">
            <span className="muted" data-testid="unmapped-count">
              Showing {formatCount(list.items.length, "contact")}
              {list.next ? " — more are waiting" : ""}
            </span>
            {list.next && (
              <button type="button" className="button" onClick={list.loadMore} disabled={list.loadingMore} data-testid="load-more">
                {list.loadingMore ? "Loading…" : "Load more"}
              </button>
            )}
          </div>
          {list.moreError && <ErrorAlert error={list.moreError} title="Could not load more contacts" onRetry={list.loadMore} />}
        </>
      )}

      {dialog === "ignore" && (
        <ConfirmDialog
          title={`Ignore ${formatCount(selectedContacts.length, "contact")}?`}
          confirmLabel="Ignore contacts"
          onClose={() => setDialog(null)}
          onConfirm={() => runBulk("ignore")}
          testId="bulk-ignore-dialog"
        >
          <p>
            Ignored numbers leave the review queue and their messages stay in the holding archive. This applies to:
          </p>
          <ul className="compact-list">
            {selectedContacts.slice(0, 8).map((c) => (
              <li key={contactKey(c)}>
                <span className="mono">{c.phone_e164}</span> {c.contact_name ? `— ${c.contact_name}` : ""} ({c.store_slug})
              </li>
            ))}
            {selectedContacts.length > 8 && <li>…and {selectedContacts.length - 8} more</li>}
          </ul>
        </ConfirmDialog>
      )}
      {dialog === "map" && (
        <BulkMapDialog count={selectedContacts.length} onClose={() => setDialog(null)} onMap={(u) => runBulk("map", u)} />
      )}
    </section>
  );
}

function BulkMapDialog({
  count,
  onClose,
  onMap,
}: {
  count: number;
  onClose: () => void;
  onMap: (user: PickedUser) => Promise<void>;
}) {
  const [user, setUser] = useState<PickedUser | null>(null);
  return (
    <ConfirmDialog
      title={`Map ${formatCount(count, "contact")} to one user`}
      confirmLabel={user ? `Map to ${user.label}` : "Choose a user"}
      confirmDisabled={!user}
      onClose={onClose}
      onConfirm={() => onMap(user!)}
      testId="bulk-map-dialog"
    >
      <UserPicker value={user} onChange={setUser} />
      <p className="muted small">
        Their archived messages and media move to the chosen user's archive. Pick a user per contact from its page to use
        the suggestions.
      </p>
    </ConfirmDialog>
  );
}

// One unmapped number: its messages, the users it may belong to, and the decision. Mapping is
// confirmed first, then followed through its job until the archive has moved.

import { useState } from "react";
import { useApi, useMe } from "../auth/session.tsx";
import type { JobId, UserSuggestion } from "../api/types.ts";
import { ConfirmDialog } from "../components/Dialog.tsx";
import { EmptyState, ErrorAlert, Loading, Notice, StatusBadge } from "../components/feedback.tsx";
import { type PickedUser, UserPicker, userLabel } from "../components/UserPicker.tsx";
import { formatAge, formatCount, formatDateTime } from "../format.ts";
import { useJobProgress } from "../hooks/useJobProgress.ts";
import { useLoader } from "../hooks/useLoader.ts";
import { href } from "../router.ts";

type Decision =
  | { kind: "mapping"; user: PickedUser; jobId: JobId }
  | { kind: "ignored" };

export function ContactPage({ storeId, phone }: { storeId: string; phone: string }) {
  const api = useApi();
  const me = useMe();
  const [detail, reload] = useLoader(() => api.unmappedContact(storeId, phone), [api, storeId, phone]);
  const [confirm, setConfirm] = useState<null | { kind: "map"; user: PickedUser } | { kind: "ignore" }>(null);
  const [decision, setDecision] = useState<Decision | null>(null);
  const [other, setOther] = useState<PickedUser | null>(null);

  const back = (
    <a href={href({ page: "unmapped" })} className="back-link" data-testid="back-to-unmapped">
      ← Unmapped contacts
    </a>
  );

  if (detail.status === "loading") {
    return (
      <section className="page">
        {back}
        <Loading label="Loading contact…" />
      </section>
    );
  }
  if (detail.status === "error") {
    return (
      <section className="page">
        {back}
        <ErrorAlert error={detail.error} title={`Could not load ${phone}`} onRetry={reload} />
      </section>
    );
  }

  const { contact, messages, suggestions } = detail.data;
  // The detail's contact may be the bare table row (no slug): name the store from the user's list.
  const storeSlug = contact.store_slug ?? me.stores.find((s) => s.id === contact.store_id)?.slug ?? contact.store_id;
  const decided = decision !== null || (contact.status !== undefined && contact.status !== "unmapped");

  return (
    <section className="page" data-testid="contact-page">
      {back}
      <div className="page-head">
        <div>
          <h1 className="mono" data-testid="contact-phone">{contact.phone_e164}</h1>
          <p className="muted">
            {contact.contact_name ?? "No name"}
            {contact.contact_email ? ` · ${contact.contact_email}` : ""} · store <strong>{storeSlug}</strong>
          </p>
        </div>
        <StatusBadge value={decision ? (decision.kind === "ignored" ? "ignored" : "mapped") : contact.status ?? "unmapped"} />
      </div>

      <dl className="facts">
        <div>
          <dt>Messages</dt>
          <dd>{contact.messages}</dd>
        </div>
        <div>
          <dt>Media</dt>
          <dd>{contact.media}</dd>
        </div>
        <div>
          <dt>First seen</dt>
          <dd title={formatDateTime(contact.first_seen_at)}>{formatAge(contact.first_seen_at)}</dd>
        </div>
        <div>
          <dt>Last message</dt>
          <dd title={formatDateTime(contact.last_message_at)}>{formatAge(contact.last_message_at)}</dd>
        </div>
      </dl>

      {decision?.kind === "mapping" && <MappingProgress user={decision.user} jobId={decision.jobId} />}
      {decision?.kind === "ignored" && (
        <Notice testId="ignored-notice">
          Ignored. {contact.phone_e164} left the review queue. <a href={href({ page: "unmapped" })}>Back to the queue</a>
        </Notice>
      )}

      <div className="columns">
        <div className="panel">
          <h2>Messages</h2>
          {messages.length === 0
            ? <EmptyState title="No archived messages for this number yet" />
            : (
              <ol className="messages" data-testid="contact-messages">
                {messages.map((m) => (
                  <li key={String(m.message_id)} className={`bubble bubble-${m.message_type === "outgoing" ? "out" : "in"}`}>
                    <div className="bubble-meta">
                      <span>{m.message_type ?? "message"}</span>
                      <time dateTime={m.created_at ?? undefined}>{formatDateTime(m.created_at)}</time>
                    </div>
                    <div className="bubble-text">{m.content || <span className="muted">(no text)</span>}</div>
                    {m.media > 0 && <div className="bubble-media muted">Attachment: {formatCount(m.media, "file")} (download it from the Archive)</div>}
                  </li>
                ))}
              </ol>
            )}
        </div>

        <div className="panel">
          <h2>{decided ? "Decision" : "Map to a user"}</h2>
          {decided && (
            <p className="muted" data-testid="decision">
              {decision?.kind === "mapping"
                ? `Mapped to ${decision.user.label}. New messages from this number go to their archive.`
                : decision?.kind === "ignored"
                ? "Ignored: the number left the review queue."
                : `This contact is ${contact.status}; it is no longer in the review queue.`}{" "}
              <a href={href({ page: "unmapped" })}>Back to the queue</a>
            </p>
          )}
          {!decided && (
            <>
              {suggestions.length === 0
                ? <p className="muted" data-testid="no-suggestions">No suggested users. Search for one below.</p>
                : (
                  <ul className="suggestions" data-testid="suggestions">
                    {suggestions.map((s) => (
                      <Suggestion
                        key={s.user_id}
                        s={s}
                        onMap={() => setConfirm({ kind: "map", user: { user_id: s.user_id, label: userLabel(s) } })}
                      />
                    ))}
                  </ul>
                )}
              <details className="other-user">
                <summary>Map to someone else…</summary>
                <UserPicker value={other} onChange={setOther} />
                <button
                  type="button"
                  className="button button-primary"
                  disabled={!other}
                  onClick={() => other && setConfirm({ kind: "map", user: other })}
                  data-testid="map-other"
                >
                  Map to {other ? other.label : "the chosen user"}
                </button>
              </details>
              <div className="divider" />
              <h2>Not a customer?</h2>
              <p className="muted small">Ignoring removes the number from the queue; its messages stay in the holding archive.</p>
              <button type="button" className="button" onClick={() => setConfirm({ kind: "ignore" })} data-testid="ignore-contact">
                Ignore this number
              </button>
            </>
          )}
        </div>
      </div>

      {confirm?.kind === "map" && (
        <ConfirmDialog
          title="Map this contact?"
          confirmLabel="Map contact"
          onClose={() => setConfirm(null)}
          onConfirm={async () => {
            const r = await api.mapContact(contact.store_id, contact.phone_e164, confirm.user.user_id);
            setDecision({ kind: "mapping", user: confirm.user, jobId: r.job_id });
            setConfirm(null);
          }}
          testId="map-dialog"
        >
          <p>
            Map <strong className="mono">{contact.phone_e164}</strong> ({storeSlug}) to{" "}
            <strong>{confirm.user.label}</strong>?
          </p>
          <p className="muted">
            {formatCount(contact.messages, "message")} and {formatCount(contact.media, "medium", "media")} move from the
            holding archive to this user's archive, and future messages from this number go there too.
          </p>
        </ConfirmDialog>
      )}
      {confirm?.kind === "ignore" && (
        <ConfirmDialog
          title="Ignore this number?"
          confirmLabel="Ignore number"
          onClose={() => setConfirm(null)}
          onConfirm={async () => {
            await api.ignoreContact(contact.store_id, contact.phone_e164);
            setDecision({ kind: "ignored" });
            setConfirm(null);
          }}
          testId="ignore-dialog"
        >
          <p>
            <strong className="mono">{contact.phone_e164}</strong> leaves the review queue of {storeSlug}. Its
            messages stay in the holding archive.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}

function Suggestion({ s, onMap }: { s: UserSuggestion; onMap: () => void }) {
  const score = Math.round(Math.max(0, Math.min(1, Number(s.score) || 0)) * 100);
  return (
    <li className="suggestion" data-testid="suggestion" data-user-id={s.user_id}>
      <div className="suggestion-who">
        <strong>{s.full_name ?? "Unnamed user"}</strong>
        <span className="muted small">{[s.email, s.phone_e164].filter(Boolean).join(" · ") || s.user_id}</span>
        <span className="small">
          {s.reason} · <span title="How closely this user matches">{score}% match</span>
        </span>
      </div>
      <button type="button" className="button button-primary button-small" onClick={onMap} data-testid="map-suggestion">
        Map…
      </button>
    </li>
  );
}

function MappingProgress({ user, jobId }: { user: PickedUser; jobId: JobId }) {
  const { job, error, done } = useJobProgress(jobId);
  if (job?.status === "completed") {
    return (
      <Notice testId="mapping-status">
        <strong>Archive moved</strong> — mapped to {user.label}
        {job.completed_at ? ` at ${formatDateTime(job.completed_at)}` : ""}.{" "}
        <a href={href({ page: "unmapped" })}>Back to the queue</a>
      </Notice>
    );
  }
  if (job?.status === "dead") {
    return (
      <ErrorAlert
        title="Mapping saved, but moving the archive failed"
        error={`${job.last_error ?? "The move job failed."} Replay job #${job.id} from the Jobs page once the cause is fixed.`}
        testId="mapping-status"
      />
    );
  }
  return (
    <Notice tone="info" testId="mapping-status">
      <span className="spinner" aria-hidden="true" /> Mapped to {user.label}. Moving the archive…{" "}
      <span className="muted">
        (job #{String(jobId)}
        {job ? `: ${job.status}${job.attempts ? `, attempt ${job.attempts}/${job.max_attempts}` : ""}` : ""})
      </span>
      {error && !done && <span className="text-error"> Could not check progress: {error.message}</span>}
    </Notice>
  );
}

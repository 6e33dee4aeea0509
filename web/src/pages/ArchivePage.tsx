// A user's WhatsApp archive: find the user, read their conversations newest first, download media
// through short-lived signed URLs, and (platform administrators) erase it after typing the e-mail,
// following the erasure's progress (it runs as resumable jobs; see also the Erasures page).

import { useEffect, useRef, useState } from "react";
import { useApi, useMe } from "../auth/session.tsx";
import type { ArchivedMedia, ArchivedMessage, ArchiveUser } from "../api/types.ts";
import { ConfirmDialog } from "../components/Dialog.tsx";
import { ErasureMeter } from "../components/ErasureMeter.tsx";
import { EmptyState, ErrorAlert, Loading, Notice } from "../components/feedback.tsx";
import { formatBytes, formatCount, formatDateTime } from "../format.ts";
import { useErasureProgress } from "../hooks/useErasureProgress.ts";
import { useLoader } from "../hooks/useLoader.ts";
import { usePagedList } from "../hooks/usePagedList.ts";
import { href } from "../router.ts";

export function ArchivePage({ userId }: { userId: string | null }) {
  const api = useApi();
  const [search, setSearch] = useState("");
  const [q, setQ] = useState("");
  useEffect(() => {
    const t = setTimeout(() => setQ(search.trim()), 300);
    return () => clearTimeout(t);
  }, [search]);
  const [users, reloadUsers] = useLoader(() => api.archiveUsers(q), [api, q]);
  const [known, setKnown] = useState<Record<string, ArchiveUser>>({});
  useEffect(() => {
    if (users.status === "ready") {
      setKnown((k) => ({ ...k, ...Object.fromEntries(users.data.map((u) => [u.user_id, u])) }));
    }
  }, [users]);

  return (
    <section className="page" data-testid="archive-page">
      <div className="page-head">
        <div>
          <h1>Archive</h1>
          <p className="muted">Every WhatsApp message and medium, in the archive of the user who wrote or received it.</p>
        </div>
      </div>
      <div className="archive-layout">
        <aside className="panel archive-users" aria-label="Users">
          <label className="field">
            <span>Find a user</span>
            <input
              type="search"
              value={search}
              onChange={(e) => setSearch(e.target.value)}
              placeholder="Name, e-mail or number"
              data-testid="archive-search"
            />
          </label>
          {users.status === "loading" && <Loading label="Searching…" />}
          {users.status === "error" && <ErrorAlert error={users.error} title="Could not load users" onRetry={reloadUsers} />}
          {users.status === "ready" && users.data.length === 0 && (
            <EmptyState title={q ? `No archived user matches “${q}”` : "No archives yet"}>
              {q ? "Try part of the name, the e-mail or the number." : "Archives appear as WhatsApp messages are mapped to users."}
            </EmptyState>
          )}
          {users.status === "ready" && users.data.length > 0 && (
            <ul className="user-list" data-testid="archive-users">
              {users.data.map((u) => (
                <li key={u.user_id}>
                  <a
                    href={href({ page: "archive", userId: u.user_id })}
                    className={u.user_id === userId ? "user-item user-item-current" : "user-item"}
                    aria-current={u.user_id === userId ? "true" : undefined}
                    data-testid="archive-user"
                  >
                    <strong>{u.full_name ?? u.email ?? u.user_id}</strong>
                    <span className="muted small">{[u.email, u.phone_e164].filter(Boolean).join(" · ")}</span>
                    <span className="small">
                      {formatCount(u.messages, "message")} · {formatCount(u.media, "medium", "media")}
                    </span>
                  </a>
                </li>
              ))}
            </ul>
          )}
        </aside>
        <div className="archive-main">
          {userId
            ? <Timeline key={userId} userId={userId} user={known[userId] ?? null} onErased={reloadUsers} />
            : <EmptyState title="Pick a user to read their archive" testId="archive-pick" />}
        </div>
      </div>
    </section>
  );
}

function Timeline(
  { userId, user, onErased }: { userId: string; user: ArchiveUser | null; onErased: () => void },
) {
  const api = useApi();
  const me = useMe();
  const list = usePagedList((after) => api.timeline(userId, after), [api, userId]);
  const [erasing, setErasing] = useState(false);
  const [erasureId, setErasureId] = useState<string | null>(null);
  const name = user?.full_name ?? user?.email ?? userId;
  // An erasure already under way (asked for earlier, or elsewhere) is shown rather than offered again.
  useEffect(() => {
    if (!me.platform_admin) return;
    let stale = false;
    api.erasures(userId, 1).then(([latest]) => {
      if (!stale && latest && latest.status !== "completed") setErasureId(latest.id);
    }).catch(() => {});
    return () => {
      stale = true;
    };
  }, [api, me.platform_admin, userId]);

  return (
    <div className="panel" data-testid="timeline">
      <div className="timeline-head">
        <div>
          <h2>{name}</h2>
          <p className="muted small">
            {[user?.email, user?.phone_e164, user?.bucket ? `bucket ${user.bucket}` : null].filter(Boolean).join(" · ") ||
              `user ${userId}`}
          </p>
        </div>
        {me.platform_admin && !erasureId && (
          <button type="button" className="button button-danger" onClick={() => setErasing(true)} data-testid="erase-archive">
            Erase archive…
          </button>
        )}
      </div>
      {erasureId && (
        <ErasureProgress
          erasureId={erasureId}
          onCompleted={() => {
            // The records are gone now: show the archive as it is.
            list.reload();
            onErased();
          }}
        />
      )}

      {list.status === "loading" && <Loading label="Loading conversations…" />}
      {list.status === "error" && list.error && <ErrorAlert error={list.error} title="Could not load the archive" onRetry={list.reload} />}
      {list.status === "ready" && list.items.length === 0 && <EmptyState title="This archive is empty" />}
      {list.status === "ready" && list.items.length > 0 && (
        <>
          <ol className="messages" data-testid="timeline-messages">
            {list.items.map((m, i) => {
              const prev = list.items[i - 1];
              const newConversation = !prev || prev.store_slug !== m.store_slug ||
                prev.conversation_display_id !== m.conversation_display_id;
              return <TimelineMessage key={`${m.account_ref}/${m.message_id}`} m={m} showConversation={newConversation} />;
            })}
          </ol>
          <div className="pager">
            <span className="muted">Showing {formatCount(list.items.length, "message")}, newest first</span>
            {list.next && (
              <button type="button" className="button" onClick={list.loadMore} disabled={list.loadingMore} data-testid="load-more">
                {list.loadingMore ? "Loading…" : "Load older messages"}
              </button>
            )}
          </div>
          {list.moreError && <ErrorAlert error={list.moreError} title="Could not load older messages" onRetry={list.loadMore} />}
        </>
      )}

      {erasing && (
        <EraseDialog
          userId={userId}
          user={user}
          onClose={() => setErasing(false)}
          onErased={(id) => {
            setErasureId(id);
            setErasing(false);
          }}
        />
      )}
    </div>
  );
}

function TimelineMessage({ m, showConversation }: { m: ArchivedMessage; showConversation: boolean }) {
  return (
    <>
      {showConversation && (
        <li className="conversation-sep" aria-hidden="false">
          {m.store_slug} · conversation #{m.conversation_display_id ?? "?"}
        </li>
      )}
      <li className={`bubble bubble-${m.message_type === "outgoing" ? "out" : "in"}`} data-testid="timeline-message">
        <div className="bubble-meta">
          <span>{m.message_type ?? "message"}</span>
          <time dateTime={m.created_at ?? undefined}>{formatDateTime(m.created_at)}</time>
        </div>
        <div className="bubble-text">{m.content || <span className="muted">(no text)</span>}</div>
        {m.media.length > 0 && (
          <div className="bubble-media">
            {m.media.map((x) => <MediaDownload key={`${x.account_ref}/${x.attachment_id}`} media={x} />)}
          </div>
        )}
      </li>
    </>
  );
}

function MediaDownload({ media }: { media: ArchivedMedia }) {
  const api = useApi();
  const [state, setState] = useState<{ busy: boolean; error: string | null; fallbackUrl: string | null }>({
    busy: false,
    error: null,
    fallbackUrl: null,
  });

  async function download() {
    // Open the tab inside the click, so popup blockers allow it; it is pointed at the signed URL
    // once the API has made one.
    const tab = window.open("", "_blank");
    if (tab) {
      tab.opener = null;
      tab.document.title = "Preparing download…";
      tab.document.body.textContent = "Preparing the download…";
    }
    setState({ busy: true, error: null, fallbackUrl: null });
    try {
      const { url } = await api.mediaUrl(media.account_ref, media.attachment_id);
      if (tab) {
        tab.location.href = url;
        setState({ busy: false, error: null, fallbackUrl: null });
      } else {
        setState({ busy: false, error: null, fallbackUrl: url });
      }
    } catch (err) {
      tab?.close();
      setState({ busy: false, error: err instanceof Error ? err.message : String(err), fallbackUrl: null });
    }
  }

  const label = `${media.content_type ?? "file"} · ${formatBytes(media.size)}`;
  return (
    <span className="media">
      <button type="button" className="button button-small" onClick={() => void download()} disabled={state.busy} data-testid="media-download">
        {state.busy ? "Preparing…" : `Download ${label}`}
      </button>
      {state.fallbackUrl && (
        <a href={state.fallbackUrl} target="_blank" rel="noreferrer noopener" className="small">
          Open the download (the browser blocked a new tab)
        </a>
      )}
      {state.error && (
        <span className="text-error small" role="alert">
          {state.error}
        </span>
      )}
    </span>
  );
}

function EraseDialog({
  userId,
  user,
  onClose,
  onErased,
}: {
  userId: string;
  user: ArchiveUser | null;
  onClose: () => void;
  onErased: (erasureId: string) => void;
}) {
  const api = useApi();
  const expected = user?.email ?? userId;
  const [typed, setTyped] = useState("");
  const matches = typed.trim().toLowerCase() === expected.toLowerCase();
  return (
    <ConfirmDialog
      title="Erase this archive?"
      confirmLabel="Erase archive"
      danger
      confirmDisabled={!matches}
      onClose={onClose}
      onConfirm={async () => {
        const r = await api.eraseArchive(userId);
        onErased(r.erasure_id);
      }}
      testId="erase-dialog"
    >
      <label className="field">
        <span>
          Type <strong className="mono">{expected}</strong> to confirm
        </span>
        <input
          type="text"
          value={typed}
          onChange={(e) => setTyped(e.target.value)}
          autoComplete="off"
          spellCheck={false}
          data-testid="erase-confirm-input"
        />
      </label>
      <p>
        Every archived message and medium of <strong>{user?.full_name ?? expected}</strong>
        {user ? ` (${formatCount(user.messages, "message")}, ${formatCount(user.media, "medium", "media")})` : ""} is deleted
        from storage for good (in batches, which you can follow here and on the Erasures page), then the bucket and
        the records are removed. The audit log keeps only who erased it, when, and how many objects went.
      </p>
    </ConfirmDialog>
  );
}

function ErasureProgress({ erasureId, onCompleted }: { erasureId: string; onCompleted: () => void }) {
  const { erasure, error } = useErasureProgress(erasureId);
  const completed = erasure?.status === "completed";
  const onCompletedRef = useRef(onCompleted);
  onCompletedRef.current = onCompleted;
  useEffect(() => {
    if (completed) onCompletedRef.current();
  }, [completed]);
  if (erasure?.status === "completed") {
    return (
      <Notice testId="erase-status">
        Archive erased. <ErasureMeter erasure={erasure} />
      </Notice>
    );
  }
  if (erasure?.status === "failed") {
    return (
      <ErrorAlert
        title="Erasing the archive stopped"
        error={`${erasure.last_error ?? "Its job failed."} Erase again to resume from where it stopped.`}
        testId="erase-status"
      />
    );
  }
  return (
    <Notice tone="info" testId="erase-status">
      <span className="spinner" aria-hidden="true" /> Erasing the archive…{" "}
      <a href={href({ page: "erasures" })}>all erasures</a>
      {erasure && <ErasureMeter erasure={erasure} />}
      {error ? ` Could not check progress: ${error.message}` : ""}
    </Notice>
  );
}

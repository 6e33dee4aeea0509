// Archive erasures, newest first, with how far each got (platform administrators): an erasure of a
// large archive runs as many job runs over minutes, so the page refreshes itself while one is under way.

import { useEffect } from "react";
import { useApi, useMe } from "../auth/session.tsx";
import { ErasureMeter } from "../components/ErasureMeter.tsx";
import { EmptyState, ErrorAlert, Loading, StatusBadge } from "../components/feedback.tsx";
import { formatAge, formatDateTime } from "../format.ts";
import { useLoader } from "../hooks/useLoader.ts";
import { href } from "../router.ts";

export function ErasuresPage() {
  const api = useApi();
  const me = useMe();
  const [erasures, reload, update] = useLoader(() => api.erasures(null, 100), [api]);
  const running = erasures.status === "ready" && erasures.data.some((e) => e.status !== "completed" && e.status !== "failed");
  // While one runs, refresh in place (no loading state between polls).
  useEffect(() => {
    if (!running) return;
    const t = setInterval(() => {
      api.erasures(null, 100).then((data) => update(() => data)).catch(() => {});
    }, 2000);
    return () => clearInterval(t);
  }, [running, api, update]);

  return (
    <section className="page" data-testid="erasures-page">
      <div className="page-head">
        <div>
          <h1>Erasures</h1>
          <p className="muted">
            Users' WhatsApp archives being erased or erased: objects deleted in batches, then the bucket, then the
            records. What was erased is never shown, only how much.
          </p>
        </div>
        <button type="button" className="button" onClick={reload} data-testid="erasures-refresh">
          Refresh
        </button>
      </div>
      {!me.platform_admin && (
        <EmptyState title="Only platform administrators see erasures" testId="erasures-forbidden">
          Erasing an archive is a platform administrator's decision.
        </EmptyState>
      )}
      {me.platform_admin && erasures.status === "loading" && <Loading label="Loading erasures…" />}
      {me.platform_admin && erasures.status === "error" && (
        <ErrorAlert error={erasures.error} title="Could not load erasures" onRetry={reload} />
      )}
      {me.platform_admin && erasures.status === "ready" && erasures.data.length === 0 && (
        <EmptyState title="No archive has been erased">
          Erase a user's archive from the <a href={href({ page: "archive", userId: null })}>Archive</a> page.
        </EmptyState>
      )}
      {me.platform_admin && erasures.status === "ready" && erasures.data.length > 0 && (
        <div className="table-wrap">
          <table className="table" data-testid="erasures-table">
            <thead>
              <tr>
                <th>User</th>
                <th>Status</th>
                <th>Progress</th>
                <th>Requested</th>
                <th>Finished</th>
              </tr>
            </thead>
            <tbody>
              {erasures.data.map((e) => (
                <tr key={e.id} data-testid="erasure-row" data-erasure-id={e.id} data-user-id={e.user_id}>
                  <td>
                    <strong>{e.full_name ?? e.email ?? e.user_id}</strong>
                    <div className="muted small">{e.email ?? e.user_id}</div>
                    <div className="muted small mono">by {e.requested_by}</div>
                  </td>
                  <td>
                    <StatusBadge value={e.status} testId="erasure-status" />
                  </td>
                  <td className="cell-progress">
                    <ErasureMeter erasure={e} />
                  </td>
                  <td title={formatDateTime(e.requested_at)}>{formatAge(e.requested_at)}</td>
                  <td title={formatDateTime(e.finished_at)}>
                    {e.finished_at ? formatAge(e.finished_at) : <span className="muted">—</span>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

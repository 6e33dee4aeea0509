// The job queue by status: what failed and why (the last error), and replaying dead jobs once the
// cause is fixed. Tabs are links (#/jobs/dead, …) so each status has an address.

import { useState } from "react";
import { useApi } from "../auth/session.tsx";
import type { Job, JobStatus } from "../api/types.ts";
import { EmptyState, ErrorAlert, Loading, Notice, StatusBadge } from "../components/feedback.tsx";
import { formatAge, formatCount, formatDateTime } from "../format.ts";
import { usePagedList } from "../hooks/usePagedList.ts";
import { href } from "../router.ts";

const TABS: { status: JobStatus; label: string; empty: string }[] = [
  { status: "dead", label: "Dead", empty: "No dead jobs: nothing has failed for good." },
  { status: "queued", label: "Queued", empty: "Nothing is waiting to run." },
  { status: "running", label: "Running", empty: "No job is running right now." },
  { status: "completed", label: "Completed", empty: "No completed jobs are kept at the moment." },
];

export function JobsPage({ status }: { status: JobStatus }) {
  const api = useApi();
  const list = usePagedList((after) => api.jobs(status, after), [api, status]);
  const [notice, setNotice] = useState<string | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const tab = TABS.find((t) => t.status === status)!;
  const replayable = status === "dead" || status === "completed";

  async function replay(job: Job) {
    setBusy(String(job.id));
    setFailure(null);
    try {
      await api.replayJob(job.id);
      list.setItems((items) => items.filter((j) => String(j.id) !== String(job.id)));
      setNotice(`Job #${String(job.id)} (${job.kind}) is queued again.`);
    } catch (err) {
      setFailure(`Job #${String(job.id)} was not replayed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      setBusy(null);
    }
  }

  return (
    <section className="page" data-testid="jobs-page">
      <div className="page-head">
        <div>
          <h1>Jobs</h1>
          <p className="muted">The durable work queue: provisioning, archiving, mapping and reconciliation.</p>
        </div>
        <button type="button" className="button" onClick={list.reload} data-testid="jobs-refresh">
          Refresh
        </button>
      </div>

      <nav className="tabs" aria-label="Job status">
        {TABS.map((t) => (
          <a
            key={t.status}
            href={href({ page: "jobs", status: t.status })}
            className={t.status === status ? "tab tab-current" : "tab"}
            aria-current={t.status === status ? "page" : undefined}
            data-testid={`jobs-tab-${t.status}`}
          >
            {t.label}
          </a>
        ))}
      </nav>

      {notice && (
        <Notice onDismiss={() => setNotice(null)} testId="replay-notice">
          {notice}
        </Notice>
      )}
      {failure && <ErrorAlert error={failure} title="Replay failed" testId="replay-error" />}

      {list.status === "loading" && <Loading label={`Loading ${tab.label.toLowerCase()} jobs…`} />}
      {list.status === "error" && list.error && <ErrorAlert error={list.error} title="Could not load jobs" onRetry={list.reload} />}
      {list.status === "ready" && list.items.length === 0 && <EmptyState title={tab.empty} />}
      {list.status === "ready" && list.items.length > 0 && (
        <>
          <div className="table-wrap">
            <table className="table" data-testid="jobs-table">
              <thead>
                <tr>
                  <th>Job</th>
                  <th>Kind</th>
                  <th>Store</th>
                  <th>Status</th>
                  <th className="num">Attempts</th>
                  <th>Reason</th>
                  <th>{status === "completed" ? "Completed" : status === "dead" ? "Failed" : "Runs"}</th>
                  {replayable && <th className="actions-col">Action</th>}
                </tr>
              </thead>
              <tbody>
                {list.items.map((j) => {
                  const when = status === "completed" ? j.completed_at : status === "dead" ? (j.dead_at ?? j.run_at) : j.run_at;
                  return (
                    <tr key={String(j.id)} data-testid="job-row" data-job-id={String(j.id)}>
                      <td className="mono">#{String(j.id)}</td>
                      <td className="mono small">{j.kind}</td>
                      <td>{j.store_slug ?? <span className="muted">—</span>}</td>
                      <td>
                        <StatusBadge value={j.status} />
                      </td>
                      <td className="num">
                        {j.attempts}/{j.max_attempts}
                      </td>
                      <td className="cell-reason">
                        {j.last_error
                          ? <ReasonText text={j.last_error} />
                          : <span className="muted">—</span>}
                      </td>
                      <td title={formatDateTime(when)}>{formatAge(when)}</td>
                      {replayable && (
                        <td className="actions-col">
                          <button
                            type="button"
                            className="button button-small"
                            onClick={() => void replay(j)}
                            disabled={busy === String(j.id)}
                            aria-label={`Replay job ${String(j.id)}`}
                            data-testid="job-replay"
                          >
                            {busy === String(j.id) ? "Replaying…" : "Replay"}
                          </button>
                        </td>
                      )}
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          <div className="pager">
            <span className="muted">Showing {formatCount(list.items.length, "job")}</span>
            {list.next && (
              <button type="button" className="button" onClick={list.loadMore} disabled={list.loadingMore} data-testid="load-more">
                {list.loadingMore ? "Loading…" : "Load more"}
              </button>
            )}
          </div>
          {list.moreError && <ErrorAlert error={list.moreError} title="Could not load more jobs" onRetry={list.loadMore} />}
        </>
      )}
    </section>
  );
}

/** The first line of the last error, the rest (stack, earlier attempts) behind a disclosure. */
function ReasonText({ text }: { text: string }) {
  const [first, ...rest] = text.split("\n");
  if (rest.length === 0 && first.length <= 160) return <span className="reason" data-testid="job-reason">{first}</span>;
  return (
    <details className="reason" data-testid="job-reason">
      <summary>{first.length > 160 ? `${first.slice(0, 160)}…` : first}</summary>
      <pre>{text}</pre>
    </details>
  );
}

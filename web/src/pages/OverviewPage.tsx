// The platform at a glance, for platform administrators (the landing page): webhook deliveries and
// their processing time, the queue, dead jobs, archive throughput and storage cost by class, AI
// tokens and their cost, and the alerts firing now. One call (admin-api /overview) per refresh,
// every 30 s; the range (hour, day, week, month) is part of the address (#/overview/week).
// Charts: the app's uPlot Chart (components/Chart.tsx), as on the store analytics page.

import { type ReactNode, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Chart, type ChartSeries } from "../components/Chart.tsx";
import { useApi } from "../auth/session.tsx";
import type { Overview, OverviewRange } from "../api/types.ts";
import { ErrorAlert, Loading, Notice } from "../components/feedback.tsx";
import { formatBytes, formatDateTime } from "../format.ts";
import { href, OVERVIEW_RANGES } from "../router.ts";

const REFRESH_MS = 30_000;
const RANGE_LABELS: Record<OverviewRange, string> = {
  hour: "Last hour",
  day: "Last day",
  week: "Last week",
  month: "Last month",
};
const OUTCOME_COLORS: Record<string, string> = {
  applied: "#2f855a",
  duplicate: "#718096",
  stale: "#a0aec0",
  noise: "#cbd5e0",
  ignored: "#b7c4d1",
  recorded: "#3182ce",
  rejected: "#dd6b20",
  kept: "#d69e2e",
  too_large: "#975a16",
  unauthorized: "#9f7aea",
  error: "#c53030",
};
const CLASS_COLORS: Record<string, string> = {
  STANDARD: "#2b6cb0",
  NEARLINE: "#3182ce",
  COLDLINE: "#63b3ed",
  ARCHIVE: "#a3bffa",
};

function usd(v: number): string {
  return v.toLocaleString("en-US", { style: "currency", currency: "USD", maximumFractionDigits: v < 1 ? 4 : 2 });
}

function Stat({ label, value, testId }: { label: string; value: string; testId: string }) {
  return (
    <div className="overview-stat" data-testid={testId}>
      <div className="overview-stat-value">{value}</div>
      <div className="overview-stat-label">{label}</div>
    </div>
  );
}

function Figure({ title, children }: { title: string; children: ReactNode }) {
  return (
    <figure className="overview-chart">
      <figcaption className="overview-chart-title">{title}</figcaption>
      {children}
    </figure>
  );
}

export function OverviewPage({ range }: { range: OverviewRange }) {
  const api = useApi();
  const [data, setData] = useState<Overview | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [autoRefresh, setAutoRefresh] = useState(true);
  const [notice, setNotice] = useState<string | null>(null);
  const generation = useRef(0);

  const load = useCallback(() => {
    const mine = ++generation.current;
    api.overview(range).then(
      (d) => {
        if (mine !== generation.current) return;
        setData(d);
        setError(null);
      },
      (e: unknown) => mine === generation.current && setError(e instanceof Error ? e : new Error(String(e))),
    );
  }, [api, range]);

  useEffect(() => {
    setData((d) => (d && d.range === range ? d : null));
    load();
  }, [load, range]);

  useEffect(() => {
    if (!autoRefresh) return;
    const timer = setInterval(load, REFRESH_MS);
    return () => clearInterval(timer);
  }, [load, autoRefresh]);

  async function acknowledge(id: number) {
    try {
      await api.acknowledgeAlert(id);
      setNotice(`Alert #${id} acknowledged.`);
      load();
    } catch (e) {
      setError(e instanceof Error ? e : new Error(String(e)));
    }
  }

  const series = useMemo(() => data?.series ?? [], [data]);
  const x = useMemo(() => series.map((p) => Date.parse(p.t) / 1000), [series]);
  const deliverySeries = useMemo((): ChartSeries[] => {
    const perMinute = (data?.step_seconds ?? 60) / 60;
    const outcomes = [...new Set(series.flatMap((p) => Object.keys(p.deliveries)))].sort();
    return outcomes.map((o) => ({
      label: o,
      values: series.map((p) => Math.round(((p.deliveries[o] ?? 0) / perMinute) * 100) / 100),
      color: OUTCOME_COLORS[o] ?? "#4a5568",
    }));
  }, [series, data]);
  const monthlyCost = (data?.storage ?? []).reduce((a, s) => a + Number(s.monthly_usd), 0);
  const totalBytes = Math.max(1, ...(data?.storage ?? []).map((s) => Number(s.bytes)));

  return (
    <section className="page" data-testid="overview-page">
      <div className="page-head">
        <div>
          <h1>Overview</h1>
          <p className="muted">
            The platform at work: webhooks, the queue, the archive and AI.{" "}
            {data && <span data-testid="overview-generated">Updated {formatDateTime(data.generated_at)}.</span>}
          </p>
        </div>
        <div className="overview-controls">
          <label className="checkbox">
            <input
              type="checkbox"
              checked={autoRefresh}
              onChange={(e) => setAutoRefresh(e.target.checked)}
              data-testid="overview-auto-refresh"
            />{" "}
            Refresh every 30 s
          </label>
          <button type="button" className="button" onClick={load} data-testid="overview-refresh">
            Refresh
          </button>
        </div>
      </div>

      <nav className="tabs" aria-label="Time range" data-testid="overview-range">
        {OVERVIEW_RANGES.map((r) => (
          <a
            key={r}
            href={href({ page: "overview", range: r })}
            className={r === range ? "tab tab-current" : "tab"}
            aria-current={r === range ? "page" : undefined}
            data-testid={`overview-range-${r}`}
          >
            {RANGE_LABELS[r]}
          </a>
        ))}
      </nav>

      {notice && (
        <Notice onDismiss={() => setNotice(null)} testId="overview-notice">
          {notice}
        </Notice>
      )}
      {error && <ErrorAlert error={error} title="Could not load the overview" onRetry={load} />}
      {!data && !error && <Loading label="Loading the overview…" />}
      {data && (
        <>
          <section aria-label="Firing alerts" className="alerts-panel" data-testid="overview-alerts">
            <h2>Firing alerts</h2>
            {data.alerts.length === 0
              ? <p className="muted" data-testid="overview-no-alerts">No alert is firing.</p>
              : (
                <div className="table-wrap">
                  <table className="table">
                    <thead>
                      <tr>
                        <th>Rule</th>
                        <th>About</th>
                        <th>What</th>
                        <th className="num">Value</th>
                        <th className="num">Threshold</th>
                        <th>Since</th>
                        <th />
                      </tr>
                    </thead>
                    <tbody>
                      {data.alerts.map((a) => (
                        <tr key={a.id} data-testid="overview-alert" data-rule={a.rule}>
                          <td>
                            <span className="badge badge-bad">{a.rule}</span>
                          </td>
                          <td>{a.subject || "platform"}</td>
                          <td>{a.message}</td>
                          <td className="num">{Math.round(a.value * 1000) / 1000} {a.unit}</td>
                          <td className="num">{a.threshold} {a.unit}</td>
                          <td>{formatDateTime(a.fired_at)}</td>
                          <td>
                            {a.acknowledged_at
                              ? <span className="badge badge-muted">acknowledged</span>
                              : (
                                <button
                                  type="button"
                                  className="button button-small"
                                  onClick={() => void acknowledge(a.id)}
                                  data-testid="overview-alert-ack"
                                >
                                  Acknowledge
                                </button>
                              )}
                          </td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
          </section>

          <div className="overview-stats">
            <Stat label="jobs ready" value={String(data.queue.ready)} testId="stat-ready" />
            <Stat
              label="oldest ready job"
              value={data.queue.oldest_ready_seconds === null ? "—" : `${Math.round(data.queue.oldest_ready_seconds)} s`}
              testId="stat-oldest"
            />
            <Stat label="dead jobs" value={String(data.queue.dead)} testId="stat-dead" />
            <Stat label="archive buckets" value={String(data.buckets)} testId="stat-buckets" />
            <Stat label="GCS cost / month (est.)" value={usd(monthlyCost)} testId="stat-gcs-cost" />
            <Stat
              label={`AI tokens this month (${usd(Number(data.ai.usd_month))} est.)`}
              value={Number(data.ai.tokens_month).toLocaleString("en-US")}
              testId="stat-ai-tokens"
            />
          </div>

          <div className="overview-charts">
            <Figure title="Webhook deliveries per minute, by outcome">
              <Chart x={x} series={deliverySeries} time label="Webhook deliveries per minute, by outcome" testId="chart-deliveries" />
            </Figure>
            <Figure title="Processing time p50 / p95 (ms)">
              <Chart
                x={x}
                series={[
                  { label: "p50 ms", values: series.map((p) => p.p50_ms), color: "#3182ce" },
                  { label: "p95 ms", values: series.map((p) => p.p95_ms), color: "#c53030" },
                ]}
                time
                label="Webhook processing time, p50 and p95, in milliseconds"
                testId="chart-latency"
              />
            </Figure>
            <Figure title="Queue: ready jobs and the oldest one's age (s)">
              <Chart
                x={x}
                series={[
                  { label: "ready", values: series.map((p) => p.queue_ready), color: "#2b6cb0" },
                  { label: "oldest age s", values: series.map((p) => p.oldest_ready_seconds), color: "#dd6b20" },
                ]}
                time
                label="Ready jobs and the oldest ready job's age in seconds"
                testId="chart-queue"
              />
            </Figure>
            <Figure title="Dead jobs: waiting, and newly dead-lettered">
              <Chart
                x={x}
                series={[
                  { label: "dead (waiting)", values: series.map((p) => p.jobs_dead), color: "#c53030" },
                  { label: "newly dead", values: series.map((p) => p.jobs_dead_lettered), color: "#ed8936" },
                ]}
                kind="bars"
                time
                label="Dead jobs waiting for a replay, and jobs dead-lettered"
                testId="chart-dead"
              />
            </Figure>
            <Figure title="Archive throughput: objects written">
              <Chart
                x={x}
                series={[{ label: "objects", values: series.map((p) => p.archive_objects), color: "#2f855a" }]}
                kind="bars"
                time
                label="Objects archived to GCS"
                testId="chart-archive"
              />
            </Figure>
            <Figure title="AI tokens">
              <Chart
                x={x}
                series={[{ label: "tokens", values: series.map((p) => p.ai_tokens), color: "#6b46c1" }]}
                kind="bars"
                time
                label="AI tokens used"
                testId="chart-ai"
              />
            </Figure>
          </div>

          <section aria-label="Archive by storage class" className="storage-panel" data-testid="overview-storage">
            <h2>Archive by storage class</h2>
            <p className="muted">
              Each object's class is estimated from its age and its bucket's lifecycle; prices per GB-month are the{" "}
              <code>gcs_monthly_cost</code> alert rule's settings.
            </p>
            <div>
              <div className="table-wrap">
                <table className="table" data-testid="storage-table">
                  <thead>
                    <tr>
                      <th>Class</th>
                      <th className="num">Buckets</th>
                      <th className="num">Objects</th>
                      <th className="num">Size</th>
                      <th className="num">Est. / month</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.storage.length === 0 && (
                      <tr>
                        <td colSpan={5} className="muted">Nothing archived yet.</td>
                      </tr>
                    )}
                    {data.storage.map((s) => (
                      <tr key={s.storage_class}>
                        <td>
                          <span className="swatch" style={{ background: CLASS_COLORS[s.storage_class] ?? "#4a5568" }} />
                          {s.storage_class}
                        </td>
                        <td className="num">{s.buckets}</td>
                        <td className="num">{Number(s.objects).toLocaleString("en-US")}</td>
                        <td className="num">
                          <span
                            className="share-bar"
                            style={{ width: `${Math.round((Number(s.bytes) / totalBytes) * 60)}px` }}
                            aria-hidden="true"
                          />
                          {formatBytes(s.bytes)}
                        </td>
                        <td className="num">{usd(Number(s.monthly_usd))}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </div>
          </section>
        </>
      )}
    </section>
  );
}

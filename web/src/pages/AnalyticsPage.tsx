// A store's numbers from the Chatwoot mirror for the last 7, 30 or 90 days: conversations per day by
// channel, first response and resolution times, who answered, busiest hours and CSAT; each figure
// downloads as CSV. Owners and admins see their stores, platform administrators every store; the
// API's SQL decides (RLS and the store check), the picker only offers what it would allow.

import { type ReactNode, useMemo, useState } from "react";
import { useApi, useMe } from "../auth/session.tsx";
import type { StoreAnalytics } from "../api/types.ts";
import { Chart } from "../components/Chart.tsx";
import { EmptyState, ErrorAlert, Loading } from "../components/feedback.tsx";
import { downloadCsv, toCsv, type CsvValue } from "../csv.ts";
import { formatCount, formatDateTime } from "../format.ts";
import { useLoader } from "../hooks/useLoader.ts";
import { href } from "../router.ts";

const RANGES = [
  { id: "7d", label: "Last 7 days", days: 7 },
  { id: "30d", label: "Last 30 days", days: 30 },
  { id: "90d", label: "Last 90 days", days: 90 },
] as const;
type RangeId = (typeof RANGES)[number]["id"];

const COLORS = ["#1f5fbf", "#17663a", "#b45309", "#7c3aed", "#be123c", "#0e7490", "#4b5563"];
const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const OUTCOMES: Record<string, string> = {
  bot: "Answered by the bot",
  handed_off: "Handed off by the bot to people",
  people: "Answered by people",
  unanswered: "Not answered yet",
};
const MEASURES: Record<string, { label: string; waiting: string }> = {
  first_response: { label: "First response", waiting: "awaiting a first response" },
  resolution: { label: "Resolution", waiting: "not resolved" },
};

export function AnalyticsPage({ slug }: { slug: string | null }) {
  const me = useMe();
  const stores = me.stores.filter((s) => me.platform_admin || s.role === "owner" || s.role === "admin");
  const current = slug ?? stores[0]?.slug ?? null;
  const [range, setRange] = useState<RangeId>("30d");

  return (
    <section className="page" data-testid="analytics-page">
      <div className="page-head">
        <div>
          <h1>Store analytics</h1>
          <p className="muted">Conversations, response times, who answered and CSAT, from the Chatwoot mirror.</p>
        </div>
        <div className="filters">
          {stores.length > 1 && (
            <label className="field field-inline">
              <span>Store</span>
              <select
                value={current ?? ""}
                onChange={(e) => (window.location.hash = href({ page: "analytics", slug: e.target.value }))}
                data-testid="analytics-store"
              >
                {stores.map((s) => (
                  <option key={s.slug} value={s.slug}>
                    {s.name}
                  </option>
                ))}
              </select>
            </label>
          )}
          <label className="field field-inline">
            <span>Range</span>
            <select value={range} onChange={(e) => setRange(e.target.value as RangeId)} data-testid="analytics-range">
              {RANGES.map((r) => (
                <option key={r.id} value={r.id}>
                  {r.label}
                </option>
              ))}
            </select>
          </label>
        </div>
      </div>
      {current
        ? <StoreFigures slug={current} range={range} />
        : <EmptyState title="You administer no store." />}
    </section>
  );
}

function StoreFigures({ slug, range }: { slug: string; range: RangeId }) {
  const api = useApi();
  const [state, reload] = useLoader(() => {
    const days = RANGES.find((r) => r.id === range)!.days;
    const to = new Date();
    return api.analytics(slug, { from: new Date(to.getTime() - days * 86_400_000).toISOString(), to: to.toISOString() });
  }, [api, slug, range]);

  if (state.status === "loading") return <Loading label="Counting…" />;
  if (state.status === "error") {
    return <ErrorAlert error={state.error} title="Could not load this store's analytics" onRetry={reload} />;
  }
  const a = state.data;
  const save = (figure: string, header: string[], rows: CsvValue[][]) =>
    downloadCsv(`${slug}-${figure}-${a.range.from.slice(0, 10)}-${a.range.to.slice(0, 10)}.csv`, toCsv(header, rows));

  return (
    <>
      <p className="muted" data-testid="analytics-zone">
        {formatDateTime(a.range.from)} – {formatDateTime(a.range.to)}. Days and hours are in{" "}
        <strong>{a.time_zone}</strong>
        {a.store.time_zone ? ", the store's time zone." : " (this store has no time zone set)."}
      </p>
      <div className="analytics-grid">
        <PerDay a={a} onCsv={save} />
        <ResponseTimes a={a} onCsv={save} />
        <AnswerShare a={a} onCsv={save} />
        <BusiestHours a={a} onCsv={save} />
        <Csat a={a} onCsv={save} />
      </div>
    </>
  );
}

type FigureProps = { a: StoreAnalytics; onCsv: (figure: string, header: string[], rows: CsvValue[][]) => void };

function Figure({ id, title, onCsv, children }: {
  id: string;
  title: string;
  onCsv: () => void;
  children: ReactNode;
}) {
  return (
    <section className="panel analytics-figure" data-testid={`figure-${id}`} aria-labelledby={`figure-${id}-title`}>
      <div className="figure-head">
        <h2 id={`figure-${id}-title`}>{title}</h2>
        <button type="button" className="button button-small" onClick={onCsv} data-testid={`csv-${id}`}>
          Download CSV
        </button>
      </div>
      {children}
    </section>
  );
}

function PerDay({ a, onCsv }: FigureProps) {
  const rows = a.conversations_per_day;
  const chart = useMemo(() => {
    const channels = [...new Set(rows.map((r) => r.channel))].sort();
    if (!rows.length) return null;
    const first = Date.parse(`${rows[0].day}T00:00:00Z`);
    const last = Date.parse(`${rows.at(-1)!.day}T00:00:00Z`);
    const x: number[] = [];
    for (let t = first; t <= last; t += 86_400_000) x.push(t / 1000);
    const index = new Map(x.map((t, i) => [t, i]));
    const series = channels.map((c, i) => {
      const values = x.map(() => 0);
      for (const r of rows) if (r.channel === c) values[index.get(Date.parse(`${r.day}T00:00:00Z`) / 1000)!] = r.conversations;
      return { label: c, values, color: COLORS[i % COLORS.length] };
    });
    return { x, series };
  }, [rows]);
  const total = rows.reduce((n, r) => n + r.conversations, 0);
  return (
    <Figure
      id="conversations-per-day"
      title="Conversations per day by channel"
      onCsv={() => onCsv("conversations-per-day", ["day", "channel", "conversations"], rows.map((r) => [r.day, r.channel, r.conversations]))}
    >
      <p className="figure-total" data-testid="conversations-total">{formatCount(total, "conversation")}</p>
      {chart
        ? <Chart x={chart.x} series={chart.series} time label="Conversations per day by channel" testId="chart-per-day" />
        : <EmptyState title="No conversations in this range." />}
    </Figure>
  );
}

export function formatDuration(seconds: number | null): string {
  if (seconds === null) return "—";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  if (seconds < 36 * 3600) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

function ResponseTimes({ a, onCsv }: FigureProps) {
  const rows = a.response_times;
  return (
    <Figure
      id="response-times"
      title="First response and resolution"
      onCsv={() =>
        onCsv("response-times", ["measure", "conversations", "waiting", "p50_seconds", "p90_seconds"],
          rows.map((r) => [r.measure, r.conversations, r.waiting, r.p50_seconds, r.p90_seconds]))}
    >
      <table className="table" data-testid="response-times">
        <thead>
          <tr>
            <th>Measure</th>
            <th className="num">Median (p50)</th>
            <th className="num">p90</th>
            <th className="num">Measured</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.measure} data-testid={`measure-${r.measure}`}>
              <td>{MEASURES[r.measure]?.label ?? r.measure}</td>
              <td className="num">{formatDuration(r.p50_seconds)}</td>
              <td className="num">{formatDuration(r.p90_seconds)}</td>
              <td className="num" title={`${r.waiting} ${MEASURES[r.measure]?.waiting ?? "waiting"}`}>
                {r.conversations} <span className="muted">(+{r.waiting} {MEASURES[r.measure]?.waiting ?? "waiting"})</span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="muted small">
        First response: from the customer's first message to the first public reply by a person or the bot. Resolution:
        from the conversation's start to when it was resolved.
      </p>
    </Figure>
  );
}

function AnswerShare({ a, onCsv }: FigureProps) {
  const rows = a.answer_share;
  return (
    <Figure
      id="answer-share"
      title="Who answered"
      onCsv={() => onCsv("answer-share", ["outcome", "conversations", "share"], rows.map((r) => [r.outcome, r.conversations, r.share]))}
    >
      <table className="table" data-testid="answer-share">
        <tbody>
          {rows.map((r) => (
            <tr key={r.outcome} data-testid={`outcome-${r.outcome}`}>
              <td>{OUTCOMES[r.outcome] ?? r.outcome}</td>
              <td className="num">{r.conversations}</td>
              <td className="share">
                <span className="share-bar" style={{ width: `${Math.round(r.share * 100)}%` }} />
                <span className="share-value">{Math.round(r.share * 1000) / 10}%</span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="muted small">Conversations with a customer message in the range.</p>
    </Figure>
  );
}

function BusiestHours({ a, onCsv }: FigureProps) {
  const rows = a.busiest_hours;
  const chart = useMemo(() => {
    const values = Array.from({ length: 24 }, () => 0);
    for (const r of rows) values[r.hour] += r.incoming_messages;
    return { x: values.map((_, h) => h), series: [{ label: "Incoming messages", values, color: COLORS[0] }] };
  }, [rows]);
  const busiest = rows.reduce<(typeof rows)[number] | null>((b, r) => (!b || r.incoming_messages > b.incoming_messages ? r : b), null);
  return (
    <Figure
      id="busiest-hours"
      title={`Busiest hours (${a.time_zone})`}
      onCsv={() =>
        onCsv("busiest-hours", ["weekday", "hour", "incoming_messages", "time_zone"],
          rows.map((r) => [WEEKDAYS[r.weekday - 1], r.hour, r.incoming_messages, a.time_zone]))}
    >
      {busiest
        ? (
          <>
            <p className="figure-total" data-testid="busiest-hour">
              Busiest: {WEEKDAYS[busiest.weekday - 1]} {String(busiest.hour).padStart(2, "0")}:00–
              {String((busiest.hour + 1) % 24).padStart(2, "0")}:00 ({formatCount(busiest.incoming_messages, "message")})
            </p>
            <Chart x={chart.x} series={chart.series} kind="bars" label="Incoming messages by hour of day" testId="chart-hours" />
            <HourGrid rows={rows} />
          </>
        )
        : <EmptyState title="No incoming messages in this range." />}
    </Figure>
  );
}

/** Weekday × hour, shaded by incoming messages: when in the week the store is busiest. */
function HourGrid({ rows }: { rows: StoreAnalytics["busiest_hours"] }) {
  const cells = new Map(rows.map((r) => [`${r.weekday}:${r.hour}`, r.incoming_messages]));
  const max = Math.max(1, ...rows.map((r) => r.incoming_messages));
  return (
    <table className="hour-grid" data-testid="hours-grid" aria-label="Incoming messages by weekday and hour">
      <thead>
        <tr>
          <th />
          {Array.from({ length: 24 }, (_, h) => <th key={h} scope="col">{h % 3 === 0 ? h : ""}</th>)}
        </tr>
      </thead>
      <tbody>
        {WEEKDAYS.map((day, d) => (
          <tr key={day}>
            <th scope="row">{day}</th>
            {Array.from({ length: 24 }, (_, h) => {
              const n = cells.get(`${d + 1}:${h}`) ?? 0;
              return (
                <td
                  key={h}
                  title={`${day} ${String(h).padStart(2, "0")}:00 — ${formatCount(n, "message")}`}
                  style={{ background: n ? `rgba(31, 95, 191, ${0.15 + 0.85 * (n / max)})` : undefined }}
                />
              );
            })}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Csat({ a, onCsv }: FigureProps) {
  const rows = a.csat;
  const counts = [1, 2, 3, 4, 5].map((n) => rows.filter((r) => r.rating === n).length);
  const average = rows.length ? rows.reduce((s, r) => s + r.rating, 0) / rows.length : null;
  const satisfied = rows.length ? rows.filter((r) => r.rating >= 4).length / rows.length : null;
  return (
    <Figure
      id="csat"
      title="CSAT"
      onCsv={() =>
        onCsv("csat", ["conversation", "rating", "feedback", "sent_at"],
          rows.map((r) => [r.conversation_display_id, r.rating, r.feedback, r.sent_at]))}
    >
      {rows.length === 0
        ? <EmptyState title="No survey answers in this range." testId="csat-empty">Chatwoot sends a CSAT survey when a conversation is resolved, if the inbox has it on.</EmptyState>
        : (
          <>
            <p className="figure-total" data-testid="csat-summary">
              {formatCount(rows.length, "answer")}, average {average!.toFixed(1)} / 5, {Math.round(satisfied! * 100)}%
              satisfied (4–5)
            </p>
            <table className="table">
              <tbody>
                {counts.map((n, i) => (
                  <tr key={i}>
                    <td>{"★".repeat(i + 1)}</td>
                    <td className="num">{n}</td>
                    <td className="share">
                      <span className="share-bar" style={{ width: `${Math.round((n / rows.length) * 100)}%` }} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            <ul className="feedback" data-testid="csat-feedback">
              {rows.filter((r) => r.feedback).slice(0, 5).map((r) => (
                <li key={`${r.conversation_display_id}-${r.sent_at}`}>
                  “{r.feedback}” <span className="muted">— {r.rating}★, conversation #{r.conversation_display_id}</span>
                </li>
              ))}
            </ul>
          </>
        )}
    </Figure>
  );
}

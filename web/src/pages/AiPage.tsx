// A store's AI replies: whether its Chatwoot agent bot is on and in which mode, the handoff message
// and daily budget, its knowledge base (documents and FAQ entries, adding both), and the bot's
// latest decisions with their reasons. Store administrators change things; other members read.

import { type FormEvent, useState } from "react";
import { useApi, useMe } from "../auth/session.tsx";
import type { AiPause, AiSettings } from "../api/types.ts";
import { EmptyState, ErrorAlert, Loading, Notice, StatusBadge } from "../components/feedback.tsx";
import { formatDateTime } from "../format.ts";
import { useLoader } from "../hooks/useLoader.ts";
import { href } from "../router.ts";

export function AiPage({ slug }: { slug: string | null }) {
  const me = useMe();
  const stores = me.stores;
  const current = slug ?? stores[0]?.slug ?? null;

  return (
    <section className="page" data-testid="ai-page">
      <div className="page-head">
        <div>
          <h1>AI replies</h1>
          <p className="muted">The store's agent bot in Chatwoot, its knowledge base and what it decided.</p>
        </div>
        {stores.length > 1 && (
          <label className="field field-inline">
            <span>Store</span>
            <select
              value={current ?? ""}
              onChange={(e) => (window.location.hash = href({ page: "ai", slug: e.target.value }))}
              data-testid="ai-store"
            >
              {stores.map((s) => (
                <option key={s.slug} value={s.slug}>
                  {s.name}
                </option>
              ))}
            </select>
          </label>
        )}
      </div>
      {current ? <StoreAi slug={current} /> : <EmptyState title="You are not a member of any store." />}
    </section>
  );
}

/** The AI paused for quota: why, since when, what it did meanwhile, and the way out. */
function PausedBanner(
  { pause, canResume, busy, onResume }: {
    pause: AiPause;
    canResume: boolean;
    busy: boolean;
    onResume: () => void;
  },
) {
  return (
    <div className="alert alert-warning" role="alert" data-testid="ai-paused">
      <div>
        <strong>AI replies are paused: the OpenAI account is out of quota</strong>
        <p>
          Since {formatDateTime(pause.paused_at)} every customer message goes to a person ({pause.handoffs}{" "}
          handed off so far). OpenAI said: “{pause.reason}”
        </p>
        <p className="small muted">
          {pause.next_probe_at
            ? `It resumes by itself when a check succeeds (next ${formatDateTime(pause.next_probe_at)}), or `
            : "It resumes "}
          when a platform administrator resumes it after fixing the account's billing.
        </p>
      </div>
      {canResume && (
        <button type="button" className="button" disabled={busy} onClick={onResume} data-testid="ai-resume">
          Resume AI
        </button>
      )}
    </div>
  );
}

function StoreAi({ slug }: { slug: string }) {
  const me = useMe();
  const api = useApi();
  const [overview, reloadOverview] = useLoader(() => api.ai(slug), [api, slug]);
  const [docs, reloadDocs] = useLoader(() => api.knowledge(slug), [api, slug]);
  const [notice, setNotice] = useState<string | null>(null);
  const [failure, setFailure] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);

  const act = async (what: () => Promise<unknown>, done: string, reload: () => void) => {
    setBusy(true);
    setFailure(null);
    try {
      await what();
      setNotice(done);
      reload();
    } catch (err) {
      setFailure(err as Error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      {notice && (
        <Notice onDismiss={() => setNotice(null)} testId="ai-notice">
          {notice}
        </Notice>
      )}
      {failure && <ErrorAlert error={failure} title="That did not work" testId="ai-error" />}
      {overview.status === "ready" && overview.data.ai_pause && (
        <PausedBanner
          pause={overview.data.ai_pause}
          canResume={me.platform_admin}
          busy={busy}
          onResume={() =>
            act(
              () => api.resumeAi(),
              "AI resumed: replies use the model again",
              reloadOverview,
            )}
        />
      )}

      <h2>Agent bot</h2>
      {overview.status === "loading" && <Loading label="Loading the bot's settings…" />}
      {overview.status === "error" && (
        <ErrorAlert error={overview.error} title="Could not load AI settings" onRetry={reloadOverview} />
      )}
      {overview.status === "ready" && (
        <BotPanel
          settings={overview.data.settings}
          usage={overview.data.usage_today}
          busy={busy}
          onToggle={(on) =>
            act(() => api.setAiEnabled(slug, on), on ? "AI replies are on" : "AI replies are off", reloadOverview)}
          onSave={(patch) => act(() => api.saveAiSettings(slug, patch), "Settings saved", reloadOverview)}
        />
      )}

      <h2>Knowledge base</h2>
      <AddKnowledge
        busy={busy}
        onFaq={(q, a) => act(() => api.addFaq(slug, q, a), "FAQ entry added", reloadDocs)}
        onFile={(f) => act(() => api.uploadDocument(slug, f), `${f.name} added`, reloadDocs)}
      />
      {docs.status === "loading" && <Loading label="Loading the knowledge base…" />}
      {docs.status === "error" && <ErrorAlert error={docs.error} title="Could not load documents" onRetry={reloadDocs} />}
      {docs.status === "ready" && docs.data.length === 0 && (
        <EmptyState title="No documents yet" testId="kb-empty">
          Add an FAQ entry or a Markdown, text, HTML or PDF file.
        </EmptyState>
      )}
      {docs.status === "ready" && docs.data.length > 0 && (
        <div className="table-wrap">
          <table className="table" data-testid="kb-table">
            <thead>
              <tr>
                <th>Title</th>
                <th>Kind</th>
                <th>Status</th>
                <th className="num">Chunks</th>
                <th className="num">Embedded</th>
                <th>Added</th>
              </tr>
            </thead>
            <tbody>
              {docs.data.map((d) => (
                <tr key={d.id} data-testid="kb-row">
                  <td>{d.title}</td>
                  <td>{d.kind === "faq" ? "FAQ" : d.source_name}</td>
                  <td>
                    <StatusBadge value={d.status} />
                    {d.error && <div className="small muted">{d.error}</div>}
                  </td>
                  <td className="num">{d.chunks}</td>
                  <td className="num">{d.embedded}</td>
                  <td>{formatDateTime(d.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <h2>Latest decisions</h2>
      {overview.status === "ready" && overview.data.decisions.length === 0 && (
        <EmptyState title="No decisions yet" testId="decisions-empty">
          Each customer message the bot sees is answered, handed off or skipped, with its reason.
        </EmptyState>
      )}
      {overview.status === "ready" && overview.data.decisions.length > 0 && (
        <div className="table-wrap">
          <table className="table" data-testid="decisions-table">
            <thead>
              <tr>
                <th>When</th>
                <th className="num">Conversation</th>
                <th>Action</th>
                <th>Question</th>
                <th>Reason</th>
                <th className="num">Tokens</th>
                <th className="num">ms</th>
              </tr>
            </thead>
            <tbody>
              {overview.data.decisions.map((d) => (
                <tr key={`${d.account_ref}/${d.message_id}`} data-testid="decision-row">
                  <td>{formatDateTime(d.created_at)}</td>
                  <td className="num">#{d.conversation_display_id}</td>
                  <td>
                    <StatusBadge value={d.action ?? d.status} />
                  </td>
                  <td className="cell-reason">{d.question ?? <span className="muted">—</span>}</td>
                  <td className="cell-reason">{d.reason ?? ""}</td>
                  <td className="num">{d.prompt_tokens + d.completion_tokens}</td>
                  <td className="num">{d.latency_ms ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

function BotPanel({
  settings,
  usage,
  busy,
  onToggle,
  onSave,
}: {
  settings: AiSettings | null;
  usage: { tokens: number; requests: number };
  busy: boolean;
  onToggle: (on: boolean) => void;
  onSave: (patch: Partial<Pick<AiSettings, "mode" | "handoff_message" | "daily_token_budget">>) => void;
}) {
  const [mode, setMode] = useState(settings?.mode ?? "auto");
  const [message, setMessage] = useState(settings?.handoff_message ?? "");
  const [budget, setBudget] = useState(String(settings?.daily_token_budget ?? 200000));
  const enabled = settings?.enabled === true;

  const save = (e: FormEvent) => {
    e.preventDefault();
    onSave({ mode, handoff_message: message.trim(), daily_token_budget: Number(budget) });
  };

  return (
    <div className="panel" data-testid="bot-panel">
      <p>
        <StatusBadge value={enabled ? "enabled" : "disabled"} testId="bot-state" />{" "}
        {enabled
          ? `Agent bot ${settings?.agent_bot_id} on inbox${(settings?.inbox_ids.length ?? 0) === 1 ? "" : "es"} ${
            settings?.inbox_ids.join(", ")
          }, ${settings?.mode} mode. Today: ${usage.tokens} tokens in ${usage.requests} model calls.`
          : "New conversations go straight to people."}
      </p>
      <button
        type="button"
        className="button"
        disabled={busy}
        onClick={() => onToggle(!enabled)}
        data-testid="bot-toggle"
      >
        {enabled ? "Turn AI replies off" : "Turn AI replies on"}
      </button>
      {settings && (
        <form onSubmit={save} className="form" data-testid="bot-settings">
          <label className="field">
            <span>Mode</span>
            <select value={mode} onChange={(e) => setMode(e.target.value as "auto" | "assist")} data-testid="bot-mode">
              <option value="auto">Auto: the bot answers the customer</option>
              <option value="assist">Assist: the answer is a private note for the agent</option>
            </select>
          </label>
          <label className="field">
            <span>Handoff message</span>
            <textarea
              value={message}
              onChange={(e) => setMessage(e.target.value)}
              rows={2}
              maxLength={1000}
              required
            />
          </label>
          <label className="field">
            <span>Daily token budget</span>
            <input type="number" min={0} value={budget} onChange={(e) => setBudget(e.target.value)} />
          </label>
          <button type="submit" className="button" disabled={busy} data-testid="bot-save">
            Save settings
          </button>
        </form>
      )}
    </div>
  );
}

function AddKnowledge({
  busy,
  onFaq,
  onFile,
}: {
  busy: boolean;
  onFaq: (question: string, answer: string) => void;
  onFile: (file: File) => void;
}) {
  const [question, setQuestion] = useState("");
  const [answer, setAnswer] = useState("");
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onFaq(question.trim(), answer.trim());
    setQuestion("");
    setAnswer("");
  };
  return (
    <div className="panel">
      <form onSubmit={submit} className="form" data-testid="faq-form">
        <label className="field">
          <span>Question</span>
          <input value={question} onChange={(e) => setQuestion(e.target.value)} required data-testid="faq-question" />
        </label>
        <label className="field">
          <span>Answer</span>
          <textarea value={answer} onChange={(e) => setAnswer(e.target.value)} rows={2} required data-testid="faq-answer" />
        </label>
        <button type="submit" className="button" disabled={busy} data-testid="faq-add">
          Add FAQ entry
        </button>
      </form>
      <label className="field">
        <span>Or add a file (Markdown, text, HTML, PDF)</span>
        <input
          type="file"
          accept=".md,.markdown,.txt,.html,.htm,.pdf,text/markdown,text/plain,text/html,application/pdf"
          disabled={busy}
          onChange={(e) => {
            const f = e.target.files?.[0];
            if (f) onFile(f);
            e.target.value = "";
          }}
          data-testid="kb-file"
        />
      </label>
    </div>
  );
}

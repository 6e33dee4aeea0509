// Each store's Chatwoot integration: its state and why it failed, re-provisioning, suspending and
// reactivating (confirmed first), and the website widget snippet to paste into the store's site.

import { useState } from "react";
import { useApi } from "../auth/session.tsx";
import { ApiError } from "../api/adminApi.ts";
import type { Store, StoreAction } from "../api/types.ts";
import { ConfirmDialog, Dialog } from "../components/Dialog.tsx";
import { EmptyState, ErrorAlert, Loading, Notice, StatusBadge } from "../components/feedback.tsx";
import { useLoader } from "../hooks/useLoader.ts";

const ACTION_TEXT: Record<StoreAction, { title: (s: Store) => string; body: string; confirm: string; done: string }> = {
  reprovision: {
    title: (s) => `Re-provision ${s.name}?`,
    body:
      "Switchboard runs the store's Chatwoot provisioning again: steps already done are kept, missing ones (account, user, inboxes, webhook) are created.",
    confirm: "Re-provision",
    done: "Re-provisioning requested",
  },
  suspend: {
    title: (s) => `Suspend ${s.name}?`,
    body: "The store's Chatwoot account is suspended: agents cannot sign in and the widget stops answering until it is reactivated.",
    confirm: "Suspend store",
    done: "Suspended",
  },
  reactivate: {
    title: (s) => `Reactivate ${s.name}?`,
    body: "The store's Chatwoot account is reactivated: agents can sign in again and the widget answers.",
    confirm: "Reactivate store",
    done: "Reactivated",
  },
};

export function StoresPage() {
  const api = useApi();
  const [stores, reload] = useLoader(() => api.stores(), [api]);
  const [pending, setPending] = useState<{ store: Store; action: StoreAction } | null>(null);
  const [widgetFor, setWidgetFor] = useState<Store | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  return (
    <section className="page" data-testid="stores-page">
      <div className="page-head">
        <div>
          <h1>Stores</h1>
          <p className="muted">Each store's Chatwoot account: provisioning state, failures and the website widget.</p>
        </div>
        <button type="button" className="button" onClick={reload} data-testid="stores-refresh">
          Refresh
        </button>
      </div>

      {notice && (
        <Notice onDismiss={() => setNotice(null)} testId="store-notice">
          {notice}
        </Notice>
      )}
      {stores.status === "loading" && <Loading label="Loading stores…" />}
      {stores.status === "error" && <ErrorAlert error={stores.error} title="Could not load stores" onRetry={reload} />}
      {stores.status === "ready" && stores.data.length === 0 && (
        <EmptyState title="No stores">There is no store you can administer.</EmptyState>
      )}
      {stores.status === "ready" && stores.data.length > 0 && (
        <div className="table-wrap">
          <table className="table" data-testid="stores-table">
            <thead>
              <tr>
                <th>Store</th>
                <th>Status</th>
                <th>Chatwoot</th>
                <th>Account</th>
                <th className="actions-col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {stores.data.map((s) => {
                const state = s.chatwoot?.state ?? "not provisioned";
                const failed = state === "failed";
                return (
                  <tr key={s.id} data-testid="store-row" data-slug={s.slug}>
                    <td>
                      <div className="strong">{s.name}</div>
                      <div className="muted small mono">{s.slug}</div>
                    </td>
                    <td>
                      <StatusBadge value={s.status} testId="store-status" />
                    </td>
                    <td className="cell-wide">
                      <StatusBadge value={state} testId="chatwoot-state" />
                      {s.chatwoot?.failure_reason && (
                        <p className="failure" data-testid="failure-reason">
                          {s.chatwoot.failure_reason}
                        </p>
                      )}
                    </td>
                    <td className="small">
                      <div>
                        {s.chatwoot?.account_id != null
                          ? `Account #${String(s.chatwoot.account_id)}`
                          : <span className="muted">No account yet</span>}
                      </div>
                      {s.chatwoot?.chatwoot_url && (
                        <a href={s.chatwoot.chatwoot_url} target="_blank" rel="noreferrer" className="muted">
                          {s.chatwoot.chatwoot_url.replace(/^https?:\/\//, "")}
                        </a>
                      )}
                    </td>
                    <td className="actions-col">
                      <div className="row-actions">
                        <button
                          type="button"
                          className={failed ? "button button-primary button-small" : "button button-small"}
                          onClick={() => setPending({ store: s, action: "reprovision" })}
                          data-testid="store-reprovision"
                        >
                          {failed ? "Retry" : "Re-provision"}
                        </button>
                        {s.status === "active"
                          ? (
                            <button
                              type="button"
                              className="button button-small button-danger-quiet"
                              onClick={() => setPending({ store: s, action: "suspend" })}
                              data-testid="store-suspend"
                            >
                              Suspend
                            </button>
                          )
                          : (
                            <button
                              type="button"
                              className="button button-small"
                              onClick={() => setPending({ store: s, action: "reactivate" })}
                              data-testid="store-reactivate"
                            >
                              Reactivate
                            </button>
                          )}
                        <button
                          type="button"
                          className="button button-small"
                          onClick={() => setWidgetFor(s)}
                          data-testid="store-widget"
                        >
                          Widget
                        </button>
                      </div>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}

      {pending && (
        <ConfirmDialog
          title={ACTION_TEXT[pending.action].title(pending.store)}
          confirmLabel={ACTION_TEXT[pending.action].confirm}
          danger={pending.action === "suspend"}
          onClose={() => setPending(null)}
          onConfirm={async () => {
            const r = await api.storeAction(pending.store.slug, pending.action);
            const job = r.job_id !== undefined && r.job_id !== null ? ` (job #${String(r.job_id)})` : "";
            setNotice(`${ACTION_TEXT[pending.action].done}: ${pending.store.name}${job}.`);
            setPending(null);
            reload();
          }}
          testId="store-action-dialog"
        >
          <p>{ACTION_TEXT[pending.action].body}</p>
        </ConfirmDialog>
      )}
      {widgetFor && <WidgetDialog store={widgetFor} onClose={() => setWidgetFor(null)} />}
    </section>
  );
}

function WidgetDialog({ store, onClose }: { store: Store; onClose: () => void }) {
  const api = useApi();
  const [snippet] = useLoader(() => api.widget(store.slug), [api, store.slug]);
  const [copied, setCopied] = useState<"idle" | "copied" | "failed">("idle");

  async function copy(text: string) {
    try {
      await navigator.clipboard.writeText(text);
      setCopied("copied");
    } catch {
      // No clipboard permission (e.g. plain http): select the text so Ctrl+C works.
      const pre = document.querySelector<HTMLElement>("[data-testid=widget-snippet]");
      if (pre) window.getSelection()?.selectAllChildren(pre);
      setCopied("failed");
    }
  }

  return (
    <Dialog title={`Website widget — ${store.name}`} onClose={onClose} testId="widget-dialog" wide>
      {snippet.status === "loading" && <Loading label="Loading snippet…" />}
      {snippet.status === "error" && (
        snippet.error instanceof ApiError && snippet.error.status === 404
          ? (
            <EmptyState title="No widget yet" testId="widget-missing">
              {snippet.error.message} It appears once the store's Chatwoot account is provisioned.
            </EmptyState>
          )
          : <ErrorAlert error={snippet.error} title="Could not load the widget snippet" />
      )}
      {snippet.status === "ready" && (
        <>
          <p className="muted">Paste this before <code>&lt;/body&gt;</code> on every page of the store's website.</p>
          <pre className="snippet" data-testid="widget-snippet" tabIndex={0}>
            {snippet.data}
          </pre>
        </>
      )}
      <div className="dialog-actions">
        <span className="muted small" role="status" aria-live="polite">
          {copied === "copied" ? "Copied to the clipboard." : copied === "failed" ? "Copy blocked: the snippet is selected, press Ctrl+C." : ""}
        </span>
        <button type="button" className="button" onClick={onClose} data-testid="dialog-close">
          Close
        </button>
        {snippet.status === "ready" && (
          <button type="button" className="button button-primary" onClick={() => void copy(snippet.data)} data-testid="copy-snippet">
            Copy snippet
          </button>
        )}
      </div>
    </Dialog>
  );
}

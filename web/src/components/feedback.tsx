// What a page says while it waits, when it has nothing, when something failed, and when an action
// worked. Errors are role="alert" with the API's own message; notices are polite status updates.

import type { ReactNode } from "react";

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <div className="loading" role="status" aria-live="polite" data-testid="loading">
      <span className="spinner" aria-hidden="true" />
      {label}
    </div>
  );
}

export function ErrorAlert({
  error,
  title = "Something went wrong",
  onRetry,
  testId = "error-alert",
}: {
  error: Error | string;
  title?: string;
  onRetry?: () => void;
  testId?: string;
}) {
  const message = typeof error === "string" ? error : error.message;
  return (
    <div className="alert alert-error" role="alert" data-testid={testId}>
      <div>
        <strong>{title}</strong>
        <p>{message}</p>
      </div>
      {onRetry && (
        <button type="button" className="button" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Notice({
  children,
  tone = "success",
  onDismiss,
  testId = "notice",
}: {
  children: ReactNode;
  tone?: "success" | "info" | "warning";
  onDismiss?: () => void;
  testId?: string;
}) {
  return (
    <div className={`alert alert-${tone}`} role="status" aria-live="polite" data-testid={testId}>
      <div>{children}</div>
      {onDismiss && (
        <button type="button" className="button button-quiet" onClick={onDismiss} aria-label="Dismiss">
          ×
        </button>
      )}
    </div>
  );
}

export function EmptyState({ title, children, testId = "empty" }: { title: string; children?: ReactNode; testId?: string }) {
  return (
    <div className="empty" data-testid={testId}>
      <p className="empty-title">{title}</p>
      {children && <div className="empty-body">{children}</div>}
    </div>
  );
}

const TONES: Record<string, string> = {
  active: "good",
  completed: "good",
  mapped: "good",
  running: "info",
  erasing: "info",
  waiting: "warn",
  provisioning: "info",
  queued: "info",
  pending: "info",
  mapping: "info",
  suspending: "warn",
  deleting: "warn",
  suspended: "warn",
  ignored: "muted",
  deleted: "muted",
  failed: "bad",
  dead: "bad",
  ready: "good",
  enabled: "good",
  reply: "good",
  assist: "info",
  handoff: "warn",
  skip: "muted",
  disabled: "muted",
};

export function StatusBadge({ value, testId }: { value: string; testId?: string }) {
  return (
    <span className={`badge badge-${TONES[value] ?? "muted"}`} data-testid={testId}>
      {value}
    </span>
  );
}

// Rails record conventions the model classes share: `previous_changes` with updated_at last (the basis of
// every changed_attributes), `blank?`, timestamps, Devise's e-mail format, and what a model needs to run.

import { type ChangedAttributes, DATETIME_COLUMNS, iso } from "./payloads.ts";
import type { AgentBot, SandboxState, User } from "./state.ts";
import type { EventDispatcher } from "./webhooks.ts";

/** Who did it: activity messages, bot handoff and assignment rules depend on it. */
export type Actor = { kind: "user"; user: User } | { kind: "bot"; bot: AgentBot } | { kind: "system" };

export interface ModelDeps {
  state: SandboxState;
  events: EventDispatcher;
  now(): number;
  /** Runs `fn` after `ms`, tracked so callers can wait for it (SendReplyJob, transcription jobs). */
  schedule(ms: number, fn: () => void): void;
  /** How long the emulated SendReplyJob takes to hand a WhatsApp reply to Meta. */
  sendReplyDelayMs: number;
}

/** Devise.email_regexp. */
export const EMAIL_RE = /^[^@\s]+@[^@\s]+$/;

/** Ruby's `blank?` for request values. */
export const blank = (v: unknown): boolean => v === null || v === undefined || String(v).trim() === "";

const clone = <T>(v: T): T => v === undefined ? v : structuredClone(v);
const render = (key: string, v: unknown) => DATETIME_COLUMNS.has(key) && typeof v === "number" ? iso(v) : clone(v);

/** Assigns `patch` and returns Rails-style previous_changes, updated_at last and strictly increasing. */
export function applyChanges<T extends { updated_at: number }>(
  row: T,
  patch: Partial<T>,
  now: number,
): ChangedAttributes {
  const rec = row as unknown as Record<string, unknown>;
  const changes: ChangedAttributes = [];
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined || key === "updated_at") continue;
    if (JSON.stringify(rec[key]) === JSON.stringify(value)) continue;
    changes.push({ [key]: { previous_value: render(key, rec[key]), current_value: render(key, value) } });
    rec[key] = clone(value);
  }
  if (changes.length) {
    const previous = row.updated_at;
    row.updated_at = Math.max(now, previous + 1);
    changes.push({ updated_at: { previous_value: iso(previous), current_value: iso(row.updated_at) } });
  }
  return changes;
}

export function hexToken(bytes = 16): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

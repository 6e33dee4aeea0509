// Finds a platform user to map contacts to: searches admin-api/archive/users by name, e-mail or
// number (users who already have an archive), or takes a user id typed in.

import { useEffect, useId, useState } from "react";
import { useApi } from "../auth/session.tsx";
import type { ArchiveUser } from "../api/types.ts";

export interface PickedUser {
  user_id: string;
  label: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function userLabel(u: { full_name: string | null; email: string | null; user_id: string }): string {
  if (u.full_name && u.email) return `${u.full_name} (${u.email})`;
  return u.full_name ?? u.email ?? u.user_id;
}

export function UserPicker({ value, onChange }: { value: PickedUser | null; onChange: (u: PickedUser | null) => void }) {
  const api = useApi();
  const [q, setQ] = useState("");
  const [users, setUsers] = useState<ArchiveUser[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const listId = useId();

  useEffect(() => {
    const term = q.trim();
    if (term.length < 2) {
      setUsers(null);
      setError(null);
      return;
    }
    let stale = false;
    setLoading(true);
    const t = setTimeout(() => {
      api.archiveUsers(term).then(
        (found) => {
          if (stale) return;
          setUsers(found);
          setError(null);
          setLoading(false);
        },
        (err: Error) => {
          if (stale) return;
          setError(err.message);
          setLoading(false);
        },
      );
    }, 250);
    return () => {
      stale = true;
      clearTimeout(t);
    };
  }, [api, q]);

  const typedId = UUID.test(q.trim()) ? q.trim() : null;

  return (
    <div className="picker">
      <label className="field">
        <span>Find a user by name, e-mail, number or user id</span>
        <input
          type="search"
          value={q}
          onChange={(e) => setQ(e.target.value)}
          placeholder="e.g. Ana, ana@acme.test, +5511…"
          aria-controls={listId}
          data-testid="user-picker-search"
        />
      </label>
      <div id={listId} className="picker-results" aria-live="polite">
        {loading && <p className="muted">Searching…</p>}
        {error && (
          <p className="text-error" role="alert">
            {error}
          </p>
        )}
        {typedId && (
          <label className="picker-option">
            <input
              type="radio"
              name={`${listId}-user`}
              checked={value?.user_id === typedId}
              onChange={() => onChange({ user_id: typedId, label: typedId })}
            />
            <span>User id {typedId}</span>
          </label>
        )}
        {users && users.length === 0 && !loading && <p className="muted">No archived user matches “{q.trim()}”.</p>}
        {users?.map((u) => (
          <label key={u.user_id} className="picker-option" data-testid="user-picker-option">
            <input
              type="radio"
              name={`${listId}-user`}
              checked={value?.user_id === u.user_id}
              onChange={() => onChange({ user_id: u.user_id, label: userLabel(u) })}
            />
            <span>
              <strong>{u.full_name ?? "Unnamed user"}</strong>
              <span className="muted"> {[u.email, u.phone_e164].filter(Boolean).join(" · ")}</span>
            </span>
          </label>
        ))}
      </div>
    </div>
  );
}

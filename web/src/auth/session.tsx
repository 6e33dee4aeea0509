// Who is signed in and what they may administer: supabase-js keeps (and refreshes) the session,
// admin-api/me says the role. A session that disappears without the user signing out, or an API
// 401, sends the app back to sign-in with "Your session expired — sign in again".

import type { SupabaseClient } from "@supabase/supabase-js";
import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useRef, useState } from "react";
import { AdminApi, ApiError, SESSION_EXPIRED_MESSAGE } from "../api/adminApi.ts";
import type { Me } from "../api/types.ts";

export type SessionState =
  | { status: "loading" }
  | { status: "signedOut"; notice: string | null }
  | { status: "signedIn"; me: Me }
  | { status: "unavailable"; error: Error };

interface SessionContextValue {
  state: SessionState;
  api: AdminApi;
  /** Resolves to an error message a person can act on, or null once signed in. */
  signIn(email: string, password: string): Promise<string | null>;
  signOut(): Promise<void>;
  retry(): void;
}

const SessionContext = createContext<SessionContextValue | null>(null);

// Set while this tab holds a session; if the session is gone at start-up while it is still set,
// the session expired (or was cleared) rather than the user signing out.
const SIGNED_IN_FLAG = "switchboard.admin.signed-in";

function rememberSignedIn(on: boolean) {
  try {
    if (on) sessionStorage.setItem(SIGNED_IN_FLAG, "1");
    else sessionStorage.removeItem(SIGNED_IN_FLAG);
  } catch {
    // storage disabled: the expiry notice is then only shown for in-app expiries
  }
}

function wasSignedIn(): boolean {
  try {
    return sessionStorage.getItem(SIGNED_IN_FLAG) === "1";
  } catch {
    return false;
  }
}

export function SessionProvider({ supabase, children }: { supabase: SupabaseClient; children: ReactNode }) {
  const [state, setState] = useState<SessionState>({ status: "loading" });
  const stateRef = useRef(state);
  stateRef.current = state;
  // Read once, before a failed refresh at start-up can clear it.
  const startedSignedIn = useRef<boolean | null>(null);
  startedSignedIn.current ??= wasSignedIn();

  const expire = useCallback(() => {
    if (stateRef.current.status === "signedOut") return;
    rememberSignedIn(false);
    const next: SessionState = { status: "signedOut", notice: SESSION_EXPIRED_MESSAGE };
    stateRef.current = next;
    setState(next);
    // Drop whatever is left of the stored session; failures here change nothing for the user.
    void supabase.auth.signOut({ scope: "local" }).catch(() => {});
  }, [supabase]);

  const api = useMemo(() => new AdminApi(supabase, expire), [supabase, expire]);

  const loadMe = useCallback(async () => {
    try {
      const me = await api.me();
      setState({ status: "signedIn", me });
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return; // expire() already moved us to sign-in
      setState({ status: "unavailable", error: err instanceof Error ? err : new Error(String(err)) });
    }
  }, [api]);

  useEffect(() => {
    let cancelled = false;
    (async () => {
      const { data } = await supabase.auth.getSession();
      if (cancelled) return;
      if (!data.session) {
        rememberSignedIn(false);
        // A failed refresh may already have signalled SIGNED_OUT (and said so): keep that notice.
        setState((prev) =>
          prev.status === "signedOut"
            ? prev
            : { status: "signedOut", notice: startedSignedIn.current ? SESSION_EXPIRED_MESSAGE : null }
        );
        return;
      }
      rememberSignedIn(true);
      await loadMe();
    })();
    const { data: sub } = supabase.auth.onAuthStateChange((event) => {
      // Only a sign-out this tab did not ask for (a refresh that failed, another tab signing out).
      if (event === "SIGNED_OUT" && stateRef.current.status !== "signedOut") expire();
    });
    return () => {
      cancelled = true;
      sub.subscription.unsubscribe();
    };
  }, [supabase, loadMe, expire]);

  const signIn = useCallback(
    async (email: string, password: string) => {
      const { error } = await supabase.auth.signInWithPassword({ email: email.trim(), password });
      if (error) {
        if (error.name === "AuthRetryableFetchError" || error.status === 0) {
          return "Could not reach the sign-in service. Check your connection and try again.";
        }
        return error.message || "Sign-in failed. Try again.";
      }
      rememberSignedIn(true);
      setState({ status: "loading" });
      await loadMe();
      return null;
    },
    [supabase, loadMe],
  );

  const signOut = useCallback(async () => {
    rememberSignedIn(false);
    const next: SessionState = { status: "signedOut", notice: null };
    stateRef.current = next;
    setState(next);
    await supabase.auth.signOut({ scope: "local" }).catch(() => {});
  }, [supabase]);

  const retry = useCallback(() => {
    setState({ status: "loading" });
    void loadMe();
  }, [loadMe]);

  const value = useMemo(() => ({ state, api, signIn, signOut, retry }), [state, api, signIn, signOut, retry]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionContextValue {
  const ctx = useContext(SessionContext);
  if (!ctx) throw new Error("useSession outside SessionProvider");
  return ctx;
}

/** The signed-in administrator; only for pages rendered inside the signed-in shell. */
export function useMe(): Me {
  const { state } = useSession();
  if (state.status !== "signedIn") throw new Error("useMe without a signed-in user");
  return state.me;
}

export function useApi(): AdminApi {
  return useSession().api;
}

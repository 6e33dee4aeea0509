// One API read with its loading, error and ready states, reloadable; a stale answer (the
// inputs changed while it was in flight) is dropped.

import { type DependencyList, useCallback, useEffect, useRef, useState } from "react";

export type Loaded<T> =
  | { status: "loading" }
  | { status: "error"; error: Error }
  | { status: "ready"; data: T };

export function useLoader<T>(
  load: () => Promise<T>,
  deps: DependencyList,
): [Loaded<T>, () => void, (update: (data: T) => T) => void] {
  const [state, setState] = useState<Loaded<T>>({ status: "loading" });
  const generation = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  const run = useCallback(() => {
    const mine = ++generation.current;
    setState({ status: "loading" });
    loadRef.current().then(
      (data) => mine === generation.current && setState({ status: "ready", data }),
      (error: unknown) =>
        mine === generation.current &&
        setState({ status: "error", error: error instanceof Error ? error : new Error(String(error)) }),
    );
  }, []);

  // deps are the caller's: the loader re-runs when they change.
  // eslint-disable-next-line react-hooks/exhaustive-deps
  useEffect(run, deps);
  useEffect(() => () => void generation.current++, []);

  const update = useCallback((fn: (data: T) => T) => {
    setState((s) => (s.status === "ready" ? { status: "ready", data: fn(s.data) } : s));
  }, []);

  return [state, run, update];
}

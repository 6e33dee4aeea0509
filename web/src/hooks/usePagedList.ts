// A keyset-paged list: the first page loads when the inputs change, "Load more" appends the page
// after the API's `next` cursor; a page that fails keeps what was already shown.

import { type DependencyList, useCallback, useEffect, useRef, useState } from "react";
import type { Page } from "../api/types.ts";

export interface PagedList<T> {
  status: "loading" | "error" | "ready";
  items: T[];
  next: string | null;
  error: Error | null;
  loadingMore: boolean;
  moreError: Error | null;
  loadMore(): void;
  reload(): void;
  setItems(update: (items: T[]) => T[]): void;
}

export function usePagedList<T>(loadPage: (after: string | null) => Promise<Page<T>>, deps: DependencyList): PagedList<T> {
  const [status, setStatus] = useState<PagedList<T>["status"]>("loading");
  const [items, setItemsState] = useState<T[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const [moreError, setMoreError] = useState<Error | null>(null);
  const generation = useRef(0);
  const loadRef = useRef(loadPage);
  loadRef.current = loadPage;

  const reload = useCallback(() => {
    const mine = ++generation.current;
    setStatus("loading");
    setError(null);
    setMoreError(null);
    setLoadingMore(false);
    loadRef.current(null).then(
      (page) => {
        if (mine !== generation.current) return;
        setItemsState(page.items);
        setNext(page.next);
        setStatus("ready");
      },
      (err: unknown) => {
        if (mine !== generation.current) return;
        setError(err instanceof Error ? err : new Error(String(err)));
        setStatus("error");
      },
    );
  }, []);

  // eslint-disable-next-line react-hooks/exhaustive-deps
  useEffect(reload, deps);
  useEffect(() => () => void generation.current++, []);

  const loadMore = useCallback(() => {
    if (!next || loadingMore) return;
    const mine = generation.current;
    setLoadingMore(true);
    setMoreError(null);
    loadRef.current(next).then(
      (page) => {
        if (mine !== generation.current) return;
        setItemsState((prev) => [...prev, ...page.items]);
        setNext(page.next);
        setLoadingMore(false);
      },
      (err: unknown) => {
        if (mine !== generation.current) return;
        setMoreError(err instanceof Error ? err : new Error(String(err)));
        setLoadingMore(false);
      },
    );
  }, [next, loadingMore]);

  const setItems = useCallback((update: (items: T[]) => T[]) => setItemsState(update), []);

  return { status, items, next, error, loadingMore, moreError, loadMore, reload, setItems };
}

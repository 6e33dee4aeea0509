// Follows one archive erasure until it completes or fails, polling admin-api/archive/erasures/<id>:
// every second at first, then less often (an erasure of a large archive runs for minutes).

import { useEffect, useState } from "react";
import { useApi } from "../auth/session.tsx";
import type { ArchiveErasure } from "../api/types.ts";

export interface ErasureProgress {
  erasure: ArchiveErasure | null;
  error: Error | null;
}

export function useErasureProgress(erasureId: string | null): ErasureProgress {
  const api = useApi();
  const [progress, setProgress] = useState<ErasureProgress>({ erasure: null, error: null });

  useEffect(() => {
    setProgress({ erasure: null, error: null });
    if (!erasureId) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let polls = 0;
    const poll = async () => {
      polls++;
      try {
        const erasure = await api.erasure(erasureId);
        if (stopped) return;
        setProgress({ erasure, error: null });
        if (erasure.status === "completed" || erasure.status === "failed") return;
      } catch (err) {
        if (stopped) return;
        setProgress((p) => ({ ...p, error: err instanceof Error ? err : new Error(String(err)) }));
        if ((err as { status?: number }).status === 401) return;
      }
      timer = setTimeout(poll, polls < 60 ? 1000 : 5000);
    };
    void poll();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
  }, [api, erasureId]);

  return progress;
}

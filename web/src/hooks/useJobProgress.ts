// Follows one job (a mapping's archive move, an erasure) until it completes or dies, polling
// admin-api/jobs/<id>: every second at first, then less often.

import { useEffect, useState } from "react";
import { useApi } from "../auth/session.tsx";
import type { Job, JobId } from "../api/types.ts";

export interface JobProgress {
  job: Job | null;
  error: Error | null;
  done: boolean;
}

export function useJobProgress(jobId: JobId | null | undefined): JobProgress {
  const api = useApi();
  const [progress, setProgress] = useState<JobProgress>({ job: null, error: null, done: false });

  useEffect(() => {
    setProgress({ job: null, error: null, done: false });
    if (jobId === null || jobId === undefined || jobId === "") return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let polls = 0;
    const poll = async () => {
      polls++;
      try {
        const job = await api.job(jobId);
        if (stopped) return;
        const done = job.status === "completed" || job.status === "dead";
        setProgress({ job, error: null, done });
        if (done) return;
      } catch (err) {
        if (stopped) return;
        setProgress((p) => ({ ...p, error: err instanceof Error ? err : new Error(String(err)) }));
        if ((err as { status?: number }).status === 401) return;
      }
      timer = setTimeout(poll, polls < 30 ? 1000 : 5000);
    };
    void poll();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
  }, [api, jobId]);

  return progress;
}

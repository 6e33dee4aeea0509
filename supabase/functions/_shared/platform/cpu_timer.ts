// Charging CPU-bound work to a budget: hosted Supabase ends a request at 2 s of CPU (error 546),
// so code that hashes, parses or encodes large inputs times it through one of these. The job
// queue's CpuMeter is one; `untimed` is for callers outside a worker run.

export interface CpuTimer {
  /** Runs `fn` and charges its duration (only the synchronous part of an async `fn`). */
  time<T>(fn: () => T): T;
}

/** Charges nothing: for work done outside a budget (the CLI, tests, benchmarks). */
export const untimed: CpuTimer = { time: (fn) => fn() };

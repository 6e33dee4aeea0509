// The emulator's fault modes on the kit's rule engine, the way GCS and its network sometimes misbehave: 503 and 429
// answers (with Retry-After, in GCS's error body), slow answers, stalled responses, dropped connections.

import { z } from "zod";
import { type FaultRule as KitRule, faultRuleFields, FaultRules } from "../kit/faults.ts";
import { GcsError } from "./errors.ts";

export const FAULT_MODES = ["503", "429", "slow", "stall", "drop"] as const;

export const FaultRuleInput = z.object({
  mode: z.enum(FAULT_MODES),
  /** `path` globs the request path, e.g. `/storage/v1/b/*\/o/*`, or with a `?` path and query. */
  ...faultRuleFields,
  /** `slow`: delay in ms before the request is handled (default 1000). */
  ms: z.number().int().min(0).optional(),
  /** `503`/`429`: the Retry-After header, in seconds. */
  retry_after: z.number().int().min(0).optional(),
  /** `stall`: send the status line, headers and this many body bytes, then stall (implies the work is done). */
  bytes: z.number().int().min(0).optional(),
  /** `stall`/`drop`: do the request's work first (an upload is stored, then the client sees the fault). */
  after_work: z.boolean().optional(),
});
export type FaultRuleInput = z.input<typeof FaultRuleInput>;
export type FaultRule = KitRule<z.output<typeof FaultRuleInput>>;
export type FaultInjector = FaultRules<typeof FaultRuleInput>;

/** `slow` only delays a request; `drop` cuts its connection. */
export const createFaultInjector = (random?: () => number): FaultInjector =>
  new FaultRules(FaultRuleInput, {
    random,
    delayOf: (rule) => rule.mode === "slow" ? rule.ms ?? 1000 : undefined,
    dropsConnection: (rule) => rule.mode === "drop",
  });

/** The error a fired 503 or 429 answers with, in GCS's words. */
export function faultError(rule: FaultRule): GcsError {
  const headers: Record<string, string> = rule.retry_after !== undefined
    ? { "retry-after": String(rule.retry_after) }
    : {};
  if (rule.mode === "429") {
    return new GcsError(
      429,
      "rateLimitExceeded",
      "The rate of requests exceeds the rate limit. Please retry.",
      {},
      headers,
    );
  }
  return new GcsError(503, "backendError", "Backend Error", {}, headers);
}

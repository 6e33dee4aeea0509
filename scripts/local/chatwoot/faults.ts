// The sandbox's fault modes on the kit's rule engine: API-side modes (429, 500, latency, work_then_drop) act on
// requests, webhook-side modes (drop, duplicate, reorder, delay) act on deliveries, with Chatwoot's answers.

import { z } from "zod";
import { type FaultRule as KitRule, faultRuleFields, FaultRules } from "../kit/faults.ts";
import { json, throttled } from "./http.ts";

export const API_FAULT_MODES = ["429", "500", "latency", "work_then_drop"] as const;
export const WEBHOOK_FAULT_MODES = ["drop", "duplicate", "reorder", "delay"] as const;

export const FaultRuleInput = z.object({
  mode: z.enum([...API_FAULT_MODES, ...WEBHOOK_FAULT_MODES]),
  /** API rules match the request; webhook rules match the destination URL or its path (`method` is ignored). */
  ...faultRuleFields,
  /** Webhook rules only: event name, e.g. "message_created". */
  event: z.string().optional(),
  /** `delay` and `latency`: milliseconds; `reorder`: how long a partial batch is held (default 1000). */
  ms: z.number().int().min(0).optional(),
  /** `429`: the Retry-After header, in seconds (default 1). */
  retry_after: z.number().int().min(0).optional(),
  /**
   * `duplicate`: send the copy with the same X-Chatwoot-Delivery, as a retried job does (a bot's 429/500
   * retry, a Sidekiq redelivery); default false = a second dispatch with a new id, like issue #11901.
   */
  same_delivery_id: z.boolean().optional(),
  /** `reorder`: deliveries held before the batch is released in reverse order (default 2). */
  hold: z.number().int().min(2).optional(),
});
export type FaultRuleInput = z.input<typeof FaultRuleInput>;
export type FaultRule = KitRule<z.output<typeof FaultRuleInput>>;
export type FaultInjector = FaultRules<typeof FaultRuleInput>;

export function isApiMode(mode: FaultRule["mode"]): boolean {
  return (API_FAULT_MODES as readonly string[]).includes(mode);
}

/** `latency` only delays a request; `work_then_drop` cuts its connection. */
export const createFaultInjector = (random?: () => number): FaultInjector =>
  new FaultRules(FaultRuleInput, {
    random,
    delayOf: (rule) => rule.mode === "latency" ? rule.ms ?? 0 : undefined,
    dropsConnection: (rule) => rule.mode === "work_then_drop",
  });

/** The webhook rules that fire for this delivery (all of them: a drop and a duplicate can fire together). */
export function faultsForDelivery(faults: FaultInjector, url: string, event: string): FaultRule[] {
  return faults.fire((rule) =>
    !isApiMode(rule.mode) && (!rule.event || rule.event === event) && faults.matches(rule, undefined, url)
  );
}

/** What Chatwoot answers for a fired 429 or 500 rule; undefined for the modes that let the request through. */
export function faultResponse(rule: FaultRule | undefined): Response | undefined {
  if (rule?.mode === "429") return throttled(rule.retry_after ?? 1);
  if (rule?.mode === "500") return json({ status: 500, error: "Internal Server Error" }, 500);
  return undefined;
}

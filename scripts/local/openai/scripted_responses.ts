// Scripted responses, the stand-in's fault rules on the kit's engine (pushed by tests through POST /_control/faults):
// which endpoint and body they match, and what they ask for — a status, body, headers, a delay, a hang, or content.

import { z } from "zod";
import { type FaultRule, faultRuleFields, FaultRules } from "../kit/faults.ts";

export const ENDPOINTS = ["chat", "embeddings", "transcriptions"] as const;
export type Endpoint = (typeof ENDPOINTS)[number];

export const ScriptedResponse = z.strictObject({
  /** The endpoint it applies to; "any" for all three (an account out of quota fails every call). */
  endpoint: z.enum([...ENDPOINTS, "any"]),
  /** A substring of the raw request body the rule applies to (any request of the endpoint if absent). */
  match: z.string().min(1).optional(),
  /** How many matching requests it answers before it is used up (the kit's `count`). */
  times: z.number().int().positive().default(1),
  probability: faultRuleFields.probability,
  respond: z.strictObject({
    status: z.number().int().min(200).max(599).optional(),
    /** Sent as JSON; a string is sent verbatim (use it for malformed bodies). */
    body: z.unknown().optional(),
    /** Chat only: a normal completion whose assistant content is exactly this (e.g. malformed JSON). */
    content: z.string().optional(),
    delay_ms: z.number().int().min(0).max(600_000).optional(),
    /** Never answer; the request ends when the client aborts it or the stand-in closes. */
    hang: z.boolean().optional(),
    headers: z.record(z.string(), z.string()).optional(),
    /**
     * One of the API's own failures, with its real status, body and headers (errors.ts): `insufficient_quota` (429,
     * the account is out of credit) or `rate_limit_exceeded` (429 with `x-ratelimit-*` headers resetting after
     * `reset_ms`, default 1000).
     */
    error: z.enum(["insufficient_quota", "rate_limit_exceeded"]).optional(),
    reset_ms: z.number().int().min(0).max(86_400_000).optional(),
  }).default({}),
}).refine((s) => s.respond.content === undefined || s.endpoint === "chat", {
  message: "'respond.content' only applies to endpoint 'chat'",
  path: ["respond", "content"],
}).refine((s) => s.respond.content === undefined || s.respond.body === undefined, {
  message: "give either 'respond.body' or 'respond.content', not both",
  path: ["respond"],
}).refine((s) => s.respond.error === undefined || (s.respond.body === undefined && s.respond.content === undefined), {
  message: "'respond.error' is a whole answer: give no 'body' or 'content' with it",
  path: ["respond", "error"],
}).transform(({ times, ...script }) => ({ ...script, count: times }));
export type ScriptedRule = FaultRule<z.output<typeof ScriptedResponse>>;
export type ScriptedRespond = ScriptedRule["respond"];
export type ScriptRules = FaultRules<typeof ScriptedResponse>;

/** Every script decides the answer of the request it fires for, so one script answers each request. */
export function createScriptRules(): ScriptRules {
  return new FaultRules(ScriptedResponse, { idPrefix: "script_" });
}

/** The first script, in push order, for this endpoint whose `match` occurs in the body; uses up one of its answers. */
export function takeScript(rules: ScriptRules, endpoint: Endpoint, rawBody: string): ScriptedRule | undefined {
  return rules.plan((s) =>
    (s.endpoint === endpoint || s.endpoint === "any") && (s.match === undefined || rawBody.includes(s.match))
  ).terminal;
}

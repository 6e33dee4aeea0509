// Scripted responses pushed by tests through POST /_standin/script: a queue consumed in push order by the requests
// they match, so a test can say "the next chat call gets a 429, the one after that hangs".

import { z } from "zod";

export const ENDPOINTS = ["chat", "embeddings", "transcriptions"] as const;
export type Endpoint = (typeof ENDPOINTS)[number];

export const ScriptedResponse = z.strictObject({
  endpoint: z.enum(ENDPOINTS),
  /** A substring of the raw request body the rule applies to (any request of the endpoint if absent). */
  match: z.string().min(1).optional(),
  /** How many matching requests it answers before it is used up. */
  times: z.number().int().positive().default(1),
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
  }).default({}),
}).refine((s) => s.respond.content === undefined || s.endpoint === "chat", {
  message: "'respond.content' only applies to endpoint 'chat'",
  path: ["respond", "content"],
}).refine((s) => s.respond.content === undefined || s.respond.body === undefined, {
  message: "give either 'respond.body' or 'respond.content', not both",
  path: ["respond"],
});
export type ScriptedResponse = z.output<typeof ScriptedResponse>;
export type ScriptedRespond = ScriptedResponse["respond"];

export interface PendingScript extends ScriptedResponse {
  id: number;
  /** Matching requests it will still answer. */
  remaining: number;
}

export class ScriptQueue {
  #pending: PendingScript[] = [];
  #nextId = 1;

  push(script: ScriptedResponse): PendingScript {
    const pending = { ...script, id: this.#nextId++, remaining: script.times };
    this.#pending.push(pending);
    return pending;
  }

  /** The first pending script for this endpoint whose `match` occurs in the body; uses up one of its answers. */
  take(endpoint: Endpoint, rawBody: string): PendingScript | undefined {
    const index = this.#pending.findIndex((s) =>
      s.endpoint === endpoint && (s.match === undefined || rawBody.includes(s.match))
    );
    if (index < 0) return undefined;
    const script = this.#pending[index];
    script.remaining--;
    if (script.remaining <= 0) this.#pending.splice(index, 1);
    return script;
  }

  list(): PendingScript[] {
    return this.#pending.map((s) => ({ ...s }));
  }

  clear(): void {
    this.#pending = [];
  }
}

// How a Chatwoot failure ends a job: a rate limit waits out its window without using an attempt
// (Deferred), a closed API or a refusal stops for good with Chatwoot's reason (PermanentFailure),
// and anything transient is thrown again for the queue's ordinary retry with backoff.

import { Deferred, PermanentFailure } from "../jobs/queue.ts";
import { ChatwootError } from "./client.ts";

/** A wait with no figure (a 429 that came without one): the longest a Rack::Attack window can hold. */
const DEFAULT_RATE_LIMIT_WAIT_MS = 61_000;

/** The error a job handler throws for `err`. */
export function chatwootJobError(err: unknown): unknown {
  if (!(err instanceof ChatwootError)) return err;
  if (err.kind === "rate_limited") return new Deferred(err.message, err.retryAfterMs ?? DEFAULT_RATE_LIMIT_WAIT_MS);
  if (!err.transient) return new PermanentFailure(err.message);
  return err;
}

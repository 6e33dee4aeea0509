// The chatwoot-webhook function: POST /functions/v1/chatwoot-webhook/<route-token>, the URL of each
// linked account's webhook. Every delivery is authenticated, validated and mirrored by the shared
// receiver; an account webhook's delivery is only mirrored (no work of its own).

import { receiveDelivery, type ReceiverDeps } from "../_shared/chatwoot/webhook_receiver.ts";

export type WebhookDeps = Omit<ReceiverDeps, "functionName" | "ingestApplied">;

export function handler(req: Request, deps: WebhookDeps): Promise<Response> {
  return receiveDelivery(req, { ...deps, functionName: "chatwoot-webhook" });
}

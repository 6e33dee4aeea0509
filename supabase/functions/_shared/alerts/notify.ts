// Alert notifications to a Slack-compatible incoming webhook: the message Slack shows, signed so
// the receiver can tell it came from this deployment, and sent by an `alerts.notify` job so a
// failing endpoint is retried by the queue (backoff, dead letter, replay) like any other work.

import { createHmac, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import type { Sql } from "../platform/db.ts";
import { jobKind, type JobRegistry, PermanentFailure, RetryLater } from "../jobs/queue.ts";

export interface AlertNotifierOptions {
  sql: Sql;
  /** ALERTS_WEBHOOK_URL: a Slack incoming-webhook URL or anything that takes its payload; null: not sent. */
  webhookUrl: string | null;
  /** ALERTS_WEBHOOK_SECRET: the HMAC key of X-Switchboard-Signature; null: unsigned. */
  secret: string | null;
  fetch?: typeof fetch;
  now?: () => number;
  timeoutMs?: number;
}

/**
 * `X-Switchboard-Signature: sha256=<hex>` of HMAC-SHA256(secret, "{X-Switchboard-Timestamp}.{raw body}"),
 * the scheme Chatwoot uses for its own webhooks (and Slack for its requests): the timestamp in the
 * signed string lets a receiver refuse replays.
 */
export function alertSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

/** For receivers written in TypeScript (and the tests): constant-time check of a signed request. */
export function verifyAlertSignature(secret: string, timestamp: string, body: string, signature: string): boolean {
  const want = new TextEncoder().encode(alertSignature(secret, timestamp, body));
  const got = new TextEncoder().encode(signature);
  return want.length === got.length && timingSafeEqual(want, got);
}

interface AlertRow {
  id: string;
  rule: string;
  subject: string;
  state: string;
  value: number;
  threshold: number;
  message: string;
  unit: string;
  description: string;
  fired_at: Date;
  resolved_at: Date | null;
}

/** What Slack shows: one line of text (mrkdwn) plus the fields as a section, and the alert as data. */
export function alertMessage(alert: AlertRow, transition: "fired" | "resolved") {
  const icon = transition === "fired" ? ":rotating_light:" : ":white_check_mark:";
  const about = alert.subject ? ` (${alert.subject})` : "";
  const text = `${icon} ${transition === "fired" ? "FIRING" : "RESOLVED"}: ${alert.rule}${about}: ${alert.message} ` +
    `(threshold ${alert.threshold} ${alert.unit})`;
  return {
    text,
    blocks: [{ type: "section", text: { type: "mrkdwn", text } }],
    switchboard: {
      alert_id: Number(alert.id),
      rule: alert.rule,
      subject: alert.subject,
      transition,
      value: alert.value,
      threshold: alert.threshold,
      unit: alert.unit,
      description: alert.description,
      fired_at: alert.fired_at.toISOString(),
      resolved_at: alert.resolved_at?.toISOString() ?? null,
    },
  };
}

/** alerts.evaluate (every minute) and alerts.notify (one per transition). */
export function alertJobHandlers(opts: AlertNotifierOptions): JobRegistry {
  const doFetch = opts.fetch ?? fetch;
  const now = opts.now ?? Date.now;
  return {
    "alerts.evaluate": jobKind(z.object({ minute: z.string().min(1) }), async (_job, { sql, log }) => {
      const [row] = await sql<{ result: { fired: unknown[]; resolved: unknown[] } }[]>`
        select private.evaluate_alerts() as result`;
      if (row.result.fired.length || row.result.resolved.length) log.info("alerts evaluated", row.result);
    }),
    "alerts.notify": jobKind(
      z.object({ alert_id: z.number().int().positive(), transition: z.enum(["fired", "resolved"]) }),
      async (job, { sql, log, signal }) => {
        const [alert] = await sql<AlertRow[]>`
          select a.id::text, a.rule, a.subject, a.state, a.value, a.threshold, a.message, a.fired_at, a.resolved_at,
                 r.unit, r.description
          from public.alerts a join public.alert_rules r on r.id = a.rule
          where a.id = ${job.payload.alert_id}`;
        if (!alert) throw new PermanentFailure(`alert ${job.payload.alert_id} no longer exists`);
        if (!opts.webhookUrl) {
          log.info("alert not sent: no ALERTS_WEBHOOK_URL", { alert_id: alert.id, rule: alert.rule });
          return;
        }
        const body = JSON.stringify(alertMessage(alert, job.payload.transition));
        const timestamp = String(Math.floor(now() / 1000));
        const headers: Record<string, string> = { "content-type": "application/json" };
        if (opts.secret) {
          headers["x-switchboard-timestamp"] = timestamp;
          headers["x-switchboard-signature"] = alertSignature(opts.secret, timestamp, body);
        }
        let res: Response;
        try {
          res = await doFetch(opts.webhookUrl, {
            method: "POST",
            headers,
            body,
            signal: AbortSignal.any([signal, AbortSignal.timeout(opts.timeoutMs ?? 10_000)]),
          });
        } catch (err) {
          throw new Error(`the alert webhook could not be reached: ${err instanceof Error ? err.message : err}`);
        }
        const answer = (await res.text().catch(() => "")).slice(0, 200);
        if (res.status === 429) {
          const after = Number(res.headers.get("retry-after"));
          throw new RetryLater(
            `the alert webhook is rate limited (429)`,
            Number.isFinite(after) ? after * 1000 : undefined,
          );
        }
        if (!res.ok) throw new Error(`the alert webhook answered ${res.status}: ${answer}`);
        const column = job.payload.transition === "fired" ? "notified_fired_at" : "notified_resolved_at";
        await sql`update public.alerts set ${sql(column)} = now() where id = ${job.payload.alert_id}`;
        log.info("alert notified", { alert_id: alert.id, rule: alert.rule, transition: job.payload.transition });
      },
    ),
  };
}

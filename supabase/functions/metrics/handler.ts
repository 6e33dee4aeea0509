// The metrics function: GET /functions/v1/metrics, every figure in Prometheus text exposition for
// a scraper holding the project's secret key (in `apikey`, or as a bearer: Prometheus's
// `authorization` setting sends the latter). Nothing here is public: per-store series name stores.

import type { CredentialVerifier } from "../_shared/platform/credentials.ts";
import type { Sql } from "../_shared/platform/db.ts";
import { errorResponse } from "../_shared/platform/http.ts";
import type { Logger } from "../_shared/platform/log.ts";
import { type MetricFamily, PROMETHEUS_CONTENT_TYPE, renderExposition } from "../_shared/metrics/exposition.ts";
import { readMetrics } from "../_shared/metrics/snapshot.ts";

export interface MetricsDeps {
  sql: Sql;
  /** Only the service (a secret key) may scrape. */
  verifyCaller: CredentialVerifier;
  log: Logger;
  /** Per-store series only up to this many linked accounts (METRICS_STORE_LABEL_LIMIT). */
  storeLabelLimit?: number;
  /** The figures; by default read from the database. */
  read?: (sql: Sql) => Promise<MetricFamily[]>;
}

export async function handler(req: Request, deps: MetricsDeps): Promise<Response> {
  if (req.method !== "GET" && req.method !== "HEAD") return errorResponse(405, "method_not_allowed", "Use GET.");
  const check = await deps.verifyCaller(req);
  if (!check.ok) {
    deps.log.warn("metrics refused credentials", { reason: check.reason });
    return errorResponse(401, "invalid_credentials", "The token or API key is not valid for this project.");
  }
  if (check.caller.kind === "none") {
    return errorResponse(401, "credentials_required", "Send the project's secret key in the apikey header.");
  }
  if (check.caller.kind !== "service") {
    return errorResponse(403, "forbidden", "Only the project's secret key may read the metrics.");
  }
  const started = performance.now();
  const families = await (deps.read ?? ((sql) => readMetrics(sql, { storeLabelLimit: deps.storeLabelLimit })))(
    deps.sql,
  );
  families.push({
    name: "switchboard_metrics_scrape_duration_seconds",
    help: "How long reading these figures took.",
    type: "gauge",
    samples: [{ labels: {}, value: (performance.now() - started) / 1000 }],
  });
  const text = renderExposition(families);
  return new Response(req.method === "HEAD" ? null : text, {
    headers: { "content-type": PROMETHEUS_CONTENT_TYPE, "cache-control": "no-store" },
  });
}

// `switchboard metrics` and `switchboard alerts` against the test stack: the figures an operator
// reads, an alert listed, acknowledged and its rule's threshold changed.

import assert from "node:assert/strict";
import postgres from "postgres";
import { main } from "./main.ts";
import { testStack } from "../testing/env.ts";

const stack = testStack();
const opts = { sanitizeOps: false, sanitizeResources: false };

async function cli(...args: string[]) {
  const lines: string[] = [];
  const code = await main(args, (l) => lines.push(l));
  return { code, out: lines.join("\n") };
}

Deno.test("switchboard metrics prints the endpoint's figures, histograms as percentiles", opts, async () => {
  const sql = postgres(stack.dbUrl, { max: 1 });
  try {
    await sql`select private.record_metrics(${
      sql.json([{
        metric: "webhook_processing_seconds",
        minute: new Date().toISOString(),
        labels: { receiver: "chatwoot-webhook", outcome: "cli-test" },
        count: 4,
        sum: 0.2,
        buckets: [0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      }])
    })`;
    const all = await cli("metrics");
    assert.equal(all.code, 0, all.out);
    for (
      const name of ["switchboard_jobs_ready", "switchboard_job_oldest_ready_age_seconds", "switchboard_archive_bytes"]
    ) {
      assert.match(all.out, new RegExp(name));
    }
    const webhook = await cli("metrics", "--grep", "webhook_processing");
    const line = webhook.out.split("\n").find((l) => l.includes("outcome=cli-test"));
    assert.ok(line, webhook.out);
    assert.match(line!, /n=4 mean=0\.05\d* p50=0\.0\d+ p95=0\.0\d+/);
  } finally {
    await sql.end();
  }
});

Deno.test("switchboard alerts list, ack, rules and set", opts, async () => {
  const sql = postgres(stack.dbUrl, { max: 1 });
  try {
    const subject = `cli-${crypto.randomUUID().slice(0, 8)}`;
    const [alert] = await sql`
      insert into public.alerts (rule, subject, value, threshold, message)
      values ('reconciliation_lag', ${subject}, 7200, 3600, ${`${subject} reconciled 2 h ago`}) returning id::int`;
    const listed = await cli("alerts", "list");
    assert.equal(listed.code, 0, listed.out);
    const line = listed.out.split("\n").find((l) => l.includes(subject));
    assert.ok(line, listed.out);
    assert.match(line!, /firing\s+reconciliation_lag/);

    const acked = await cli("alerts", "ack", String(alert.id));
    assert.equal(acked.code, 0, acked.out);
    assert.match(acked.out, /acknowledged 1 alert/);
    const [row] = await sql`select acknowledged_at from public.alerts where id = ${alert.id}`;
    assert.ok(row.acknowledged_at);
    assert.equal((await cli("alerts", "ack", "999999999")).code, 1, "an unknown alert is an error");
    assert.equal((await cli("alerts", "ack")).code, 2, "no id is a usage error");

    const rules = await cli("alerts", "rules");
    assert.match(rules.out, /webhook_processing_p95\s+true\s+1000 ms/);
    const set = await cli("alerts", "set", "oldest_ready_job", "--threshold", "600");
    assert.equal(set.code, 0, set.out);
    assert.match(set.out, /oldest_ready_job\s+true\s+600 seconds/);
    await cli("alerts", "set", "oldest_ready_job", "--threshold", "300");
    assert.equal((await cli("alerts", "set", "no_such_rule", "--threshold", "1")).code, 1);
    await sql`delete from public.alerts where id = ${alert.id}`;
  } finally {
    await sql.end();
  }
});

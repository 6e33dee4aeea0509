// `switchboard status`: where the stack is, and what its health endpoint says.

import { CliContext, CliError } from "./context.ts";

export async function statusCommand(ctx: CliContext): Promise<void> {
  ctx.out(`API URL: ${ctx.apiUrl}`);
  ctx.out(`DB URL:  ${ctx.dbUrl.replace(/:[^:@/]+@/, ":****@")}`);
  let health;
  try {
    const res = await fetch(`${ctx.apiUrl}/functions/v1/health`, { signal: AbortSignal.timeout(5000) });
    health = await res.json();
  } catch (err) {
    throw new CliError(
      `the functions gateway at ${ctx.apiUrl} did not answer (${
        err instanceof Error ? err.message : err
      }). Is \`npm start\` running?`,
    );
  }
  ctx.out(`status:  ${health.status}`);
  ctx.out(
    `database: ${health.database?.ok ? `ok (${health.database.latency_ms} ms)` : `down: ${health.database?.error}`}`,
  );
  if (health.worker) {
    const j = health.worker.jobs;
    ctx.out(
      `worker:  ${health.worker.status}, last run ${
        health.worker.last_run_at ?? "never"
      }; jobs ready ${j.ready}, scheduled ${j.scheduled}, running ${j.running}, dead ${j.dead}`,
    );
  }
  if (health.deliveries) {
    const d = health.deliveries;
    ctx.out(
      `deliveries: ${d.accounts} linked accounts, ${d.silent_accounts} without a delivery for ${d.silent_after_hours} h; last ${
        d.last_delivery_at ?? "never"
      } (per account: switchboard accounts list)`,
    );
  }
  if (health.archive) {
    const a = health.archive;
    ctx.out(
      a.configured
        ? `archive: ${
          a.mode === "emulator" ? "GCS emulator" : "GCS"
        }, project ${a.project}; ${a.jobs_waiting} jobs queued`
        : `archive: not configured, ${a.jobs_waiting} archive jobs waiting for it (${a.reason})`,
    );
  }
  // Only the local runtime reports its function processes; hosted has no such view.
  for (const f of health.functions?.processes ?? []) {
    const exit = f.last_exit
      ? `, last exit ${f.last_exit.signal ?? `code ${f.last_exit.code}`} at ${f.last_exit.at}`
      : "";
    ctx.out(`function ${f.name}: ${f.state}${f.pid ? ` (pid ${f.pid})` : ""}, ${f.restarts} restarts${exit}`);
  }
  if (health.status !== "ok") throw new CliError("the stack is not healthy");
}

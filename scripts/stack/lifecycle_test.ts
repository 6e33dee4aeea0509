// `npm start` as a user lives with it, on a stack of its own (its own data directory and ports):
// while Postgres is down the functions answer 503 at once and recover by themselves when it is
// back; a killed function process serves again within seconds; Ctrl-C (SIGINT to the whole
// process group, twice, as an impatient user and run.mjs send it) stops everything exactly once
// and leaves nothing listening; a start that finds its port taken names the port and the holder.

import assert from "node:assert/strict";
import { LocalCluster } from "./cluster.ts";
import { PG_BIN } from "./setup.ts";
import { freePort } from "../local/kit/ports.ts";
import { portHolders, portInUse } from "./port_holders.ts";

const root = new URL("../../", import.meta.url).pathname;
const opts = { sanitizeOps: false, sanitizeResources: false };

interface Started {
  child: Deno.ChildProcess;
  output: () => string;
  ports: Record<string, number>;
  dataDir: string;
  api: string;
}

function startProduct(dir: string, ports: Record<string, number>): Started {
  // What a user's shell has, not the test stack's variables (its SUPABASE_DB_URL and pooler URL).
  const inherited = ["PATH", "HOME", "DENO_DIR", "TMPDIR", "LANG"].filter((k) => Deno.env.get(k) !== undefined);
  const env: Record<string, string> = {
    ...Object.fromEntries(inherited.map((k) => [k, Deno.env.get(k)!])),
    SWITCHBOARD_DATA_DIR: `${dir}/dev`,
    SWITCHBOARD_STACK_INFO: `${dir}/stack.json`,
    SWITCHBOARD_WEB_APP: "off",
    SWITCHBOARD_DB_PORT: String(ports.db),
    SWITCHBOARD_API_PORT: String(ports.api),
    SWITCHBOARD_CHATWOOT_PORT: String(ports.chatwoot),
    SWITCHBOARD_GCS_PORT: String(ports.gcs),
    SWITCHBOARD_OPENAI_PORT: String(ports.openai),
  };
  // setsid: its own process group, so the test can signal the group as a terminal's Ctrl-C does.
  const child = new Deno.Command("setsid", {
    args: [Deno.execPath(), "run", "-A", `--config=${root}deno.json`, `${root}scripts/stack/main.ts`, "start"],
    cwd: root,
    env,
    clearEnv: true, // env adds to the parent's otherwise, and the test stack's SUPABASE_DB_URL would win
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  const pump = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s.pipeThrough(new TextDecoderStream())) out += chunk;
  };
  pump(child.stdout);
  pump(child.stderr);
  return { child, output: () => out, ports, dataDir: `${dir}/dev`, api: `http://127.0.0.1:${ports.api}` };
}

async function until<T>(what: string, fn: () => Promise<T | null | undefined>, timeoutMs: number, out?: () => string) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms\n${out?.().slice(-3000) ?? ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function timedStatus(url: string, init?: RequestInit): Promise<{ status: number; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(15_000) });
  await res.body?.cancel();
  return { status: res.status, ms: performance.now() - t0 };
}

function groupProcesses(pgid: number): number[] {
  const out = new Deno.Command("pgrep", { args: ["-g", String(pgid)], stdout: "piped" }).outputSync();
  return new TextDecoder().decode(out.stdout).split("\n").filter(Boolean).map(Number);
}

Deno.test(
  "npm start: Postgres down ⇒ fast 503s and recovery; a killed function returns; Ctrl-C again and again ⇒ one stop, nothing left",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "switchboard-lifecycle-", dir: `${root}.local` }).catch(async () => {
      await Deno.mkdir(`${root}.local`, { recursive: true });
      return await Deno.makeTempDir({ prefix: "switchboard-lifecycle-", dir: `${root}.local` });
    });
    const ports = { db: freePort(), api: freePort(), chatwoot: freePort(), gcs: freePort(), openai: freePort() };
    const p = startProduct(dir, ports);
    const cluster = new LocalCluster({ dataDir: `${p.dataDir}/db`, port: ports.db });
    try {
      await until(
        "the stack did not say it is running",
        () => Promise.resolve(p.output().includes("Switchboard is running.")),
        240_000,
        p.output,
      );
      assert.equal((await timedStatus(`${p.api}/functions/v1/health`)).status, 200);

      // ── a second start on the same ports names the port and who holds it ──────────────────────
      const second = startProduct(await Deno.makeTempDir({ dir: `${root}.local` }), { ...ports, db: freePort() });
      const code = (await second.child.status).code;
      assert.notEqual(code, 0);
      assert.match(
        second.output(),
        new RegExp(`port ${ports.api} \\(API gateway\\) is already in use by deno \\(pid \\d+\\)`),
      );
      assert.doesNotMatch(second.output(), /at LocalCluster|at async/, "a message, not a stack trace");

      // ── Postgres down ───────────────────────────────────────────────────────────────────────────
      const stopped = await new Deno.Command("runuser", {
        args: ["-u", "postgres", "--", `${PG_BIN}/pg_ctl`, "-D", `${p.dataDir}/db`, "-m", "immediate", "stop"],
      }).output();
      assert.equal(stopped.code, 0, new TextDecoder().decode(stopped.stderr));
      assert.equal(await portInUse(ports.db), false);
      const webhook = `${p.api}/functions/v1/chatwoot-webhook/${"a".repeat(32)}`;
      const answers = [];
      for (let i = 0; i < 5; i++) {
        answers.push(await timedStatus(`${p.api}/functions/v1/health`));
        answers.push(
          await timedStatus(webhook, { method: "POST", body: "{}", headers: { "content-type": "application/json" } }),
        );
      }
      const statuses = answers.map((a) => a.status);
      assert.deepEqual([...new Set(statuses)], [503], `every answer while Postgres is down is a 503: ${statuses}`);
      // Chatwoot gives up at 5 s; before the fix these grew to 2, 6, 10, 19 s.
      const slowest = Math.max(...answers.map((a) => a.ms));
      assert.ok(slowest < 3000, `slowest answer while down: ${Math.round(slowest)} ms`);

      await cluster.start();
      await until(
        "health is not ok again after Postgres came back",
        async () => (await timedStatus(`${p.api}/functions/v1/health`)).status === 200,
        15_000,
        p.output,
      );

      // ── a function process killed with -9 ──────────────────────────────────────────────────────
      const health = await (await fetch(`${p.api}/functions/v1/health`)).json();
      const webhookProcess = health.functions.processes.find((f: { name: string }) => f.name === "chatwoot-webhook");
      Deno.kill(webhookProcess.pid, "SIGKILL");
      const webhookRestarts = async () =>
        (await (await fetch(`${p.api}/functions/v1/health`)).json()).functions.processes
          .find((f: { name: string }) => f.name === "chatwoot-webhook").restarts;
      await until("the gateway did not see the death", async () => (await webhookRestarts()) === 1, 10_000);
      const afterKill = await timedStatus(webhook, {
        method: "POST",
        body: "{}",
        headers: { "content-type": "application/json" },
      });
      assert.equal(afterKill.status, 401, "answered by the restarted process (an unknown route token)");
      const later = await (await fetch(`${p.api}/functions/v1/health`)).json();
      const restarted = later.functions.processes.find((f: { name: string }) => f.name === "chatwoot-webhook");
      assert.equal(restarted.restarts, 1);
      assert.equal(restarted.state, "up");
      assert.notEqual(restarted.pid, webhookProcess.pid);

      // ── Ctrl-C, twice ──────────────────────────────────────────────────────────────────────────
      const pgid = p.child.pid; // setsid made the runner its group's leader
      const members = groupProcesses(pgid);
      assert.ok(members.length >= 3, `the runner and its function processes: ${members}`);
      // The terminal's Ctrl-C, run.mjs's copy of it, and an impatient third one while stopping.
      for (const wait of [0, 50, 700]) {
        await new Promise((r) => setTimeout(r, wait));
        try {
          Deno.kill(-pgid, "SIGINT");
        } catch { /* already gone */ }
      }
      const status = await Promise.race([
        p.child.status,
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error(`did not stop:\n${p.output().slice(-2000)}`)), 60_000)
        ),
      ]);
      assert.equal(status.code, 0, p.output().slice(-2000));
      assert.equal(p.output().match(/stopping…/g)?.length, 1, "one shutdown");
      for (const [what, port] of Object.entries(ports)) {
        assert.equal(
          await portInUse(port),
          false,
          `${what} port ${port} still held by ${await portHolders(port)}\n${p.output().slice(-2500)}`,
        );
      }
      assert.equal(await cluster.isRunning(), false, "Postgres stopped");
      assert.deepEqual(groupProcesses(pgid), [], "no process of the stack left");
    } finally {
      try {
        Deno.kill(-p.child.pid, "SIGKILL");
      } catch { /* already gone */ }
      await cluster.stop().catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
);

// The gateway keeps its function processes alive as the edge runtime keeps functions alive: a
// process killed with -9 is started again (with backoff while it keeps dying), a request waits for
// the restart instead of failing, a request in flight when the process dies gets a 503 at once, and
// a function that cannot boot at all is reported at start. Runs its own gateway over a throwaway
// functions folder.

import assert from "node:assert/strict";
import { startGateway } from "./gateway.ts";
import { Supervisor } from "./supervisor.ts";
import { freePort } from "../kit/ports.ts";

const root = new URL("../../../", import.meta.url).pathname;
const opts = { sanitizeOps: false, sanitizeResources: false };

const FUNCTION = `Deno.serve(async (req) => {
  const url = new URL(req.url);
  if (url.pathname.endsWith("/slow")) await new Promise((r) => setTimeout(r, 30_000));
  const body = await req.text();
  return Response.json({ pid: Deno.pid, execution: Deno.env.get("SB_EXECUTION_ID"), body_length: body.length });
});`;

async function functionsFolder(functions: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "supervisor-test-" });
  await Deno.copyFile(`${root}deno.json`, `${dir}/deno.json`);
  let toml = "";
  for (const [name, code] of Object.entries(functions)) {
    await Deno.mkdir(`${dir}/supabase/functions/${name}`, { recursive: true });
    await Deno.writeTextFile(`${dir}/supabase/functions/${name}/index.ts`, code);
    toml += `[functions.${name}]\nverify_jwt = false\n\n`;
  }
  await Deno.writeTextFile(`${dir}/supabase/config.toml`, toml);
  return dir;
}

function alive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

Deno.test("a function process killed with -9 is restarted, and the next request waits for it", opts, async () => {
  const dir = await functionsFolder({ fn: FUNCTION });
  const exits: string[] = [];
  const restarted: string[] = [];
  const logs: string[] = [];
  const gw = await startGateway({
    port: freePort(),
    root: dir,
    jwtSecret: "x".repeat(40),
    functionEnv: {},
    log: (m) => logs.push(m),
    onFunctionExit: (name, execution) => exits.push(`${name}:${execution}`),
    onFunctionRestarted: (name) => restarted.push(name),
  });
  try {
    const first = await (await fetch(`${gw.url}/functions/v1/fn`)).json();
    Deno.kill(first.pid, "SIGKILL");
    // Sent in the instant of the death: the dying process may still take the connection and reset
    // it, which is a 503 to come back (never a 502 or a hang); or it is served by the next process.
    const instant = await fetch(`${gw.url}/functions/v1/fn`);
    await instant.body?.cancel();
    assert.ok([200, 503].includes(instant.status), `got ${instant.status}`);
    // Once the death is seen, a request waits for the restart as for a cold start.
    while (gw.functionStatuses()[0].restarts === 0) await new Promise((r) => setTimeout(r, 5));
    const res = await fetch(`${gw.url}/functions/v1/fn`);
    assert.equal(res.status, 200, logs.join("\n"));
    const second = await res.json();
    assert.notEqual(second.pid, first.pid);
    assert.notEqual(second.execution, first.execution, "each start gets its own execution id");
    assert.deepEqual(exits, [`fn:${first.execution}`], "the death is reported with the execution it ended");
    assert.deepEqual(restarted, ["fn"]);
    const [status] = gw.functionStatuses();
    assert.equal(status.state, "up");
    assert.equal(status.restarts, 1);
    assert.equal(status.last_exit?.signal, "SIGKILL");
    assert.ok(logs.some((l) => /fn \(pid \d+\) exited with SIGKILL.*restarting in \d+ ms/.test(l)), logs.join("\n"));

    // A delivery with a body sent while the process restarts reaches the new one whole.
    Deno.kill(second.pid, "SIGKILL");
    while (gw.functionStatuses()[0].restarts === 1) await new Promise((r) => setTimeout(r, 5));
    const body = "x".repeat(3 * 1024 * 1024);
    const posted = await fetch(`${gw.url}/functions/v1/fn`, { method: "POST", body });
    assert.equal(posted.status, 200);
    assert.equal((await posted.json()).body_length, body.length);

    // The runtime's view is served on loopback for the health function.
    const view = await (await fetch(`${gw.url}/_local/functions`)).json();
    assert.equal(view.functions[0].restarts, 2);
  } finally {
    await gw.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a request in flight when its function process dies gets a 503 at once, not a hang", opts, async () => {
  const dir = await functionsFolder({ fn: FUNCTION });
  const gw = await startGateway({
    port: freePort(),
    root: dir,
    jwtSecret: "x".repeat(40),
    functionEnv: {},
    log: () => {},
  });
  try {
    const pid = gw.functionPid("fn")!;
    const inFlight = fetch(`${gw.url}/functions/v1/fn/slow`);
    await new Promise((r) => setTimeout(r, 300));
    const t0 = performance.now();
    Deno.kill(pid, "SIGKILL");
    const res = await inFlight;
    const waited = performance.now() - t0;
    assert.equal(res.status, 503);
    assert.equal(res.headers.get("sb-error-code"), "WORKER_ERROR");
    assert.equal(res.headers.get("retry-after"), "1");
    assert.equal((await res.json()).code, "WORKER_ERROR");
    assert.ok(waited < 5_000, `answered ${Math.round(waited)} ms after the kill (the slow request sleeps 30 s)`);
    assert.equal((await fetch(`${gw.url}/functions/v1/fn`)).status, 200, "and the next one is served again");
  } finally {
    await gw.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a process that keeps dying young is restarted with a growing backoff", opts, async () => {
  const dir = await functionsFolder({ fn: FUNCTION });
  const logs: string[] = [];
  const supervisor = new Supervisor({
    command: (_name, port) => ({
      cmd: Deno.execPath(),
      args: [
        "run",
        "-A",
        `${root}scripts/local/supabase/serve-function.ts`,
        String(port),
        `${dir}/supabase/functions/fn/index.ts`,
      ],
      cwd: dir,
      env: {},
    }),
    log: (m) => logs.push(m),
    backoffMs: 50,
  });
  try {
    const fn = supervisor.add("fn");
    await fn.ready(30_000);
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      Deno.kill(supervisor.pid("fn")!, "SIGKILL");
      await new Promise((r) => setTimeout(r, 20));
      await fn.ready(30_000);
      delays.push(Number(logs.at(-2)?.match(/restarting in (\d+) ms/)?.[1]));
    }
    assert.deepEqual(delays, [50, 100, 200], logs.join("\n"));
    assert.equal(fn.status().restarts, 3);
  } finally {
    await supervisor.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a function that cannot boot fails the start with its name, and is not restarted", opts, async () => {
  const dir = await functionsFolder({ fn: FUNCTION, broken: `import "./missing.ts";` });
  const logs: string[] = [];
  try {
    await assert.rejects(
      startGateway({
        port: freePort(),
        root: dir,
        jwtSecret: "x".repeat(40),
        functionEnv: {},
        log: (m) => logs.push(m),
      }),
      /function broken exited during start/,
    );
    assert.ok(!logs.some((l) => /broken.*restarting/.test(l)), logs.join("\n"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("function processes exit when the process that started them is killed with -9", opts, async () => {
  const dir = await functionsFolder({ fn: FUNCTION });
  const port = freePort();
  // A stand-in runner: a Deno process that starts a gateway and then is killed outright.
  const script = `${dir}/runner.ts`;
  await Deno.writeTextFile(
    script,
    `import { startGateway } from "${root}scripts/local/supabase/gateway.ts";
     const gw = await startGateway({ port: ${port}, root: "${dir}", jwtSecret: "${
      "x".repeat(40)
    }", functionEnv: {}, log: () => {} });
     console.log(gw.functionPid("fn"));
     await new Promise(() => {});`,
  );
  const runner = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `--config=${root}deno.json`, script],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = runner.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!/\d+\n/.test(out)) out += (await reader.read()).value ?? "";
  const fnPid = Number(out.trim());
  assert.ok(alive(fnPid));
  runner.kill("SIGKILL");
  await runner.status;
  reader.releaseLock();
  const deadline = Date.now() + 10_000;
  while (alive(fnPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.equal(alive(fnPid), false, "the function process did not outlive its runner");
  await Deno.remove(dir, { recursive: true });
});

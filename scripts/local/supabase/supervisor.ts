// The function processes behind the local gateway, kept alive the way the edge runtime keeps
// functions alive: hosted boots a fresh isolate when one dies (a crash, a CPU or memory limit), so
// a function is never gone for good. Each function here is one Deno process; when it exits without
// being asked to, it is started again after a backoff that grows while it keeps dying young, and
// the exit is logged. Requests that arrive while it restarts wait for it (as a request waits for a
// cold start on hosted), up to a bound. Never deployed.

import { freePort } from "../kit/ports.ts";

export type FunctionState = "starting" | "up" | "restarting" | "stopped";

export interface FunctionStatus {
  name: string;
  state: FunctionState;
  pid: number | null;
  /** How many times the process was started again after dying. */
  restarts: number;
  /** The last unrequested exit: when, and its code or signal. */
  last_exit: { at: string; code: number; signal: string | null } | null;
  /** Per process start: what the function knows as its execution id (SB_EXECUTION_ID). */
  execution_id: string | null;
}

export interface SupervisedFunction {
  readonly name: string;
  readonly port: number;
  status(): FunctionStatus;
  /** Resolves when the process listens; rejects after `timeoutMs` (a function that cannot boot). */
  ready(timeoutMs: number): Promise<void>;
}

export interface SupervisorOptions {
  /** The command that runs one function on a port (deno run … serve-function.ts <port> <index.ts>). */
  command: (name: string, port: number) => { cmd: string; args: string[]; cwd: string; env: Record<string, string> };
  log: (msg: string) => void;
  /** Called when a process died unasked (before its restart), with the execution id it ran under. */
  onExit?: (name: string, executionId: string) => void;
  /** Called each time a restarted process listens again. */
  onRestarted?: (name: string) => void;
  /** First restart delay, doubled per consecutive early death up to `maxBackoffMs`. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** A process that lived this long before dying restarts at the first delay again. */
  healthyAfterMs?: number;
}

interface Entry {
  name: string;
  port: number;
  child: Deno.ChildProcess | null;
  state: FunctionState;
  restarts: number;
  earlyDeaths: number;
  startedAt: number;
  lastExit: FunctionStatus["last_exit"];
  executionId: string | null;
  listening: Promise<void>;
  /** Listened at least once: a process that dies before its first boot is broken, not crashed. */
  everUp: boolean;
  timer: ReturnType<typeof setTimeout> | null;
}

async function waitForPort(port: number, exited: () => boolean, deadline: number): Promise<boolean> {
  while (Date.now() < deadline && !exited()) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return true;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return false;
}

export class Supervisor {
  #entries = new Map<string, Entry>();
  #closing = false;

  constructor(private readonly opts: SupervisorOptions) {}

  /** Starts a function's process and keeps it running until `close()`. */
  add(name: string): SupervisedFunction {
    const entry: Entry = {
      name,
      port: freePort(),
      child: null,
      state: "starting",
      restarts: 0,
      earlyDeaths: 0,
      startedAt: 0,
      lastExit: null,
      executionId: null,
      listening: Promise.resolve(),
      everUp: false,
      timer: null,
    };
    this.#entries.set(name, entry);
    this.#spawn(entry);
    return {
      name,
      get port() {
        return entry.port;
      },
      status: () => this.#status(entry),
      ready: (timeoutMs) => this.#ready(entry, timeoutMs),
    };
  }

  statuses(): FunctionStatus[] {
    return [...this.#entries.values()].map((e) => this.#status(e));
  }

  /** False when the process is gone or a zombie not yet reaped (Linux /proc): it was killed a
   * moment ago and its exit is about to be seen. A request must not be sent to it, because its
   * listen backlog may still accept the connection and then reset it, which looks like a death
   * in the middle of the request. Marks it restarting, so `ready()` waits for the next start. */
  checkAlive(name: string): boolean {
    const e = this.#entries.get(name);
    const pid = e?.child?.pid;
    if (!e || !pid || e.state !== "up") return e?.state === "up";
    let alive: boolean;
    try {
      // "pid (comm) S …": the state letter follows the command name's closing parenthesis.
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      alive = !/\)\s+[ZX]\s/.test(stat);
    } catch (err) {
      alive = !(err instanceof Deno.errors.NotFound);
    }
    if (!alive) e.state = "restarting";
    return alive;
  }

  pid(name: string): number | null {
    return this.#entries.get(name)?.child?.pid ?? null;
  }

  #status(e: Entry): FunctionStatus {
    return {
      name: e.name,
      state: e.state,
      pid: e.state === "up" || e.state === "starting" ? e.child?.pid ?? null : null,
      restarts: e.restarts,
      last_exit: e.lastExit,
      execution_id: e.executionId,
    };
  }

  /** Waits through restarts: a process that dies while booting is followed by its next start. */
  async #ready(e: Entry, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((e.state as FunctionState) !== "up") {
      if (e.state === "stopped") {
        throw new Error(`function ${e.name} ${e.everUp ? "is stopped" : "exited during start (see its output above)"}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`function ${e.name} is not listening after ${timeoutMs} ms`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        e.listening,
        new Promise((r) => timer = setTimeout(r, Math.min(left, 250))),
      ]);
      clearTimeout(timer);
      // Died while booting: pause briefly for the next start (its own backoff decides when).
      if ((e.state as FunctionState) !== "up") await new Promise((r) => setTimeout(r, 25));
    }
  }

  #spawn(e: Entry): void {
    const { cmd, args, cwd, env } = this.opts.command(e.name, e.port);
    e.executionId = crypto.randomUUID();
    e.state = e.restarts > 0 ? "restarting" : "starting";
    e.startedAt = Date.now();
    const child = new Deno.Command(cmd, {
      args,
      cwd,
      // SB_EXECUTION_ID is what the edge runtime names an isolate's execution; the worker names
      // its leases after it, so the jobs a dead process held can be handed back at once.
      env: { ...env, SB_EXECUTION_ID: e.executionId },
      // Only what it is given, as a hosted function gets only its project's variables and secrets:
      // inheriting the runner's environment once let a test stack's pooler URL leak into another.
      clearEnv: true,
      // Held open, never written: the process exits when it reads end of input (serve-function.ts),
      // so it cannot outlive the supervisor even when that is killed with -9.
      stdin: "piped",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    e.child = child;
    let exited = false;
    const executionId = e.executionId;
    e.listening = (async () => {
      const up = await waitForPort(e.port, () => exited || this.#closing, Date.now() + 60_000);
      if (up && !exited && !this.#closing) {
        const wasRestart = e.restarts > 0;
        e.state = "up";
        e.everUp = true;
        if (wasRestart) {
          this.opts.log(`gateway: function ${e.name} is up again (pid ${child.pid}, restart ${e.restarts})`);
          this.opts.onRestarted?.(e.name);
        }
      }
    })();
    child.status.then((status) => {
      exited = true;
      if (this.#closing || e.state === "stopped") return;
      e.lastExit = { at: new Date().toISOString(), code: status.code, signal: status.signal ?? null };
      if (!e.everUp) {
        // Its code does not boot (an import or syntax error): restarting would only repeat it.
        e.state = "stopped";
        this.opts.log(`gateway: function ${e.name} exited during its first start (see its output above)`);
        return;
      }
      const lived = Date.now() - e.startedAt;
      e.earlyDeaths = lived >= (this.opts.healthyAfterMs ?? 30_000) ? 0 : e.earlyDeaths + 1;
      const delay = Math.min(
        this.opts.maxBackoffMs ?? 10_000,
        (this.opts.backoffMs ?? 100) * 2 ** Math.max(0, e.earlyDeaths - 1),
      );
      e.state = "restarting";
      e.restarts++;
      this.opts.log(
        `gateway: function ${e.name} (pid ${child.pid}) exited with ${status.signal ?? `code ${status.code}`} after ${
          Math.round(lived / 100) / 10
        } s; restarting in ${delay} ms (restart ${e.restarts})`,
      );
      this.opts.onExit?.(e.name, executionId);
      // A fresh port: the dead process's may linger in TIME_WAIT or be taken meanwhile.
      e.port = freePort();
      e.timer = setTimeout(() => {
        e.timer = null;
        if (!this.#closing) this.#spawn(e);
      }, delay);
    });
  }

  /** Stops every process (SIGTERM, then SIGKILL after `graceMs`) and restarts none. */
  async close(graceMs = 3000): Promise<void> {
    this.#closing = true;
    const children: Deno.ChildProcess[] = [];
    for (const e of this.#entries.values()) {
      e.state = "stopped";
      if (e.timer !== null) clearTimeout(e.timer);
      if (e.child) children.push(e.child);
    }
    for (const c of children) {
      try {
        c.kill("SIGTERM");
      } catch { /* already gone */ }
    }
    const killer = setTimeout(() => {
      for (const c of children) {
        try {
          c.kill("SIGKILL");
        } catch { /* already gone */ }
      }
    }, graceMs);
    await Promise.allSettled(children.map((c) => c.status));
    clearTimeout(killer);
  }
}

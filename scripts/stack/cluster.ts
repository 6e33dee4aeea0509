// A PostgreSQL cluster owned by this checkout: initdb under .local/, started and stopped with
// pg_ctl on a loopback port. initdb refuses to run as root, so as root it runs as the OS user
// `postgres`. As in Supabase's image, initdb's superuser is supabase_admin; the bootstrap creates
// the database role postgres, which owns the project but is not a superuser.

import { exists, log, run } from "./proc.ts";
import { PG_BIN } from "./setup.ts";

export interface ClusterOptions {
  dataDir: string;
  port: number;
  /** Durability off: for throwaway test clusters only. */
  fast?: boolean;
  password?: string;
}

/** Runs a PostgreSQL tool as `postgres`. `ownSession`: in a session of its own (setsid), so a
 * Ctrl-C sent to the terminal's process group cannot kill it half way (a second Ctrl-C once killed
 * `pg_ctl stop` and left Postgres running). */
async function asPostgres(cmd: string, args: string[], opts: { allowFailure?: boolean; ownSession?: boolean } = {}) {
  const argv = Deno.uid() === 0 ? ["runuser", "-u", "postgres", "--", cmd, ...args] : [cmd, ...args];
  const [bin, ...rest] = opts.ownSession ? ["setsid", "--wait", ...argv] : argv;
  return await run(bin, rest, opts);
}

/** initdb and the server run as `postgres`, which must be able to reach the data directory.
 * A checkout under a private folder (mktemp -d is mode 700) would stop it, so add the traverse
 * bit (never read) to the ancestors that lack it, and say so. */
async function ensureTraversable(dir: string) {
  const r = await run("runuser", ["-u", "postgres", "--", "test", "-x", dir], { allowFailure: true });
  if (r.code === 0) return;
  const parts = dir.split("/").filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const p = `/${parts.slice(0, i).join("/")}`;
    const st = await Deno.stat(p);
    if (st.mode !== null && (st.mode & 0o001) === 0) {
      log(`granting others traverse (o+x) on ${p} so the postgres user can reach the cluster`);
      await Deno.chmod(p, (st.mode & 0o7777) | 0o001);
    }
  }
}

export class LocalCluster {
  constructor(readonly opts: ClusterOptions) {}

  /** The project's connection (role postgres, not a superuser); database.ts derives the superuser's. */
  get url(): string {
    return `postgresql://postgres:${this.opts.password ?? "postgres"}@127.0.0.1:${this.opts.port}/postgres`;
  }

  /** Creates the cluster if it does not exist yet; returns true when it was just created. */
  async init(): Promise<boolean> {
    const { dataDir } = this.opts;
    if (await exists(`${dataDir}/PG_VERSION`)) return false;
    await Deno.mkdir(dataDir, { recursive: true });
    if (Deno.uid() === 0) await ensureTraversable(dataDir);
    const pwfile = `${dataDir}.pw`;
    await Deno.writeTextFile(pwfile, `${this.opts.password ?? "postgres"}\n`);
    if (Deno.uid() === 0) {
      await run("chown", ["-R", "postgres:postgres", dataDir, pwfile]);
      await run("chmod", ["700", dataDir]);
    }
    log(`initialising PostgreSQL cluster in ${dataDir}`);
    try {
      await asPostgres(`${PG_BIN}/initdb`, [
        "-D",
        dataDir,
        "-U",
        "supabase_admin",
        "--auth=scram-sha-256",
        `--pwfile=${pwfile}`,
        "--encoding=UTF8",
        "--locale=C.UTF-8",
      ]);
    } finally {
      await Deno.remove(pwfile).catch(() => {});
    }
    return true;
  }

  /** Whether the postmaster of this data directory is alive: pg_ctl status's own test (the pid in
   * postmaster.pid names a live process), read directly so that a Ctrl-C arriving meanwhile cannot
   * turn the answer into "not running" by killing a pg_ctl child. */
  async isRunning(): Promise<boolean> {
    return (await this.postmasterPid()) !== null;
  }

  async postmasterPid(): Promise<number | null> {
    let pid: number;
    try {
      pid = Number((await Deno.readTextFile(`${this.opts.dataDir}/postmaster.pid`)).split("\n")[0]);
    } catch {
      return null;
    }
    if (!Number.isInteger(pid) || pid <= 0) return null;
    try {
      const comm = (await Deno.readTextFile(`/proc/${pid}/comm`)).trim();
      return comm.startsWith("postgres") ? pid : null;
    } catch {
      return null;
    }
  }

  async start(): Promise<void> {
    if (await this.isRunning()) return;
    const settings = [
      `-c listen_addresses=127.0.0.1`,
      `-c port=${this.opts.port}`,
      `-c unix_socket_directories=''`,
      `-c max_connections=200`,
      `-c shared_buffers=256MB`,
      ...(this.opts.fast ? ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"] : []),
    ].join(" ");
    await asPostgres(`${PG_BIN}/pg_ctl`, [
      "-D",
      this.opts.dataDir,
      "-l",
      `${this.opts.dataDir}/server.log`,
      "-o",
      settings,
      "-w",
      "-t",
      "60",
      "start",
    ]);
  }

  async stop(): Promise<void> {
    if (!(await this.isRunning())) return;
    const r = await asPostgres(`${PG_BIN}/pg_ctl`, ["-D", this.opts.dataDir, "-m", "fast", "-w", "stop"], {
      allowFailure: true,
      ownSession: true,
    });
    if (r.code === 0 || !(await this.isRunning())) return;
    // pg_ctl did not finish (a run under load saw it end with 130, interrupted, and Postgres kept
    // its port after the stack had exited): tell the postmaster directly. SIGINT is its "fast"
    // shutdown, SIGQUIT its "immediate" one (PostgreSQL docs, "Shutting Down the Server").
    log(`pg_ctl stop ended with ${r.code}; signalling the postmaster`);
    for (const [signal, waitMs] of [["SIGINT", 60_000], ["SIGQUIT", 10_000]] as const) {
      const pid = await this.postmasterPid();
      if (pid === null) return;
      try {
        Deno.kill(pid, signal);
      } catch { /* gone meanwhile */ }
      const deadline = Date.now() + waitMs;
      while (Date.now() < deadline && (await this.isRunning())) await new Promise((res) => setTimeout(res, 100));
    }
    if (await this.isRunning()) {
      throw new Error(
        `Postgres in ${this.opts.dataDir} did not stop (pg_ctl ${r.code}: ${
          (r.stderr || r.stdout).trim().split("\n").slice(-3).join(" ")
        })`,
      );
    }
  }
}

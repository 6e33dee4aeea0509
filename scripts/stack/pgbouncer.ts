// pgbouncer in transaction mode in front of the local cluster: the stand-in for Supabase's
// transaction pooler (Supavisor, port 6543), so the functions meet what pooled connections forbid
// (prepared statements, session state between transactions) in `npm test`, not on a hosted project.
// Debian ships it; like the cluster it runs as `postgres` (pgbouncer refuses to run as root).

import { exists, log, run, which } from "./proc.ts";
import { freePort } from "../local/kit/ports.ts";

export interface RunningPgbouncer {
  /** postgresql:// URL of the pooler, same credentials as the cluster. */
  url: string;
  close(): Promise<void>;
}

async function ensurePgbouncer(): Promise<string> {
  const found = await which("pgbouncer");
  if (found) return found;
  if (Deno.uid() !== 0 || !(await exists("/etc/debian_version"))) {
    throw new Error(
      "The test stack needs pgbouncer (Debian: apt-get install pgbouncer), the local transaction pooler.",
    );
  }
  log("installing pgbouncer (once)");
  const env = { DEBIAN_FRONTEND: "noninteractive", PATH: Deno.env.get("PATH") ?? "" };
  await run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "pgbouncer"], { env, allowFailure: true })
    .then(async (r) => {
      if (r.code === 0) return;
      await run("apt-get", ["update", "-qq"], { env });
      await run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "pgbouncer"], { env });
    });
  const installed = await which("pgbouncer");
  if (!installed) throw new Error("pgbouncer was installed but is not on PATH");
  return installed;
}

/** Starts pgbouncer on a free port, forwarding database `postgres` to the cluster at dbUrl. */
export async function startPgbouncer(opts: { dir: string; dbUrl: string; port?: number }): Promise<RunningPgbouncer> {
  const bin = await ensurePgbouncer();
  const db = new URL(opts.dbUrl);
  const port = opts.port ?? freePort();
  const user = decodeURIComponent(db.username);
  const password = decodeURIComponent(db.password);
  await Deno.mkdir(opts.dir, { recursive: true });
  await Deno.writeTextFile(`${opts.dir}/userlist.txt`, `"${user}" "${password}"\n`, { mode: 0o600 });
  // Sizes as on a small hosted compute: many client connections share a pool of server ones.
  await Deno.writeTextFile(
    `${opts.dir}/pgbouncer.ini`,
    [
      "[databases]",
      `* = host=${db.hostname} port=${db.port}`,
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "unix_socket_dir =",
      "auth_type = plain",
      // The admin console (SHOW CLIENTS) lets tests see which functions came through the pooler.
      `admin_users = ${user}`,
      `auth_file = ${opts.dir}/userlist.txt`,
      "pool_mode = transaction",
      "max_client_conn = 2000",
      "default_pool_size = 20",
      "reserve_pool_size = 5",
      "ignore_startup_parameters = extra_float_digits",
      `logfile = ${opts.dir}/pgbouncer.log`,
      `pidfile = ${opts.dir}/pgbouncer.pid`,
      "",
    ].join("\n"),
  );
  if (Deno.uid() === 0) await run("chown", ["-R", "postgres:postgres", opts.dir]);
  const [cmd, args] = Deno.uid() === 0
    ? ["runuser", ["-u", "postgres", "--", bin, `${opts.dir}/pgbouncer.ini`]]
    : [bin, [`${opts.dir}/pgbouncer.ini`]];
  const child = new Deno.Command(cmd as string, {
    args: args as string[],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  })
    .spawn();
  const url = `postgresql://${db.username}:${db.password}@127.0.0.1:${port}/${db.pathname.slice(1) || "postgres"}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(
          `pgbouncer did not listen on ${port}: ${await Deno.readTextFile(`${opts.dir}/pgbouncer.log`).catch(() =>
            ""
          )}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    url,
    async close() {
      // runuser does not pass signals on: stop pgbouncer itself by its pid file.
      const pid = Number(await Deno.readTextFile(`${opts.dir}/pgbouncer.pid`).catch(() => "0"));
      try {
        if (pid > 0) Deno.kill(pid, "SIGTERM");
        else child.kill("SIGTERM");
      } catch { /* already gone */ }
      await child.status;
      await child.stderr.cancel().catch(() => {});
    },
  };
}

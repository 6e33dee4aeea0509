// Who holds a port: a start that finds one of its fixed ports taken (a stack that did not stop,
// another program) says which port, for what, and which process has it, instead of failing later
// with a stack trace from whatever tried to bind it.

import { run } from "./proc.ts";

/** True when something on this machine accepts connections on 127.0.0.1:port. */
export async function portInUse(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/** The listening processes on a TCP port as `ss` reports them (`name (pid N)`), or [] if unknown. */
export async function portHolders(port: number): Promise<string[]> {
  const r = await run("ss", ["-ltnpH", `sport = :${port}`], { allowFailure: true }).catch(() => null);
  if (!r || r.code !== 0) return [];
  return [...r.stdout.matchAll(/\("([^"]+)",pid=(\d+)/g)].map((m) => `${m[1]} (pid ${m[2]})`);
}

/** Throws a message naming the port, its purpose, the holder and the variable that moves it. */
export async function ensurePortFree(port: number, what: string, envVar?: string): Promise<void> {
  if (!(await portInUse(port))) return;
  const holders = [...new Set(await portHolders(port))];
  throw new Error(
    `port ${port} (${what}) is already in use${holders.length ? ` by ${holders.join(", ")}` : ""}. ` +
      `Stop that process${envVar ? `, or choose another port with ${envVar}=<port>` : ""}.`,
  );
}

// Running child processes for the local tooling: one place that knows how to run a command,
// capture or stream its output, and turn a non-zero exit into an error that names the command.

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string>;
  stdin?: string;
  /** Stream output to the terminal instead of capturing it. */
  inherit?: boolean;
  /** Do not throw on a non-zero exit. */
  allowFailure?: boolean;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const child = new Deno.Command(cmd, {
    args,
    cwd: opts.cwd,
    env: opts.env,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: opts.inherit ? "inherit" : "piped",
    stderr: opts.inherit ? "inherit" : "piped",
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  const result = {
    code: out.code,
    stdout: opts.inherit ? "" : dec.decode(out.stdout),
    stderr: opts.inherit ? "" : dec.decode(out.stderr),
  };
  if (result.code !== 0 && !opts.allowFailure) {
    const tail = (result.stderr || result.stdout).trim().split("\n").slice(-15).join("\n");
    throw new Error(`${cmd} ${args.join(" ")} exited with ${result.code}${tail ? `:\n${tail}` : ""}`);
  }
  return result;
}

export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

export async function which(cmd: string): Promise<string | null> {
  const r = await run("sh", ["-c", `command -v ${cmd}`], { allowFailure: true });
  return r.code === 0 ? r.stdout.trim() : null;
}

export function log(msg: string) {
  console.error(`\x1b[2m[switchboard]\x1b[0m ${msg}`);
}

export { freePort } from "../local/kit/ports.ts";

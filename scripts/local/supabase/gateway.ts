// Local stand-in for Supabase's API gateway in front of edge functions: serves every
// supabase/functions/<name> at /functions/v1/<name> (sub-paths included), each function in its
// own Deno process running its real index.ts, and enforces `verify_jwt` from config.toml the
// way Supabase does (HS256 with the project's JWT secret). Never deployed.

import { parse as parseToml } from "smol-toml";
import { createLocalJWKSet, decodeProtectedHeader, type JWK, jwtVerify } from "jose";
import { verifyJwt } from "./keys.ts";
import { freePort } from "../kit/ports.ts";
import { denoCacheDir, edgeDenoBin, edgeSandboxFlags } from "./edge_runtime.ts";

export interface GatewayOptions {
  port: number;
  hostname?: string;
  /** Repository root (contains supabase/). */
  root: string;
  jwtSecret: string;
  /** The project's public signing keys: verify_jwt accepts sessions they sign, as hosted's does. */
  jwks?: { keys: JWK[] };
  /** Environment for every function process (SUPABASE_URL, SUPABASE_DB_URL, keys, …). */
  functionEnv: Record<string, string>;
  /** Extra routes answered by the gateway itself (e.g. /auth/v1 from the auth stand-in). */
  extraRoutes?: { prefix: string; handler: (req: Request) => Promise<Response> }[];
  log?: (msg: string) => void;
  /** The Deno that runs function processes; the edge runtime's by default. */
  denoBin?: string;
}

interface FunctionProcess {
  name: string;
  verifyJwt: boolean;
  port: number;
  child: Deno.ChildProcess;
}

export interface Gateway {
  url: string;
  functions: string[];
  /** Where a function's own process listens, behind the gateway (for benchmarks that want to
   * separate the stand-in gateway's cost from the function's). */
  functionOrigin(name: string): string | null;
  /** The operating-system pid of a function's process (benchmarks read its CPU time). */
  functionPid(name: string): number | null;
  close(): Promise<void>;
}

/** `[functions.<name>] verify_jwt` from config.toml; Supabase's default is true. */
export function readVerifyJwt(configToml: string): Record<string, boolean> {
  const cfg = parseToml(configToml) as { functions?: Record<string, { verify_jwt?: boolean }> };
  const out: Record<string, boolean> = {};
  for (const [name, f] of Object.entries(cfg.functions ?? {})) out[name] = f.verify_jwt ?? true;
  return out;
}

export function listFunctions(functionsDir: string): string[] {
  return [...Deno.readDirSync(functionsDir)]
    .filter((e) => e.isDirectory && !e.name.startsWith("_") && !e.name.startsWith("."))
    .filter((e) => {
      try {
        return Deno.statSync(`${functionsDir}/${e.name}/index.ts`).isFile;
      } catch {
        return false;
      }
    })
    .map((e) => e.name)
    .sort();
}

async function waitForPort(port: number, child: Deno.ChildProcess, name: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  child.status.then(() => exited = true);
  while (Date.now() < deadline) {
    if (exited) throw new Error(`function ${name} exited during start (see its output above)`);
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`function ${name} did not listen within ${timeoutMs} ms`);
}

const HOP_BY_HOP = ["connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection", "host"];

/** CORS on the gateway's own refusals, so a browser app sees the 401 instead of a network error. */
function unauthorized(message: string): Response {
  return new Response(JSON.stringify({ code: 401, message }), {
    status: 401,
    headers: {
      "content-type": "application/json",
      "access-control-allow-origin": "*",
      "access-control-allow-headers": "authorization, x-client-info, apikey, content-type",
    },
  });
}

export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  const log = opts.log ?? ((m: string) => console.error(m));
  const functionsDir = `${opts.root}/supabase/functions`;
  const verify = readVerifyJwt(await Deno.readTextFile(`${opts.root}/supabase/config.toml`));
  // Function processes run on the edge runtime's Deno, in its sandbox (see edge_runtime.ts).
  const denoBin = opts.denoBin ?? edgeDenoBin();
  const sandbox = edgeSandboxFlags({ functionsDir, denoDir: await denoCacheDir(denoBin) });
  const processes = new Map<string, FunctionProcess>();

  for (const name of listFunctions(functionsDir)) {
    const port = freePort();
    const child = new Deno.Command(denoBin, {
      args: [
        "run",
        ...sandbox,
        `--config=${opts.root}/deno.json`,
        new URL("./serve-function.ts", import.meta.url).pathname,
        String(port),
        `${functionsDir}/${name}/index.ts`,
      ],
      cwd: opts.root,
      env: { ...opts.functionEnv, SB_FUNCTION_NAME: name },
      stdin: "null",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    processes.set(name, { name, verifyJwt: verify[name] ?? true, port, child });
  }
  await Promise.all([...processes.values()].map((p) => waitForPort(p.port, p.child, p.name)));

  // verify_jwt as the platform checks it: a JWT signed with the project's legacy secret (its anon and
  // service_role keys, legacy sessions) or one of its signing keys. The new API keys are not JWTs and
  // never pass it (https://supabase.com/docs/guides/functions/auth-headers), hence verify_jwt = false
  // on every function that checks callers itself.
  const keySet = opts.jwks && opts.jwks.keys.length ? createLocalJWKSet(opts.jwks) : null;
  const platformAcceptsJwt = async (token: string): Promise<boolean> => {
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      return false;
    }
    if (alg === "HS256") return (await verifyJwt(token, opts.jwtSecret)).ok;
    if (!keySet) return false;
    return await jwtVerify(token, keySet, { algorithms: ["ES256", "RS256"] }).then(() => true, () => false);
  };

  const server = Deno.serve(
    { port: opts.port, hostname: opts.hostname ?? "127.0.0.1", onListen: () => {} },
    async (req) => {
      const url = new URL(req.url);
      for (const route of opts.extraRoutes ?? []) {
        if (url.pathname === route.prefix || url.pathname.startsWith(`${route.prefix}/`)) {
          return await route.handler(
            req,
          );
        }
      }
      const match = url.pathname.match(/^\/functions\/v1\/([^/]+)(\/.*)?$/);
      if (!match) {
        return new Response(JSON.stringify({ message: "no route matched" }), {
          status: 404,
          headers: { "content-type": "application/json" },
        });
      }
      const fn = processes.get(match[1]);
      if (!fn) {
        return new Response(JSON.stringify({ code: "NOT_FOUND", message: "Requested function was not found" }), {
          status: 404,
          headers: { "content-type": "application/json" },
        });
      }
      // Preflight requests carry no credentials; Supabase lets them through to the function.
      if (fn.verifyJwt && req.method !== "OPTIONS") {
        const auth = req.headers.get("authorization");
        if (!auth) return unauthorized("Missing authorization header");
        const m = auth.match(/^Bearer\s+(\S+)$/i);
        if (!m) return unauthorized("Invalid JWT");
        if (!(await platformAcceptsJwt(m[1]))) return unauthorized("Invalid JWT");
      }
      const headers = new Headers(req.headers);
      for (const h of HOP_BY_HOP) headers.delete(h);
      // The gateway's fetch would decode a compressed answer but keep its content-encoding, so the
      // function is asked for identity bytes (Deno.serve gzips JSON for clients that accept it, and
      // fetch asks for gzip unless told otherwise).
      headers.set("accept-encoding", "identity");
      if (!headers.has("x-request-id")) headers.set("x-request-id", crypto.randomUUID());
      const target = `http://127.0.0.1:${fn.port}/${fn.name}${match[2] ?? ""}${url.search}`;
      try {
        const res = await fetch(target, {
          method: req.method,
          headers,
          body: req.body,
          redirect: "manual",
        });
        const out = new Headers(res.headers);
        for (const h of HOP_BY_HOP) out.delete(h);
        return new Response(res.body, { status: res.status, statusText: res.statusText, headers: out });
      } catch (err) {
        log(`gateway: ${fn.name} unreachable: ${err instanceof Error ? err.message : err}`);
        return new Response(JSON.stringify({ code: "BOOT_ERROR", message: "Function failed to respond" }), {
          status: 502,
          headers: { "content-type": "application/json" },
        });
      }
    },
  );

  return {
    url: `http://${opts.hostname ?? "127.0.0.1"}:${opts.port}`,
    functions: [...processes.keys()],
    functionOrigin: (name) => {
      const p = processes.get(name);
      return p ? `http://127.0.0.1:${p.port}/${name}` : null;
    },
    functionPid: (name) => processes.get(name)?.child.pid ?? null,
    async close() {
      for (const p of processes.values()) {
        try {
          p.child.kill("SIGTERM");
        } catch { /* already gone */ }
      }
      await Promise.allSettled([...processes.values()].map((p) => p.child.status));
      await server.shutdown();
    },
  };
}

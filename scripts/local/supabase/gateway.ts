// Local stand-in for Supabase's API gateway in front of edge functions: serves every
// supabase/functions/<name> at /functions/v1/<name> (sub-paths included), each function in its
// own Deno process running its real index.ts, and enforces `verify_jwt` from config.toml the
// way Supabase does (HS256 with the project's JWT secret). Never deployed.

import { parse as parseToml } from "smol-toml";
import { createLocalJWKSet, decodeProtectedHeader, type JWK, jwtVerify } from "jose";
import { verifyJwt } from "./keys.ts";
import { denoCacheDir, edgeDenoBin, edgeSandboxFlags } from "./edge_runtime.ts";
import { type FunctionStatus, type SupervisedFunction, Supervisor } from "./supervisor.ts";

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
  /** A function process died unasked (it is restarted); its execution id names what it held. */
  onFunctionExit?: (name: string, executionId: string) => void;
  /** A restarted function process listens again. */
  onFunctionRestarted?: (name: string) => void;
  /** How long a request waits for a function that is (re)starting before a 503 (default 10 s). */
  coldStartWaitMs?: number;
}

/** Where the gateway answers, on loopback only, what its function processes are doing. Hosted has
 * no such thing: the health function reads it only when SWITCHBOARD_LOCAL_RUNTIME_URL is set. */
export const RUNTIME_STATUS_PATH = "/_local/functions";

export interface Gateway {
  url: string;
  functions: string[];
  /** Where a function's own process listens, behind the gateway (for benchmarks that want to
   * separate the stand-in gateway's cost from the function's). */
  functionOrigin(name: string): string | null;
  /** The operating-system pid of a function's process (benchmarks read its CPU time). */
  functionPid(name: string): number | null;
  /** Each function process: up or restarting, its pid and restarts. */
  functionStatuses(): FunctionStatus[];
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

/** The platform's answer when a function cannot take the request now (Supabase sets sb-error-code:
 * https://supabase.com/docs/guides/functions/error-codes; BOOT_ERROR is its 503). */
function unavailable(code: string, message: string): Response {
  return new Response(JSON.stringify({ code, message }), {
    status: 503,
    headers: { "content-type": "application/json", "sb-error-code": code, "retry-after": "1" },
  });
}

export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  const log = opts.log ?? ((m: string) => console.error(m));
  const functionsDir = `${opts.root}/supabase/functions`;
  const verify = readVerifyJwt(await Deno.readTextFile(`${opts.root}/supabase/config.toml`));
  // Function processes run on the edge runtime's Deno, in its sandbox (see edge_runtime.ts).
  const denoBin = opts.denoBin ?? edgeDenoBin();
  const sandbox = edgeSandboxFlags({ functionsDir, denoDir: await denoCacheDir(denoBin) });
  const runtimeUrl = `http://127.0.0.1:${opts.port}${RUNTIME_STATUS_PATH}`;
  const supervisor = new Supervisor({
    command: (name, port) => ({
      cmd: denoBin,
      args: [
        "run",
        ...sandbox,
        `--config=${opts.root}/deno.json`,
        new URL("./serve-function.ts", import.meta.url).pathname,
        String(port),
        `${functionsDir}/${name}/index.ts`,
      ],
      cwd: opts.root,
      env: { ...opts.functionEnv, SB_FUNCTION_NAME: name, SWITCHBOARD_LOCAL_RUNTIME_URL: runtimeUrl },
    }),
    log,
    onExit: opts.onFunctionExit,
    onRestarted: opts.onFunctionRestarted,
  });
  const processes = new Map<string, { fn: SupervisedFunction; verifyJwt: boolean }>();
  for (const name of listFunctions(functionsDir)) {
    processes.set(name, { fn: supervisor.add(name), verifyJwt: verify[name] ?? true });
  }
  try {
    await Promise.all([...processes.values()].map((p) => p.fn.ready(60_000)));
  } catch (err) {
    await supervisor.close();
    throw err;
  }
  const coldStartWaitMs = opts.coldStartWaitMs ?? 10_000;
  // No kept-alive connections to function processes: a request on one a killed process left behind
  // fails without saying whether it was delivered, while a fresh connect to a dead process is
  // refused, which says it was not (and so may be sent again once the restart listens).
  const freshConnections = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });

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
    async (req, info) => {
      const url = new URL(req.url);
      if (url.pathname === RUNTIME_STATUS_PATH && req.method === "GET") {
        const remote = (info.remoteAddr as Deno.NetAddr).hostname;
        if (remote !== "127.0.0.1" && remote !== "::1") return new Response("not found", { status: 404 });
        return Response.json({ functions: supervisor.statuses() });
      }
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
      const entry = processes.get(match[1]);
      if (!entry) {
        return new Response(JSON.stringify({ code: "NOT_FOUND", message: "Requested function was not found" }), {
          status: 404,
          headers: { "content-type": "application/json" },
        });
      }
      // Preflight requests carry no credentials; Supabase lets them through to the function.
      if (entry.verifyJwt && req.method !== "OPTIONS") {
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
      const fn = entry.fn;
      try {
        // A function that is restarting is waited for, as a request waits for a cold start.
        supervisor.checkAlive(fn.name);
        await fn.ready(coldStartWaitMs);
      } catch (err) {
        log(`gateway: ${fn.name} not available: ${err instanceof Error ? err.message : err}`);
        return unavailable("BOOT_ERROR", "Function failed to boot in time; try again shortly");
      }
      const path = `/${fn.name}${match[2] ?? ""}${url.search}`;
      // A request refused at connect never reached the function (its process died a moment ago and
      // the supervisor has not seen the exit yet): it is sent again once the restart listens, from
      // a spare copy of the body that is dropped as soon as the first attempt got an answer.
      const [body, spare] = req.body ? req.body.tee() : [null, null];
      const forward = (b: ReadableStream<Uint8Array> | null) =>
        fetch(`http://127.0.0.1:${fn.port}${path}`, {
          method: req.method,
          headers,
          body: b,
          redirect: "manual",
          client: freshConnections,
        });
      try {
        let res: Response;
        try {
          res = await forward(body);
          spare?.cancel().catch(() => {});
        } catch (err) {
          // Deno puts the reason in the cause: "client error (Connect): tcp connect error: Connection refused".
          if (!/\(Connect\)|connection refused/i.test(`${err} ${(err as { cause?: unknown }).cause}`)) throw err;
          log(`gateway: ${fn.name} refused the connection; waiting for its restart`);
          await fn.ready(coldStartWaitMs).catch(() => {});
          res = await forward(spare);
        }
        const out = new Headers(res.headers);
        for (const h of HOP_BY_HOP) out.delete(h);
        return new Response(res.body, { status: res.status, statusText: res.statusText, headers: out });
      } catch (err) {
        // The process died under the request: it is being restarted, so the caller is told to come
        // back rather than left hanging.
        spare?.cancel().catch(() => {});
        const cause = (err as { cause?: unknown }).cause;
        log(
          `gateway: ${fn.name} unreachable: ${err instanceof Error ? err.message : err}${cause ? ` (${cause})` : ""}`,
        );
        return unavailable("WORKER_ERROR", "Function failed to respond; it is restarting");
      }
    },
  );

  return {
    url: `http://${opts.hostname ?? "127.0.0.1"}:${opts.port}`,
    functions: [...processes.keys()],
    functionOrigin: (name) => {
      const p = processes.get(name);
      return p ? `http://127.0.0.1:${p.fn.port}/${name}` : null;
    },
    functionPid: (name) => supervisor.pid(name),
    functionStatuses: () => supervisor.statuses(),
    async close() {
      await supervisor.close();
      await server.shutdown();
      freshConnections.close();
    },
  };
}

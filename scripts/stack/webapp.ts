// The admin app in the local stack: built with Vite from web/ when its sources changed, served
// as static files (the same bundle a hosted deployment serves) with a /config.json that points
// it at this stack, on 127.0.0.1:54323 for `npm start` and a free port for tests.

import { exists, log, run } from "./proc.ts";

const root = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const web = `${root}/web`;

async function newestMtime(dir: string): Promise<number> {
  let newest = 0;
  for await (const e of Deno.readDir(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) newest = Math.max(newest, await newestMtime(p));
    else newest = Math.max(newest, (await Deno.stat(p)).mtime?.getTime() ?? 0);
  }
  return newest;
}

/** npm install and vite build, each only when needed. */
export async function ensureWebBuilt(): Promise<string> {
  if (!(await exists(`${web}/package.json`))) throw new Error("web/package.json is missing");
  const env = { ...Deno.env.toObject(), npm_config_audit: "false", npm_config_fund: "false" };
  const installed = await exists(`${web}/node_modules/.package-lock.json`);
  if (
    !installed ||
    (await Deno.stat(`${web}/package.json`)).mtime! > (await Deno.stat(`${web}/node_modules/.package-lock.json`)).mtime!
  ) {
    log("installing the admin app's npm dependencies (once)");
    await run("npm", ["install", "--no-audit", "--no-fund"], { cwd: web, env });
  }
  const dist = `${web}/dist`;
  const built = (await exists(`${dist}/index.html`)) ? (await Deno.stat(`${dist}/index.html`)).mtime!.getTime() : 0;
  const sources = Math.max(
    await newestMtime(`${web}/src`),
    (await Deno.stat(`${web}/index.html`)).mtime!.getTime(),
    (await Deno.stat(`${web}/vite.config.ts`)).mtime!.getTime(),
    // The app's API types are built from these (web/src/api/types.ts): a schema change re-checks the app.
    (await Deno.stat(`${root}/supabase/functions/_shared/platform/database.types.ts`)).mtime!.getTime(),
    (await Deno.stat(`${root}/supabase/functions/_shared/platform/rows.ts`)).mtime!.getTime(),
  );
  if (sources > built) {
    log("building the admin app (vite build)");
    await run("npm", ["run", "build"], { cwd: web, env });
  }
  return dist;
}

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
  ico: "image/x-icon",
  json: "application/json",
  map: "application/json",
};

export interface WebApp {
  url: string;
  close(): Promise<void>;
}

/** Serves the built app; unknown paths fall back to index.html (client-side routes). */
export function serveWebApp(
  opts: { port: number; dist: string; config: { supabaseUrl: string; supabaseAnonKey: string } },
): WebApp {
  const server = Deno.serve({ port: opts.port, hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    if (path === "/config.json") {
      return new Response(JSON.stringify(opts.config), {
        headers: { "content-type": "application/json", "cache-control": "no-store" },
      });
    }
    const safe = path.replace(/\.\.+/g, "").replace(/^\/+/, "");
    for (const candidate of [safe, "index.html"]) {
      if (!candidate) continue;
      try {
        const file = `${opts.dist}/${candidate}`;
        if (!(await Deno.stat(file)).isFile) continue;
        const ext = candidate.split(".").pop() ?? "";
        return new Response(await Deno.readFile(file), {
          headers: { "content-type": TYPES[ext] ?? "application/octet-stream", "cache-control": "no-cache" },
        });
      } catch { /* next candidate */ }
    }
    return new Response("not found", { status: 404 });
  });
  return { url: `http://127.0.0.1:${opts.port}`, close: () => server.shutdown() };
}

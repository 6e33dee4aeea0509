// Runs one edge function's index.ts as the edge runtime would, but on a port the local gateway
// chooses: Deno.serve is wrapped so the function's own `Deno.serve(handler)` listens there.
// Usage: deno run -A scripts/local/supabase/serve-function.ts <port> <path/to/index.ts>

const [portArg, entry] = Deno.args;
const port = Number(portArg);
if (!Number.isInteger(port) || !entry) {
  console.error("usage: serve-function.ts <port> <index.ts>");
  Deno.exit(2);
}

const originalServe = Deno.serve.bind(Deno);
// deno-lint-ignore no-explicit-any
(Deno as any).serve = (...args: any[]) => {
  // Deno.serve(handler) | Deno.serve(options, handler) | Deno.serve(optionsWithHandler)
  let options: Record<string, unknown> = {};
  let handler: unknown;
  if (typeof args[0] === "function") handler = args[0];
  else if (typeof args[1] === "function") [options, handler] = [args[0], args[1]];
  else {
    options = args[0];
    handler = (options as { handler?: unknown }).handler;
  }
  return originalServe({ ...options, port, hostname: "127.0.0.1", onListen: () => {} }, handler as Deno.ServeHandler);
};

// The process lives as long as whoever started it: the supervisor holds our stdin open and never
// writes, so end of input means it is gone (even killed with -9) and nothing is left orphaned.
(async () => {
  const buf = new Uint8Array(64);
  try {
    while ((await Deno.stdin.read(buf)) !== null) { /* nothing is ever sent */ }
  } catch { /* closed */ }
  Deno.exit(0);
})();

// Ctrl-C signals the terminal's whole process group, this process included; the runner stops its
// functions itself (after the job driver, before the database), and the supervisor would take an
// exit now for a crash and restart it.
Deno.addSignalListener("SIGINT", () => {});

// An absolute entry needs no read access to the working directory (the sandbox grants only the
// functions folder, as the edge runtime does).
await import(entry.startsWith("/") ? `file://${entry}` : new URL(entry, `file://${Deno.cwd()}/`).href);

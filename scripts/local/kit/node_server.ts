// node:http serving for the stand-ins whose faults act on the socket (destroy it mid-request, stall mid-body), which
// Deno.serve cannot do: listening, a request's URL and headers, and single-use connections while a drop may fire.

import http from "node:http";
import type { FaultRules, RuleFields } from "./faults.ts";
import type { z } from "zod";

/** The request's absolute URL (from its Host header) and its headers as a Fetch `Headers`. */
export function requestParts(req: http.IncomingMessage, fallbackHost: string): { url: URL; headers: Headers } {
  const headers = new Headers();
  for (const [key, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(", ") : value);
  }
  return { url: new URL(`http://${req.headers.host ?? fallbackHost}${req.url ?? "/"}`), headers };
}

/**
 * Clients (Deno's fetch among them) silently resend a request whose reused keep-alive connection dies. So while a
 * connection-dropping rule may fire, every connection is single-use (`connection: close` on each answer, see
 * `dropGuardHeaders`), and idle connections are closed as such a rule is added.
 */
export function guardDroppedConnections<S extends z.ZodType<RuleFields>>(
  server: http.Server,
  faults: FaultRules<S>,
): () => Record<string, string> {
  faults.onAdd((rule) => {
    if (faults.dropsConnection(rule)) server.closeIdleConnections();
  });
  return (): Record<string, string> => faults.mayDropConnection() ? { connection: "close" } : {};
}

/** Listens and answers the base URL, e.g. http://127.0.0.1:4443 (the actual port when `port` is 0). */
export async function listen(server: http.Server, port: number, hostname: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, hostname, () => resolve());
  });
  const address = server.address();
  const actualPort = typeof address === "object" && address ? address.port : port;
  return `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${actualPort}`;
}

/** Closes every connection, idle or not, and stops listening. */
export async function shutDown(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

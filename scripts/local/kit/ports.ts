// Loopback ports for everything the local stack starts (function processes, stand-ins, throwaway
// stacks, tests): one definition, so every caller picks ports the same way.

/** A loopback port nobody listens on right now: bind port 0, read the port, let it go. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

// Whether Chatwoot can call the URLs we give it. From 4.14 every webhook and agent-bot delivery goes through
// SafeFetch (lib/safe_fetch.rb on the ssrf_filter gem): a host that resolves only to private addresses is
// refused before anything is sent ("Hostname '…' has no public ip addresses"), unless the Chatwoot server sets
// SAFE_FETCH_ALLOW_PRIVATE_NETWORK=true (PR #14548). A link made against such a URL looks fine and never delivers.

import { lookup } from "node:dns/promises";
import ipaddr from "ipaddr.js";

/** The host's addresses; empty when the name does not exist; null when this runtime cannot tell. */
export type HostResolver = (hostname: string) => Promise<string[] | null>;

/** Every A and AAAA answer for the host (a literal address is its own answer). */
export const resolveHost: HostResolver = async (hostname) => {
  const host = hostname.replace(/^\[|\]$/g, "");
  if (ipaddr.isValid(host)) return [host];
  try {
    return (await lookup(host, { all: true })).map((a) => a.address);
  } catch (err) {
    const code = (err as { code?: string }).code;
    // No such name: Chatwoot's resolver would find none either. Anything else (no DNS in this runtime, a
    // permission) says nothing about the URL.
    return code === "ENOTFOUND" || code === "ENODATA" ? [] : null;
  }
};

/** Not a public unicast address: loopback, RFC 1918, CGNAT, link-local, unique-local (fc00::/7), unspecified,
 * multicast, documentation and other reserved ranges, also inside IPv4-mapped IPv6 (ipaddr.js's range names). */
export function isPrivateAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return true;
  return ipaddr.process(address).range() !== "unicast";
}

/**
 * A warning when Chatwoot 4.14+ would refuse to deliver to `url` (every address of its host is private, or it
 * does not resolve), or null when it can. Resolved from here, which is the best this side can do: Chatwoot
 * resolves from its own network, so a split-horizon name may still differ.
 */
export async function webhookTargetWarning(url: string, resolve: HostResolver = resolveHost): Promise<string | null> {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
  const addresses = await resolve(host);
  if (addresses === null) return null;
  if (addresses.length === 0) {
    return `the webhook URL's host ${host} does not resolve from here: Chatwoot will not be able to deliver to ${url}`;
  }
  if (!addresses.every(isPrivateAddress)) return null;
  return `the webhook URL ${url} resolves only to private addresses (${addresses.join(", ")}): ` +
    'Chatwoot 4.14+ refuses to deliver webhooks there (SafeFetch: "has no public ip addresses") unless its ' +
    "server sets SAFE_FETCH_ALLOW_PRIVATE_NETWORK=true. Set SWITCHBOARD_PUBLIC_FUNCTIONS_URL to an address " +
    "Chatwoot reaches over the internet, or set that variable on a self-hosted Chatwoot you control.";
}

// What stands between Chatwoot and a webhook target: SafeFetch (4.14+, lib/safe_fetch.rb on the ssrf_filter
// gem), which refuses targets that resolve only to private addresses, and the account plan gate on Chatwoot Cloud,
// which stops account webhooks for accounts without the `api_and_webhooks` feature.

import { lookup } from "node:dns/promises";
import ipaddr from "ipaddr.js";
import { type DeliveryRecord, type DeliveryTarget, type SenderOptions, WebhookSender } from "./webhooks.ts";
import type { JsonObject, SandboxState } from "./state.ts";

/** ssrf_filter's IPV4_BLACKLIST and IPV6_BLACKLIST (lib/ssrf_filter/ssrf_filter.rb), IPv4 ranges also matched
 * inside IPv4-mapped and IPv4-compatible IPv6 addresses, as the gem's list does. */
const IPV4_BLOCKED = [
  "0.0.0.0/8",
  "10.0.0.0/8",
  "100.64.0.0/10",
  "127.0.0.0/8",
  "169.254.0.0/16",
  "172.16.0.0/12",
  "192.0.0.0/24",
  "192.0.2.0/24",
  "192.88.99.0/24",
  "192.168.0.0/16",
  "198.18.0.0/15",
  "198.51.100.0/24",
  "203.0.113.0/24",
  "224.0.0.0/4",
  "240.0.0.0/4",
  "255.255.255.255/32",
].map((c) => ipaddr.parseCIDR(c));
const IPV6_BLOCKED = [
  "::1/128",
  "64:ff9b::/96",
  "100::/64",
  "2001::/32",
  "2001:10::/28",
  "2001:20::/28",
  "2001:db8::/32",
  "2002::/16",
  "fc00::/7",
  "fe80::/10",
  "ff00::/8",
].map((c) => ipaddr.parseCIDR(c));

/** SsrfFilter.unsafe_ip_address? */
export function unsafeIpAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return true;
  const ip = ipaddr.parse(address);
  if (ip.kind() === "ipv4") return IPV4_BLOCKED.some(([range, bits]) => ip.match(range, bits));
  const v6 = ip as ipaddr.IPv6;
  if (IPV6_BLOCKED.some(([range, bits]) => range.kind() === "ipv6" && v6.match(range, bits))) return true;
  // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible) carry an IPv4 address the v4 list covers.
  const parts = v6.parts;
  const mapped = v6.isIPv4MappedAddress();
  const compatible = parts.slice(0, 6).every((p) => p === 0);
  if (!mapped && !compatible) return false;
  const v4 = new ipaddr.IPv4([parts[6] >> 8, parts[6] & 0xff, parts[7] >> 8, parts[7] & 0xff]);
  return IPV4_BLOCKED.some(([range, bits]) => v4.match(range, bits));
}

export type Resolver = (hostname: string) => Promise<string[]>;

/** `Resolv.getaddresses`: every A and AAAA record (a literal address resolves to itself). */
export const systemResolver: Resolver = async (hostname) => {
  const host = hostname.replace(/^\[|\]$/g, "");
  if (ipaddr.isValid(host)) return [host];
  try {
    return (await lookup(host, { all: true })).map((a) => a.address);
  } catch {
    return [];
  }
};

export interface SafeFetchOptions {
  /** Sandbox switch: enforce SafeFetch at all (Chatwoot 4.14+ always does; the local stack delivers to 127.0.0.1,
   * so it is off unless a test or `PATCH /_control/options` turns it on). */
  enforce: boolean;
  /** `SAFE_FETCH_ALLOW_PRIVATE_NETWORK=true` (PR #14548): private targets are allowed again. */
  allowPrivateNetwork: boolean;
}

/**
 * The fetch Webhooks::Trigger makes through SafeFetch: the target host is resolved first, and with no public
 * address among the answers the request is never sent: SsrfFilter raises "Hostname '<host>' has no public ip
 * addresses" (UnresolvedHostname: "Could not resolve hostname '<host>'"), which the trigger logs and treats as a
 * failed delivery (issues #14489, #14494: an API inbox message is marked failed with that text).
 */
export function safeFetch(
  inner: typeof fetch,
  options: () => SafeFetchOptions,
  resolve: Resolver = systemResolver,
): typeof fetch {
  return async (input, init) => {
    const { enforce, allowPrivateNetwork } = options();
    if (enforce && !allowPrivateNetwork) {
      const url = new URL(input instanceof Request ? input.url : String(input));
      const host = url.hostname.replace(/^\[|\]$/g, "");
      const addresses = await resolve(host);
      if (addresses.length === 0) throw new TypeError(`Could not resolve hostname '${host}'`);
      if (addresses.every(unsafeIpAddress)) throw new TypeError(`Hostname '${host}' has no public ip addresses`);
    }
    return await inner(input, init);
  };
}

/**
 * WebhookListener#deliver_account_webhooks returns early unless `account.api_and_webhooks_enabled?` (PR #14973):
 * on Chatwoot Cloud an account without the `api_and_webhooks` feature (the free plan) gets no account webhook
 * job at all, so nothing is sent or logged. API-inbox webhooks are still delivered, and agent bots go through
 * AgentBotListener, which the PR does not gate.
 */
export class PlanGatedSender extends WebhookSender {
  constructor(opts: SenderOptions, private readonly state: SandboxState) {
    super(opts);
  }

  override enqueue(target: DeliveryTarget, payload: JsonObject): DeliveryRecord[] {
    if (target.kind === "account_webhook" && this.state.accounts.get(target.accountId)?.cloud_free_plan) return [];
    return super.enqueue(target, payload);
  }
}

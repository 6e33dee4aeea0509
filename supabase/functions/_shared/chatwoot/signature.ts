// Chatwoot's webhook signature (4.11.2+): `sha256=` + hex HMAC-SHA256(secret, "{timestamp}.{raw body}"),
// the secret used as raw UTF-8 bytes. Verified over the exact bytes received, in constant time.

import { Buffer } from "node:buffer";
import { createHmac, timingSafeEqual } from "node:crypto";

export function signChatwootPayload(secret: string, timestamp: string | number, rawBody: Uint8Array | string): string {
  const mac = createHmac("sha256", secret);
  mac.update(`${timestamp}.`);
  mac.update(rawBody);
  return `sha256=${mac.digest("hex")}`;
}

export function verifyChatwootSignature(
  secret: string,
  timestamp: string,
  rawBody: Uint8Array,
  signatureHeader: string,
): boolean {
  const expected = Buffer.from(signChatwootPayload(secret, timestamp, rawBody));
  const given = Buffer.from(signatureHeader.trim());
  // timingSafeEqual needs equal lengths; comparing against itself keeps the work constant.
  if (given.length !== expected.length) {
    timingSafeEqual(expected, expected);
    return false;
  }
  return timingSafeEqual(expected, given);
}

/** The timestamp header is unix seconds; anything else, or too far from now, is refused. */
export function isFreshTimestamp(header: string, nowMs: number, toleranceSeconds: number): boolean {
  if (!/^\d{1,12}$/.test(header)) return false;
  return Math.abs(nowMs / 1000 - Number(header)) <= toleranceSeconds;
}

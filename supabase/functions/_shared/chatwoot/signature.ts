// Chatwoot's webhook signature (4.11.2+): `sha256=` + hex HMAC-SHA256(secret, "{timestamp}.{raw body}"),
// the secret used as raw UTF-8 bytes. Verified over the exact bytes received, in constant time, and fed
// chunk by chunk so a body can be checked while it streams in (even one too large to keep).

import { Buffer } from "node:buffer";
import { createHmac, timingSafeEqual } from "node:crypto";

export function signChatwootPayload(secret: string, timestamp: string | number, rawBody: Uint8Array | string): string {
  const mac = createHmac("sha256", secret);
  mac.update(`${timestamp}.`);
  mac.update(rawBody);
  return `sha256=${mac.digest("hex")}`;
}

/** An HMAC fed as the body arrives; `matches` compares it with the header once the body is read. */
export interface StreamingSignature {
  update(chunk: Uint8Array): void;
  matches(signatureHeader: string): boolean;
}

export function streamingChatwootSignature(secret: string, timestamp: string): StreamingSignature {
  const mac = createHmac("sha256", secret);
  mac.update(`${timestamp}.`);
  let digest: string | null = null;
  return {
    update(chunk) {
      if (digest !== null) throw new Error("the signature was already computed");
      mac.update(chunk);
    },
    matches(signatureHeader) {
      digest ??= `sha256=${mac.digest("hex")}`;
      return constantTimeEqual(digest, signatureHeader.trim());
    },
  };
}

export function verifyChatwootSignature(
  secret: string,
  timestamp: string,
  rawBody: Uint8Array,
  signatureHeader: string,
): boolean {
  return constantTimeEqual(signChatwootPayload(secret, timestamp, rawBody), signatureHeader.trim());
}

function constantTimeEqual(expectedText: string, givenText: string): boolean {
  const expected = Buffer.from(expectedText);
  const given = Buffer.from(givenText);
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

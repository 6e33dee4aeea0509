// Object checksums as GCS reports them: CRC32C (via @aws-crypto/crc32c) and MD5 (node:crypto), each the
// big-endian digest in base64, and the `x-goog-hash: crc32c=…,md5=…` header that carries them.

import { Crc32c } from "@aws-crypto/crc32c";
import { Buffer } from "node:buffer";
import { createHash, type Hash } from "node:crypto";

export interface Checksums {
  /** base64 of the 4-byte big-endian CRC32C. */
  crc32c: string;
  /** base64 of the 16-byte MD5 digest. */
  md5Hash: string;
}

/** Hashes bytes as they arrive (uploads stream through one of these). */
export class ObjectHasher {
  #crc = new Crc32c();
  #md5: Hash = createHash("md5");
  size = 0;

  update(chunk: Uint8Array): this {
    this.#crc.update(chunk);
    this.#md5.update(chunk);
    this.size += chunk.byteLength;
    return this;
  }

  digest(): Checksums {
    return { crc32c: crc32cToBase64(this.#crc.digest()), md5Hash: this.#md5.digest("base64") };
  }
}

export function crc32cToBase64(value: number): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value >>> 0);
  return bytes.toString("base64");
}

export function checksumsOf(bytes: Uint8Array): Checksums {
  return new ObjectHasher().update(bytes).digest();
}

/** Hashes a file on disk without loading it whole. */
export async function checksumsOfFile(path: string): Promise<Checksums & { size: number }> {
  const hasher = new ObjectHasher();
  using file = await Deno.open(path, { read: true });
  for await (const chunk of file.readable) hasher.update(chunk);
  return { ...hasher.digest(), size: hasher.size };
}

/** `crc32c=…,md5=…` as GCS sends it on downloads. */
export function formatGoogHash(sums: Checksums): string {
  return `crc32c=${sums.crc32c},md5=${sums.md5Hash}`;
}

/** Reads an `x-goog-hash` header (one or several, comma-joined) into its crc32c/md5 values. */
export function parseGoogHash(header: string | null): { crc32c?: string; md5?: string } {
  const out: { crc32c?: string; md5?: string } = {};
  if (!header) return out;
  for (const part of header.split(",")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim().toLowerCase();
    const value = part.slice(eq + 1).trim();
    if (key === "crc32c") out.crc32c = value;
    if (key === "md5") out.md5 = value;
  }
  return out;
}

/** The MD5 as hex (GCS's XML API ETag for non-composite objects). */
export function md5Hex(md5Base64: string): string {
  return Buffer.from(md5Base64, "base64").toString("hex");
}

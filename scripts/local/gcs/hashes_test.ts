import { CRC32C } from "@google-cloud/storage";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { randomBytes } from "node:crypto";
import { checksumsOf, formatGoogHash, ObjectHasher, parseGoogHash } from "./hashes.ts";

Deno.test("CRC32C and MD5 match known vectors and the SDK's own CRC32C, in GCS's base64 form", () => {
  // CRC-32C("123456789") = 0xE3069283; MD5("") = d41d8cd98f00b204e9800998ecf8427e.
  assert.equal(
    checksumsOf(new TextEncoder().encode("123456789")).crc32c,
    Buffer.from("e3069283", "hex").toString("base64"),
  );
  assert.equal(checksumsOf(new Uint8Array()).md5Hash, "1B2M2Y8AsgTpgAmY7PhCfg==");
  assert.equal(checksumsOf(new Uint8Array()).crc32c, "AAAAAA==");
  for (const size of [1, 1000, 300_001]) {
    const data = randomBytes(size);
    const sdk = new CRC32C();
    sdk.update(data);
    assert.equal(checksumsOf(data).crc32c, sdk.toString(), `size ${size}`);
  }
});

Deno.test("hashing in chunks equals hashing at once; x-goog-hash round-trips", () => {
  const data = randomBytes(100_000);
  const chunked = new ObjectHasher();
  for (let i = 0; i < data.length; i += 7_777) chunked.update(data.subarray(i, i + 7_777));
  const whole = checksumsOf(data);
  assert.deepEqual(chunked.digest(), whole);
  assert.equal(chunked.size, data.length);
  assert.deepEqual(parseGoogHash(formatGoogHash(whole)), { crc32c: whole.crc32c, md5: whole.md5Hash });
  assert.deepEqual(parseGoogHash("md5=abc==, crc32c=xyz=="), { crc32c: "xyz==", md5: "abc==" });
});

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { randomBytes } from "node:crypto";
import http from "node:http";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import { checksumsOf } from "./hashes.ts";
import { withEmulator } from "./testing.ts";
import { parseMultipart } from "./uploads.ts";

const MB = 1024 * 1024;

Deno.test("a 1 MB resumable upload through the SDK arrives whole, in one request or in 256 KiB chunks", async () => {
  await withEmulator(async ({ storage, emulator, dataDir }) => {
    const [bucket] = await storage.createBucket("resumable");
    const data = randomBytes(MB);
    const sums = checksumsOf(data);

    await bucket.file("one-shot.bin").save(data, { resumable: true, contentType: "application/octet-stream" });
    const [meta] = await bucket.file("one-shot.bin").getMetadata();
    assert.equal(meta.size, String(MB));
    assert.equal(meta.crc32c, sums.crc32c);
    assert.equal(meta.md5Hash, sums.md5Hash);

    // chunkSize makes the SDK send several PUTs with Content-Range, each answered 308 + Range until the last.
    await pipeline(
      Readable.from([data.subarray(0, 300_000), data.subarray(300_000)]),
      bucket.file("chunked.bin").createWriteStream({ resumable: true, chunkSize: 256 * 1024 }),
    );
    const [chunked] = await bucket.file("chunked.bin").download();
    assert.ok(Buffer.compare(chunked, data) === 0);

    // bucket.upload() from a file on disk.
    const local = join(dataDir, "..", `local-${crypto.randomUUID()}.bin`);
    await Deno.writeFile(local, data);
    try {
      await bucket.upload(local, { destination: "from-disk.bin", resumable: true });
    } finally {
      await Deno.remove(local);
    }
    const [fromDisk] = await bucket.file("from-disk.bin").download();
    assert.ok(Buffer.compare(fromDisk, data) === 0);
    assert.equal(emulator.state().uploads, 0, "finished sessions are not counted as open");
  });
});

async function startSession(url: string, bucket: string, name: string, headers: Record<string, string> = {}) {
  const res = await fetch(
    `${url}/upload/storage/v1/b/${bucket}/o?uploadType=resumable&name=${encodeURIComponent(name)}`,
    {
      method: "POST",
      headers: { "content-type": "application/json", "x-upload-content-type": "image/jpeg", ...headers },
      body: JSON.stringify({ metadata: { source: "whatsapp" } }),
    },
  );
  assert.equal(res.status, 200);
  await res.body?.cancel();
  const location = res.headers.get("location");
  assert.ok(location?.includes("upload_id="));
  return location!;
}

Deno.test("the resumable protocol: 308 with Range per chunk, status queries, a final 200, idempotent after", async () => {
  await withEmulator(async ({ storage, url }) => {
    await storage.createBucket("proto");
    const data = randomBytes(300_000);
    const session = await startSession(url, "proto", "photos/p.jpg");

    const first = await fetch(session, {
      method: "PUT",
      headers: { "content-range": "bytes 0-262143/*" },
      body: new Uint8Array(data.subarray(0, 262_144)),
    });
    assert.equal(first.status, 308);
    assert.equal(first.headers.get("range"), "bytes=0-262143");

    const status = await fetch(session, { method: "PUT", headers: { "content-range": "bytes */*" } });
    assert.equal(status.status, 308);
    assert.equal(status.headers.get("range"), "bytes=0-262143");
    const [visible] = await storage.bucket("proto").file("photos/p.jpg").exists();
    assert.equal(visible, false, "nothing is visible before the last chunk");

    const sums = checksumsOf(data);
    const last = await fetch(session, {
      method: "PUT",
      headers: {
        "content-range": `bytes 262144-299999/300000`,
        "x-goog-hash": `crc32c=${sums.crc32c},md5=${sums.md5Hash}`,
      },
      body: new Uint8Array(data.subarray(262_144)),
    });
    assert.equal(last.status, 200);
    const object = await last.json();
    assert.equal(object.size, "300000");
    assert.equal(object.contentType, "image/jpeg");
    assert.deepEqual(object.metadata, { source: "whatsapp" });

    // A client that lost the final answer asks again and gets the same object.
    const again = await fetch(session, { method: "PUT", headers: { "content-range": "bytes */300000" } });
    assert.equal(again.status, 200);
    assert.equal((await again.json()).generation, object.generation);
    const [downloaded] = await storage.bucket("proto").file("photos/p.jpg").download();
    assert.ok(Buffer.compare(downloaded, data) === 0);
  });
});

Deno.test("a final chunk whose X-Goog-Hash does not match is a 400 and leaves no object", async () => {
  await withEmulator(async ({ storage, url }) => {
    await storage.createBucket("hashcheck");
    const session = await startSession(url, "hashcheck", "bad.bin");
    const res = await fetch(session, {
      method: "PUT",
      headers: { "content-range": "bytes 0-9/10", "x-goog-hash": "crc32c=AAAAAA==" },
      body: "0123456789",
    });
    assert.equal(res.status, 400);
    assert.match((await res.json()).error.message, /CRC32C/);
    const [exists] = await storage.bucket("hashcheck").file("bad.bin").exists();
    assert.equal(exists, false);
  });
});

Deno.test("an abandoned session leaves no object; it expires after 7 days; a cancelled one answers 499", async () => {
  await withEmulator(async ({ storage, url, emulator }) => {
    await storage.createBucket("abandon");
    const session = await startSession(url, "abandon", "never.bin");
    const part = await fetch(session, { method: "PUT", headers: { "content-range": "bytes 0-4/100" }, body: "01234" });
    assert.equal(part.status, 308);
    assert.equal(emulator.state().uploads, 1);
    assert.equal(emulator.state().objects, 0);
    const [files] = await storage.bucket("abandon").getFiles();
    assert.equal(files.length, 0);

    emulator.clock.advance(7 * 24 * 3600 * 1000 + 1000);
    const expired = await fetch(session, {
      method: "PUT",
      headers: { "content-range": "bytes 5-9/100" },
      body: "56789",
    });
    assert.equal(expired.status, 404);
    await expired.body?.cancel();
    assert.equal(emulator.state().uploads, 0);

    const cancelled = await startSession(url, "abandon", "cancel.bin");
    const del = await fetch(cancelled, { method: "DELETE" });
    assert.equal(del.status, 499);
    await del.body?.cancel();
    const after = await fetch(cancelled, { method: "PUT", headers: { "content-range": "bytes */*" } });
    assert.equal(after.status, 404);
    await after.body?.cancel();
  });
});

Deno.test("a chunk cut off mid-body is not kept: the session resumes from the last complete chunk", async () => {
  await withEmulator(async ({ storage, url }) => {
    await storage.createBucket("cutoff");
    const session = await startSession(url, "cutoff", "c.bin");
    const ok = await fetch(session, {
      method: "PUT",
      headers: { "content-range": "bytes 0-9/30" },
      body: "0123456789",
    });
    assert.equal(ok.status, 308);

    // Announce 10 bytes, send 4, then hang up.
    await new Promise<void>((resolve) => {
      const req = http.request(session, {
        method: "PUT",
        headers: { "content-range": "bytes 10-19/30", "content-length": "10" },
      });
      req.on("error", () => resolve());
      req.write("abcd", () => setTimeout(() => (req.destroy(), resolve()), 50));
    });
    await new Promise((r) => setTimeout(r, 50));

    const status = await fetch(session, { method: "PUT", headers: { "content-range": "bytes */*" } });
    assert.equal(status.status, 308);
    assert.equal(status.headers.get("range"), "bytes=0-9");
    const rest = await fetch(session, {
      method: "PUT",
      headers: { "content-range": "bytes 10-29/30" },
      body: "abcdefghijABCDEFGHIJ",
    });
    assert.equal(rest.status, 200);
    await rest.body?.cancel();
    const [content] = await storage.bucket("cutoff").file("c.bin").download();
    assert.equal(content.toString(), "0123456789abcdefghijABCDEFGHIJ");
  });
});

Deno.test("uploadType=media stores the body with the request's Content-Type", async () => {
  await withEmulator(async ({ storage, url }) => {
    await storage.createBucket("media");
    const res = await fetch(`${url}/upload/storage/v1/b/media/o?uploadType=media&name=doc.pdf`, {
      method: "POST",
      headers: { "content-type": "application/pdf" },
      body: "%PDF-1.7",
    });
    assert.equal(res.status, 200);
    const object = await res.json();
    assert.equal(object.contentType, "application/pdf");
    assert.equal(object.name, "doc.pdf");
    const [content] = await storage.bucket("media").file("doc.pdf").download();
    assert.equal(content.toString(), "%PDF-1.7");
  });
});

Deno.test("multipart bodies split on their boundary only; blank lines and dashes inside the media are kept", () => {
  const media = "line1\r\n\r\n--not-the-boundary\r\n-- end";
  const body = new TextEncoder().encode(
    `preamble\r\n--xyz\r\nContent-Type: application/json\r\n\r\n{"name":"a"}\r\n--xyz\r\n\r\n${media}\r\n--xyz--\r\n`,
  );
  const parts = parseMultipart(body, "xyz");
  assert.equal(parts.length, 2);
  assert.equal(parts[0].headers.get("content-type"), "application/json");
  assert.equal(new TextDecoder().decode(parts[0].body), '{"name":"a"}');
  assert.equal(parts[1].headers.get("content-type"), null);
  assert.equal(new TextDecoder().decode(parts[1].body), media);
});

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { randomBytes } from "node:crypto";
import { checksumsOf } from "./hashes.ts";
import { NO_BUCKET_RATE, statusOf, withEmulator } from "./testing.ts";

Deno.test("an upload with ifGenerationMatch: 0 succeeds once; the second one is 412 conditionNotMet", async () => {
  await withEmulator(async ({ storage, url }) => {
    const [bucket] = await storage.createBucket("once");
    const file = bucket.file("contacts/42.json");
    await file.save('{"v":1}', { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } });
    assert.equal(
      await statusOf(file.save('{"v":2}', { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } })),
      412,
    );
    assert.equal(
      await statusOf(file.save('{"v":2}', { resumable: true, preconditionOpts: { ifGenerationMatch: 0 } })),
      412,
    );
    const [content] = await file.download();
    assert.equal(content.toString(), '{"v":1}', "the first write is kept");

    // The error body is GCS's.
    const res = await fetch(
      `${url}/upload/storage/v1/b/once/o?uploadType=media&name=contacts%2F42.json&ifGenerationMatch=0`,
      { method: "POST", body: "x" },
    );
    assert.equal(res.status, 412);
    const body = await res.json();
    assert.equal(body.error.errors[0].reason, "conditionNotMet");
    assert.equal(body.error.message, "At least one of the pre-conditions you specified did not hold.");

    // Matching the live generation replaces it; generations increase.
    const [before] = await file.getMetadata();
    await file.save('{"v":3}', {
      resumable: false,
      preconditionOpts: { ifGenerationMatch: Number(before.generation) },
    });
    const [after] = await file.getMetadata();
    assert.ok(BigInt(after.generation!) > BigInt(before.generation!));
    assert.equal(after.metageneration, "1");
  });
});

Deno.test("objects keep contentType, custom metadata, size and GCS-format checksums", async () => {
  await withEmulator(async ({ storage }) => {
    const [bucket] = await storage.createBucket("meta");
    const data = Buffer.from("hello, switchboard\n");
    await bucket.file("notes/a.txt").save(data, {
      resumable: false,
      metadata: { contentType: "text/plain; charset=utf-8", metadata: { tenant: "acme", messageId: "m-1" } },
    });
    const [meta] = await bucket.file("notes/a.txt").getMetadata();
    const sums = checksumsOf(data);
    assert.equal(meta.contentType, "text/plain; charset=utf-8");
    assert.deepEqual(meta.metadata, { tenant: "acme", messageId: "m-1" });
    assert.equal(meta.size, String(data.byteLength));
    assert.equal(meta.crc32c, sums.crc32c);
    assert.equal(meta.md5Hash, sums.md5Hash);
    assert.equal(meta.storageClass, "STANDARD");
    assert.ok(meta.timeCreated && meta.updated);

    await bucket.file("notes/a.txt").setMetadata({
      metadata: { messageId: null, read: "yes" },
      cacheControl: "no-store",
    });
    const [patched] = await bucket.file("notes/a.txt").getMetadata();
    assert.deepEqual(patched.metadata, { tenant: "acme", read: "yes" });
    assert.equal(patched.cacheControl, "no-store");
    assert.equal(patched.metageneration, "2");
    assert.equal(patched.generation, meta.generation, "a metadata patch keeps the generation");
    assert.equal(
      await statusOf(bucket.file("notes/a.txt").setMetadata({ cacheControl: "x" }, { ifMetagenerationMatch: 1 })),
      412,
    );
  });
});

Deno.test("a checksum declared in the metadata that does not match the bytes is a 400 and stores nothing", async () => {
  await withEmulator(async ({ storage, url }) => {
    await storage.createBucket("sums");
    const boundary = "b0undary";
    const multipart = (metadata: object) =>
      `--${boundary}\r\nContent-Type: application/json\r\n\r\n${JSON.stringify(metadata)}\r\n` +
      `--${boundary}\r\nContent-Type: text/plain\r\n\r\nsome bytes\r\n--${boundary}--`;
    const post = (metadata: object) =>
      fetch(`${url}/upload/storage/v1/b/sums/o?uploadType=multipart`, {
        method: "POST",
        headers: { "content-type": `multipart/related; boundary=${boundary}` },
        body: multipart(metadata),
      });
    const good = checksumsOf(new TextEncoder().encode("some bytes"));
    const badCrc = await post({ name: "a", crc32c: "AAAAAA==" });
    assert.equal(badCrc.status, 400);
    assert.match((await badCrc.json()).error.message, /Provided CRC32C "AAAAAA==" doesn't match calculated CRC32C/);
    const badMd5 = await post({ name: "a", md5Hash: "1B2M2Y8AsgTpgAmY7PhCfg==" });
    assert.equal(badMd5.status, 400);
    assert.match((await badMd5.json()).error.message, /Provided MD5 hash/);
    const [exists] = await storage.bucket("sums").file("a").exists();
    assert.equal(exists, false);

    const ok = await post({ name: "a", crc32c: good.crc32c, md5Hash: good.md5Hash });
    assert.equal(ok.status, 200);
    assert.equal((await ok.json()).contentType, "text/plain", "the media part's Content-Type is used");
  });
});

Deno.test("downloads pass the SDK's CRC32C/MD5 validation, and fail it when the stored bytes are corrupted", async () => {
  await withEmulator(async ({ storage, emulator, url }) => {
    const [bucket] = await storage.createBucket("downloads");
    const data = new Uint8Array(randomBytes(300_000));
    await bucket.file("blob.bin").save(Buffer.from(data), { resumable: false });
    const [crcChecked] = await bucket.file("blob.bin").download();
    assert.deepEqual(new Uint8Array(crcChecked), data);
    const [md5Checked] = await bucket.file("blob.bin").download({ validation: "md5" });
    assert.deepEqual(new Uint8Array(md5Checked), data);

    const res = await fetch(`${url}/storage/v1/b/downloads/o/blob.bin?alt=media`);
    const sums = checksumsOf(data);
    assert.equal(res.headers.get("x-goog-hash"), `crc32c=${sums.crc32c},md5=${sums.md5Hash}`);
    const [meta] = await bucket.file("blob.bin").getMetadata();
    assert.equal(res.headers.get("x-goog-generation"), meta.generation);
    assert.equal(res.headers.get("x-goog-stored-content-encoding"), "identity");
    await res.body?.cancel();

    // Flip one byte of the blob on disk: the stored checksums no longer match what is served.
    const record = emulator.store.getObject("downloads", "blob.bin");
    const path = emulator.store.blobPath(record);
    const onDisk = await Deno.readFile(path);
    onDisk[1234] ^= 0xff;
    await Deno.writeFile(path, onDisk);
    await assert.rejects(bucket.file("blob.bin").download(), (e: Error & { code?: string }) => {
      assert.equal(e.code, "CONTENT_DOWNLOAD_MISMATCH");
      return true;
    });
  });
});

Deno.test("Range downloads return 206 with Content-Range; an unsatisfiable range is 416", async () => {
  await withEmulator(async ({ storage, url }) => {
    const [bucket] = await storage.createBucket("ranges");
    await bucket.file("abc").save("0123456789", { resumable: false });
    const [part] = await bucket.file("abc").download({ start: 2, end: 5 });
    assert.equal(part.toString(), "2345");
    const tail = await fetch(`${url}/storage/v1/b/ranges/o/abc?alt=media`, { headers: { range: "bytes=-3" } });
    assert.equal(tail.status, 206);
    assert.equal(tail.headers.get("content-range"), "bytes 7-9/10");
    assert.equal(await tail.text(), "789");
    const bad = await fetch(`${url}/storage/v1/b/ranges/o/abc?alt=media`, { headers: { range: "bytes=50-" } });
    assert.equal(bad.status, 416);
    assert.equal(bad.headers.get("content-range"), "bytes */10");
    await bad.body?.cancel();
  });
});

Deno.test("listing with prefix and delimiter returns objects and prefixes, page by page", async () => {
  await withEmulator(async ({ storage }) => {
    const [bucket] = await storage.createBucket("listing");
    const names = [
      "inbox/1/a.jpg",
      "inbox/1/b.jpg",
      "inbox/2/a.jpg",
      "inbox/readme.txt",
      "inbox/z.txt",
      "outbox/1/a.jpg",
      "top.txt",
    ];
    await Promise.all(names.map((n) => bucket.file(n).save(n, { resumable: false })));

    const [all] = await bucket.getFiles();
    assert.deepEqual(all.map((f) => f.name), names);

    const [files, , response] = await bucket.getFiles({ prefix: "inbox/", delimiter: "/", autoPaginate: false });
    assert.deepEqual(files.map((f) => f.name), ["inbox/readme.txt", "inbox/z.txt"]);
    assert.deepEqual((response as { prefixes?: string[] }).prefixes, ["inbox/1/", "inbox/2/"]);

    const [top, , topResponse] = await bucket.getFiles({ delimiter: "/", autoPaginate: false });
    assert.deepEqual(top.map((f) => f.name), ["top.txt"]);
    assert.deepEqual((topResponse as { prefixes?: string[] }).prefixes, ["inbox/", "outbox/"]);

    // Pages of 2 (prefixes count toward maxResults), walked by pageToken until none is left.
    const seen: string[] = [];
    let query: Record<string, unknown> | null = {
      prefix: "inbox/",
      delimiter: "/",
      maxResults: 2,
      autoPaginate: false,
    };
    let pages = 0;
    while (query) {
      const [pageFiles, nextQuery, raw] = await bucket.getFiles(query);
      seen.push(...((raw as { prefixes?: string[] }).prefixes ?? []), ...pageFiles.map((f) => f.name));
      query = nextQuery as Record<string, unknown> | null;
      pages++;
    }
    assert.equal(pages, 2);
    assert.deepEqual(seen.sort(), ["inbox/1/", "inbox/2/", "inbox/readme.txt", "inbox/z.txt"]);

    const [globbed] = await bucket.getFiles({ matchGlob: "**/a.jpg" });
    assert.deepEqual(globbed.map((f) => f.name), ["inbox/1/a.jpg", "inbox/2/a.jpg", "outbox/1/a.jpg"]);
    const [offsets] = await bucket.getFiles({ startOffset: "inbox/2", endOffset: "inbox/z" });
    assert.deepEqual(offsets.map((f) => f.name), ["inbox/2/a.jpg", "inbox/readme.txt"]);
  });
});

Deno.test("copy and move between buckets carry bytes, checksums and metadata; move removes the source", async () => {
  await withEmulator(async ({ storage }) => {
    const [hot] = await storage.createBucket("hot");
    const [cold] = await storage.createBucket("cold", { storageClass: "COLDLINE" });
    await hot.file("media/x.ogg").save(Buffer.from("opus bytes"), {
      resumable: false,
      metadata: { contentType: "audio/ogg", metadata: { chat: "7" } },
    });
    const [copied] = await hot.file("media/x.ogg").copy(cold.file("archive/x.ogg"));
    const [copyMeta] = await copied.getMetadata();
    const [srcMeta] = await hot.file("media/x.ogg").getMetadata();
    assert.equal(copyMeta.crc32c, srcMeta.crc32c);
    assert.equal(copyMeta.md5Hash, srcMeta.md5Hash);
    assert.equal(copyMeta.contentType, "audio/ogg");
    assert.deepEqual(copyMeta.metadata, { chat: "7" });
    assert.equal(copyMeta.storageClass, "COLDLINE", "the destination bucket's default class applies");
    assert.equal((await copied.download())[0].toString(), "opus bytes");

    await hot.file("media/x.ogg").move(cold.file("archive/moved.ogg"));
    const [srcExists] = await hot.file("media/x.ogg").exists();
    assert.equal(srcExists, false);
    assert.equal((await cold.file("archive/moved.ogg").download())[0].toString(), "opus bytes");

    // A rewrite onto an existing destination honours ifGenerationMatch: 0.
    await hot.file("again").save("a", { resumable: false });
    assert.equal(
      await statusOf(
        hot.file("again").copy(cold.file("archive/x.ogg"), { preconditionOpts: { ifGenerationMatch: 0 } }),
      ),
      412,
    );
    assert.equal(await statusOf(hot.file("missing").copy(cold.file("nowhere"))), 404);
  }, NO_BUCKET_RATE);
});

Deno.test("delete honours ifGenerationMatch; a missing object is 404 with GCS's message", async () => {
  await withEmulator(async ({ storage, url }) => {
    const [bucket] = await storage.createBucket("deletes");
    const file = bucket.file("a b/ü.txt");
    await file.save("x", { resumable: false });
    const [meta] = await file.getMetadata();
    assert.equal(await statusOf(file.delete({ ifGenerationMatch: 1 })), 412);
    await file.delete({ ifGenerationMatch: Number(meta.generation) });
    assert.equal(await statusOf(file.delete()), 404);
    const res = await fetch(`${url}/storage/v1/b/deletes/o/${encodeURIComponent("a b/ü.txt")}`);
    assert.equal(res.status, 404);
    assert.equal((await res.json()).error.message, "No such object: deletes/a b/ü.txt");
    const [exists] = await file.exists();
    assert.equal(exists, false);
    await file.delete({ ignoreNotFound: true });
  });
});

Deno.test("gzip-encoded objects are served as stored to gzip clients and transcoded for the others", async () => {
  await withEmulator(async ({ storage, url }) => {
    const [bucket] = await storage.createBucket("gzipped");
    const text = "hello gzip ".repeat(100);
    await bucket.file("t.txt").save(text, { resumable: false, gzip: true, contentType: "text/plain" });
    const [meta] = await bucket.file("t.txt").getMetadata();
    assert.equal(meta.contentEncoding, "gzip");
    assert.ok(Number(meta.size) < text.length);
    assert.equal((await bucket.file("t.txt").download())[0].toString(), text);
    const plain = await fetch(`${url}/storage/v1/b/gzipped/o/t.txt?alt=media`, {
      headers: { "accept-encoding": "identity" },
    });
    assert.equal(plain.headers.get("content-encoding"), null);
    assert.equal(plain.headers.get("x-goog-stored-content-encoding"), "gzip");
    assert.equal(await plain.text(), text);
  });
});

Deno.test("with uniform bucket-level access, ACLs are refused as GCS refuses them; unsupported calls are 501", async () => {
  await withEmulator(async ({ storage }) => {
    const [bucket] = await storage.createBucket("ubla", {
      iamConfiguration: { uniformBucketLevelAccess: { enabled: true } },
    });
    assert.equal(await statusOf(bucket.file("p.txt").save("x", { resumable: false, public: true })), 400);
    await bucket.file("p.txt").save("x", { resumable: false });
    assert.equal(await statusOf(bucket.file("p.txt").makePublic()), 400);
    const [plain] = await storage.createBucket("no-ubla");
    await plain.file("p.txt").save("x", { resumable: false });
    assert.equal(await statusOf(plain.file("p.txt").makePublic()), 501);
  }, NO_BUCKET_RATE);
});

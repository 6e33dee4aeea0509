import type { LifecycleRule } from "@google-cloud/storage";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { sdkFor, startTestEmulator } from "./testing.ts";

Deno.test("buckets, objects and open upload sessions survive a restart on the same data directory", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "gcs-persist-" });
  try {
    const lifecycle: { rule: LifecycleRule[] } = {
      rule: [{ action: { type: "SetStorageClass", storageClass: "NEARLINE" }, condition: { age: 30 } }],
    };
    const first = await startTestEmulator({ dataDir });
    const [bucket] = await first.storage.createBucket("kept", { labels: { env: "dev" }, lifecycle });
    const data = randomBytes(200_000);
    await bucket.file("a/one.bin").save(data, { resumable: false, metadata: { metadata: { k: "v" } } });
    await bucket.file("a/two.txt").save("two", { resumable: true });
    const [before] = await bucket.file("a/one.bin").getMetadata();
    // A session with 5 of its 10 bytes, left open.
    const start = await fetch(`${first.url}/upload/storage/v1/b/kept/o?uploadType=resumable&name=later.txt`, {
      method: "POST",
    });
    const uploadId = new URL(start.headers.get("location")!).searchParams.get("upload_id");
    await fetch(start.headers.get("location")!, {
      method: "PUT",
      headers: { "content-range": "bytes 0-4/10" },
      body: "01234",
    });
    await first.close();

    const second = await startTestEmulator({ dataDir });
    try {
      const storage = sdkFor(second.url);
      const [meta] = await storage.bucket("kept").getMetadata();
      assert.deepEqual(meta.lifecycle, lifecycle);
      assert.deepEqual(meta.labels, { env: "dev" });
      const [files] = await storage.bucket("kept").getFiles();
      assert.deepEqual(files.map((f) => f.name), ["a/one.bin", "a/two.txt"]);
      const [after] = await storage.bucket("kept").file("a/one.bin").getMetadata();
      assert.equal(after.generation, before.generation);
      assert.deepEqual(after.metadata, { k: "v" });
      const [content] = await storage.bucket("kept").file("a/one.bin").download();
      assert.ok(Buffer.compare(content, data) === 0, "bytes and checksums still agree (the SDK validated them)");

      // Generations keep increasing across the restart.
      await storage.bucket("kept").file("a/one.bin").save("new", { resumable: false });
      const [newer] = await storage.bucket("kept").file("a/one.bin").getMetadata();
      assert.ok(BigInt(newer.generation!) > BigInt(before.generation!));

      // The open session resumes where it was.
      const session = `${second.url}/upload/storage/v1/b/kept/o?uploadType=resumable&upload_id=${uploadId}`;
      const status = await fetch(session, { method: "PUT", headers: { "content-range": "bytes */*" } });
      assert.equal(status.status, 308);
      assert.equal(status.headers.get("range"), "bytes=0-4");
      const done = await fetch(session, { method: "PUT", headers: { "content-range": "bytes 5-9/10" }, body: "56789" });
      assert.equal(done.status, 200);
      await done.body?.cancel();
      assert.equal((await storage.bucket("kept").file("later.txt").download())[0].toString(), "0123456789");
    } finally {
      await second.close();
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("after a crash, half-written files are never visible: temp files, stray blobs and blobless objects go", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "gcs-crash-" });
  try {
    const first = await startTestEmulator({ dataDir });
    const [bucket] = await first.storage.createBucket("crashy");
    await bucket.file("good.txt").save("good", { resumable: false });
    await bucket.file("lost.txt").save("lost", { resumable: false });
    const lost = first.emulator.store.getObject("crashy", "lost.txt");
    await first.close();

    // What a crash at various points of a commit can leave behind:
    const bucketDir = join(dataDir, "buckets", "crashy");
    await Deno.writeTextFile(join(dataDir, "tmp", "half-written"), "partial bytes");
    await Deno.writeTextFile(join(bucketDir, "blobs", "deadbeef.123"), "a blob whose metadata never landed");
    await Deno.remove(join(bucketDir, "blobs", lost.blob)); // metadata whose blob is gone
    await Deno.mkdir(join(dataDir, "buckets", "no-metadata"), { recursive: true }); // bucket.json never written
    await Deno.writeTextFile(join(dataDir, "uploads", "orphan.part"), "bytes of no session");

    const second = await startTestEmulator({ dataDir });
    try {
      const [buckets] = await second.storage.getBuckets();
      assert.deepEqual(buckets.map((b) => b.name), ["crashy"]);
      const [files] = await second.storage.bucket("crashy").getFiles();
      assert.deepEqual(files.map((f) => f.name), ["good.txt"]);
      assert.equal((await second.storage.bucket("crashy").file("good.txt").download())[0].toString(), "good");
      assert.deepEqual([...Deno.readDirSync(join(dataDir, "tmp"))], []);
      assert.deepEqual([...Deno.readDirSync(join(dataDir, "uploads"))], []);
      const blobs = [...Deno.readDirSync(join(bucketDir, "blobs"))].map((e) => e.name);
      assert.equal(blobs.length, 1);
      assert.deepEqual(second.emulator.state().objects, 1);
    } finally {
      await second.close();
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("/_control/reset empties the store on disk too, and /_control/state counts buckets and objects", async () => {
  const gcs = await startTestEmulator();
  try {
    const [bucket] = await gcs.storage.createBucket("counted");
    await bucket.file("x").save("12345", { resumable: false });
    const state = await (await fetch(`${gcs.url}/_control/state`)).json();
    assert.equal(state.buckets, 1);
    assert.equal(state.objects, 1);
    assert.equal(state.bytes, 5);
    assert.deepEqual(state.perBucket, { counted: { objects: 1, bytes: 5 } });
    const reset = await fetch(`${gcs.url}/_control/reset`, { method: "POST" });
    assert.equal(reset.status, 200);
    await reset.body?.cancel();
    const after = await (await fetch(`${gcs.url}/_control/state`)).json();
    assert.equal(after.buckets, 0);
    assert.deepEqual([...Deno.readDirSync(join(gcs.dataDir, "buckets"))], []);
  } finally {
    await gcs.close();
    await Deno.remove(gcs.dataDir, { recursive: true });
  }
});

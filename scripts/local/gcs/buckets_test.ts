import type { LifecycleRule } from "@google-cloud/storage";
import assert from "node:assert/strict";
import { NO_BUCKET_RATE, statusOf, withEmulator } from "./testing.ts";

const LIFECYCLE: { rule: LifecycleRule[] } = {
  rule: [
    { action: { type: "SetStorageClass", storageClass: "NEARLINE" }, condition: { age: 30 } },
    { action: { type: "SetStorageClass", storageClass: "COLDLINE" }, condition: { age: 90 } },
    { action: { type: "SetStorageClass", storageClass: "ARCHIVE" }, condition: { age: 365 } },
  ],
};

Deno.test("a bucket keeps lifecycle rules, uniform access, labels and location exactly as created", async () => {
  await withEmulator(async ({ storage }) => {
    const [bucket] = await storage.createBucket("switchboard-media", {
      location: "europe-west1",
      storageClass: "STANDARD",
      labels: { env: "dev", tenant: "acme" },
      iamConfiguration: { uniformBucketLevelAccess: { enabled: true } },
      lifecycle: LIFECYCLE,
    });
    assert.equal(bucket.name, "switchboard-media");
    const [meta] = await storage.bucket("switchboard-media").getMetadata();
    assert.deepEqual(meta.lifecycle, LIFECYCLE);
    assert.deepEqual(meta.labels, { env: "dev", tenant: "acme" });
    assert.equal(meta.iamConfiguration?.uniformBucketLevelAccess?.enabled, true);
    assert.ok(meta.iamConfiguration?.uniformBucketLevelAccess?.lockedTime, "GCS reports when UBLA locks");
    assert.equal(meta.location, "EUROPE-WEST1");
    assert.equal(meta.locationType, "region");
    assert.equal(meta.storageClass, "STANDARD");
    assert.equal(meta.metageneration, "1");
    assert.ok(meta.timeCreated && meta.updated);
  });
});

Deno.test("invalid bucket names are refused with 400 invalid and GCS's message", async () => {
  await withEmulator(async ({ storage, url }) => {
    const bad = [
      "ab",
      "a".repeat(64),
      "UpperCase",
      "-leading",
      "trailing-",
      "goog-bucket",
      "my-google-bucket",
      "192.168.1.1",
      "has space",
      "a..b",
    ];
    for (const name of bad) {
      const res = await fetch(`${url}/storage/v1/b?project=local`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name }),
      });
      assert.equal(res.status, 400, name);
      const body = await res.json();
      assert.equal(body.error.code, 400);
      assert.equal(body.error.errors[0].reason, "invalid", name);
      assert.equal(body.error.message, `Invalid bucket name: '${name}'`);
    }
    // Through the SDK as well.
    assert.equal(await statusOf(storage.createBucket("Bad_Name")), 400);
    // Names GCS allows: underscores, dots (a dotted name may pass 63 characters), digits first.
    for (const name of ["a_b", "1bucket", "my.bucket.example", `${"a".repeat(60)}.${"b".repeat(60)}`]) {
      assert.equal(await statusOf(storage.createBucket(name)), 200, name);
    }
    const [buckets] = await storage.getBuckets();
    assert.equal(buckets.length, 4);
  }, NO_BUCKET_RATE);
});

Deno.test("creating a bucket twice is a 409 conflict; two concurrent creates give one 200 and one 409", async () => {
  await withEmulator(async ({ storage, url }) => {
    await storage.createBucket("twice");
    const res = await fetch(`${url}/storage/v1/b?project=local`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "twice" }),
    });
    assert.equal(res.status, 409);
    const body = await res.json();
    assert.equal(body.error.errors[0].reason, "conflict");
    assert.equal(
      body.error.message,
      "Your previous request to create the named bucket succeeded and you already own it.",
    );
    assert.equal(await statusOf(storage.createBucket("twice")), 409);

    const results = await Promise.all([statusOf(storage.createBucket("race")), statusOf(storage.createBucket("race"))]);
    assert.deepEqual(results.sort(), [200, 409]);
  }, NO_BUCKET_RATE);
});

Deno.test("bucket patch: labels merge, storage class and lifecycle change, metageneration goes up", async () => {
  await withEmulator(async ({ storage }) => {
    const [bucket] = await storage.createBucket("patchme", { labels: { a: "1", b: "2" } });
    await bucket.setLabels({ c: "3" });
    await bucket.deleteLabels("a");
    await bucket.setStorageClass("NEARLINE");
    await bucket.addLifecycleRule({ action: { type: "Delete" }, condition: { age: 400 } });
    const [meta] = await bucket.getMetadata();
    assert.deepEqual(meta.labels, { b: "2", c: "3" });
    assert.equal(meta.storageClass, "NEARLINE");
    assert.deepEqual(meta.lifecycle?.rule, [{ action: { type: "Delete" }, condition: { age: 400 } }]);
    assert.equal(meta.metageneration, "5");

    // A stale metageneration precondition is refused.
    assert.equal(await statusOf(bucket.setMetadata({ labels: { d: "4" } }, { ifMetagenerationMatch: 1 })), 412);
    // A lifecycle rule GCS would refuse.
    assert.equal(
      await statusOf(
        bucket.setMetadata({
          lifecycle: { rule: [{ action: { type: "Explode" }, condition: { age: 1 } } as unknown as LifecycleRule] },
        }),
      ),
      400,
    );
    await bucket.setMetadata({ lifecycle: null });
    const [after] = await bucket.getMetadata();
    assert.equal(after.lifecycle, undefined);
  });
});

Deno.test("a bucket with objects cannot be deleted (409); an empty one can; a missing one is 404", async () => {
  await withEmulator(async ({ storage, url }) => {
    const [bucket] = await storage.createBucket("full");
    await bucket.file("x").save("x", { resumable: false });
    assert.equal(await statusOf(bucket.delete()), 409);
    const res = await fetch(`${url}/storage/v1/b/full`, { method: "DELETE" });
    assert.equal(res.status, 409);
    assert.equal((await res.json()).error.message, "The bucket you tried to delete is not empty.");
    await bucket.file("x").delete();
    await bucket.delete();
    const [exists] = await bucket.exists();
    assert.equal(exists, false);
    assert.equal(await statusOf(storage.bucket("full").getMetadata()), 404);
  }, NO_BUCKET_RATE);
});

Deno.test("buckets list in name order with paging", async () => {
  await withEmulator(async ({ storage }) => {
    for (const name of ["c-bucket", "a-bucket", "b-bucket"]) await storage.createBucket(name);
    const [page, next] = await storage.getBuckets({ maxResults: 2, autoPaginate: false });
    assert.deepEqual(page.map((b) => b.name), ["a-bucket", "b-bucket"]);
    assert.ok(next);
    const [all] = await storage.getBuckets();
    assert.deepEqual(all.map((b) => b.name), ["a-bucket", "b-bucket", "c-bucket"]);
  }, NO_BUCKET_RATE);
});

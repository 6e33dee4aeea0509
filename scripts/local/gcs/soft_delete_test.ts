// Soft delete as GCS models it (https://cloud.google.com/storage/docs/soft-delete and use-soft-deleted-buckets):
// a new bucket keeps deleted and replaced objects for seven days unless its policy says otherwise, they are listed
// only with softDeleted=true and never served, they are gone after their hard delete time, a policy of 0 deletes
// for good, and a deleted bucket is itself kept (and listable) while its retention lasts. GCS's bucket rate is
// off here: these tests create and delete several buckets in a row (projects_test.ts holds the rate).

import assert from "node:assert/strict";
import { NO_BUCKET_RATE, statusOf, withEmulator } from "./testing.ts";

const SEVEN_DAYS = 7 * 24 * 3600;

async function listSoftDeleted(url: string, bucket: string, query = "") {
  const res = await fetch(`${url}/storage/v1/b/${bucket}/o?softDeleted=true${query}`);
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body as { items?: Record<string, string>[]; nextPageToken?: string };
}

Deno.test("a bucket created without a policy retains deleted objects for seven days", async () => {
  await withEmulator(async ({ storage, url, emulator }) => {
    await storage.createBucket("sd-default");
    const [meta] = await storage.bucket("sd-default").getMetadata();
    assert.equal(meta.softDeletePolicy?.retentionDurationSeconds, String(SEVEN_DAYS));
    assert.ok(meta.softDeletePolicy?.effectiveTime, "GCS reports since when the policy applies");

    const file = storage.bucket("sd-default").file("chat/1.json");
    await file.save("first", { resumable: false });
    await file.save("second", { resumable: false }); // the first generation is replaced: kept too
    await file.delete();
    assert.equal((await file.exists())[0], false, "a soft-deleted object is not live");
    const [live] = await storage.bucket("sd-default").getFiles();
    assert.equal(live.length, 0, "the default listing leaves soft-deleted objects out");

    const { items = [] } = await listSoftDeleted(url, "sd-default");
    assert.equal(items.length, 2, "both generations are kept");
    assert.deepEqual(items.map((o) => o.name), ["chat/1.json", "chat/1.json"]);
    assert.ok(Number(items[0].generation) < Number(items[1].generation), "in generation order");
    for (const o of items) {
      const kept = Date.parse(o.hardDeleteTime) - Date.parse(o.softDeleteTime);
      assert.equal(kept, SEVEN_DAYS * 1000, "hardDeleteTime is softDeleteTime + the retention");
    }
    // Metadata by generation only; the bytes are never served, and a delete cannot remove it early.
    const gen = items[1].generation;
    const one = await fetch(`${url}/storage/v1/b/sd-default/o/chat%2F1.json?softDeleted=true&generation=${gen}`);
    assert.equal(one.status, 200);
    assert.equal((await one.json()).softDeleteTime, items[1].softDeleteTime);
    const bytes = await fetch(`${url}/storage/v1/b/sd-default/o/chat%2F1.json?alt=media&generation=${gen}`);
    assert.equal(bytes.status, 404);
    await bytes.body?.cancel();
    assert.equal(await statusOf(file.delete()), 404, "deleting a soft-deleted object is a 404");
    const both = await fetch(`${url}/storage/v1/b/sd-default/o?softDeleted=true&versions=true`);
    assert.equal(both.status, 400, "softDeleted and versions cannot be combined");
    await both.body?.cancel();
    assert.equal(emulator.state().softDeletedObjects, 2);

    // Past the hard delete time they are gone for good.
    emulator.clock.advance(SEVEN_DAYS * 1000 + 1000);
    assert.deepEqual((await listSoftDeleted(url, "sd-default")).items ?? [], []);
    assert.equal(emulator.state().softDeletedObjects, 0);
  }, NO_BUCKET_RATE);
});

Deno.test("retention 0 disables soft delete: deleted objects are gone at once", async () => {
  await withEmulator(async ({ storage, url, emulator }) => {
    await storage.createBucket("sd-off", { softDeletePolicy: { retentionDurationSeconds: 0 } } as never);
    const [meta] = await storage.bucket("sd-off").getMetadata();
    assert.equal(meta.softDeletePolicy?.retentionDurationSeconds, "0");
    assert.equal(meta.softDeletePolicy?.effectiveTime, undefined);
    const file = storage.bucket("sd-off").file("m.json");
    await file.save("x", { resumable: false });
    await file.save("y", { resumable: false });
    await file.delete();
    assert.deepEqual((await listSoftDeleted(url, "sd-off")).items ?? [], []);
    assert.equal(emulator.state().softDeletedObjects, 0);
    // No file of it is left on disk either.
    const blobs = [...Deno.readDirSync(`${emulator.dataDir}/buckets/sd-off/blobs`)];
    assert.deepEqual(blobs, []);
  }, NO_BUCKET_RATE);
});

Deno.test("a policy change applies to later deletes only, and out-of-range retentions are refused", async () => {
  await withEmulator(async ({ storage, url }) => {
    await storage.createBucket("sd-change");
    const bucket = storage.bucket("sd-change");
    await bucket.file("before").save("a", { resumable: false });
    await bucket.file("after").save("b", { resumable: false });
    await bucket.file("before").delete();
    await bucket.setMetadata({ softDeletePolicy: { retentionDurationSeconds: 0 } });
    await bucket.file("after").delete();
    const { items = [] } = await listSoftDeleted(url, "sd-change");
    assert.deepEqual(items.map((o) => o.name), ["before"], "what was deleted under 7 days stays 7 days");

    for (const bad of [60, 90 * 24 * 3600 + 1, -1]) {
      const res = await fetch(`${url}/storage/v1/b?project=local`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          name: `sd-bad-${bad < 0 ? "neg" : bad}`,
          softDeletePolicy: { retentionDurationSeconds: bad },
        }),
      });
      assert.equal(res.status, 400, String(bad));
      await res.body?.cancel();
    }
    await storage.createBucket("sd-long", { softDeletePolicy: { retentionDurationSeconds: 90 * 24 * 3600 } } as never);
  }, NO_BUCKET_RATE);
});

Deno.test("a deleted bucket is soft-deleted while its retention lasts; with 0 and nothing retained it is gone", async () => {
  await withEmulator(async ({ storage, url, emulator }) => {
    await storage.createBucket("sd-kept");
    await storage.bucket("sd-kept").file("a").save("a", { resumable: false });
    assert.equal(await statusOf(storage.bucket("sd-kept").delete()), 409, "live objects block the delete");
    await storage.bucket("sd-kept").file("a").delete();
    await storage.bucket("sd-kept").delete(); // only soft-deleted objects: allowed
    assert.equal((await storage.bucket("sd-kept").exists())[0], false);
    const listed = await (await fetch(`${url}/storage/v1/b?project=local&softDeleted=true`)).json();
    assert.deepEqual(listed.items.map((b: { name: string }) => b.name), ["sd-kept"]);
    assert.ok(listed.items[0].generation && listed.items[0].hardDeleteTime);
    // The name is free again (the soft-deleted one could then not be restored).
    await storage.createBucket("sd-kept");
    await storage.bucket("sd-kept").delete();
    assert.equal(emulator.state().softDeletedBuckets, 2);

    await storage.createBucket("sd-gone", { softDeletePolicy: { retentionDurationSeconds: 0 } } as never);
    await storage.bucket("sd-gone").file("a").save("a", { resumable: false });
    await storage.bucket("sd-gone").file("a").delete();
    await storage.bucket("sd-gone").delete();
    const after = await (await fetch(`${url}/storage/v1/b?project=local&softDeleted=true`)).json();
    assert.ok(!after.items.some((b: { name: string }) => b.name === "sd-gone"), "nothing of it is retained");

    emulator.clock.advance(SEVEN_DAYS * 1000 + 1000);
    const expired = await (await fetch(`${url}/storage/v1/b?project=local&softDeleted=true`)).json();
    assert.equal(expired.items, undefined, "soft-deleted buckets go at their hard delete time");
  }, NO_BUCKET_RATE);
});

Deno.test("soft-deleted objects and buckets survive a restart of the emulator", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "gcs-soft-delete-" });
  try {
    await withEmulator(async ({ storage }) => {
      await storage.createBucket("sd-persist");
      await storage.bucket("sd-persist").file("x").save("x", { resumable: false });
      await storage.bucket("sd-persist").file("x").delete();
      await storage.createBucket("sd-persist-b");
      await storage.bucket("sd-persist-b").delete();
    }, { ...NO_BUCKET_RATE, dataDir });
    await withEmulator(async ({ url, emulator }) => {
      assert.equal(emulator.state().softDeletedObjects, 1);
      assert.equal(emulator.state().softDeletedBuckets, 1);
      const { items = [] } = await listSoftDeleted(url, "sd-persist");
      assert.deepEqual(items.map((o) => o.name), ["x"]);
    }, { ...NO_BUCKET_RATE, dataDir });
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

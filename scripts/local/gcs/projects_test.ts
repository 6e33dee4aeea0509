// Per-project rules the emulator holds by default, as GCS does: about one bucket create or delete every two
// seconds per project (https://cloud.google.com/storage/quotas#buckets), and names other projects own.

import assert from "node:assert/strict";
import { statusOf, withEmulator } from "./testing.ts";

const insert = (url: string, name: string, project = "local") =>
  fetch(`${url}/storage/v1/b?project=${project}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name }),
  });

/** A clock that moves only when the test moves it (emulator.clock.advance). */
const T0 = Date.now();
const stopped = () => T0;

/** The status of an answer whose body does not matter. */
async function code(answer: Promise<Response>): Promise<number> {
  const res = await answer;
  await res.body?.cancel();
  return res.status;
}

Deno.test("a second bucket create or delete within 2 s of the project's last one is 429 rateLimitExceeded, as GCS answers it", async () => {
  await withEmulator(async ({ url, emulator }) => {
    assert.equal(await code(insert(url, "first-bucket")), 200);
    const refused = await insert(url, "second-bucket");
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get("retry-after"), null, "GCS sends no Retry-After for this one");
    assert.deepEqual(await refused.json(), {
      error: {
        code: 429,
        message: "The project exceeded the rate limit for creating and deleting buckets.",
        errors: [{
          message: "The project exceeded the rate limit for creating and deleting buckets.",
          domain: "usageLimits",
          reason: "rateLimitExceeded",
        }],
      },
    });
    assert.equal(emulator.state().buckets, 1, "a refused create creates nothing");

    emulator.clock.advance(1999);
    assert.equal(await code(insert(url, "second-bucket")), 429, "not yet: the interval is 2 s");
    emulator.clock.advance(1);
    assert.equal(await code(insert(url, "second-bucket")), 200, "a refused request does not use the slot up");

    // Deletes share the same budget.
    const del = () => fetch(`${url}/storage/v1/b/first-bucket`, { method: "DELETE" });
    assert.equal(await code(del()), 429);
    emulator.clock.advance(2000);
    assert.equal(await code(del()), 204);
    assert.deepEqual(emulator.state().bucketOps.refused, { local: 3 });
    assert.deepEqual(emulator.state().bucketOps.granted, { local: 3 });
  }, { now: stopped });
});

Deno.test("the bucket rate is per project", async () => {
  await withEmulator(async ({ url }) => {
    assert.equal(await code(insert(url, "ours-bucket", "project-a")), 200);
    assert.equal(await code(insert(url, "theirs-bucket", "project-b")), 200);
    assert.equal(await code(insert(url, "ours-too", "project-a")), 429);
  });
});

Deno.test("the SDK retries a throttled createBucket by itself unless told not to", async () => {
  await withEmulator(async ({ emulator, sdk }) => {
    const eager = sdk({ retryOptions: { maxRetryDelay: 3, totalTimeout: 30, retryDelayMultiplier: 2 } });
    await eager.createBucket("sdk-first");
    const t0 = performance.now();
    await eager.createBucket("sdk-second"); // 429s, then succeeds once 2 s have passed
    assert.ok(performance.now() - t0 >= 1500);
    assert.ok(emulator.state().bucketOps.refused.local >= 1, "the SDK's own retries were refused first");

    // Without retries the 429 reaches the caller, who can wait for its own slot.
    const single = sdk({ retryOptions: { autoRetry: false } });
    assert.equal(await statusOf(single.createBucket("sdk-third")), 429);
  });
});

Deno.test("/_control/bucket-ops changes or turns off the rate; reset refills every project", async () => {
  await withEmulator(async ({ url, emulator }) => {
    const put = (body: unknown) =>
      fetch(`${url}/_control/bucket-ops`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      }).then((r) => r.json());
    assert.equal((await (await fetch(`${url}/_control/bucket-ops`)).json()).interval_ms, 2000, "GCS's rate by default");
    assert.equal((await put({ interval_ms: 0 })).interval_ms, 0);
    for (const name of ["a-bucket", "b-bucket", "c-bucket"]) assert.equal(await code(insert(url, name)), 200);

    await put({ interval_ms: 500, burst: 2 });
    assert.equal(await code(insert(url, "d-bucket")), 200);
    assert.equal(await code(insert(url, "e-bucket")), 200);
    assert.equal(await code(insert(url, "f-bucket")), 429);
    emulator.clock.advance(500);
    assert.equal(await code(insert(url, "f-bucket")), 200);
    assert.equal(await code(insert(url, "g-bucket")), 429);
    await (await fetch(`${url}/_control/reset`, { method: "POST" })).body?.cancel();
    assert.equal(await code(insert(url, "g-bucket")), 200, "reset refills the budget");
    assert.equal(emulator.state().bucketOps.interval_ms, 500, "and keeps the settings");
    assert.equal((await put({ interval_ms: -1 }) as { error: string }).error, "invalid request body");
  }, { now: stopped });
});

Deno.test("a name another project owns: insert is 409 'not available', anything else 403 naming the permission", async () => {
  const principal = "archiver@acme.iam.gserviceaccount.com";
  await withEmulator(async ({ url, storage, emulator }) => {
    const created = await insert(url, "taken-bucket");
    assert.equal(created.status, 409);
    assert.deepEqual((await created.json()).error.errors[0], {
      message: "Sorry, that name is not available. Please try a different one.",
      domain: "global",
      reason: "conflict",
    });

    const get = await fetch(`${url}/storage/v1/b/taken-bucket`);
    assert.equal(get.status, 403);
    assert.deepEqual((await get.json()).error, {
      code: 403,
      message: `${principal} does not have storage.buckets.get access to the Google Cloud Storage bucket. ` +
        "Permission 'storage.buckets.get' denied on resource (or it may not exist).",
      errors: [{
        message: `${principal} does not have storage.buckets.get access to the Google Cloud Storage bucket. ` +
          "Permission 'storage.buckets.get' denied on resource (or it may not exist).",
        domain: "global",
        reason: "forbidden",
      }],
    });
    // What the product meets: the SDK's exists() does not answer false, it rejects with 403.
    assert.equal(await statusOf(storage.bucket("taken-bucket").exists()), 403);
    const list = await fetch(`${url}/storage/v1/b/taken-bucket/o`);
    assert.match((await list.json()).error.message, /storage\.objects\.list access/);
    const upload = await fetch(`${url}/upload/storage/v1/b/taken-bucket/o?uploadType=media&name=x`, {
      method: "POST",
      body: "x",
    });
    assert.match((await upload.json()).error.message, /storage\.objects\.create access/);
    assert.equal(emulator.state().buckets, 0);

    // Registered over HTTP too, and removed again.
    const add = await fetch(`${url}/_control/foreign-buckets`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "also-taken" }),
    });
    assert.deepEqual((await add.json()).names, ["also-taken", "taken-bucket"]);
    assert.equal(await code(fetch(`${url}/storage/v1/b/also-taken`)), 403);
    assert.equal(await code(fetch(`${url}/_control/foreign-buckets/also-taken`, { method: "DELETE" })), 204);
    assert.equal(await code(fetch(`${url}/storage/v1/b/also-taken`)), 404);
  }, { foreignBuckets: ["taken-bucket"], principal });
});

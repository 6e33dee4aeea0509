// The archive's GCS client as built from a service-account key: no deprecated `credentials` option
// (google-auth-library printed a deprecation at every start), V4 signed URLs still signed with the key
// and accepted by an emulator that checks signatures; and a bucket name of another project met the
// way GCS answers it (409 on insert, 403 from exists()).

// First: the SDK (which the emulator's test helpers import) needs it on the edge runtime's Deno.
import "./google_sdk_compat.ts";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { generateKeyPairSync } from "node:crypto";
import { startTestEmulator } from "../../../../scripts/local/gcs/testing.ts";
import { createStorage, ensureBucket, ForeignBucketError, signedDownloadUrl } from "./storage.ts";
import type { ServiceAccountKey } from "./config.ts";
import { testBucketPolicy } from "../../../../scripts/testing/archive.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

function serviceAccount(): ServiceAccountKey {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return {
    type: "service_account",
    project_id: "acme-archive",
    client_email: "archiver@acme-archive.iam.gserviceaccount.com",
    private_key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  };
}

const policy = testBucketPolicy("sbtest", { salt: "storage-test" });

Deno.test(
  "a service-account key makes a client that warns about nothing and signs URLs GCS accepts",
  opts,
  async () => {
    const key = serviceAccount();
    const gcs = await startTestEmulator({
      signingKeys: { [key.client_email]: key.private_key },
      strictSignatures: true,
    });
    const warned: unknown[][] = [];
    const warn = console.warn;
    console.warn = (...args: unknown[]) => void warned.push(args);
    try {
      const storage = createStorage({ apiEndpoint: gcs.url, key, projectId: key.project_id });
      await storage.createBucket("signed-bucket");
      await storage.bucket("signed-bucket").file("a.txt").save(Buffer.from("hello"), { resumable: false });
      const url = await signedDownloadUrl(storage, "signed-bucket", "a.txt", 60);
      assert.match(url, /X-Goog-Credential=archiver%40acme-archive\.iam\.gserviceaccount\.com/);
      const res = await fetch(url);
      assert.equal(res.status, 200, "the emulator checked the signature against the key");
      assert.equal(await res.text(), "hello");
      assert.deepEqual(warned, [], "no deprecation (or any other) warning");
    } finally {
      console.warn = warn;
      await gcs.close();
      await Deno.remove(gcs.dataDir, { recursive: true }).catch(() => {});
    }
  },
);

Deno.test(
  "a bucket name another project owns is refused as such: 409 on insert, then 403 from exists()",
  opts,
  async () => {
    const gcs = await startTestEmulator({ foreignBuckets: ["sbtest-u-taken"] });
    try {
      const storage = createStorage({ apiEndpoint: gcs.url, retries: false });
      await assert.rejects(
        ensureBucket(storage, "sbtest-u-taken", policy, {}),
        (e) =>
          e instanceof ForeignBucketError &&
          /sbtest-u-taken exists but belongs to another project/.test(e.message) &&
          /does not have storage\.buckets\.get access/.test(e.message) &&
          /change ARCHIVE_BUCKET_SALT/.test(e.message),
      );
      // Our own bucket's 409 is adopted. (Each insert is one of the project's bucket operations: the
      // emulator's clock moves past GCS's 2 s between them.)
      gcs.emulator.clock.advance(2000);
      await storage.createBucket("sbtest-u-ours");
      gcs.emulator.clock.advance(2000);
      await ensureBucket(storage, "sbtest-u-ours", policy, {});
    } finally {
      await gcs.close();
      await Deno.remove(gcs.dataDir, { recursive: true }).catch(() => {});
    }
  },
);

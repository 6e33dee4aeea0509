import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { withEmulator } from "./testing.ts";

const { privateKey } = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
  publicKeyEncoding: { type: "spki", format: "pem" },
});
const SERVICE_ACCOUNT = { client_email: "signer@local-project.iam.gserviceaccount.com", private_key: privateKey };
const FIFTEEN_MINUTES = 15 * 60 * 1000;

Deno.test("a V4 signed download URL works until it expires, then GCS's ExpiredToken is returned", async () => {
  await withEmulator(async ({ storage, sdk, emulator }) => {
    const [bucket] = await storage.createBucket("signed");
    await bucket.file("media/voice note.ogg").save("opus", { resumable: false, contentType: "audio/ogg" });
    const signer = sdk({ credentials: SERVICE_ACCOUNT });
    const [url] = await signer.bucket("signed").file("media/voice note.ogg").getSignedUrl({
      version: "v4",
      action: "read",
      expires: Date.now() + FIFTEEN_MINUTES,
    });
    assert.match(url, /X-Goog-Signature=/);

    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "audio/ogg");
    assert.match(res.headers.get("x-goog-hash") ?? "", /crc32c=.*,md5=/);
    assert.equal(await res.text(), "opus");

    emulator.clock.advance(FIFTEEN_MINUTES + 1000);
    const expired = await fetch(url);
    assert.equal(expired.status, 400);
    const body = await expired.text();
    assert.match(body, /<Code>ExpiredToken<\/Code>/);
  }, { signingKeys: { [SERVICE_ACCOUNT.client_email]: SERVICE_ACCOUNT.private_key } });
});

Deno.test("with the signer's key known, a tampered signed URL is refused with SignatureDoesNotMatch", async () => {
  await withEmulator(async ({ storage, sdk }) => {
    const [bucket] = await storage.createBucket("tamper");
    await bucket.file("a.txt").save("a", { resumable: false });
    await bucket.file("b.txt").save("b", { resumable: false });
    const signer = sdk({ credentials: SERVICE_ACCOUNT });
    const [url] = await signer.bucket("tamper").file("a.txt").getSignedUrl({
      version: "v4",
      action: "read",
      expires: Date.now() + FIFTEEN_MINUTES,
    });
    const otherObject = await fetch(url.replace("/a.txt?", "/b.txt?"));
    assert.equal(otherObject.status, 403);
    assert.match(await otherObject.text(), /SignatureDoesNotMatch/);
    const flipped = url.replace(/X-Goog-Signature=([0-9a-f]+)/, (_, sig: string) => {
      const last = sig.at(-1) === "0" ? "1" : "0";
      return `X-Goog-Signature=${sig.slice(0, -1)}${last}`;
    });
    const tampered = await fetch(flipped);
    assert.equal(tampered.status, 403);
    await tampered.body?.cancel();

    // V2 signed URLs (the SDK's default version) are verified the same way.
    const [v2] = await signer.bucket("tamper").file("a.txt").getSignedUrl({
      action: "read",
      expires: Date.now() + FIFTEEN_MINUTES,
    });
    const v2res = await fetch(v2);
    assert.equal(v2res.status, 200);
    assert.equal(await v2res.text(), "a");
  }, { signingKeys: { [SERVICE_ACCOUNT.client_email]: SERVICE_ACCOUNT.private_key } });
});

Deno.test("without the signer's key the signature is accepted unverified, but presence and expiry still count", async () => {
  await withEmulator(async ({ storage, sdk, url: base }) => {
    const [bucket] = await storage.createBucket("unverified");
    await bucket.file("x.txt").save("x", { resumable: false });
    const [url] = await sdk({ credentials: SERVICE_ACCOUNT }).bucket("unverified").file("x.txt").getSignedUrl({
      version: "v4",
      action: "read",
      expires: Date.now() + FIFTEEN_MINUTES,
    });
    const ok = await fetch(url);
    assert.equal(ok.status, 200);
    await ok.body?.cancel();

    const missing = await fetch(url.replace(/&?X-Goog-Date=[^&]+/, ""));
    assert.equal(missing.status, 400);
    assert.match(await missing.text(), /AuthorizationQueryParametersError/);

    const unsigned = await fetch(`${base}/unverified/x.txt`);
    assert.equal(unsigned.status, 403);
    assert.match(await unsigned.text(), /AccessDenied/);

    const tooLong = await fetch(url.replace(/X-Goog-Expires=\d+/, "X-Goog-Expires=604801"));
    assert.equal(tooLong.status, 400);
    await tooLong.body?.cancel();

    const absent = await fetch(url.replace("/x.txt?", "/nope.txt?"));
    assert.equal(absent.status, 404);
    assert.match(await absent.text(), /NoSuchKey/);
  });
});

Deno.test("a V4 signed PUT URL uploads an object", async () => {
  await withEmulator(async ({ storage, sdk }) => {
    await storage.createBucket("upload-signed");
    const [url] = await sdk({ credentials: SERVICE_ACCOUNT }).bucket("upload-signed").file("in/photo.jpg").getSignedUrl(
      { version: "v4", action: "write", expires: Date.now() + FIFTEEN_MINUTES, contentType: "image/jpeg" },
    );
    const res = await fetch(url, { method: "PUT", headers: { "content-type": "image/jpeg" }, body: "jpeg bytes" });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    const [meta] = await storage.bucket("upload-signed").file("in/photo.jpg").getMetadata();
    assert.equal(meta.contentType, "image/jpeg");
    assert.equal((await storage.bucket("upload-signed").file("in/photo.jpg").download())[0].toString(), "jpeg bytes");
  }, { signingKeys: { [SERVICE_ACCOUNT.client_email]: SERVICE_ACCOUNT.private_key }, strictSignatures: true });
});

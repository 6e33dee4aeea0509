import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { sdkFor } from "./testing.ts";

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));

async function startCli(args: string[]): Promise<{ url: string; child: Deno.ChildProcess; stop(): Promise<void> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "--port", "0", "--quiet", ...args],
    stdout: "piped",
    stderr: "inherit",
    env: { METADATA_SERVER_DETECTION: "none" },
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!/listening on (\S+)/.test(out)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`main.ts exited early: ${out}`);
    out += value;
  }
  const url = /listening on (\S+)/.exec(out)![1];
  return {
    url,
    child,
    async stop() {
      child.kill("SIGTERM");
      reader.releaseLock();
      await child.stdout.cancel().catch(() => {});
      await child.status;
    },
  };
}

Deno.test("main.ts serves a data directory, pre-creates --bucket, and finds its objects again after a restart", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "gcs-cli-" });
  try {
    const first = await startCli(["--data", dataDir, "--bucket", "media", "--no-sync"]);
    try {
      await sdkFor(first.url).bucket("media").file("hello.txt").save("hi", { resumable: false });
    } finally {
      await first.stop();
    }
    const second = await startCli(["--data", dataDir]);
    try {
      const [content] = await sdkFor(second.url).bucket("media").file("hello.txt").download();
      assert.equal(content.toString(), "hi");
      const state = await (await fetch(`${second.url}/_control/state`)).json();
      assert.equal(state.buckets, 1);
      assert.equal(state.objects, 1);
    } finally {
      await second.stop();
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("main.ts takes GCS's bucket rate and foreign names from its flags", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "gcs-cli-" });
  const cli = await startCli([
    "--data",
    dataDir,
    "--no-sync",
    "--bucket-ops-interval-ms",
    "0",
    "--foreign-bucket",
    "taken",
  ]);
  try {
    const storage = sdkFor(cli.url);
    await storage.createBucket("first-one");
    await storage.createBucket("second-one"); // at once: the rate is off
    const state = await (await fetch(`${cli.url}/_control/state`)).json();
    assert.equal(state.bucketOps.interval_ms, 0);
    assert.deepEqual(state.foreignBuckets, ["taken"]);
    const res = await fetch(`${cli.url}/storage/v1/b/taken`);
    assert.equal(res.status, 403);
    await res.body?.cancel();
  } finally {
    await cli.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});

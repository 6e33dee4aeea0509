// Test helpers: an emulator on a free port with its own data directory, and the real @google-cloud/storage SDK
// pointed at it (fast retries, so retried requests do not slow the suite down).

import { Storage, type StorageOptions } from "@google-cloud/storage";
import { type RunningGcsEmulator, startGcsEmulator, type StartOptions } from "./server.ts";

// A custom apiEndpoint already skips auth; this keeps the auth library from probing a metadata server.
Deno.env.set("METADATA_SERVER_DETECTION", "none");

export interface TestEmulator extends RunningGcsEmulator {
  storage: Storage;
  dataDir: string;
  /** An SDK client with other options (e.g. credentials for signing URLs). */
  sdk(extra?: StorageOptions): Storage;
}

export function sdkFor(url: string, extra: StorageOptions = {}): Storage {
  return new Storage({
    apiEndpoint: url,
    projectId: "local",
    retryOptions: { maxRetryDelay: 1, totalTimeout: 30, ...extra.retryOptions },
    ...extra,
  });
}

/** Starts an emulator on a free port; `dataDir` defaults to a fresh temp dir (kept for restarts in a test). */
export async function startTestEmulator(opts: StartOptions = {}): Promise<TestEmulator> {
  const dataDir = opts.dataDir ?? await Deno.makeTempDir({ prefix: "gcs-emulator-test-" });
  const running = await startGcsEmulator({ port: 0, noSync: true, ...opts, dataDir });
  return {
    ...running,
    dataDir,
    storage: sdkFor(running.url),
    sdk: (extra) => sdkFor(running.url, extra),
  };
}

/** For a test that creates several buckets in a row to test something else: GCS's bucket create/delete rate
 * (one per 2 s per project, on by default; projects_test.ts tests it) turned off. */
export const NO_BUCKET_RATE: StartOptions = { bucketOps: { intervalMs: 0 } };

/** Runs `fn` against a fresh emulator, then closes it and removes its data. */
export async function withEmulator(
  fn: (gcs: TestEmulator) => Promise<void>,
  opts: StartOptions = {},
): Promise<void> {
  const gcs = await startTestEmulator(opts);
  try {
    await fn(gcs);
  } finally {
    await gcs.close();
    if (!opts.dataDir) await Deno.remove(gcs.dataDir, { recursive: true }).catch(() => {});
  }
}

/** The HTTP status of a rejected SDK call (ApiError.code), or undefined. */
export async function statusOf(promise: Promise<unknown>): Promise<number | undefined> {
  try {
    await promise;
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    return typeof code === "number" ? code : Number(code);
  }
  return 200;
}

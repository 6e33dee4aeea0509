// Lets @google-cloud/storage load on the edge runtime's Deno (2.1). Its logging dependency
// (google-logging-utils, via gcp-metadata) reads `process.env` from `__importStar(require("process"))`,
// which copies only own properties; Deno 2.1's process object keeps `env` on its prototype, so every
// SDK import threw "Cannot read properties of undefined (reading 'GOOGLE_SDK_NODE_LOGGING')"
// (googleapis/google-cloud-node-core#193, denoland/deploy_feedback#800; newer Deno makes it own).
// Imported for its effect, before the SDK, by storage.ts.

import process from "node:process";

if (!Object.getOwnPropertyNames(process).includes("env")) {
  Object.defineProperty(process, "env", { value: process.env, enumerable: true, configurable: true, writable: true });
}

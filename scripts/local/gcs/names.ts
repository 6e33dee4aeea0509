// Bucket and object naming rules of Cloud Storage (cloud.google.com/storage/docs/buckets#naming and
// /docs/objects#naming); a bad name is answered with GCS's own 400 `invalid` error.

import { GcsError, invalid } from "./errors.ts";

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const BUCKET_CHARS = /^[a-z0-9][a-z0-9._-]*[a-z0-9]$/;
/** "google" and the close misspellings GCS refuses (g00gle, go0gle, …). */
const GOOGLE_LIKE = /g[o0][o0]g[l1]e/;

/** Why `name` is not a valid bucket name, or undefined when it is. */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3) return "shorter than 3 characters";
  const components = name.split(".");
  if (components.length === 1 && name.length > 63) return "longer than 63 characters";
  if (name.length > 222) return "longer than 222 characters";
  if (components.some((c) => c.length > 63)) return "a dot-separated component is longer than 63 characters";
  if (components.some((c) => c.length === 0)) return "contains an empty dot-separated component";
  if (!BUCKET_CHARS.test(name)) {
    return "only lowercase letters, digits, dashes, underscores and dots are allowed, starting and ending with a letter or digit";
  }
  if (IPV4.test(name)) return "looks like an IP address";
  if (name.startsWith("goog")) return 'begins with "goog"';
  if (GOOGLE_LIKE.test(name)) return 'contains "google" or a close misspelling';
  return undefined;
}

export function assertBucketName(name: string): void {
  if (bucketNameProblem(name) !== undefined) throw invalid(`Invalid bucket name: '${name}'`);
}

/** Why `name` is not a valid object name, or undefined when it is. */
export function objectNameProblem(name: string): string | undefined {
  if (name.length === 0) return "empty";
  if (new TextEncoder().encode(name).length > 1024) return "longer than 1024 bytes";
  if (/[\r\n]/.test(name)) return "contains a carriage return or line feed";
  if (name === "." || name === "..") return 'is "." or ".."';
  if (name.startsWith(".well-known/acme-challenge/")) return 'begins with ".well-known/acme-challenge/"';
  return undefined;
}

export function assertObjectName(name: string): void {
  const problem = objectNameProblem(name);
  if (problem === undefined) return;
  if (problem === "empty") {
    throw new GcsError(400, "required", "Required", { locationType: "parameter", location: "name" });
  }
  throw invalid(`The specified object name is not valid: ${problem}.`);
}

/** Orders names by Unicode code point, which is the UTF-8 byte order GCS lists in. */
export function compareNames(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.codePointAt(i)!;
    const cb = b.codePointAt(i)!;
    if (ca !== cb) return ca < cb ? -1 : 1;
    if (ca > 0xffff) i++;
  }
  return a.length < b.length ? -1 : 1;
}

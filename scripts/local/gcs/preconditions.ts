// Request preconditions (ifGenerationMatch, ifMetagenerationMatch and their NotMatch forms, and the ifSource…
// forms of rewrite/copy): read from the query string, checked against the live record inside the store's lock.

import { conditionNotMet, invalid, notModified } from "./errors.ts";
import type { BucketRecord, ObjectRecord } from "./resources.ts";

export interface Preconditions {
  ifGenerationMatch?: number;
  ifGenerationNotMatch?: number;
  ifMetagenerationMatch?: number;
  ifMetagenerationNotMatch?: number;
}

function readInt(params: URLSearchParams, key: string): number | undefined {
  const raw = params.get(key);
  if (raw === null || raw === "") return undefined;
  if (!/^-?\d+$/.test(raw)) {
    throw invalid(`Invalid value for ${key}: ${raw}`, { locationType: "parameter", location: key });
  }
  return Number(raw);
}

/** The preconditions in `params`; `prefix` "ifSource" reads the source ones of a rewrite. */
export function readPreconditions(params: URLSearchParams, prefix: "if" | "ifSource" = "if"): Preconditions {
  return {
    ifGenerationMatch: readInt(params, `${prefix}GenerationMatch`),
    ifGenerationNotMatch: readInt(params, `${prefix}GenerationNotMatch`),
    ifMetagenerationMatch: readInt(params, `${prefix}MetagenerationMatch`),
    ifMetagenerationNotMatch: readInt(params, `${prefix}MetagenerationNotMatch`),
  };
}

export function hasPreconditions(p: Preconditions): boolean {
  return Object.values(p).some((v) => v !== undefined);
}

/**
 * Throws 412 conditionNotMet when `existing` (undefined = no live object) fails `p`. For reads (`read`), a
 * failed NotMatch condition is a 304 Not Modified, as GCS answers a conditional GET.
 */
export function checkObjectPreconditions(existing: ObjectRecord | undefined, p: Preconditions, read = false): void {
  const generation = existing?.generation ?? 0;
  if (p.ifGenerationMatch !== undefined && p.ifGenerationMatch !== generation) throw conditionNotMet("If-Match");
  if (p.ifMetagenerationMatch !== undefined && (!existing || p.ifMetagenerationMatch !== existing.metageneration)) {
    throw conditionNotMet("If-Metageneration-Match");
  }
  const notMatchFailed = (header: string) => read ? notModified() : conditionNotMet(header);
  if (p.ifGenerationNotMatch !== undefined) {
    // ifGenerationNotMatch=0 asks for "any live object".
    const fails = p.ifGenerationNotMatch === 0 ? !existing : generation === p.ifGenerationNotMatch;
    if (fails) throw notMatchFailed("If-None-Match");
  }
  if (p.ifMetagenerationNotMatch !== undefined && existing?.metageneration === p.ifMetagenerationNotMatch) {
    throw notMatchFailed("If-Metageneration-None-Match");
  }
}

export function checkBucketPreconditions(bucket: BucketRecord, p: Preconditions, read = false): void {
  if (p.ifMetagenerationMatch !== undefined && p.ifMetagenerationMatch !== bucket.metageneration) {
    throw conditionNotMet("If-Metageneration-Match");
  }
  if (p.ifMetagenerationNotMatch !== undefined && p.ifMetagenerationNotMatch === bucket.metageneration) {
    throw read ? notModified() : conditionNotMet("If-Metageneration-None-Match");
  }
}

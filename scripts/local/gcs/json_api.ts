// Routes of the GCS JSON API: buckets (insert/get/list/patch/update/delete), objects (get metadata or
// ?alt=media, list with prefix/delimiter/paging, patch/update, delete, rewrite/copy/move) and the
// /upload and /download paths. Paths carry object names URL-encoded; a raw `/` inside a name is tolerated.
// Soft-deleted objects and buckets are listed only with softDeleted=true (objects.list, buckets.list) and read
// only by generation (objects.get); restoring them is not offered (501).

import { Buffer } from "node:buffer";
import { GcsError, invalid, objectNotFound, required, routeNotImplemented, uniformAccessForbidsAcl } from "./errors.ts";
import { empty, type GcsRequest, json, originOf, readJson, type Reply } from "./http.ts";
import { serveMedia } from "./media.ts";
import { assertBucketName, assertObjectName, compareNames } from "./names.ts";
import { copyObject, type WriteDeps } from "./object_writes.ts";
import { checkBucketPreconditions, checkObjectPreconditions, readPreconditions } from "./preconditions.ts";
import {
  applyObjectFields,
  bucketFromInsert,
  bucketResource,
  normalizeStorageClass,
  type ObjectFields,
  objectFieldsOf,
  objectResource,
  patchBucket,
  withObjectFields,
} from "./resources.ts";
import type { UploadSessions } from "./uploads.ts";
import {
  bucketNameUnavailable,
  type BucketOperationQuota,
  foreignBucketForbidden,
  type ForeignBuckets,
  permissionFor,
} from "./projects.ts";

export interface ApiDeps extends WriteDeps {
  sessions: UploadSessions;
  /** The project-wide bucket create/delete rate. */
  bucketOps: BucketOperationQuota;
  /** Names another project owns. */
  foreign: ForeignBuckets;
  /** Who GCS says the caller is when it refuses one (the service account, or "Anonymous caller"). */
  principal: string;
}

const MAX_RESULTS = 1000;
/** The project of a bucket created before the emulator recorded projects. */
const DEFAULT_PROJECT = "_";

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw invalid(`Invalid percent-encoding in path segment: ${segment}`);
  }
}

function maxResultsOf(params: URLSearchParams): number {
  const raw = params.get("maxResults");
  if (raw === null || raw === "") return MAX_RESULTS;
  if (!/^\d+$/.test(raw)) throw invalid(`Invalid value for maxResults: ${raw}`);
  return Math.min(Math.max(Number(raw), 1), MAX_RESULTS);
}

interface PageToken {
  /** The last name (or prefix) returned. */
  after: string;
  /** `after` was a prefix: every name under it was already summarised. */
  prefix?: boolean;
}

function encodePageToken(t: PageToken): string {
  return Buffer.from(JSON.stringify(t)).toString("base64url");
}

function decodePageToken(raw: string | null): PageToken | undefined {
  if (!raw) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(raw, "base64url").toString("utf8"));
    if (typeof parsed?.after === "string") return parsed;
  } catch { /* fall through */ }
  throw invalid(`Invalid page token: ${raw}`, { locationType: "parameter", location: "pageToken" });
}

/** First index whose name sorts after (or at, with `inclusive`) `key`. */
function lowerBound(names: string[], key: string, inclusive: boolean): number {
  let lo = 0;
  let hi = names.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const c = compareNames(names[mid], key);
    if (c < 0 || (!inclusive && c === 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** GCS matchGlob: `**` crosses `/`, `*` and `?` do not, `[…]` classes, `{a,b}` alternatives. */
export function globToRegExp(glob: string): RegExp {
  let out = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*") {
      if (glob[i + 1] === "*") {
        out += ".*";
        i++;
      } else out += "[^/]*";
    } else if (c === "?") out += "[^/]";
    else if (c === "[") {
      const close = glob.indexOf("]", i + 1);
      if (close < 0) throw invalid(`Invalid matchGlob: ${glob}`);
      let body = glob.slice(i + 1, close);
      if (body.startsWith("!")) body = "^" + body.slice(1);
      out += `[${body.replace(/\\/g, "\\\\")}]`;
      i = close;
    } else if (c === "{") {
      const close = glob.indexOf("}", i + 1);
      if (close < 0) throw invalid(`Invalid matchGlob: ${glob}`);
      out += `(?:${
        glob.slice(i + 1, close).split(",").map((s) => s.replace(/[.+^${}()|[\]\\*?]/g, "\\$&")).join("|")
      })`;
      i = close;
    } else out += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${out}$`, "s");
}

// ------------------------------------------------------------------ buckets

async function insertBucket(deps: ApiDeps, req: GcsRequest): Promise<Reply> {
  if (!req.url.searchParams.get("project")) throw required("project");
  const body = await readJson(req);
  if (typeof body.name !== "string" || !body.name) throw required("resource.name");
  assertBucketName(body.name);
  // Every well-formed insert counts against the project's create/delete rate, whatever it finds.
  const project = req.url.searchParams.get("project")!;
  deps.bucketOps.take(project);
  if (deps.foreign.has(body.name)) throw bucketNameUnavailable();
  const record = await deps.store.createBucket({ ...bucketFromInsert(body.name, body, deps.now()), project });
  return json(bucketResource(record, originOf(req)));
}

/** Listing position of a soft-deleted version: its name, then its generation. */
const versionKey = (name: string, generation: number | undefined) => `${name}\u0000${generation ?? 0}`;

function listBuckets(deps: ApiDeps, req: GcsRequest): Reply {
  const params = req.url.searchParams;
  if (!params.get("project")) throw required("project");
  const prefix = params.get("prefix") ?? "";
  const max = maxResultsOf(params);
  const token = decodePageToken(params.get("pageToken"));
  // softDeleted=true lists only soft-deleted buckets, each with its generation and delete times.
  const softDeleted = params.get("softDeleted") === "true";
  const key = (b: { name: string; generation?: number }) => softDeleted ? versionKey(b.name, b.generation) : b.name;
  const source = softDeleted ? deps.store.listSoftDeletedBuckets() : deps.store.listBuckets();
  const all = source.filter((b) => b.name.startsWith(prefix) && (!token || compareNames(key(b), token.after) > 0));
  const page = all.slice(0, max);
  const out: Record<string, unknown> = { kind: "storage#buckets" };
  if (page.length) out.items = page.map((b) => bucketResource(b, originOf(req)));
  if (all.length > max) out.nextPageToken = encodePageToken({ after: key(page[page.length - 1]) });
  return json(out);
}

async function bucketRoute(deps: ApiDeps, req: GcsRequest, bucket: string): Promise<Reply> {
  const preconditions = readPreconditions(req.url.searchParams);
  switch (req.method) {
    case "GET": {
      const record = deps.store.getBucket(bucket);
      checkBucketPreconditions(record, preconditions, true);
      return json(bucketResource(record, originOf(req)));
    }
    case "PATCH":
    case "PUT": {
      const body = await readJson(req);
      const record = await deps.store.updateBucket(bucket, (current) => {
        checkBucketPreconditions(current, preconditions);
        return patchBucket(current, body, deps.now());
      });
      return json(bucketResource(record, originOf(req)));
    }
    case "DELETE":
      await deps.store.deleteBucket(bucket, (current) => {
        checkBucketPreconditions(current, preconditions);
        deps.bucketOps.take(current.project ?? DEFAULT_PROJECT);
      });
      return empty(204);
  }
  throw routeNotImplemented(req.method, req.url.pathname);
}

// ------------------------------------------------------------------ objects

/** objects.list with softDeleted=true: every retained soft-deleted generation (prefix and paging apply). */
function listSoftDeletedObjects(deps: ApiDeps, req: GcsRequest, bucket: string): Reply {
  const params = req.url.searchParams;
  if (params.get("versions") === "true") {
    throw invalid("The softDeleted and versions parameters cannot both be true.", {
      locationType: "parameter",
      location: "softDeleted",
    });
  }
  const prefix = params.get("prefix") ?? "";
  const max = maxResultsOf(params);
  const token = decodePageToken(params.get("pageToken"));
  const all = deps.store.softDeletedObjects(bucket).filter((o) =>
    o.name.startsWith(prefix) && (!token || compareNames(versionKey(o.name, o.generation), token.after) > 0)
  );
  const page = all.slice(0, max);
  const origin = originOf(req);
  const out: Record<string, unknown> = { kind: "storage#objects" };
  if (page.length) out.items = page.map((o) => objectResource(o, origin));
  if (all.length > max) {
    const last = page[page.length - 1];
    out.nextPageToken = encodePageToken({ after: versionKey(last.name, last.generation) });
  }
  return json(out);
}

function listObjects(deps: ApiDeps, req: GcsRequest, bucket: string): Reply {
  const params = req.url.searchParams;
  if (params.get("softDeleted") === "true") return listSoftDeletedObjects(deps, req, bucket);
  const names = deps.store.objectNames(bucket);
  const prefix = params.get("prefix") ?? "";
  const delimiter = params.get("delimiter") || undefined;
  const startOffset = params.get("startOffset") || undefined;
  const endOffset = params.get("endOffset") || undefined;
  const includeTrailingDelimiter = params.get("includeTrailingDelimiter") === "true";
  const glob = params.get("matchGlob") ? globToRegExp(params.get("matchGlob")!) : undefined;
  const max = maxResultsOf(params);
  const token = decodePageToken(params.get("pageToken"));

  let from = lowerBound(names, prefix, true);
  if (startOffset) from = Math.max(from, lowerBound(names, startOffset, true));
  if (token) from = Math.max(from, lowerBound(names, token.after, false));

  const items: string[] = [];
  const prefixes: string[] = [];
  let count = 0;
  let last: PageToken | undefined;
  let next: PageToken | undefined;
  for (let i = from; i < names.length; i++) {
    const name = names[i];
    if (!name.startsWith(prefix)) break; // names under a prefix are contiguous in listing order
    if (endOffset && compareNames(name, endOffset) >= 0) break;
    if (token?.prefix && name.startsWith(token.after)) continue;
    if (glob && !glob.test(name)) continue;
    if (delimiter) {
      const rest = name.slice(prefix.length);
      const at = rest.indexOf(delimiter);
      if (at >= 0) {
        const p = prefix + rest.slice(0, at + delimiter.length);
        if (last?.prefix && last.after === p) continue;
        if (count === max) {
          next = last;
          break;
        }
        prefixes.push(p);
        // With includeTrailingDelimiter, an object named exactly like the prefix is listed as well.
        if (includeTrailingDelimiter && name === p) items.push(name);
        count++;
        last = { after: p, prefix: true };
        continue;
      }
    }
    if (count === max) {
      next = last;
      break;
    }
    items.push(name);
    count++;
    last = { after: name };
  }
  const origin = originOf(req);
  const out: Record<string, unknown> = { kind: "storage#objects" };
  if (prefixes.length) out.prefixes = prefixes;
  if (items.length) out.items = items.map((n) => objectResource(deps.store.getObject(bucket, n), origin));
  if (next) out.nextPageToken = encodePageToken(next);
  return json(out);
}

function fieldsFromBody(body: Record<string, unknown>): ObjectFields {
  const fields = applyObjectFields({}, body, false);
  if (body.storageClass !== undefined && body.storageClass !== null) {
    fields.storageClass = normalizeStorageClass(body.storageClass);
  }
  return fields;
}

async function objectRoute(deps: ApiDeps, req: GcsRequest, bucket: string, name: string): Promise<Reply> {
  const params = req.url.searchParams;
  const preconditions = readPreconditions(params);
  const generation = params.get("generation");
  const requireGeneration = (current: { generation: number }) => {
    if (generation !== null && generation !== String(current.generation)) throw objectNotFound(bucket, name);
  };
  switch (req.method) {
    case "GET":
    case "HEAD": {
      if (params.get("softDeleted") === "true") {
        // A soft-deleted generation's metadata (never its bytes): GCS requires the generation.
        if (generation === null || !/^\d+$/.test(generation)) throw required("generation");
        if (params.get("alt") === "media") throw objectNotFound(bucket, name);
        return json(objectResource(deps.store.getSoftDeletedObject(bucket, name, Number(generation)), originOf(req)));
      }
      if (params.get("alt") === "media") return await serveMedia(deps.store, req, bucket, name);
      const record = deps.store.getObject(bucket, name);
      requireGeneration(record);
      checkObjectPreconditions(record, preconditions, true);
      return json(objectResource(record, originOf(req)));
    }
    case "PATCH":
    case "PUT": {
      const body = await readJson(req);
      const record = await deps.store.updateObject(bucket, name, (current) => {
        requireGeneration(current);
        checkObjectPreconditions(current, preconditions);
        // PATCH merges (null removes); PUT (objects.update) replaces every settable field.
        const base = req.method === "PATCH" ? objectFieldsOf(current) : {};
        const fields = applyObjectFields(base, body, req.method === "PATCH");
        const next = withObjectFields(current, fields);
        next.metageneration = current.metageneration + 1;
        next.updated = new Date(deps.now()).toISOString();
        return next;
      });
      return json(objectResource(record, originOf(req)));
    }
    case "DELETE":
      await deps.store.deleteObject(bucket, name, (current) => {
        requireGeneration(current);
        checkObjectPreconditions(current, preconditions);
      });
      return empty(204);
  }
  throw routeNotImplemented(req.method, req.url.pathname);
}

async function rewriteRoute(
  deps: ApiDeps,
  req: GcsRequest,
  kind: "rewriteTo" | "copyTo" | "moveTo",
  source: { bucket: string; name: string },
  destination: { bucket: string; name: string },
): Promise<Reply> {
  if (req.method !== "POST") throw routeNotImplemented(req.method, req.url.pathname);
  assertObjectName(destination.name);
  const params = req.url.searchParams;
  const body = await readJson(req);
  const sourceGeneration = params.get("sourceGeneration");
  const { record, source: copied } = await copyObject(deps, {
    source: {
      ...source,
      generation: sourceGeneration ? Number(sourceGeneration) : undefined,
      preconditions: readPreconditions(params, "ifSource"),
    },
    destination: { ...destination, preconditions: readPreconditions(params) },
    overrides: fieldsFromBody(body),
  });
  const origin = originOf(req);
  if (kind === "moveTo") {
    // The source goes once the destination exists — unless a newer generation replaced it meanwhile.
    await deps.store.deleteObject(source.bucket, source.name, (current) => {
      if (current.generation !== copied.generation) throw objectNotFound(source.bucket, source.name);
    }).catch((e) => {
      if (!(e instanceof GcsError && e.status === 404)) throw e;
    });
    return json(objectResource(record, origin));
  }
  if (kind === "copyTo") return json(objectResource(record, origin));
  return json({
    kind: "storage#rewriteResponse",
    totalBytesRewritten: String(record.size),
    objectSize: String(record.size),
    done: true,
    resource: objectResource(record, origin),
  });
}

// ------------------------------------------------------------------ dispatch

const BUCKETS = /^\/storage\/v1\/b\/?$/;
const BUCKET = /^\/storage\/v1\/b\/([^/]+)\/?$/;
const OBJECTS = /^\/storage\/v1\/b\/([^/]+)\/o\/?$/;
const REWRITE = /^\/storage\/v1\/b\/([^/]+)\/o\/([^/]+)\/(rewriteTo|copyTo)\/b\/([^/]+)\/o\/([^/]+)$/;
const MOVE = /^\/storage\/v1\/b\/([^/]+)\/o\/([^/]+)\/moveTo\/o\/([^/]+)$/;
const OBJECT = /^\/storage\/v1\/b\/([^/]+)\/o\/(.+)$/;
/** ACL, IAM, compose, notifications, HMAC keys…: GCS calls the emulator does not offer. */
const UNSUPPORTED =
  /^\/storage\/v1\/(?:b\/[^/]+\/(?:acl|defaultObjectAcl|iam|notificationConfigs|lockRetentionPolicy|o\/watch)(?:\/.*)?|b\/[^/]+\/o\/[^/]+\/(?:acl(?:\/.*)?|compose|restore)|projects\/.*|channels\/.*)$/;
const ACL_PATH = /^\/storage\/v1\/b\/([^/]+)\/(?:(?:acl|defaultObjectAcl)(?:\/.*)?|o\/[^/]+\/acl(?:\/.*)?)$/;
const UPLOAD = /^\/upload\/storage\/v1\/b\/([^/]+)\/o\/?$/;
const DOWNLOAD = /^\/download\/storage\/v1\/b\/([^/]+)\/o\/(.+)$/;

/** Whether a path belongs to the JSON API (the rest are XML-API paths: /{bucket}/{object}). */
export function isJsonApiPath(path: string): boolean {
  return path.startsWith("/storage/v1/") || path.startsWith("/upload/storage/v1/") ||
    path.startsWith("/download/storage/v1/") || path === "/storage/v1";
}

/** The buckets a JSON API path names (a rewrite names two). */
function bucketsOf(path: string): string[] {
  let m: RegExpExecArray | null;
  if ((m = REWRITE.exec(path))) return [decode(m[1]), decode(m[4])];
  for (const re of [BUCKET, OBJECTS, MOVE, OBJECT, UPLOAD, DOWNLOAD, ACL_PATH]) {
    if ((m = re.exec(path))) return [decode(m[1])];
  }
  return [];
}

export async function handleJsonApi(deps: ApiDeps, req: GcsRequest): Promise<Reply> {
  const path = req.url.pathname;
  const method = req.method;
  let m: RegExpExecArray | null;
  for (const bucket of bucketsOf(path)) {
    if (deps.foreign.has(bucket)) throw foreignBucketForbidden(deps.principal, permissionFor(method, path));
  }
  if (
    (m = ACL_PATH.exec(path)) && deps.store.getBucket(decode(m[1])).iamConfiguration.uniformBucketLevelAccess.enabled
  ) {
    throw uniformAccessForbidsAcl("api");
  }
  if (UNSUPPORTED.test(path)) throw routeNotImplemented(method, path);
  if (BUCKETS.test(path)) {
    if (method === "POST") return await insertBucket(deps, req);
    if (method === "GET") return listBuckets(deps, req);
  } else if ((m = BUCKET.exec(path))) {
    return await bucketRoute(deps, req, decode(m[1]));
  } else if ((m = OBJECTS.exec(path))) {
    if (method === "GET") return listObjects(deps, req, decode(m[1]));
    if (method === "POST") {
      throw invalid("Upload requests must use the /upload/storage/v1 path.");
    }
  } else if ((m = REWRITE.exec(path))) {
    const kind = m[3] as "rewriteTo" | "copyTo";
    return await rewriteRoute(deps, req, kind, { bucket: decode(m[1]), name: decode(m[2]) }, {
      bucket: decode(m[4]),
      name: decode(m[5]),
    });
  } else if ((m = MOVE.exec(path))) {
    const bucket = decode(m[1]);
    return await rewriteRoute(deps, req, "moveTo", { bucket, name: decode(m[2]) }, { bucket, name: decode(m[3]) });
  } else if ((m = OBJECT.exec(path))) {
    return await objectRoute(deps, req, decode(m[1]), m[2].split("/").map(decode).join("/"));
  } else if ((m = UPLOAD.exec(path))) {
    return await deps.sessions.handle(req, decode(m[1]));
  } else if ((m = DOWNLOAD.exec(path))) {
    if (method === "GET" || method === "HEAD") {
      return await serveMedia(deps.store, req, decode(m[1]), m[2].split("/").map(decode).join("/"));
    }
  }
  throw routeNotImplemented(method, path);
}

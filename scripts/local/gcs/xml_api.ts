// The XML-API paths signed URLs point at: GET/HEAD /{bucket}/{object} downloads and PUT /{bucket}/{object}
// uploads, each allowed only with a valid signed-URL query (an unsigned request is an anonymous caller, refused
// as GCS refuses it for a private bucket). Errors are XML.

import { GcsError } from "./errors.ts";
import { parseGoogHash } from "./hashes.ts";
import type { GcsRequest, Reply } from "./http.ts";
import { objectHeaders, serveMedia } from "./media.ts";
import { assertObjectName } from "./names.ts";
import { insertObject, receiveToTemp, type WriteDeps } from "./object_writes.ts";
import type { Preconditions } from "./preconditions.ts";
import { isSignedUrlRequest, type SignedUrlVerifier, XmlError, xmlErrorFrom } from "./signed_urls.ts";

export interface XmlDeps extends WriteDeps {
  signedUrls: SignedUrlVerifier;
}

function headerInt(req: GcsRequest, name: string): number | undefined {
  const raw = req.headers.get(name);
  return raw !== null && /^\d+$/.test(raw) ? Number(raw) : undefined;
}

async function putObject(deps: XmlDeps, req: GcsRequest, bucket: string, name: string): Promise<Reply> {
  deps.store.getBucket(bucket);
  assertObjectName(name);
  const metadata: Record<string, string> = {};
  for (const [key, value] of req.headers) {
    if (key.startsWith("x-goog-meta-")) metadata[key.slice("x-goog-meta-".length)] = value;
  }
  const preconditions: Preconditions = {
    ifGenerationMatch: headerInt(req, "x-goog-if-generation-match"),
    ifMetagenerationMatch: headerInt(req, "x-goog-if-metageneration-match"),
  };
  const received = await receiveToTemp(deps.store, req.bodyStream());
  const hashes = parseGoogHash(req.headers.get("x-goog-hash"));
  const contentMd5 = req.headers.get("content-md5");
  const record = await insertObject(deps, {
    bucket,
    name,
    ...received,
    fields: {
      contentType: req.headers.get("content-type") ?? undefined,
      contentEncoding: req.headers.get("content-encoding") ?? undefined,
      contentDisposition: req.headers.get("content-disposition") ?? undefined,
      cacheControl: req.headers.get("cache-control") ?? undefined,
      ...(Object.keys(metadata).length ? { metadata } : {}),
    },
    declared: [hashes, { md5: contentMd5 ?? undefined }],
    preconditions,
  });
  const headers = objectHeaders(record);
  return {
    status: 200,
    headers: {
      etag: headers.etag,
      "x-goog-generation": headers["x-goog-generation"],
      "x-goog-hash": headers["x-goog-hash"],
      "content-length": "0",
    },
  };
}

export async function handleXmlApi(deps: XmlDeps, req: GcsRequest): Promise<Reply> {
  try {
    const segments = req.url.pathname.split("/").slice(1);
    const bucket = decodeURIComponent(segments[0] ?? "");
    const name = segments.slice(1).map(decodeURIComponent).join("/");
    if (!bucket || !name) {
      throw new XmlError(404, "NotImplemented", "The GCS emulator serves only signed object URLs on XML-API paths.");
    }
    if (!isSignedUrlRequest(req.url.searchParams)) {
      const permission = req.method === "PUT" ? "storage.objects.create" : "storage.objects.get";
      throw new XmlError(
        403,
        "AccessDenied",
        "Access denied.",
        `Anonymous caller does not have ${permission} access to the Google Cloud Storage object. ` +
          `Permission '${permission}' denied on resource (or it may not exist).`,
      );
    }
    deps.signedUrls.check(req);
    if (req.method === "GET" || req.method === "HEAD") return await serveMedia(deps.store, req, bucket, name);
    if (req.method === "PUT") return await putObject(deps, req, bucket, name);
    throw new XmlError(405, "MethodNotAllowed", `The ${req.method} method is not supported on a signed URL here.`);
  } catch (e) {
    if (e instanceof XmlError) return e.reply();
    if (e instanceof GcsError) return xmlErrorFrom(e).reply();
    if (e instanceof URIError) return new XmlError(400, "InvalidURI", "Couldn't parse the specified URI.").reply();
    throw e;
  }
}

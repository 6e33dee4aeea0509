// ActiveStorage's public blob URLs: `/rails/active_storage/blobs/redirect/:signed_id/:filename` answers 302
// to the stored bytes, without authentication, so a receiver can download attachments[].data_url.

import { base64ToBytes } from "./model.ts";
import { parseBlobSignedId } from "./payloads.ts";
import type { SandboxState } from "./state.ts";

const REDIRECT = /^\/rails\/active_storage\/(?:blobs|representations)\/redirect\/([^/]+)\/(.+)$/;
const DISK = /^\/rails\/active_storage\/disk\/([^/]+)\/(.+)$/;

export function serveActiveStorage(state: SandboxState, url: URL): Response | undefined {
  const redirect = REDIRECT.exec(url.pathname);
  if (redirect) {
    const signed = parseBlobSignedId(decodeURIComponent(redirect[1]));
    const blob = signed && state.blobs.get(signed.blobId);
    if (!blob || !blob.key.startsWith(signed.digest)) return notFound();
    const location = `${url.origin}/rails/active_storage/disk/${blob.key}/${encodeURIComponent(blob.filename)}`;
    return new Response(null, { status: 302, headers: { location } });
  }
  const disk = DISK.exec(url.pathname);
  if (disk) {
    const blob = state.blobs.find((b) => b.key === disk[1]);
    if (!blob) return notFound();
    const bytes = base64ToBytes(blob.data_base64);
    return new Response(bytes, {
      headers: {
        "content-type": blob.content_type,
        "content-length": String(bytes.byteLength),
        "content-disposition": `inline; filename="${blob.filename}"`,
      },
    });
  }
  return undefined;
}

function notFound(): Response {
  return new Response("Not Found", { status: 404, headers: { "content-type": "text/plain" } });
}

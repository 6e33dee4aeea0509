// Signed URLs on XML-API paths (/{bucket}/{object}): V4 (X-Goog-Algorithm, -Credential, -Date, -Expires,
// -SignedHeaders, -Signature) and V2 (GoogleAccessId, Expires, Signature). Presence, format and expiry are always
// checked. The signature itself is verified when the emulator knows the signer's key (`signingKeys`: the
// service account's client_email → its key); without a key it cannot be checked and is accepted, unless
// `strictSignatures` is set. Errors are XML, as GCS's XML API answers.

import { Buffer } from "node:buffer";
import { createHash, createPublicKey, createVerify, type KeyObject } from "node:crypto";
import { GcsError } from "./errors.ts";
import type { GcsRequest, Reply } from "./http.ts";

const MAX_V4_EXPIRES_S = 7 * 24 * 3600;

/** client_email → a PEM key (public or private), or a service-account JSON object with `private_key`. */
export type SigningKeys = Record<string, string | { private_key: string }>;

export class XmlError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly details?: string) {
    super(message);
  }

  reply(): Reply {
    const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
    const details = this.details === undefined ? "" : `<Details>${esc(this.details)}</Details>`;
    const body = `<?xml version='1.0' encoding='UTF-8'?><Error><Code>${this.code}</Code>` +
      `<Message>${esc(this.message)}</Message>${details}</Error>`;
    return {
      status: this.status,
      headers: { "content-type": "application/xml; charset=UTF-8" },
      body: new TextEncoder().encode(body),
    };
  }
}

/** The XML API's words for the JSON API errors a signed request can run into. */
export function xmlErrorFrom(e: GcsError): XmlError {
  if (e.status === 404 && e.message.startsWith("No such object")) {
    return new XmlError(404, "NoSuchKey", "The specified key does not exist.", e.message);
  }
  if (e.status === 404) return new XmlError(404, "NoSuchBucket", "The specified bucket does not exist.");
  if (e.status === 412) return new XmlError(412, "PreconditionFailed", e.message);
  if (e.status === 416) return new XmlError(416, "InvalidRange", "The requested range cannot be satisfied.");
  return new XmlError(e.status, e.reason, e.message);
}

export function isSignedUrlRequest(params: URLSearchParams): boolean {
  return ["X-Goog-Algorithm", "X-Goog-Signature", "X-Goog-Credential", "GoogleAccessId", "Signature"].some((k) =>
    params.has(k)
  );
}

/** RFC 3986 encoding as the signers use it (also `!'()*`). */
function strictEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
}

/** `YYYYMMDDTHHMMSSZ` → epoch ms. */
function parseGoogDate(value: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
}

export interface SignedUrlOptions {
  now: () => number;
  signingKeys?: SigningKeys;
  /** Refuse signatures the emulator cannot verify (no key for the signer). */
  strictSignatures?: boolean;
}

export interface SignedUrlCheck {
  /** Who signed (client_email / GoogleAccessId). */
  signer: string;
  /** Whether the signature was verified against a known key (false: accepted unchecked). */
  verified: boolean;
}

export class SignedUrlVerifier {
  #keys = new Map<string, KeyObject>();

  constructor(private readonly opts: SignedUrlOptions) {
    for (const [email, key] of Object.entries(opts.signingKeys ?? {})) {
      this.#keys.set(email, createPublicKey(typeof key === "string" ? key : key.private_key));
    }
  }

  addKey(clientEmail: string, pem: string): void {
    this.#keys.set(clientEmail, createPublicKey(pem));
  }

  /** Throws an XmlError unless `req` carries a valid, unexpired signed-URL query. */
  check(req: GcsRequest): SignedUrlCheck {
    const params = req.url.searchParams;
    if (params.has("X-Goog-Algorithm") || params.has("X-Goog-Signature") || params.has("X-Goog-Credential")) {
      return this.#checkV4(req, params);
    }
    return this.#checkV2(req, params);
  }

  #checkV4(req: GcsRequest, params: URLSearchParams): SignedUrlCheck {
    const names = ["X-Goog-Algorithm", "X-Goog-Credential", "X-Goog-Date", "X-Goog-Expires", "X-Goog-SignedHeaders"];
    if ([...names, "X-Goog-Signature"].some((n) => !params.get(n))) {
      throw new XmlError(
        400,
        "AuthorizationQueryParametersError",
        "Query-string authentication version 4 requires the X-Goog-Algorithm, X-Goog-Credential, X-Goog-Date, " +
          "X-Goog-Expires, X-Goog-SignedHeaders, and X-Goog-Signature query parameters.",
      );
    }
    const algorithm = params.get("X-Goog-Algorithm")!;
    if (algorithm !== "GOOG4-RSA-SHA256" && algorithm !== "GOOG4-HMAC-SHA256") {
      throw new XmlError(400, "AuthorizationQueryParametersError", `Unsupported X-Goog-Algorithm: ${algorithm}`);
    }
    const dateText = params.get("X-Goog-Date")!;
    const date = parseGoogDate(dateText);
    if (date === undefined) {
      throw new XmlError(400, "AuthorizationQueryParametersError", `Invalid X-Goog-Date: ${dateText}`);
    }
    const expiresText = params.get("X-Goog-Expires")!;
    if (!/^\d+$/.test(expiresText) || Number(expiresText) < 1) {
      throw new XmlError(400, "AuthorizationQueryParametersError", `Invalid X-Goog-Expires: ${expiresText}`);
    }
    if (Number(expiresText) > MAX_V4_EXPIRES_S) {
      throw new XmlError(
        400,
        "AuthorizationQueryParametersError",
        "Expiration time can't be longer than 604800 seconds (7 days).",
      );
    }
    const expiresAt = date + Number(expiresText) * 1000;
    if (this.opts.now() > expiresAt) {
      throw new XmlError(
        400,
        "ExpiredToken",
        "Invalid argument.",
        `The provided token has expired. Request signature expired at: ${new Date(expiresAt).toISOString()}`,
      );
    }
    const credential = params.get("X-Goog-Credential")!;
    const slash = credential.indexOf("/");
    const signer = slash < 0 ? credential : credential.slice(0, slash);
    const scope = slash < 0 ? "" : credential.slice(slash + 1);
    const key = this.#keys.get(signer);
    if (!key || algorithm !== "GOOG4-RSA-SHA256") return this.#unverified(signer);

    const signedHeaders = params.get("X-Goog-SignedHeaders")!.toLowerCase().split(";").filter(Boolean);
    const query = [...params.entries()]
      .filter(([k]) => k !== "X-Goog-Signature")
      .map(([k, v]) => [strictEncode(k), strictEncode(v)])
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([k, v]) => `${k}=${v}`)
      .join("&");
    const signature = Buffer.from(params.get("X-Goog-Signature")!, "hex");
    const host = req.headers.get("host") ?? req.url.host;
    // Signers put the host without its port in the canonical headers (as for storage.googleapis.com).
    for (const hostValue of new Set([host, host.replace(/:\d+$/, "")])) {
      const headers = signedHeaders.map((h) => {
        const value = h === "host" ? hostValue : req.headers.get(h) ?? "";
        return `${h}:${value.trim().replace(/\s{2,}/g, " ")}\n`;
      }).join("");
      const payload = req.headers.get("x-goog-content-sha256") ?? "UNSIGNED-PAYLOAD";
      const canonical = [req.method, req.url.pathname, query, headers, signedHeaders.join(";"), payload].join("\n");
      const toSign = ["GOOG4-RSA-SHA256", dateText, scope, createHash("sha256").update(canonical).digest("hex")]
        .join("\n");
      if (createVerify("RSA-SHA256").update(toSign).verify(key, signature)) return { signer, verified: true };
    }
    throw new XmlError(
      403,
      "SignatureDoesNotMatch",
      "Access denied.",
      "The request signature we calculated does not match the signature you provided. Check your Google secret key and signing method.",
    );
  }

  #checkV2(req: GcsRequest, params: URLSearchParams): SignedUrlCheck {
    const signer = params.get("GoogleAccessId");
    const expires = params.get("Expires");
    const signatureText = params.get("Signature");
    if (!signer || !expires || !signatureText) {
      throw new XmlError(
        400,
        "MissingSecurityHeader",
        "Your request was missing a required header.",
        "Query-string authentication requires the Signature, Expires and GoogleAccessId parameters",
      );
    }
    if (!/^\d+$/.test(expires)) throw new XmlError(400, "InvalidArgument", "Invalid argument.", `Expires=${expires}`);
    if (this.opts.now() > Number(expires) * 1000) {
      throw new XmlError(
        400,
        "ExpiredToken",
        "The provided token has expired.",
        `Request signature expired at: ${new Date(Number(expires) * 1000).toISOString()}`,
      );
    }
    const key = this.#keys.get(signer);
    if (!key) return this.#unverified(signer);
    const extension = [...req.headers.entries()]
      .filter(([k]) => k.startsWith("x-goog-"))
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${k}:${v.trim()}\n`)
      .join("");
    const toSign = [
      req.method,
      req.headers.get("content-md5") ?? "",
      req.headers.get("content-type") ?? "",
      expires,
      extension + req.url.pathname,
    ].join("\n");
    if (createVerify("RSA-SHA256").update(toSign).verify(key, Buffer.from(signatureText, "base64"))) {
      return { signer, verified: true };
    }
    throw new XmlError(
      403,
      "SignatureDoesNotMatch",
      "The request signature we calculated does not match the signature you provided.",
    );
  }

  #unverified(signer: string): SignedUrlCheck {
    if (this.opts.strictSignatures) {
      throw new XmlError(403, "SignatureDoesNotMatch", "Access denied.", `No key is known for signer ${signer}.`);
    }
    return { signer, verified: false };
  }
}

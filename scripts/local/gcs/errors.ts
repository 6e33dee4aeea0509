// What GCS says when a request cannot be served: GcsError carries the status, the `reason` and the message of the
// JSON API's error body `{"error":{"code","message","errors":[{"message","domain","reason"}]}}`.

export class GcsError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    /** Extra members of the `errors[0]` entry (GCS adds `locationType`/`location` to some). */
    readonly detail: Record<string, string> = {},
    /** Extra response headers (e.g. Retry-After). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "GcsError";
  }

  /** The JSON API error body. */
  body(): { error: { code: number; message: string; errors: Record<string, string>[] } } {
    return {
      error: {
        code: this.status,
        message: this.message,
        errors: [{ message: this.message, domain: "global", reason: this.reason, ...this.detail }],
      },
    };
  }
}

export const bucketNotFound = () => new GcsError(404, "notFound", "The specified bucket does not exist.");

export const objectNotFound = (bucket: string, name: string) =>
  new GcsError(404, "notFound", `No such object: ${bucket}/${name}`);

export const bucketAlreadyOwned = () =>
  new GcsError(409, "conflict", "Your previous request to create the named bucket succeeded and you already own it.");

export const bucketNotEmpty = () => new GcsError(409, "conflict", "The bucket you tried to delete is not empty.");

export const conditionNotMet = (header = "If-Match") =>
  new GcsError(412, "conditionNotMet", "At least one of the pre-conditions you specified did not hold.", {
    locationType: "header",
    location: header,
  });

/** 304 for a read whose ifGenerationNotMatch/ifMetagenerationNotMatch failed (GCS answers without a body). */
export const notModified = () => new GcsError(304, "notModified", "Not Modified");

export const invalid = (message: string, detail: Record<string, string> = {}) =>
  new GcsError(400, "invalid", message, detail);

export const required = (field: string) =>
  new GcsError(400, "required", `Required: ${field}`, { locationType: "parameter", location: field });

/** A GCS call this emulator does not offer (GCS has it): 501 rather than a 404 that reads as "no such object". */
export const routeNotImplemented = (method: string, path: string) =>
  new GcsError(501, "notImplemented", `The GCS emulator does not implement ${method} ${path}`);

/** An ACL call (`api`) or an upload with predefinedAcl on a bucket with uniform bucket-level access. */
export const uniformAccessForbidsAcl = (via: "api" | "upload") =>
  invalid(
    (via === "api"
      ? "Cannot use ACL API to set object policy when object policies are disabled."
      : "Cannot insert legacy ACL for an object when uniform bucket-level access is enabled.") +
      " Read more at https://cloud.google.com/storage/docs/uniform-bucket-level-access",
  );

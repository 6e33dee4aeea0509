// What GCS enforces per project rather than per bucket: the rate at which a project may create and delete buckets,
// and bucket names that belong to some other project (a global namespace: the name is taken, its bucket not ours).

import { z } from "zod";
import { GcsError } from "./errors.ts";

/** "Maximum bucket creation and deletion rate per project: approximately one request every two seconds"
 * (https://cloud.google.com/storage/quotas#buckets). The emulator holds it strictly, with no burst, as the
 * documented figure; real GCS is "approximately" that, so a client must expect a 429 near the line either way. */
export const DEFAULT_BUCKET_OPS_INTERVAL_MS = 2000;

export const BucketQuotaInput = z.object({
  /** One bucket create or delete per this many ms per project; 0 turns the limit off. */
  interval_ms: z.number().int().min(0).optional(),
  /** How many operations an idle project may make at once before the interval applies (default 1). */
  burst: z.number().int().min(1).optional(),
});

export interface BucketQuotaSettings {
  intervalMs: number;
  burst: number;
}

/** GCS's answer to a bucket insert or delete over the project's rate, as real GCS words it: 429, domain
 * `usageLimits`, reason `rateLimitExceeded`, this message, and no Retry-After (googleapis/google-cloud-python#2161
 * shows the whole response; issues googleapis/google-cloud-ruby#2088 and GoogleCloudPlatform/python-docs-samples#4033
 * the same message). */
export const bucketRateExceeded = () =>
  new GcsError(429, "rateLimitExceeded", "The project exceeded the rate limit for creating and deleting buckets.", {
    domain: "usageLimits",
  });

/** Inserting a name another project owns: 409, "Sorry, that name is not available. Please try a different one."
 * (https://cloud.google.com/storage/docs/troubleshooting, 409: Conflict). */
export const bucketNameUnavailable = () =>
  new GcsError(409, "conflict", "Sorry, that name is not available. Please try a different one.");

/** Any other call on a bucket another project owns: 403 `forbidden` naming the caller and the permission it lacks,
 * e.g. "x@p.iam.gserviceaccount.com does not have storage.buckets.get access to the Google Cloud Storage bucket.
 * Permission 'storage.buckets.get' denied on resource (or it may not exist)." (seen in
 * ansible-collections/google.cloud#575, apache/pinot#11655; "Anonymous caller" when unauthenticated). */
export const foreignBucketForbidden = (principal: string, permission: string) =>
  new GcsError(
    403,
    "forbidden",
    `${principal} does not have ${permission} access to the Google Cloud Storage bucket. ` +
      `Permission '${permission}' denied on resource (or it may not exist).`,
  );

/** A token bucket per project, on the emulator's clock (so a test can move time on instead of waiting). */
export class BucketOperationQuota {
  #settings: BucketQuotaSettings;
  #projects = new Map<string, { tokens: number; at: number }>();
  /** Refused operations, per project, since start or reset (what a test or a bench reads back). */
  #refused = new Map<string, number>();
  #granted = new Map<string, number>();

  constructor(private readonly now: () => number, settings: Partial<BucketQuotaSettings> = {}) {
    this.#settings = {
      intervalMs: settings.intervalMs ?? DEFAULT_BUCKET_OPS_INTERVAL_MS,
      burst: settings.burst ?? 1,
    };
  }

  get settings(): BucketQuotaSettings {
    return { ...this.#settings };
  }

  configure(input: z.input<typeof BucketQuotaInput>): BucketQuotaSettings {
    const parsed = BucketQuotaInput.parse(input);
    this.#settings = {
      intervalMs: parsed.interval_ms ?? this.#settings.intervalMs,
      burst: parsed.burst ?? this.#settings.burst,
    };
    this.#projects.clear();
    return this.settings;
  }

  /** Takes one operation from `project`'s budget, or throws GCS's 429 (a refused request costs nothing). */
  take(project: string): void {
    const { intervalMs, burst } = this.#settings;
    if (intervalMs === 0) {
      this.#granted.set(project, (this.#granted.get(project) ?? 0) + 1);
      return;
    }
    const now = this.now();
    const state = this.#projects.get(project) ?? { tokens: burst, at: now };
    const tokens = Math.min(burst, state.tokens + Math.max(0, now - state.at) / intervalMs);
    if (tokens < 1) {
      this.#projects.set(project, { tokens, at: now });
      this.#refused.set(project, (this.#refused.get(project) ?? 0) + 1);
      throw bucketRateExceeded();
    }
    this.#projects.set(project, { tokens: tokens - 1, at: now });
    this.#granted.set(project, (this.#granted.get(project) ?? 0) + 1);
  }

  state() {
    return {
      interval_ms: this.#settings.intervalMs,
      burst: this.#settings.burst,
      granted: Object.fromEntries(this.#granted),
      refused: Object.fromEntries(this.#refused),
    };
  }

  /** Every project's budget full again and the counters at zero; the settings stay. */
  reset(): void {
    this.#projects.clear();
    this.#refused.clear();
    this.#granted.clear();
  }
}

/** Bucket names registered as another project's: the emulator never stores them, it only refuses them. */
export class ForeignBuckets {
  #names = new Set<string>();

  add(name: string): void {
    this.#names.add(name);
  }

  remove(name: string): boolean {
    return this.#names.delete(name);
  }

  has(name: string): boolean {
    return this.#names.has(name);
  }

  list(): string[] {
    return [...this.#names].sort();
  }

  clear(): void {
    this.#names.clear();
  }
}

/** The IAM permission a JSON API call on a bucket needs (https://cloud.google.com/storage/docs/access-control/iam-json),
 * which is what GCS names when the caller lacks it. */
export function permissionFor(method: string, path: string): string {
  const objects = /\/o(\/|$)/.test(path) || path.startsWith("/upload/") || path.startsWith("/download/");
  if (!objects) {
    if (method === "DELETE") return "storage.buckets.delete";
    if (method === "PATCH" || method === "PUT") return "storage.buckets.update";
    return "storage.buckets.get";
  }
  if (path.startsWith("/upload/") || /\/(rewriteTo|copyTo|moveTo)\//.test(path)) return "storage.objects.create";
  if (method === "DELETE") return "storage.objects.delete";
  if (method === "PATCH" || method === "PUT") return "storage.objects.update";
  if (/\/o\/?$/.test(path)) return "storage.objects.list";
  return "storage.objects.get";
}

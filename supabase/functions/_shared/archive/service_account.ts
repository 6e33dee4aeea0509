// The archive's Google credentials from a service-account key, built the way google-auth-library
// now asks: a JWT client from the key's fields (its `credentials` option is deprecated and printed
// "The `credentials` option is deprecated…" at every start of every function that built a client).

// First: google-auth-library cannot load on the edge runtime's Deno without it (google_sdk_compat.ts).
import "./google_sdk_compat.ts";
import { type CredentialBody, GoogleAuth, JWT } from "google-auth-library";
import type { ServiceAccountKey } from "./config.ts";

/** Creating, reading and deleting buckets and objects (https://cloud.google.com/storage/docs/oauth-scopes). */
const SCOPE = "https://www.googleapis.com/auth/devstorage.full_control";

/**
 * GoogleAuth over a JWT client made from the key. It also answers `getCredentials()` from the key:
 * the SDK's V4 URL signer reads the signer's e-mail from there, and GoogleAuth knows a key's fields
 * only when they came through the deprecated option (googleauth.js#getCredentialsAsync).
 */
class ServiceAccountAuth extends GoogleAuth {
  readonly #key: ServiceAccountKey;

  constructor(key: ServiceAccountKey, projectId: string) {
    const client = new JWT({
      email: key.client_email,
      key: key.private_key,
      keyId: key.private_key_id,
      scopes: [SCOPE],
    });
    super({ authClient: client, projectId, scopes: [SCOPE] });
    this.#key = key;
  }

  override getCredentials(): Promise<CredentialBody>;
  override getCredentials(callback: (err: Error | null, credentials?: CredentialBody) => void): void;
  override getCredentials(
    callback?: (err: Error | null, credentials?: CredentialBody) => void,
  ): Promise<CredentialBody> | void {
    const credentials = { client_email: this.#key.client_email, private_key: this.#key.private_key };
    if (!callback) return Promise.resolve(credentials);
    callback(null, credentials);
  }
}

/** The auth the SDK takes as `authClient`: signs requests and URLs with the key, prints nothing. */
export function serviceAccountAuth(key: ServiceAccountKey, projectId: string): GoogleAuth {
  return new ServiceAccountAuth(key, projectId);
}

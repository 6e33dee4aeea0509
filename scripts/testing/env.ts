// What integration tests need from the stack `npm test` starts: its URLs and keys. Failing
// loudly when absent keeps a test from passing by quietly testing nothing.

import type { UserTokenSigner } from "../local/supabase/keys.ts";
import {
  createCredentialVerifier,
  credentialOptionsFromEnv,
  type CredentialVerifier,
} from "../../supabase/functions/_shared/platform/credentials.ts";

export interface TestStack {
  dbUrl: string;
  apiUrl: string;
  /** Legacy JWT keys (still issued beside the new ones). */
  anonKey: string;
  serviceRoleKey: string;
  jwtSecret: string;
  /** New API keys: sb_publishable_…, sb_secret_…. */
  publishableKey: string;
  secretKey: string;
  /** Signs user tokens as the stack's Auth does (ES256 by default, HS256 in legacy mode). */
  signer: UserTokenSigner;
  /** The credential check the functions run, built from the same environment. */
  verifier(): CredentialVerifier;
}

export function testStack(): TestStack {
  const get = (name: string) => {
    const v = Deno.env.get(name);
    if (!v) throw new Error(`${name} is not set: run integration tests through \`npm test\`, which starts the stack`);
    return v;
  };
  return {
    dbUrl: get("SUPABASE_DB_URL"),
    apiUrl: get("SUPABASE_URL"),
    anonKey: get("SUPABASE_ANON_KEY"),
    serviceRoleKey: get("SUPABASE_SERVICE_ROLE_KEY"),
    jwtSecret: get("SUPABASE_JWT_SECRET"),
    publishableKey: get("SUPABASE_PUBLISHABLE_KEY"),
    secretKey: get("SUPABASE_SECRET_KEY"),
    signer: JSON.parse(get("SWITCHBOARD_TEST_SIGNER")),
    verifier: () => createCredentialVerifier(credentialOptionsFromEnv(Deno.env.toObject())),
  };
}

export function uniqueKind(prefix = "test"): string {
  return `${prefix}.${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
}

export async function waitFor<T>(
  probe: () => Promise<T | null | undefined | false>,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await probe();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

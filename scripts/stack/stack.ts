// The embedded local stack: a PostgreSQL cluster with the Supabase bootstrap and migrations,
// the functions gateway with every edge function, and the job driver. Used by `npm start`
// (persistent, Supabase's ports) and by `npm test` (throwaway, free ports, durability off).

import {
  type AsymmetricSigningKey,
  createSigningKey,
  deriveApiKeys,
  jwks,
  type JwtMode,
  newApiKey,
  randomSecret,
  type UserTokenSigner,
} from "../local/supabase/keys.ts";
import { type Gateway, startGateway } from "../local/supabase/gateway.ts";
import { type JobDriver, startJobDriver } from "../local/supabase/job-driver.ts";
import { LocalCluster } from "./cluster.ts";
import { applyBootstrap, applyMigrations, applySeed } from "./database.ts";
import { exists, log } from "./proc.ts";
import { ensurePortFree } from "./port_holders.ts";
import { generateKeyPairSync } from "node:crypto";
import postgres from "postgres";
import { createAuthHandler, ensureAuthSchema, setAuthUserPassword } from "../local/supabase/auth.ts";
import { ensureSystemDependencies } from "./setup.ts";
import { startPgbouncer } from "./pgbouncer.ts";
import { type RunningSandbox, startSandbox } from "../local/chatwoot/server.ts";
import { type RunningGcsEmulator, startGcsEmulator } from "../local/gcs/server.ts";
import { type RunningOpenAiStandin, startOpenAiStandin } from "../local/openai/server.ts";

export const root = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

export interface StackOptions {
  /** Where the cluster and generated secrets live. */
  stateDir: string;
  dbPort: number;
  apiPort: number;
  /** Throwaway cluster: durability off. */
  fast?: boolean;
  /** Use this database instead of an embedded cluster (e.g. one from `supabase start`). */
  externalDbUrl?: string;
  seed?: boolean;
  /** Extra environment for every function process. */
  functionEnv?: Record<string, string>;
  jobDriver?: boolean;
  /** The Chatwoot sandbox: its port, and where its state persists (omit for in-memory). */
  chatwoot?: { port: number; persistPath?: string; log?: boolean };
  /** The GCS emulator: its port, and where buckets and objects persist (omit for a temp dir). */
  gcs?: { port: number; dataDir?: string; noSync?: boolean };
  /** How Auth signs sessions: "asymmetric" (ES256, as new hosted projects; the default) or "legacy"
   * (HS256 with the JWT secret). Also SWITCHBOARD_JWT_MODE. */
  jwtMode?: JwtMode;
  /** Route the functions' database connections through pgbouncer in transaction mode, as hosted
   * projects should through Supavisor (SWITCHBOARD_DB_POOLER_URL). */
  pooler?: boolean;
  /** The local OpenAI-compatible stand-in (deterministic embeddings and test chat model). With
   * useRealKey, not started when OPENAI_API_KEY is set: the functions then talk to the real API. */
  openai?: { port: number; useRealKey?: boolean };
}

export interface StackInfo {
  apiUrl: string;
  functionsUrl: string;
  dbUrl: string;
  /** The transaction pooler the functions connect through, when the stack runs one. */
  poolerUrl?: string;
  /** Legacy API keys (HS256 JWTs), still issued beside the new ones as on hosted. */
  anonKey: string;
  serviceRoleKey: string;
  jwtSecret: string;
  /** New API keys: `sb_publishable_…` for clients, `sb_secret_…` for servers (the worker, pg_cron). */
  publishableKey: string;
  secretKey: string;
  /** How user sessions are signed: the asymmetric key (default) or the legacy secret. */
  jwtMode: JwtMode;
  /** Signs user tokens the way this stack's Auth does (tests, benches); never written to disk. */
  signer: UserTokenSigner;
  chatwootUrl?: string;
  chatwootPlatformToken?: string;
  gcsUrl?: string;
  /** The OpenAI-compatible stand-in's base URL (…/v1), when it runs. */
  openaiBaseUrl?: string;
  /** Which AI the functions use: the stand-in, a real API, or none (offline FAQ mode). */
  aiMode?: string;
  /** The OPENAI_* settings the functions get, for the CLI to embed as they do (a real key left out). */
  openaiEnv?: Record<string, string>;
  /** Seeded users' e-mail → password, for signing in to the admin app. */
  demoCredentials?: Record<string, string>;
}

export interface Stack extends StackInfo {
  chatwoot: RunningSandbox | null;
  gcs: RunningGcsEmulator | null;
  openai: RunningOpenAiStandin | null;
  functions: string[];
  gateway: Gateway;
  driver: JobDriver | null;
  cluster: LocalCluster | null;
  close(opts?: { stopDatabase?: boolean }): Promise<void>;
}

interface Secrets {
  /** The legacy HS256 secret (its anon/service_role JWTs live beside the new keys, as on hosted). */
  jwtSecret: string;
  /** The project's asymmetric signing key, and the new API keys. */
  signingKey?: AsymmetricSigningKey;
  publishableKey?: string;
  secretKey?: string;
  dbPassword: string;
  /** A local-only service account, so signed URLs are really signed (and checked by the emulator). */
  gcsServiceAccount?: { client_email: string; private_key: string; project_id: string; type: string };
  /** Passwords of the seeded admin users, generated once per data directory, never committed. */
  demoPasswords?: Record<string, string>;
}

/** The seeded users people sign in with: a platform administrator and a store administrator. */
export const DEMO_USERS = { platformAdmin: "admin@switchboard.test", storeAdmin: "ana@acme.test" } as const;

function demoPasswords(): Record<string, string> {
  return Object.fromEntries(Object.values(DEMO_USERS).map((email) => [email, `${randomSecret(12)}-Aa1!`]));
}

function localServiceAccount(): NonNullable<Secrets["gcsServiceAccount"]> {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return {
    type: "service_account",
    project_id: "switchboard-local",
    client_email: "switchboard-local@switchboard-local.iam.gserviceaccount.com",
    private_key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  };
}

async function loadOrCreateSecrets(stateDir: string): Promise<Secrets> {
  const path = `${stateDir}/secrets.json`;
  if (await exists(path)) {
    const known = JSON.parse(await Deno.readTextFile(path)) as Secrets;
    if (known.gcsServiceAccount && known.demoPasswords && known.signingKey && known.secretKey) return known;
    known.gcsServiceAccount ??= localServiceAccount();
    known.demoPasswords ??= demoPasswords();
    // A data directory from before signing keys gets them now (its legacy keys keep working).
    known.signingKey ??= await createSigningKey();
    known.publishableKey ??= newApiKey("publishable");
    known.secretKey ??= newApiKey("secret");
    await Deno.writeTextFile(path, JSON.stringify(known, null, 2), { mode: 0o600 });
    return known;
  }
  const secrets: Secrets = {
    jwtSecret: randomSecret(40),
    dbPassword: "postgres",
    gcsServiceAccount: localServiceAccount(),
    demoPasswords: demoPasswords(),
    signingKey: await createSigningKey(),
    publishableKey: newApiKey("publishable"),
    secretKey: newApiKey("secret"),
  };
  await Deno.mkdir(stateDir, { recursive: true });
  await Deno.writeTextFile(path, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

/** Starts the stack; if any part fails to start, what did start is stopped again before the error
 * is thrown, so a failed start leaves nothing listening. */
export async function startStack(opts: StackOptions): Promise<Stack> {
  const started: (() => Promise<unknown>)[] = [];
  try {
    return await startParts(opts, started);
  } catch (err) {
    for (const stop of started.reverse()) await stop().catch(() => {});
    throw err;
  }
}

async function startParts(opts: StackOptions, started: (() => Promise<unknown>)[]): Promise<Stack> {
  await Deno.mkdir(opts.stateDir, { recursive: true });
  const secrets = await loadOrCreateSecrets(opts.stateDir);
  let cluster: LocalCluster | null = null;
  let dbUrl: string;
  let fresh = false;

  if (opts.externalDbUrl) {
    dbUrl = opts.externalDbUrl;
    log(`using the database at SUPABASE_DB_URL (no embedded cluster, no bootstrap)`);
  } else {
    await ensureSystemDependencies(opts.stateDir);
    cluster = new LocalCluster({
      dataDir: `${opts.stateDir}/db`,
      port: opts.dbPort,
      fast: opts.fast,
      password: secrets.dbPassword,
    });
    fresh = await cluster.init();
    if (!(await cluster.isRunning())) await ensurePortFree(opts.dbPort, "Postgres", "SWITCHBOARD_DB_PORT");
    await cluster.start();
    const c = cluster;
    started.push(() => c.stop());
    dbUrl = cluster.url;
    await applyBootstrap(dbUrl);
  }
  await applyMigrations(dbUrl);
  if (fresh && opts.seed) await applySeed(dbUrl);
  const pooler = opts.pooler && cluster ? await startPgbouncer({ dir: `${opts.stateDir}/pgbouncer`, dbUrl }) : null;
  if (pooler) started.push(() => pooler.close());
  await ensurePortFree(opts.apiPort, "API gateway", "SWITCHBOARD_API_PORT");
  if (opts.chatwoot) await ensurePortFree(opts.chatwoot.port, "Chatwoot sandbox", "SWITCHBOARD_CHATWOOT_PORT");
  if (opts.gcs) await ensurePortFree(opts.gcs.port, "GCS emulator", "SWITCHBOARD_GCS_PORT");

  const { anonKey, serviceRoleKey } = await deriveApiKeys(secrets.jwtSecret);
  const jwtMode: JwtMode = opts.jwtMode ??
    (Deno.env.get("SWITCHBOARD_JWT_MODE") === "legacy" ? "legacy" : "asymmetric");
  const publishableKey = secrets.publishableKey!;
  const secretKey = secrets.secretKey!;
  const apiUrl = `http://127.0.0.1:${opts.apiPort}`;
  const chatwoot = opts.chatwoot
    ? await startSandbox({
      port: opts.chatwoot.port,
      persistPath: opts.chatwoot.persistPath,
      log: opts.chatwoot.log ? (e) => console.log(JSON.stringify({ service: "chatwoot-sandbox", ...e })) : undefined,
    })
    : null;
  if (chatwoot) started.push(() => chatwoot.close());
  const gcs = opts.gcs
    ? await startGcsEmulator({
      port: opts.gcs.port,
      dataDir: opts.gcs.dataDir,
      noSync: opts.gcs.noSync,
      signingKeys: { [secrets.gcsServiceAccount!.client_email]: secrets.gcsServiceAccount!.private_key },
      strictSignatures: true,
    })
    : null;
  if (gcs) started.push(() => gcs.close());
  const realKey = opts.openai?.useRealKey ? Deno.env.get("OPENAI_API_KEY") : undefined;
  if (opts.openai && !realKey) await ensurePortFree(opts.openai.port, "OpenAI stand-in", "SWITCHBOARD_OPENAI_PORT");
  const openai = opts.openai && !realKey ? await startOpenAiStandin({ port: opts.openai.port }) : null;
  if (openai) started.push(() => openai.close());
  const aiEnv: Record<string, string> = openai
    ? openaiStandinEnv(openai)
    : realKey
    ? Object.fromEntries(Object.entries(Deno.env.toObject()).filter(([k]) => k.startsWith("OPENAI_")))
    : {};
  const aiMode = openai
    ? `local OpenAI stand-in (${openai.baseURL})`
    : realKey
    ? `OpenAI-compatible API${Deno.env.get("OPENAI_BASE_URL") ? ` at ${Deno.env.get("OPENAI_BASE_URL")}` : ""}`
    : "offline (no OPENAI_API_KEY): FAQ answers by full-text match, handoff otherwise";
  // The Supabase Auth stand-in answers /auth/v1 on the gateway, backed by auth.users.
  const authSql = postgres(dbUrl, { max: 5, onnotice: () => {}, connection: { application_name: "auth" } });
  started.push(() => authSql.end({ timeout: 2 }));
  await ensureAuthSchema(authSql);
  const demoCredentials: Record<string, string> = {};
  for (const [email, password] of Object.entries(secrets.demoPasswords ?? {})) {
    const [user] = await authSql`select 1 from auth.users where email = ${email}`;
    if (!user) continue; // not seeded in this database
    await setAuthUserPassword(authSql, { email }, password);
    demoCredentials[email] = password;
  }
  // The driver starts after the gateway but hears of its worker's deaths and restarts.
  let driver: JobDriver | null = null;
  const gateway = await startGateway({
    port: opts.apiPort,
    onFunctionExit: (name, executionId) => {
      if (name === "jobs-worker") {
        driver?.workerDied(executionId).catch((err) => log(`job driver: ${err instanceof Error ? err.message : err}`));
      }
    },
    onFunctionRestarted: (name) => {
      if (name === "jobs-worker") driver?.resume();
    },
    root,
    jwtSecret: secrets.jwtSecret,
    jwks: jwks(secrets.signingKey ? [secrets.signingKey] : []),
    extraRoutes: [{
      prefix: "/auth/v1",
      handler: createAuthHandler({
        sql: authSql,
        jwtSecret: secrets.jwtSecret,
        jwtMode,
        signingKey: secrets.signingKey,
        anonKey,
        serviceRoleKey,
        publishableKey,
        secretKey,
        issuer: `${apiUrl}/auth/v1`,
      }),
    }],
    functionEnv: {
      PATH: Deno.env.get("PATH") ?? "",
      HOME: Deno.env.get("HOME") ?? "/tmp",
      // An empty DENO_DIR would make Deno cache into the working directory.
      ...(Deno.env.get("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
      // The edge runtime's Deno trusts only its bundled roots unless told to use the system's.
      DENO_TLS_CA_STORE: Deno.env.get("DENO_TLS_CA_STORE") ?? "system",
      SUPABASE_URL: apiUrl,
      SUPABASE_DB_URL: dbUrl,
      // What hosted gives every function: the new key dictionaries beside the legacy JWT keys. Not
      // SUPABASE_JWKS: locally the functions fetch the JWKS from Auth, the path hosted's cache backs.
      SUPABASE_PUBLISHABLE_KEYS: JSON.stringify({ default: publishableKey }),
      SUPABASE_SECRET_KEYS: JSON.stringify({ default: secretKey }),
      SUPABASE_ANON_KEY: anonKey,
      SUPABASE_SERVICE_ROLE_KEY: serviceRoleKey,
      // A project still on the legacy secret lets its functions check HS256 sessions with it.
      ...(jwtMode === "legacy" ? { SWITCHBOARD_LEGACY_JWT_SECRET: secrets.jwtSecret } : {}),
      ...(chatwoot ? { CHATWOOT_URL: chatwoot.url, CHATWOOT_PLATFORM_TOKEN: chatwoot.sandbox.platformToken } : {}),
      // The SDK must never look for Google's metadata server or real credentials locally.
      METADATA_SERVER_DETECTION: "none",
      ...(gcs ? { GCS_ENDPOINT: gcs.url, GCS_CREDENTIALS_JSON: JSON.stringify(secrets.gcsServiceAccount) } : {}),
      ...aiEnv,
      ...(pooler ? { SWITCHBOARD_DB_POOLER_URL: pooler.url } : {}),
      ...opts.functionEnv,
    },
  });
  started.push(() => gateway.close());
  driver = opts.jobDriver === false ? null : await startJobDriver({
    dbUrl,
    workerUrl: `${apiUrl}/functions/v1/jobs-worker`,
    // As pg_cron does on hosted: the secret key from Vault, in `apikey`.
    secretKey,
  });

  return {
    apiUrl,
    functionsUrl: `${apiUrl}/functions/v1`,
    dbUrl,
    poolerUrl: pooler?.url,
    anonKey,
    serviceRoleKey,
    jwtSecret: secrets.jwtSecret,
    publishableKey,
    secretKey,
    jwtMode,
    signer: jwtMode === "asymmetric"
      ? { alg: "ES256", key: secrets.signingKey!, issuer: `${apiUrl}/auth/v1` }
      : { alg: "HS256", secret: secrets.jwtSecret, issuer: `${apiUrl}/auth/v1` },
    chatwootUrl: chatwoot?.url,
    chatwootPlatformToken: chatwoot?.sandbox.platformToken,
    chatwoot,
    gcs,
    gcsUrl: gcs?.url,
    openai,
    openaiBaseUrl: openai?.baseURL,
    aiMode,
    // The stand-in's key is local and throwaway; a real one stays in the operator's environment, off disk.
    openaiEnv: realKey ? Object.fromEntries(Object.entries(aiEnv).filter(([k]) => k !== "OPENAI_API_KEY")) : aiEnv,
    demoCredentials,
    functions: gateway.functions,
    gateway,
    driver,
    cluster,
    async close(closeOpts = {}) {
      // Every part is stopped even when one fails to stop cleanly: a part left running (Postgres
      // above all) would hold its port against the next start.
      const steps: [string, () => Promise<unknown> | undefined][] = [
        ["job driver", () => driver?.close()],
        ["gateway", () => gateway.close()],
        ["Chatwoot sandbox", () => chatwoot?.close()],
        ["auth", () => authSql.end({ timeout: 2 })],
        ["GCS emulator", () => gcs?.close()],
        ["OpenAI stand-in", () => openai?.close()],
        ["pgbouncer", () => pooler?.close()],
        ["Postgres", () => closeOpts.stopDatabase !== false ? cluster?.stop() : undefined],
      ];
      for (const [what, stop] of steps) {
        await Promise.resolve().then(stop).catch((err) =>
          log(`stopping the ${what}: ${err instanceof Error ? err.message : err}`)
        );
      }
    },
  };
}

/** What the functions (and the CLI, through the stack file) are given to use the OpenAI stand-in. */
export function openaiStandinEnv(standin: { apiKey: string; baseURL: string }): Record<string, string> {
  return {
    OPENAI_API_KEY: standin.apiKey,
    OPENAI_BASE_URL: standin.baseURL,
    OPENAI_EMBEDDING_MODEL: "switchboard-test-embedding",
    OPENAI_EMBEDDING_DIMENSIONS: "256",
    OPENAI_CHAT_MODEL: "switchboard-test-chat",
    OPENAI_TRANSCRIPTION_MODEL: "switchboard-test-transcribe",
  };
}

/** The key a browser client is built with: the publishable key on signing keys, the legacy anon
 * JWT on a legacy project (what each kind of hosted project hands its front end). */
export function clientKey(info: Pick<StackInfo, "jwtMode" | "publishableKey" | "anonKey">): string {
  return info.jwtMode === "legacy" ? info.anonKey : info.publishableKey;
}

export function statusBlock(info: StackInfo, extra: Record<string, string> = {}): string {
  const rows: [string, string][] = [
    ["API URL", info.apiUrl],
    ["Functions URL", info.functionsUrl],
    ["DB URL", info.dbUrl],
    ["Publishable key", info.publishableKey],
    ["Secret key", info.secretKey],
    ["anon key (legacy)", info.anonKey],
    ["service_role key (legacy)", info.serviceRoleKey],
    [
      "JWT signing",
      info.jwtMode === "asymmetric" ? "ES256 (JWKS at /auth/v1/.well-known/jwks.json)" : "HS256 (legacy secret)",
    ],
    ...(info.chatwootUrl ? [["Chatwoot sandbox", info.chatwootUrl] as [string, string]] : []),
    ...(info.chatwootPlatformToken
      ? [["Chatwoot platform token", info.chatwootPlatformToken] as [string, string]]
      : []),
    ...(info.gcsUrl ? [["GCS emulator", info.gcsUrl] as [string, string]] : []),
    ...(info.aiMode ? [["AI replies", info.aiMode] as [string, string]] : []),
    ...Object.entries(extra),
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padStart(width)}: ${v}`).join("\n");
}

/** What the CLI needs to find the running stack. Written by `npm start`, git-ignored. */
export async function writeStackInfo(path: string, info: StackInfo & Record<string, unknown>): Promise<void> {
  const {
    jwtSecret: _omit,
    signer: _signer,
    chatwoot: _c,
    gcs: _s,
    openai: _o,
    gateway: _g,
    driver: _d,
    cluster: _cl,
    close: _close,
    ...rest
  } = info as
    & StackInfo
    & Record<string, unknown>;
  await Deno.writeTextFile(path, JSON.stringify(rest, null, 2), { mode: 0o600 });
}

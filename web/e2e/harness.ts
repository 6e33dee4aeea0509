// What the browser tests stand on: the stack under test (from env, or the mock started here),
// Debian's Chromium driven by playwright-core, sign-in and screenshot helpers, and an Arranger
// that puts the rows a scenario needs in place (SQL on a real stack, /_mock on the mock).

/// <reference lib="deno.ns" />
/// <reference lib="dom" />

import { type BrowserContext, chromium, type Page } from "npm:playwright-core@1.65.1";
import postgres from "npm:postgres@3.4.9";
import { MOCK_CREDENTIALS, type MockStack, startMockStack } from "./mock_api.ts";

export type { Page };

export function assert(
  condition: unknown,
  message = "assertion failed",
): asserts condition {
  if (!condition) throw new Error(message);
}

export function assertEquals<T>(
  actual: T,
  expected: T,
  message?: string,
): void {
  if (actual !== expected) {
    throw new Error(
      `${message ? `${message}: ` : ""}expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`,
    );
  }
}

export interface Credentials {
  email: string;
  password: string;
}

export interface StoreRef {
  id: string;
  slug: string;
}

export interface ArrangeContext {
  /** The store the store admin administers. */
  adminStore: StoreRef;
  /** A store the store admin has no part in. */
  otherStore: StoreRef;
  /** A user to map contacts to (suggested by e-mail). */
  mapTarget: { user_id: string; full_name: string | null; email: string };
}

export interface Arranger {
  context(): Promise<ArrangeContext>;
  /** An unmapped contact with a fresh number; returns the number. */
  createUnmappedContact(
    input: {
      storeId: string;
      name: string;
      email?: string | null;
      media?: number;
    },
  ): Promise<string>;
  contactStatus(storeId: string, phone: string): Promise<string | null>;
  /** A dead-lettered job of the store; returns its id. */
  createDeadJob(storeId: string, lastError: string): Promise<string>;
  job(id: string): Promise<{ status: string; replays: number } | null>;
  cleanup(): Promise<void>;
}

export interface Stack {
  kind: "mock" | "stack";
  appUrl: string;
  supabaseUrl: string;
  anonKey: string;
  admin: Credentials;
  storeAdmin: Credentials;
  arranger: Arranger;
}

const WEB_DIR = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const REPO_ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
export const SCREENSHOT_DIR = `${REPO_ROOT}/.local/test-output/screenshots`;

// ─── the stack ────────────────────────────────────────────────────────────────────────────

let stackPromise: Promise<Stack> | null = null;
let mockStack: MockStack | null = null;

/** The stack named by ADMIN_APP_URL & co., or else the mock serving web/dist (built if missing). */
export function stack(): Promise<Stack> {
  stackPromise ??= resolveStack();
  return stackPromise;
}

function env(name: string): string | undefined {
  const v = Deno.env.get(name);
  return v && v.trim() ? v.trim() : undefined;
}

function requireEnv(name: string): string {
  const v = env(name);
  if (!v) throw new Error(`ADMIN_APP_URL is set, so ${name} must be set too`);
  return v;
}

async function resolveStack(): Promise<Stack> {
  const appUrl = env("ADMIN_APP_URL");
  if (appUrl) {
    const supabaseUrl = requireEnv("SUPABASE_URL").replace(/\/+$/, "");
    const dbUrl = env("SUPABASE_DB_URL");
    const storeAdmin = {
      email: requireEnv("STORE_ADMIN_EMAIL"),
      password: requireEnv("STORE_ADMIN_PASSWORD"),
    };
    return {
      kind: "stack",
      appUrl: appUrl.replace(/\/+$/, ""),
      supabaseUrl,
      anonKey: requireEnv("SUPABASE_ANON_KEY"),
      admin: {
        email: requireEnv("ADMIN_EMAIL"),
        password: requireEnv("ADMIN_PASSWORD"),
      },
      storeAdmin,
      arranger: dbUrl
        ? new SqlArranger(dbUrl, storeAdmin.email, env("ADMIN_EMAIL")!)
        : new MockArranger(supabaseUrl, storeAdmin.email),
    };
  }
  const mock = await startMockForTests();
  return {
    kind: "mock",
    appUrl: mock.appUrl!,
    supabaseUrl: mock.supabaseUrl,
    anonKey: mock.anonKey,
    admin: MOCK_CREDENTIALS.admin,
    storeAdmin: MOCK_CREDENTIALS.storeAdmin,
    arranger: new MockArranger(
      mock.supabaseUrl,
      MOCK_CREDENTIALS.storeAdmin.email,
    ),
  };
}

async function startMockForTests(): Promise<MockStack> {
  const dist = `${WEB_DIR}/dist`;
  try {
    await Deno.stat(`${dist}/index.html`);
  } catch {
    console.error("web/dist is missing: building it (npm run build)…");
    const out = await new Deno.Command("npm", {
      args: ["run", "build"],
      cwd: WEB_DIR,
      stdout: "inherit",
      stderr: "inherit",
    })
      .output();
    if (!out.success) {
      throw new Error(
        "npm run build failed in web/; the browser tests need the built app",
      );
    }
  }
  mockStack = await startMockStack({ appDir: dist });
  return mockStack;
}

// ─── the browser ──────────────────────────────────────────────────────────────────────────

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-dev-shm-usage",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** Runs fn with a page of a fresh Chromium profile (1366×768), closing everything afterwards. */
export async function withPage(
  fn: (page: Page, context: BrowserContext) => Promise<void>,
): Promise<void> {
  const executablePath = env("CHROMIUM_PATH") ?? "/usr/bin/chromium";
  try {
    await Deno.stat(executablePath);
  } catch {
    throw new Error(
      `${executablePath} not found: install Debian's Chromium (apt-get install -y chromium)`,
    );
  }
  const userDataDir = await Deno.makeTempDir({
    prefix: "switchboard-e2e-chromium-",
  });
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1366, height: 768 },
    locale: "en-GB",
  });
  const page = context.pages()[0] ?? await context.newPage();
  page.setDefaultTimeout(15_000);
  const problems: string[] = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  try {
    await fn(page, context);
  } catch (err) {
    await screenshot(page, `failure-${Date.now()}`).catch(() => {});
    if (problems.length) console.error(problems.join("\n"));
    throw err;
  } finally {
    await context.close().catch(() => {});
    await Deno.remove(userDataDir, { recursive: true }).catch(() => {});
  }
}

export async function screenshot(page: Page, name: string): Promise<string> {
  await Deno.mkdir(SCREENSHOT_DIR, { recursive: true });
  const path = `${SCREENSHOT_DIR}/${name}.png`;
  await page.screenshot({ path });
  return path;
}

export async function openApp(page: Page, hash = ""): Promise<void> {
  const s = await stack();
  await page.goto(`${s.appUrl}/${hash}`);
}

/** Signs in through the form and waits for the header to show the user. */
export async function signIn(
  page: Page,
  who: Credentials,
  hash = "",
): Promise<void> {
  await openApp(page, hash);
  await page.getByTestId("sign-in-email").fill(who.email);
  await page.getByTestId("sign-in-password").fill(who.password);
  await page.getByTestId("sign-in-submit").click();
  await page.getByTestId("user-email").waitFor();
}

/** The access token supabase-js stored for the signed-in user (its `sb-<ref>-auth-token` key). */
export async function storedAccessToken(page: Page): Promise<string> {
  const token = await page.evaluate(() => {
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i)!;
      if (/^sb-.*-auth-token$/.test(key)) {
        const v = JSON.parse(localStorage.getItem(key)!);
        return (v?.access_token ?? v?.currentSession?.access_token ?? null) as
          | string
          | null;
      }
    }
    return null;
  });
  if (!token) throw new Error("no supabase-js session in localStorage");
  return token;
}

/** Calls admin-api directly, as the app would, with a user's token. */
export async function callAdminApi(
  path: string,
  token: string,
): Promise<{ status: number; body: any }> {
  const s = await stack();
  const res = await fetch(`${s.supabaseUrl}/functions/v1/admin-api/${path}`, {
    headers: { apikey: s.anonKey, authorization: `Bearer ${token}` },
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch { /* not JSON */ }
  return { status: res.status, body };
}

export function uniquePhone(): string {
  // +1 555 xxx xxxx: the fictional North American range; random enough to be unique per run.
  return `+1555${String(Math.floor(Math.random() * 1e7)).padStart(7, "0")}`;
}

// ─── arrangers ────────────────────────────────────────────────────────────────────────────

/** Arranges rows on the mock through its /_mock control routes. */
class MockArranger implements Arranger {
  constructor(
    private readonly base: string,
    private readonly storeAdminEmail: string,
  ) {}

  private async call(method: string, path: string, body?: unknown) {
    const res = await fetch(`${this.base}/_mock/${path}`, {
      method,
      headers: body ? { "content-type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = await res.json().catch(() => null);
    if (res.status === 404 && method === "GET" && path !== "context") {
      return null;
    }
    if (!res.ok) {
      throw new Error(
        `${this.base} has no mock control routes (${res.status}); set SUPABASE_DB_URL to arrange data on a real stack`,
      );
    }
    return json;
  }

  async context(): Promise<ArrangeContext> {
    const c = await this.call("GET", "context") as {
      stores: StoreRef[];
      memberships: { store_id: string; email: string | null; role: string }[];
      profiles: { user_id: string; full_name: string; email: string }[];
    };
    const mine = c.memberships.filter((m) => m.email === this.storeAdminEmail);
    const adminStore = c.stores.find((s) =>
      mine.some((m) => m.store_id === s.id && ["owner", "admin"].includes(m.role))
    )!;
    const otherStore = c.stores.find((s) => !mine.some((m) => m.store_id === s.id))!;
    const mapTarget = c.profiles.find((p) => p.email !== this.storeAdminEmail)!;
    return { adminStore, otherStore, mapTarget };
  }

  async createUnmappedContact(
    input: {
      storeId: string;
      name: string;
      email?: string | null;
      media?: number;
    },
  ) {
    const phone = uniquePhone();
    await this.call("POST", "contacts", {
      store_id: input.storeId,
      phone_e164: phone,
      contact_name: input.name,
      contact_email: input.email ?? null,
      media: input.media ?? 0,
    });
    return phone;
  }

  async contactStatus(storeId: string, phone: string) {
    const c = await this.call(
      "GET",
      `contacts/${storeId}/${encodeURIComponent(phone)}`,
    );
    return c ? String(c.status) : null;
  }

  async createDeadJob(storeId: string, lastError: string) {
    const j = await this.call("POST", "jobs", {
      store_id: storeId,
      last_error: lastError,
    });
    return String(j.id);
  }

  async job(id: string) {
    const j = await this.call("GET", `jobs/${id}`);
    return j ? { status: String(j.status), replays: Number(j.replays) } : null;
  }

  async cleanup() {}
}

/** Arranges rows on a real stack with SQL (SUPABASE_DB_URL), and removes them afterwards. */
class SqlArranger implements Arranger {
  private readonly sql: ReturnType<typeof postgres>;
  private contacts: { storeId: string; phone: string }[] = [];
  private jobs: string[] = [];
  private createdStores: string[] = [];

  constructor(
    dbUrl: string,
    private readonly storeAdminEmail: string,
    private readonly adminEmail: string,
  ) {
    this.sql = postgres(dbUrl, { max: 2, onnotice: () => {} });
  }

  async context(): Promise<ArrangeContext> {
    const sql = this.sql;
    const [adminStore] = await sql<StoreRef[]>`
      select s.id::text, s.slug from public.store_members m
      join auth.users u on u.id = m.user_id join public.stores s on s.id = m.store_id
      where lower(u.email) = lower(${this.storeAdminEmail}) and m.role::text in ('owner', 'admin')
      order by s.slug limit 1`;
    if (!adminStore) {
      throw new Error(
        `${this.storeAdminEmail} administers no store: seed a store admin first`,
      );
    }
    let [otherStore] = await sql<StoreRef[]>`
      select s.id::text, s.slug from public.stores s
      where s.id not in (select m.store_id from public.store_members m join auth.users u on u.id = m.user_id
                         where lower(u.email) = lower(${this.storeAdminEmail}))
      order by s.slug limit 1`;
    if (!otherStore) {
      const slug = `e2e-other-${crypto.randomUUID().slice(0, 8)}`;
      [otherStore] = await sql<StoreRef[]>`
        insert into public.stores (slug, name) values (${slug}, 'E2E other store') returning id::text, slug`;
      this.createdStores.push(otherStore.id);
    }
    const [mapTarget] = await sql<ArrangeContext["mapTarget"][]>`
      select p.user_id::text, p.full_name, p.email from public.profiles p
      where p.email is not null and lower(p.email) not in (lower(${this.storeAdminEmail}), lower(${this.adminEmail}))
      order by p.email limit 1`;
    if (!mapTarget) {
      throw new Error(
        "no profile to map a contact to: seed a user with an e-mail",
      );
    }
    return { adminStore, otherStore, mapTarget };
  }

  async createUnmappedContact(
    input: {
      storeId: string;
      name: string;
      email?: string | null;
      media?: number;
    },
  ) {
    const phone = uniquePhone();
    await this.sql`
      insert into public.archive_contacts (store_id, phone_e164, status, contact_name, contact_email, messages, media,
                                           first_seen_at, last_message_at)
      values (${input.storeId}, ${phone}, 'unmapped', ${input.name}, ${input.email ?? null}, 2, ${input.media ?? 0},
              now() - interval '2 days', now())`;
    this.contacts.push({ storeId: input.storeId, phone });
    return phone;
  }

  async contactStatus(storeId: string, phone: string) {
    const [r] = await this
      .sql`select status from public.archive_contacts where store_id = ${storeId} and phone_e164 = ${phone}`;
    return r ? String(r.status) : null;
  }

  async createDeadJob(storeId: string, lastError: string) {
    const [r] = await this.sql`
      insert into private.jobs (kind, payload, idempotency_key, store_id, status, attempts, max_attempts, last_error, dead_at)
      values ('e2e.replay_probe', '{}'::jsonb, ${`e2e.replay_probe:${crypto.randomUUID()}`}, ${storeId}, 'dead', 1, 1,
              ${lastError}, now())
      returning id::text`;
    this.jobs.push(r.id);
    return String(r.id);
  }

  async job(id: string) {
    const [r] = await this
      .sql`select status::text, replays from private.jobs where id = ${id}`;
    return r ? { status: String(r.status), replays: Number(r.replays) } : null;
  }

  async cleanup() {
    for (const c of this.contacts) {
      await this
        .sql`delete from public.archive_contacts where store_id = ${c.storeId} and phone_e164 = ${c.phone}`;
    }
    if (this.jobs.length) {
      await this.sql`delete from private.jobs where id in ${this.sql(this.jobs)}`;
    }
    for (const id of this.createdStores) {
      await this.sql`delete from public.stores where id = ${id}`;
    }
    this.contacts = [];
    this.jobs = [];
    this.createdStores = [];
  }

  async close() {
    await this.sql.end({ timeout: 5 });
  }
}

/** Ends what the harness opened (DB pool, mock servers) so `deno test` exits promptly. */
export async function shutdown(): Promise<void> {
  if (!stackPromise) return;
  const s = await stackPromise.catch(() => null);
  if (!s) return;
  await s.arranger.cleanup().catch(() => {});
  if (s.arranger instanceof SqlArranger) await s.arranger.close();
  if (mockStack) await mockStack.close();
}

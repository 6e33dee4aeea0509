// What the browser tests stand on: the stack under test (named by the environment `npm test` sets),
// Debian's Chromium driven by playwright-core, sign-in and screenshot helpers, and an Arranger that puts
// what a scenario needs in place on that stack (rows by SQL, WhatsApp traffic through its Chatwoot sandbox).

/// <reference lib="deno.ns" />
/// <reference lib="dom" />

import {
  type BrowserContext,
  chromium,
  type Page,
} from "npm:playwright-core@1.65.1";
import postgres from "npm:postgres@3.4.9";

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
      `${message ? `${message}: ` : ""}expected ${
        JSON.stringify(expected)
      }, got ${JSON.stringify(actual)}`,
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
  /** A WhatsApp image from the number of `email`'s profile to the store, archived by the stack (webhook →
   * archive job → GCS emulator); returns the user whose archive holds it. */
  archiveWhatsAppImage(storeId: string, email: string): Promise<string>;
  /** A new user with a number of their own, and a WhatsApp text from it archived by the stack (their archive,
   * for tests that erase it); returns the user's id and e-mail. */
  createArchivedUser(
    storeId: string,
  ): Promise<{ userId: string; email: string }>;
  job(id: string): Promise<{ status: string; replays: number } | null>;
  /** Runs the alert evaluation the worker runs every minute, now. */
  evaluateAlerts(): Promise<void>;
  /** Four conversations in the store's mirror, 2, 3, 20 and 60 days old (so each range of the analytics page
   * holds a known number more), one with a CSAT answer whose comment is `feedback`. */
  createAnalyticsConversations(
    storeId: string,
    feedback: string,
  ): Promise<void>;
  /** The deployment's AI paused as a job meeting insufficient_quota pauses it; whether it still is. */
  pauseAiForQuota(reason: string): Promise<void>;
  aiPaused(): Promise<boolean>;
  cleanup(): Promise<void>;
}

export interface Stack {
  appUrl: string;
  supabaseUrl: string;
  anonKey: string;
  admin: Credentials;
  storeAdmin: Credentials;
  arranger: Arranger;
}

const REPO_ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
export const SCREENSHOT_DIR = `${REPO_ROOT}/.local/test-output/screenshots`;

// ─── the stack ────────────────────────────────────────────────────────────────────────────

let stackPromise: Promise<Stack> | null = null;

/** The stack named by ADMIN_APP_URL & co. (`npm test -- browser` at the repository root sets them). */
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
  if (!v) {
    throw new Error(
      `${name} is not set: the browser tests run against a stack; run \`npm test -- browser\` at the repository ` +
        "root, which starts one and sets ADMIN_APP_URL & co. (web/README.md, Browser tests)",
    );
  }
  return v;
}

function resolveStack(): Promise<Stack> {
  const storeAdmin = {
    email: requireEnv("STORE_ADMIN_EMAIL"),
    password: requireEnv("STORE_ADMIN_PASSWORD"),
  };
  const admin = {
    email: requireEnv("ADMIN_EMAIL"),
    password: requireEnv("ADMIN_PASSWORD"),
  };
  return Promise.resolve({
    appUrl: requireEnv("ADMIN_APP_URL").replace(/\/+$/, ""),
    supabaseUrl: requireEnv("SUPABASE_URL").replace(/\/+$/, ""),
    anonKey: requireEnv("SUPABASE_ANON_KEY"),
    admin,
    storeAdmin,
    arranger: new StackArranger({
      dbUrl: requireEnv("SUPABASE_DB_URL"),
      chatwootUrl: requireEnv("CHATWOOT_URL").replace(/\/+$/, ""),
      chatwootPlatformToken: requireEnv("CHATWOOT_PLATFORM_TOKEN"),
      storeAdminEmail: storeAdmin.email,
      adminEmail: admin.email,
    }),
  });
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

// ─── arranging ────────────────────────────────────────────────────────────────────────────

interface StackAccess {
  dbUrl: string;
  chatwootUrl: string;
  chatwootPlatformToken: string;
  storeAdminEmail: string;
  adminEmail: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Display ids of the analytics page's conversations: far above what the sandbox hands out. */
const ANALYTICS_FIRST_ID = 990_000;

/** Arranges rows on the stack with SQL (SUPABASE_DB_URL) and removes them afterwards; drives WhatsApp
 * traffic through the stack's Chatwoot sandbox, so archives are made by the product itself. */
class StackArranger implements Arranger {
  private readonly sql: ReturnType<typeof postgres>;
  private readonly storeAdminEmail: string;
  private readonly adminEmail: string;
  private contacts: { storeId: string; phone: string }[] = [];
  private jobs: string[] = [];
  private createdStores: string[] = [];
  private analyticsAccounts: string[] = [];

  constructor(private readonly access: StackAccess) {
    this.sql = postgres(access.dbUrl, { max: 2, onnotice: () => {} });
    this.storeAdminEmail = access.storeAdminEmail;
    this.adminEmail = access.adminEmail;
  }

  /** The sandbox's Platform API (platform token) or an account's Application API (its admin's token). */
  private async chatwoot(
    method: string,
    path: string,
    body?: unknown,
    token?: string,
  ) {
    const res = await fetch(`${this.access.chatwootUrl}${path}`, {
      method,
      headers: {
        api_access_token: token ?? this.access.chatwootPlatformToken,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json().catch(() => null);
    if (!res.ok) {
      throw new Error(
        `Chatwoot sandbox ${method} ${path} answered ${res.status}: ${
          JSON.stringify(json)
        }`,
      );
    }
    return json;
  }

  async archiveWhatsAppImage(storeId: string, email: string): Promise<string> {
    const sql = this.sql;
    const [profile] = await sql<{ user_id: string; phone_e164: string }[]>`
      select user_id::text, phone_e164 from public.profiles where lower(email) = lower(${email}) and phone_e164 is not null`;
    if (!profile) {
      throw new Error(`${email} has no profile with a phone number: seed one`);
    }
    await this.archiveWhatsApp(storeId, profile, "image");
    return profile.user_id;
  }

  async createArchivedUser(storeId: string) {
    const userId = crypto.randomUUID();
    const email = `e2e-erase-${userId.slice(0, 8)}@example.test`;
    // A Brazilian mobile number (valid for WhatsApp, unlike the fictional 555 range of uniquePhone).
    const phone = `+5511987${
      String(Math.floor(Math.random() * 1e6)).padStart(6, "0")
    }`;
    await this.sql`insert into auth.users (id, email, raw_user_meta_data)
                   values (${userId}, ${email}, ${
      this.sql.json({ full_name: "E2E Erased", phone_e164: phone })
    })`;
    await this.archiveWhatsApp(
      storeId,
      { user_id: userId, phone_e164: phone },
      "text",
    );
    return { userId, email };
  }

  /** A WhatsApp message from the profile's number to the store, through the Chatwoot sandbox, until the
   * stack has archived it for that user. */
  private async archiveWhatsApp(
    storeId: string,
    profile: { user_id: string; phone_e164: string },
    kind: "image" | "text",
  ): Promise<void> {
    const sql = this.sql;
    // The store's Chatwoot account, provisioned by the stack's provisioner when the stack started.
    let account: {
      state: string;
      account_id: number;
      token: string | null;
      account_ref: string | null;
    } | undefined;
    for (
      const deadline = Date.now() + 90_000;
      Date.now() < deadline;
      await sleep(250)
    ) {
      [account] = await sql<NonNullable<typeof account>[]>`
        select p.state, p.account_id, s.admin_api_token as token, a.id::text as account_ref
        from public.chatwoot_provisioning p
        left join private.chatwoot_provisioning_secrets s on s.store_id = p.store_id
        left join public.chatwoot_accounts a on a.store_id = p.store_id
        where p.store_id = ${storeId}`;
      if (account?.state === "failed") break;
      if (account?.state === "active" && account.token && account.account_ref) {
        break;
      }
    }
    if (account?.state !== "active" || !account.token || !account.account_ref) {
      throw new Error(
        `store ${storeId} has no active Chatwoot account (${
          account?.state ?? "none"
        })`,
      );
    }
    const api = `/api/v1/accounts/${account.account_id}`;
    const inboxes = await this.chatwoot(
      "GET",
      `${api}/inboxes`,
      undefined,
      account.token,
    );
    let inbox = inboxes.payload.find((i: { channel_type: string }) =>
      i.channel_type === "Channel::Whatsapp"
    );
    inbox ??= await this.chatwoot("POST", `${api}/inboxes`, {
      name: "WhatsApp",
      // Chatwoot keeps a WhatsApp number to one inbox.
      channel: {
        type: "whatsapp",
        phone_number: `+5255${String(Date.now() % 1e8).padStart(8, "0")}`,
        provider: "whatsapp_cloud",
      },
    }, account.token);
    const sent = await this.chatwoot("POST", "/_control/traffic/whatsapp", {
      inbox_id: inbox.id,
      from: profile.phone_e164.replace(/^\+/, ""),
      ...(kind === "image"
        ? { kind: "image", caption: "E2E photo of the parcel" }
        : { kind: "text", text: "E2E: erase me" }),
    });
    const messageId = sent.message.id;
    for (
      const deadline = Date.now() + 60_000;
      Date.now() < deadline;
      await sleep(250)
    ) {
      const [m] = kind === "image"
        ? await sql`select user_id::text from public.archived_media
                    where account_ref = ${account.account_ref} and message_id = ${messageId}`
        : await sql`select user_id::text from public.archived_messages
                    where account_ref = ${account.account_ref} and message_id = ${messageId}`;
      if (m) {
        if (m.user_id !== profile.user_id) {
          throw new Error(`message ${messageId} was archived for ${m.user_id}`);
        }
        return;
      }
    }
    throw new Error(
      `the stack did not archive WhatsApp message ${messageId} within 60 s`,
    );
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
      values (${input.storeId}, ${phone}, 'unmapped', ${input.name}, ${
      input.email ?? null
    }, 2, ${input.media ?? 0},
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

  async evaluateAlerts() {
    await this.sql`select private.evaluate_alerts()`;
  }

  async pauseAiForQuota(reason: string) {
    await this
      .sql`select private.pause_ai('insufficient_quota', 'chat', ${reason}, interval '10 minutes')`;
  }

  async aiPaused() {
    return (await this.sql`select 1 from private.ai_pause`).length > 0;
  }

  async job(id: string) {
    const [r] = await this
      .sql`select status::text, replays from private.jobs where id = ${id}`;
    return r ? { status: String(r.status), replays: Number(r.replays) } : null;
  }

  async createAnalyticsConversations(storeId: string, feedback: string) {
    const sql = this.sql;
    let account: { id: string } | undefined;
    for (
      const deadline = Date.now() + 90_000;
      !account && Date.now() < deadline;
      await sleep(250)
    ) {
      [account] = await sql<
        { id: string }[]
      >`select id::text from public.chatwoot_accounts where store_id = ${storeId}`;
    }
    if (!account) {
      throw new Error(
        "the store's Chatwoot account was not linked within 90 s",
      );
    }
    this.analyticsAccounts.push(account.id);
    const base = ANALYTICS_FIRST_ID;
    const conversations: [number, string, number, string][] = [
      [1, "Channel::Whatsapp", 2, "resolved"],
      [2, "Channel::WebWidget", 3, "open"],
      [3, "Channel::Email", 20, "open"],
      [4, "Channel::Whatsapp", 60, "open"],
    ];
    for (const [n, channel, daysAgo, status] of conversations) {
      await sql`
        insert into public.chatwoot_conversations (account_ref, display_id, store_id, inbox_id, channel, status, created_at,
                                                   version)
        values (${account.id}, ${
        base + n
      }, ${storeId}, 1, ${channel}, ${status}, now() - make_interval(days => ${daysAgo}),
                (extract(epoch from now() - make_interval(days => ${daysAgo}) + interval '1 hour') * 1000)::bigint)`;
      const messages: [
        number,
        string,
        string | null,
        number,
        Record<string, unknown>,
      ][] = [
        [1, "incoming", "contact", 0, {}],
        ...(n === 3 ? [] : [[
          2,
          "outgoing",
          n === 1 ? "agent_bot" : "user",
          n === 1 ? 30 : 300,
          {},
        ]] as typeof messages),
        ...(n === 1
          ? [[3, "template", null, 3600, {
            submitted_values: {
              csat_survey_response: { rating: 5, feedback_message: feedback },
            },
          }]] as typeof messages
          : []),
      ];
      for (const [k, type, sender, after, attrs] of messages) {
        await sql`
          insert into public.chatwoot_messages (account_ref, message_id, store_id, conversation_display_id, inbox_id,
                                                message_type, sender_type, content_type, content_attributes, created_at,
                                                version_fingerprint)
          values (${account.id}, ${(base + n) * 10 + k}, ${storeId}, ${
          base + n
        }, 1, ${type}, ${sender},
                  ${type === "template" ? "input_csat" : "text"}, ${
          sql.json(attrs as never)
        },
                  now() - make_interval(days => ${daysAgo}) + make_interval(secs => ${after}), ${`e2e-${k}`})`;
      }
    }
  }

  async cleanup() {
    for (const ref of this.analyticsAccounts) {
      await this
        .sql`delete from public.chatwoot_messages where account_ref = ${ref}
                     and conversation_display_id between ${ANALYTICS_FIRST_ID} and ${
        ANALYTICS_FIRST_ID + 99
      }`;
      await this
        .sql`delete from public.chatwoot_conversations where account_ref = ${ref}
                     and display_id between ${ANALYTICS_FIRST_ID} and ${
        ANALYTICS_FIRST_ID + 99
      }`;
    }
    this.analyticsAccounts = [];
    await this.sql`select private.resume_ai('e2e', 'cleanup')`;
    for (const c of this.contacts) {
      await this
        .sql`delete from public.archive_contacts where store_id = ${c.storeId} and phone_e164 = ${c.phone}`;
    }
    if (this.jobs.length) {
      await this.sql`delete from private.jobs where id in ${
        this.sql(this.jobs)
      }`;
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

/** Ends what the harness opened (the DB pool) so `deno test` exits promptly. */
export async function shutdown(): Promise<void> {
  if (!stackPromise) return;
  const s = await stackPromise.catch(() => null);
  if (!s) return;
  await s.arranger.cleanup().catch(() => {});
  if (s.arranger instanceof StackArranger) await s.arranger.close();
}

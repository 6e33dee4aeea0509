// A stand-in for the admin app's backend while the real one is being built: the `admin-api`
// contract, the few `/auth/v1` routes supabase-js uses, and (optionally) the built app with a
// generated config.json. In memory, seeded with demo data; store admins see only their stores.
//
//   deno run -A web/e2e/mock_api.ts [--port 54399] [--app-port 4174] [--app-dir web/dist]

const ANON_KEY = "mock-anon-key";
const DAY = 86_400_000;

// ─── data ─────────────────────────────────────────────────────────────────────────────────

interface AuthUser {
  id: string;
  email: string;
  password: string;
  platformAdmin: boolean;
  fullName: string;
}

interface MockStore {
  id: string;
  slug: string;
  name: string;
  status: "active" | "suspended";
  chatwoot: {
    state: string;
    failure_reason: string | null;
    account_id: number | null;
    chatwoot_url: string | null;
  } | null;
  websiteToken: string | null;
  provisioningUntil?: number;
}

interface Profile {
  user_id: string;
  full_name: string;
  email: string;
  phone_e164: string;
}

interface Contact {
  store_id: string;
  phone_e164: string;
  status: "unmapped" | "mapped" | "ignored";
  user_id: string | null;
  contact_name: string | null;
  contact_email: string | null;
  messages: number;
  media: number;
  first_seen_at: string;
  last_message_at: string | null;
}

interface MockJob {
  id: string;
  kind: string;
  status: "queued" | "running" | "dead" | "completed";
  attempts: number;
  max_attempts: number;
  last_error: string | null;
  run_at: string;
  created_at: string;
  completed_at: string | null;
  dead_at: string | null;
  store_id: string | null;
  replays: number;
  /** A job the mock "runs": queued, then running, then completed (or onComplete decides). */
  lifecycle?: {
    startedAt: number;
    onComplete?: () => void;
    completed?: boolean;
  };
}

interface ArchivedMessage {
  account_ref: string;
  message_id: number;
  store_id: string;
  user_id: string;
  conversation_display_id: number;
  message_type: "incoming" | "outgoing";
  content: string;
  created_at: string;
  media: {
    account_ref: string;
    attachment_id: number;
    content_type: string;
    size: number;
  }[];
}

export interface MockState {
  users: AuthUser[];
  memberships: { store_id: string; user_id: string; role: string }[];
  stores: MockStore[];
  profiles: Profile[];
  contacts: Contact[];
  jobs: MockJob[];
  archive: ArchivedMessage[];
  nextJobId: number;
}

const ACME = "10000000-0000-4000-8000-00000000000a";
const GLOBEX = "10000000-0000-4000-8000-00000000000b";
const INITECH = "10000000-0000-4000-8000-00000000000c";
const ACCOUNT_REF: Record<string, string> = {
  [ACME]: "20000000-0000-4000-8000-00000000000a",
  [GLOBEX]: "20000000-0000-4000-8000-00000000000b",
  [INITECH]: "20000000-0000-4000-8000-00000000000c",
};

export const MOCK_CREDENTIALS = {
  admin: { email: "admin@switchboard.test", password: "admin-password" },
  storeAdmin: { email: "ana@acme.test", password: "store-password" },
};

/** A small deterministic generator, so every mock run shows the same demo data. */
function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function seed(now = Date.now()): MockState {
  const rnd = prng(42);
  const iso = (msAgo: number) => new Date(now - msAgo).toISOString();
  const users: AuthUser[] = [
    {
      id: "00000000-0000-4000-8000-000000000001",
      email: MOCK_CREDENTIALS.admin.email,
      password: MOCK_CREDENTIALS.admin.password,
      platformAdmin: true,
      fullName: "Platform Admin",
    },
    {
      id: "00000000-0000-4000-8000-00000000a001",
      email: MOCK_CREDENTIALS.storeAdmin.email,
      password: MOCK_CREDENTIALS.storeAdmin.password,
      platformAdmin: false,
      fullName: "Ana Acme",
    },
  ];
  const stores: MockStore[] = [
    {
      id: ACME,
      slug: "acme",
      name: "Acme Outfitters",
      status: "active",
      chatwoot: {
        state: "active",
        failure_reason: null,
        account_id: 12,
        chatwoot_url: "http://127.0.0.1:3000",
      },
      websiteToken: "t3Vb8xQp2LmK9sRz",
    },
    {
      id: GLOBEX,
      slug: "globex",
      name: "Globex Gadgets",
      status: "active",
      chatwoot: {
        state: "failed",
        failure_reason:
          "Chatwoot refused the platform token (401 Unauthorized) while creating the account. Check CHATWOOT_PLATFORM_TOKEN, then retry.",
        account_id: null,
        chatwoot_url: "http://127.0.0.1:3000",
      },
      websiteToken: null,
    },
    {
      id: INITECH,
      slug: "initech",
      name: "Initech Supplies",
      status: "suspended",
      chatwoot: {
        state: "suspended",
        failure_reason: null,
        account_id: 14,
        chatwoot_url: "http://127.0.0.1:3000",
      },
      websiteToken: "Qw9Er7Ty5Ui3Op1A",
    },
  ];
  const profiles: Profile[] = [
    {
      user_id: users[1].id,
      full_name: "Ana Acme",
      email: "ana@acme.test",
      phone_e164: "+5511987654321",
    },
    {
      user_id: "00000000-0000-4000-8000-00000000a002",
      full_name: "Bruno Agent",
      email: "bruno@acme.test",
      phone_e164: "+5215512345678",
    },
    {
      user_id: "00000000-0000-4000-8000-00000000b001",
      full_name: "Gina Globex",
      email: "gina@globex.test",
      phone_e164: "+14155550101",
    },
    {
      user_id: "00000000-0000-4000-8000-00000000c001",
      full_name: "Carla Souza",
      email: "carla.souza@example.test",
      phone_e164: "+5511912340000",
    },
    {
      user_id: "00000000-0000-4000-8000-00000000c002",
      full_name: "Diego Ramos",
      email: "diego@example.test",
      phone_e164: "+5521998887777",
    },
    {
      user_id: "00000000-0000-4000-8000-00000000c003",
      full_name: "Helena Prado",
      email: "helena.prado@example.test",
      phone_e164: "+351912345678",
    },
  ];
  const names = [
    "Carla S.",
    "Diego",
    null,
    "Marta Lima",
    "João Pereira",
    "Helena",
    null,
    "Rafael Costa",
    "Lucía Gómez",
    "Tom Becker",
    "Priya N.",
    null,
    "Olu Adeyemi",
    "Sofia Rossi",
    "Kenji Sato",
  ];
  const contacts: Contact[] = [];
  for (let i = 0; i < 32; i++) {
    const store = i % 5 === 3 ? GLOBEX : i % 7 === 6 ? INITECH : ACME;
    const name = names[i % names.length];
    // A few numbers share their last eight digits with a profile: the "similar number" suggestion.
    const phone = i === 0
      ? "+5511912340000".replace("+5511", "+5519")
      : i === 4
      ? "+5521998887777".replace("+5521", "+5531")
      : `+55${11 + (i % 9)}9${String(Math.floor(rnd() * 1e8)).padStart(8, "0")}`;
    const firstSeenAgo = Math.floor(rnd() * 45 * DAY) + DAY / 4;
    const lastAgo = Math.floor(firstSeenAgo * rnd());
    const messages = 1 + Math.floor(rnd() * 14);
    contacts.push({
      store_id: store,
      phone_e164: phone,
      status: "unmapped",
      user_id: null,
      contact_name: name,
      contact_email: i === 5 ? "helena.prado@example.test" : null,
      messages,
      media: rnd() < 0.45 ? 1 + Math.floor(rnd() * 3) : 0,
      first_seen_at: iso(firstSeenAgo),
      last_message_at: iso(lastAgo),
    });
  }
  const archive: ArchivedMessage[] = [];
  let messageId = 5000;
  let attachmentId = 900;
  const lines = {
    incoming: [
      "Hi! Is my order #4821 on its way?",
      "Can I change the delivery address to my office?",
      "Thanks, that worked.",
      "Sent you a photo of the damaged box.",
      "Voice note: hello, calling about the return label",
      "Do you have the blue one in size M?",
    ],
    outgoing: [
      "Hello! Yes, it left our warehouse this morning.",
      "Of course — what is the new address?",
      "Sorry about that! We'll send a replacement today.",
      "Here is your return label.",
    ],
  };
  for (const [p, count] of [[0, 14], [1, 5], [2, 9], [3, 3]] as const) {
    const profile = profiles[p];
    const store = p === 2 ? GLOBEX : ACME;
    for (let k = 0; k < count; k++) {
      const type = k % 3 === 1 ? "outgoing" : "incoming";
      const pool = lines[type];
      const hasMedia = type === "incoming" && k % 4 === 3;
      archive.push({
        account_ref: ACCOUNT_REF[store],
        message_id: ++messageId,
        store_id: store,
        user_id: profile.user_id,
        conversation_display_id: 100 + p * 10 + Math.floor(k / 6),
        message_type: type,
        content: pool[k % pool.length],
        created_at: iso((count - k) * 3 * 3600_000 + p * DAY),
        media: hasMedia
          ? [{
            account_ref: ACCOUNT_REF[store],
            attachment_id: ++attachmentId,
            content_type: k % 8 === 3 ? "image/jpeg" : "audio/ogg",
            size: 20_000 + Math.floor(rnd() * 400_000),
          }]
          : [],
      });
    }
  }
  const job = (
    id: number,
    kind: string,
    status: MockJob["status"],
    store_id: string | null,
    agoMs: number,
    extra: Partial<MockJob> = {},
  ): MockJob => ({
    id: String(id),
    kind,
    status,
    attempts: status === "queued" ? 0 : 1,
    max_attempts: 8,
    last_error: null,
    run_at: iso(agoMs),
    created_at: iso(agoMs + 60_000),
    completed_at: status === "completed" ? iso(agoMs - 2_000) : null,
    dead_at: status === "dead" ? iso(agoMs) : null,
    store_id,
    replays: 0,
    ...extra,
  });
  const jobs: MockJob[] = [
    job(1001, "chatwoot.provision", "dead", GLOBEX, 2 * 3600_000, {
      attempts: 8,
      last_error:
        "Chatwoot answered 401 Unauthorized to POST /platform/api/v1/accounts: Invalid Access Token. Check CHATWOOT_PLATFORM_TOKEN.",
    }),
    job(998, "archive.message", "dead", ACME, 26 * 3600_000, {
      attempts: 8,
      last_error:
        "GCS upload failed: 503 Service Unavailable (bucket sb-arch-7f3a2c)\n    at uploadObject (archive/storage.ts:88)\n    at archiveWhatsAppMessage (archive/archiver.ts:141)",
    }),
    job(990, "chatwoot.reconcile", "dead", INITECH, 3 * DAY, {
      attempts: 1,
      last_error: "Chatwoot revoked the API token (401). Re-link the account with `switchboard accounts link`.",
    }),
    job(1003, "archive.message", "queued", ACME, -30_000),
    job(1004, "chatwoot.reconcile", "queued", GLOBEX, -120_000),
    job(1002, "archive.map_contact", "running", ACME, 5_000, { attempts: 1 }),
    ...Array.from(
      { length: 8 },
      (_, i) =>
        job(
          980 + i,
          i % 2 ? "archive.message" : "chatwoot.reconcile",
          "completed",
          i % 3 ? ACME : GLOBEX,
          (i + 1) * 3600_000,
        ),
    ),
  ];
  return {
    users,
    memberships: [
      { store_id: ACME, user_id: users[1].id, role: "owner" },
      { store_id: ACME, user_id: profiles[1].user_id, role: "agent" },
      { store_id: GLOBEX, user_id: profiles[2].user_id, role: "owner" },
    ],
    stores,
    profiles,
    contacts,
    jobs,
    archive,
    nextJobId: 1005,
  };
}

// ─── helpers ──────────────────────────────────────────────────────────────────────────────

class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

function cors(req: Request): Record<string, string> {
  return {
    "access-control-allow-origin": req.headers.get("origin") ?? "*",
    "access-control-allow-headers": req.headers.get("access-control-request-headers") ??
      "authorization, x-client-info, apikey, content-type, x-supabase-api-version",
    "access-control-allow-methods": "GET, POST, PUT, DELETE, OPTIONS",
    "access-control-max-age": "600",
    vary: "origin",
  };
}

function json(req: Request, body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: {
      "content-type": "application/json; charset=utf-8",
      ...cors(req),
    },
  });
}

function b64url(s: string): string {
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function readJson(req: Request): Promise<Record<string, unknown>> {
  const text = await req.text();
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(
      400,
      "malformed_json",
      "The request body is not valid JSON.",
    );
  }
}

// ─── the server ───────────────────────────────────────────────────────────────────────────

export interface MockStack {
  supabaseUrl: string;
  anonKey: string;
  appUrl: string | null;
  state: MockState;
  close(): Promise<void>;
}

export interface MockOptions {
  port?: number;
  hostname?: string;
  appPort?: number;
  appDir?: string;
  /** Seconds an access token lives; supabase-js refreshes before it ends. */
  accessTokenTtl?: number;
  log?: boolean;
}

export async function startMockStack(
  opts: MockOptions = {},
): Promise<MockStack> {
  const hostname = opts.hostname ?? "127.0.0.1";
  const state = seed();
  const ttl = opts.accessTokenTtl ?? 3600;
  const accessTokens = new Map<string, { userId: string; exp: number }>();
  const refreshTokens = new Map<string, string>();
  let apiBase = "";

  function userJson(u: AuthUser) {
    return {
      id: u.id,
      aud: "authenticated",
      role: "authenticated",
      email: u.email,
      email_confirmed_at: "2026-01-01T00:00:00Z",
      phone: "",
      app_metadata: {
        provider: "email",
        providers: ["email"],
        ...(u.platformAdmin ? { platform_admin: true } : {}),
      },
      user_metadata: { full_name: u.fullName },
      identities: [],
      created_at: "2026-01-01T00:00:00Z",
      updated_at: "2026-01-01T00:00:00Z",
    };
  }

  function issueSession(u: AuthUser) {
    const exp = Math.floor(Date.now() / 1000) + ttl;
    const access = [
      b64url(JSON.stringify({ alg: "HS256", typ: "JWT" })),
      b64url(
        JSON.stringify({
          sub: u.id,
          email: u.email,
          role: "authenticated",
          aud: "authenticated",
          exp,
        }),
      ),
      b64url(crypto.randomUUID()),
    ].join(".");
    const refresh = crypto.randomUUID().replace(/-/g, "");
    accessTokens.set(access, { userId: u.id, exp });
    refreshTokens.set(refresh, u.id);
    return {
      access_token: access,
      token_type: "bearer",
      expires_in: ttl,
      expires_at: exp,
      refresh_token: refresh,
      user: userJson(u),
    };
  }

  function caller(req: Request): AuthUser | null {
    const m = (req.headers.get("authorization") ?? "").match(
      /^Bearer\s+(\S+)$/i,
    );
    if (!m) return null;
    const t = accessTokens.get(m[1]);
    if (!t || t.exp * 1000 < Date.now()) return null;
    return state.users.find((u) => u.id === t.userId) ?? null;
  }

  async function auth(req: Request, url: URL): Promise<Response> {
    const path = url.pathname.replace(/^\/auth\/v1/, "");
    const authError = (status: number, error_code: string, msg: string) =>
      json(req, { code: status, error_code, msg }, status);
    if (path === "/token" && req.method === "POST") {
      const body = await readJson(req);
      const grant = url.searchParams.get("grant_type");
      if (grant === "password") {
        const u = state.users.find((x) => x.email.toLowerCase() === String(body.email ?? "").toLowerCase());
        if (!u || u.password !== body.password) {
          return authError(
            400,
            "invalid_credentials",
            "Invalid login credentials",
          );
        }
        return json(req, issueSession(u));
      }
      if (grant === "refresh_token") {
        const userId = refreshTokens.get(String(body.refresh_token ?? ""));
        const u = userId ? state.users.find((x) => x.id === userId) : undefined;
        if (!u) {
          return authError(
            400,
            "refresh_token_not_found",
            "Invalid Refresh Token: Refresh Token Not Found",
          );
        }
        refreshTokens.delete(String(body.refresh_token));
        return json(req, issueSession(u));
      }
      return authError(400, "unsupported_grant_type", "unsupported grant_type");
    }
    if (path === "/user" && req.method === "GET") {
      const u = caller(req);
      return u ? json(req, userJson(u)) : authError(
        401,
        "bad_jwt",
        "invalid JWT: unable to parse or verify signature",
      );
    }
    if (path === "/logout" && req.method === "POST") {
      const m = (req.headers.get("authorization") ?? "").match(
        /^Bearer\s+(\S+)$/i,
      );
      if (m) accessTokens.delete(m[1]);
      return new Response(null, { status: 204, headers: cors(req) });
    }
    return authError(404, "not_found", `No auth route ${req.method} ${path}`);
  }

  // ─── admin-api ──────────────────────────────────────────────────────────────────────────

  function visibleStoreIds(u: AuthUser): Set<string> {
    if (u.platformAdmin) return new Set(state.stores.map((s) => s.id));
    return new Set(
      state.memberships.filter((m) => m.user_id === u.id).map((m) => m.store_id),
    );
  }

  function canAdminister(u: AuthUser, storeId: string | null): boolean {
    if (u.platformAdmin) return true;
    return state.memberships.some((m) =>
      m.user_id === u.id && m.store_id === storeId &&
      (m.role === "owner" || m.role === "admin")
    );
  }

  function storeById(id: string) {
    return state.stores.find((s) => s.id === id);
  }

  /** Advances jobs the mock is "running": 0.6 s queued, 0.9 s running, then completed. */
  function tick() {
    const now = Date.now();
    for (const s of state.stores) {
      if (s.provisioningUntil && s.provisioningUntil < now && s.chatwoot) {
        s.chatwoot = {
          ...s.chatwoot,
          state: "active",
          failure_reason: null,
          account_id: s.chatwoot.account_id ?? 15,
        };
        s.websiteToken ??= "Zx8Cv6Bn4Mm2Lk0J";
        s.provisioningUntil = undefined;
      }
    }
    for (const j of state.jobs) {
      const life = j.lifecycle;
      if (!life || life.completed) continue;
      const age = now - life.startedAt;
      if (age >= 1500) {
        j.status = "completed";
        j.attempts = Math.max(1, j.attempts);
        j.completed_at = new Date(life.startedAt + 1500).toISOString();
        life.completed = true;
        life.onComplete?.();
      } else if (age >= 600) {
        j.status = "running";
        j.attempts = Math.max(1, j.attempts);
      }
    }
  }

  function enqueue(
    kind: string,
    storeId: string | null,
    onComplete?: () => void,
  ): MockJob {
    const now = new Date().toISOString();
    const j: MockJob = {
      id: String(state.nextJobId++),
      kind,
      status: "queued",
      attempts: 0,
      max_attempts: 8,
      last_error: null,
      run_at: now,
      created_at: now,
      completed_at: null,
      dead_at: null,
      store_id: storeId,
      replays: 0,
      lifecycle: { startedAt: Date.now(), onComplete },
    };
    state.jobs.push(j);
    return j;
  }

  function jobJson(j: MockJob) {
    const { lifecycle: _l, replays: _r, store_id, ...rest } = j;
    return {
      ...rest,
      store_id,
      store_slug: store_id ? storeById(store_id)?.slug ?? null : null,
    };
  }

  function contactJson(c: Contact) {
    return {
      store_id: c.store_id,
      store_slug: storeById(c.store_id)?.slug ?? "?",
      phone_e164: c.phone_e164,
      contact_name: c.contact_name,
      contact_email: c.contact_email,
      messages: c.messages,
      media: c.media,
      first_seen_at: c.first_seen_at,
      last_message_at: c.last_message_at,
    };
  }

  function sortKey(c: Contact): number {
    return new Date(c.last_message_at ?? c.first_seen_at).getTime() / 1000;
  }

  function compareContacts(a: Contact, b: Contact): number {
    return sortKey(b) - sortKey(a) || b.store_id.localeCompare(a.store_id) ||
      b.phone_e164.localeCompare(a.phone_e164);
  }

  function findContact(u: AuthUser, storeId: string, phone: string): Contact {
    const c = state.contacts.find((x) => x.store_id === storeId && x.phone_e164 === phone);
    if (!c || !visibleStoreIds(u).has(storeId)) {
      throw new HttpError(
        404,
        "not_found",
        "No such contact (or it is not in your stores).",
      );
    }
    return c;
  }

  function mapContact(
    u: AuthUser,
    storeId: string,
    phone: string,
    userId: string,
  ): MockJob {
    if (!canAdminister(u, storeId)) {
      throw new HttpError(
        403,
        "forbidden",
        "not allowed to map contacts of this store",
      );
    }
    const c = findContact(u, storeId, phone);
    if (
      !state.profiles.some((p) => p.user_id === userId) &&
      !state.users.some((x) => x.id === userId)
    ) {
      throw new HttpError(404, "not_found", `no user ${userId}`);
    }
    c.status = "mapped";
    c.user_id = userId;
    return enqueue("archive.map_contact", storeId);
  }

  function ignoreContact(u: AuthUser, storeId: string, phone: string) {
    if (!canAdminister(u, storeId)) {
      throw new HttpError(
        403,
        "forbidden",
        "not allowed to review contacts of this store",
      );
    }
    const c = state.contacts.find((x) => x.store_id === storeId && x.phone_e164 === phone && x.status !== "mapped");
    if (!c || !visibleStoreIds(u).has(storeId)) {
      throw new HttpError(
        404,
        "not_found",
        `no unmapped contact ${phone} in this store`,
      );
    }
    c.status = "ignored";
  }

  function suggestions(u: AuthUser, c: Contact) {
    if (!u.platformAdmin) return [];
    const first = (s: string | null) => (s ?? "").toLowerCase().split(/[\s.]+/)[0];
    return state.profiles
      .map((p) => {
        if (p.phone_e164.slice(-8) === c.phone_e164.slice(-8)) {
          return { p, reason: "similar number", score: 1 };
        }
        if (
          c.contact_email &&
          p.email.toLowerCase() === c.contact_email.toLowerCase()
        ) {
          return { p, reason: "same e-mail", score: 0.9 };
        }
        if (
          first(c.contact_name) && first(p.full_name) === first(c.contact_name)
        ) {
          return { p, reason: "similar name", score: 0.56 };
        }
        return null;
      })
      .filter((x): x is NonNullable<typeof x> => x !== null)
      .sort((a, b) => b.score - a.score)
      .slice(0, 5)
      .map(({ p, reason, score }) => ({ ...p, reason, score }));
  }

  function contactMessages(c: Contact) {
    const rnd = prng(
      [...c.phone_e164].reduce((a, ch) => a * 31 + ch.charCodeAt(0), 7),
    );
    const texts = [
      "Hello, I bought a jacket last week",
      "Order number is 58213",
      "Is it possible to exchange it for a larger size?",
      "(voice note)",
      "Thank you!",
      "Photo of the receipt",
    ];
    const n = Math.min(c.messages, 6);
    const last = new Date(c.last_message_at ?? c.first_seen_at).getTime();
    return Array.from({ length: n }, (_, i) => ({
      message_id: 70_000 + i + Math.floor(rnd() * 1000) * 10,
      content: texts[i % texts.length],
      message_type: i % 3 === 2 ? "outgoing" : "incoming",
      created_at: new Date(last - i * 47 * 60_000).toISOString(),
      media: i === 3 || i === 5 ? (c.media > 0 ? 1 : 0) : 0,
    }));
  }

  async function adminApi(
    req: Request,
    url: URL,
    u: AuthUser,
  ): Promise<unknown> {
    tick();
    const path = url.pathname.replace(/^\/functions\/v1\/admin-api/, "") || "/";
    const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
    const get = req.method === "GET";
    const post = req.method === "POST";
    const visible = visibleStoreIds(u);

    if (get && path === "/me") {
      return {
        user: { id: u.id, email: u.email },
        platform_admin: u.platformAdmin,
        stores: state.stores
          .map((s) => ({
            id: s.id,
            slug: s.slug,
            name: s.name,
            role: state.memberships.find((m) => m.store_id === s.id && m.user_id === u.id)?.role ?? null,
          }))
          .filter((s) => u.platformAdmin || s.role !== null),
      };
    }
    if (get && path === "/stores") {
      return {
        stores: state.stores.filter((s) => visible.has(s.id)).map((s) => ({
          id: s.id,
          slug: s.slug,
          name: s.name,
          status: s.status,
          chatwoot: s.chatwoot,
        })),
      };
    }
    if (parts[0] === "stores" && parts.length >= 3) {
      const s = state.stores.find((x) => x.slug === parts[1] && visible.has(x.id));
      if (!s) {
        throw new HttpError(
          404,
          "not_found",
          `No store "${parts[1]}" (or you cannot see it).`,
        );
      }
      if (get && parts[2] === "widget") {
        if (!s.websiteToken) {
          throw new HttpError(
            404,
            "no_widget",
            "This store has no website widget yet.",
          );
        }
        const base = s.chatwoot?.chatwoot_url ?? "http://127.0.0.1:3000";
        return {
          snippet: `<script>
  (function (d, t) {
    var BASE_URL = "${base}";
    var g = d.createElement(t), s = d.getElementsByTagName(t)[0];
    g.src = BASE_URL + "/packs/js/sdk.js";
    g.defer = true;
    g.async = true;
    s.parentNode.insertBefore(g, s);
    g.onload = function () {
      window.chatwootSDK.run({ websiteToken: "${s.websiteToken}", baseUrl: BASE_URL });
    };
  })(document, "script");
</script>`,
        };
      }
      if (post && ["reprovision", "suspend", "reactivate"].includes(parts[2])) {
        if (!canAdminister(u, s.id)) {
          throw new HttpError(
            403,
            "forbidden",
            "Only the store's owners and admins can change its status.",
          );
        }
        if (parts[2] === "reprovision") {
          s.chatwoot = {
            ...(s.chatwoot ??
              { account_id: null, chatwoot_url: "http://127.0.0.1:3000" }),
            state: "provisioning",
            failure_reason: null,
          };
          s.provisioningUntil = Date.now() + 2000;
          return {
            status: "queued",
            job_id: enqueue("chatwoot.provision", s.id).id,
          };
        }
        s.status = parts[2] === "suspend" ? "suspended" : "active";
        if (s.chatwoot) s.chatwoot = { ...s.chatwoot, state: s.status };
        return { status: s.status };
      }
    }
    if (get && path === "/unmapped") {
      const p = url.searchParams;
      const limit = Math.min(
        200,
        Math.max(1, Number(p.get("limit") ?? 50) || 50),
      );
      const q = (p.get("q") ?? "").trim().toLowerCase();
      const storeId = p.get("store_id");
      const hasMedia = p.get("has_media");
      const minAge = p.get("min_age_days");
      const after = p.get("after");
      let rows = state.contacts.filter((c) => c.status === "unmapped" && visible.has(c.store_id));
      if (storeId) rows = rows.filter((c) => c.store_id === storeId);
      if (q) {
        rows = rows.filter((c) =>
          c.phone_e164.includes(q) ||
          (c.contact_name ?? "").toLowerCase().includes(q)
        );
      }
      if (hasMedia) {
        rows = rows.filter((c) => (c.media > 0) === (hasMedia === "true"));
      }
      if (minAge) {
        rows = rows.filter((c) =>
          new Date(c.first_seen_at).getTime() <=
            Date.now() - Number(minAge) * DAY
        );
      }
      rows.sort(compareContacts);
      if (after) {
        const [ts, sid, ph] = after.split("|");
        const pivot = {
          last_message_at: new Date(Number(ts) * 1000).toISOString(),
          store_id: sid,
          phone_e164: ph,
        } as Contact;
        rows = rows.filter((c) => compareContacts(pivot, c) < 0);
      }
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        contacts: page.map(contactJson),
        next: page.length === limit && last ? `${sortKey(last)}|${last.store_id}|${last.phone_e164}` : null,
      };
    }
    if (post && path === "/unmapped/bulk") {
      const b = await readJson(req);
      const items = Array.isArray(b.items)
        ? b.items as {
          store_id: string;
          phone_e164: string;
          user_id?: string;
        }[]
        : [];
      if (!["ignore", "map"].includes(String(b.action)) || items.length === 0) {
        throw new HttpError(400, "invalid_input", "Invalid bulk request.");
      }
      return {
        results: items.map((it) => {
          try {
            if (b.action === "ignore") {
              ignoreContact(u, it.store_id, it.phone_e164);
            } else {
              if (!it.user_id) {
                throw new HttpError(
                  400,
                  "invalid_input",
                  "map needs a user_id for every item",
                );
              }
              mapContact(u, it.store_id, it.phone_e164, it.user_id);
            }
            return { phone_e164: it.phone_e164, ok: true };
          } catch (err) {
            return {
              phone_e164: it.phone_e164,
              ok: false,
              error: (err as Error).message,
            };
          }
        }),
      };
    }
    if (parts[0] === "unmapped" && parts.length >= 3) {
      const [, storeId, phone, action] = parts;
      if (get && parts.length === 3) {
        const c = findContact(u, storeId, phone);
        return {
          contact: { ...contactJson(c), status: c.status },
          messages: contactMessages(c),
          suggestions: suggestions(u, c),
        };
      }
      if (post && action === "map") {
        const b = await readJson(req);
        if (typeof b.user_id !== "string") {
          throw new HttpError(400, "invalid_input", "Invalid body.");
        }
        return {
          status: "mapping",
          job_id: mapContact(u, storeId, phone, b.user_id).id,
        };
      }
      if (post && action === "ignore") {
        ignoreContact(u, storeId, phone);
        return { status: "ignored" };
      }
    }
    if (get && path === "/jobs") {
      const p = url.searchParams;
      const limit = Math.min(
        200,
        Math.max(1, Number(p.get("limit") ?? 50) || 50),
      );
      const after = p.get("after");
      const rows = state.jobs
        .filter((j) =>
          u.platformAdmin ||
          (j.store_id !== null && canAdminister(u, j.store_id))
        )
        .filter((j) => !p.get("status") || j.status === p.get("status"))
        .filter((j) => !after || Number(j.id) < Number(after))
        .sort((a, b) => Number(b.id) - Number(a.id))
        .slice(0, limit);
      return {
        jobs: rows.map(jobJson),
        next: rows.length === limit ? rows.at(-1)!.id : null,
      };
    }
    if (parts[0] === "jobs" && parts.length >= 2) {
      const j = state.jobs.find((x) => x.id === parts[1]);
      if (
        !j ||
        !(u.platformAdmin ||
          (j.store_id !== null && canAdminister(u, j.store_id)))
      ) {
        throw new HttpError(
          404,
          "not_found",
          "No such job (or it is not in your stores).",
        );
      }
      if (get && parts.length === 2) return { job: jobJson(j) };
      if (post && parts[2] === "replay") {
        if (j.status !== "dead" && j.status !== "completed") {
          throw new HttpError(
            409,
            "not_replayable",
            "Only dead or completed jobs can be replayed.",
          );
        }
        j.status = "queued";
        j.attempts = 0;
        j.run_at = new Date().toISOString();
        j.dead_at = null;
        j.completed_at = null;
        j.replays++;
        return { status: "queued" };
      }
    }
    if (get && path === "/archive/users") {
      const q = (url.searchParams.get("q") ?? "").trim().toLowerCase();
      const mine = state.archive.filter((m) => visible.has(m.store_id));
      return {
        users: state.profiles
          .filter((p) => mine.some((m) => m.user_id === p.user_id))
          .filter((p) =>
            !q || p.full_name.toLowerCase().includes(q) ||
            p.email.toLowerCase().includes(q) || p.phone_e164.includes(q)
          )
          .map((p) => {
            const msgs = mine.filter((m) => m.user_id === p.user_id);
            return {
              ...p,
              messages: msgs.length,
              media: msgs.reduce((n, m) => n + m.media.length, 0),
              bucket: `sb-arch-${p.user_id.slice(-6)}`,
            };
          }),
      };
    }
    if (
      get && parts[0] === "archive" && parts[1] === "users" &&
      parts[3] === "timeline"
    ) {
      const limit = Math.min(
        200,
        Math.max(1, Number(url.searchParams.get("limit") ?? 50) || 50),
      );
      const after = url.searchParams.get("after");
      const rows = state.archive
        .filter((m) => m.user_id === parts[2] && visible.has(m.store_id))
        .sort((a, b) =>
          b.created_at.localeCompare(a.created_at) ||
          b.message_id - a.message_id
        )
        .filter((m) => !after || `${m.created_at}|${m.message_id}` < after);
      const page = rows.slice(0, limit);
      return {
        messages: page.map((m) => ({
          account_ref: m.account_ref,
          message_id: m.message_id,
          store_slug: storeById(m.store_id)?.slug,
          conversation_display_id: m.conversation_display_id,
          message_type: m.message_type,
          content: m.content,
          created_at: m.created_at,
          media: m.media,
        })),
        next: rows.length > limit ? `${page.at(-1)!.created_at}|${page.at(-1)!.message_id}` : null,
      };
    }
    if (
      get && parts[0] === "archive" && parts[1] === "media" &&
      parts[4] === "url"
    ) {
      const m = state.archive.find((x) =>
        visible.has(x.store_id) &&
        x.media.some((a) => a.account_ref === parts[2] && String(a.attachment_id) === parts[3])
      );
      if (!m) {
        throw new HttpError(
          404,
          "not_found",
          "No such medium (or it is not in your stores).",
        );
      }
      const expires = new Date(Date.now() + 300_000).toISOString();
      return {
        url: `${apiBase}/_mock/media/${parts[2]}/${parts[3]}?expires=${encodeURIComponent(expires)}&signature=mock`,
        expires_at: expires,
      };
    }
    if (
      post && parts[0] === "archive" && parts[1] === "users" &&
      parts[3] === "erase"
    ) {
      if (!u.platformAdmin) {
        throw new HttpError(
          403,
          "forbidden",
          "only platform administrators erase archives",
        );
      }
      const userId = parts[2];
      const job = enqueue("archive.erase_user", null, () => {
        state.archive = state.archive.filter((m) => m.user_id !== userId);
      });
      return { status: "erasing", job_id: job.id };
    }
    throw new HttpError(404, "not_found", `No route ${req.method} ${path}.`);
  }

  // ─── test arrangement (the e2e tests' MockArranger) ─────────────────────────────────────

  async function control(req: Request, url: URL): Promise<Response> {
    const parts = url.pathname.split("/").filter(Boolean).slice(1).map(
      decodeURIComponent,
    );
    if (req.method === "GET" && parts[0] === "media") {
      const body =
        `<svg xmlns="http://www.w3.org/2000/svg" width="320" height="200"><rect width="320" height="200" fill="#e8f0fc"/><text x="20" y="105" font-family="sans-serif" font-size="18">Archived medium ${
          parts[2]
        }</text></svg>`;
      return new Response(body, {
        headers: { "content-type": "image/svg+xml", ...cors(req) },
      });
    }
    if (req.method === "GET" && parts[0] === "context") {
      return json(req, {
        stores: state.stores.map((s) => ({ id: s.id, slug: s.slug })),
        memberships: state.memberships.map((m) => ({
          ...m,
          email: state.users.find((x) => x.id === m.user_id)?.email ?? null,
        })),
        profiles: state.profiles,
      });
    }
    if (req.method === "POST" && parts[0] === "contacts") {
      const b = await readJson(req);
      const now = Date.now();
      const c: Contact = {
        store_id: String(b.store_id),
        phone_e164: String(b.phone_e164),
        status: "unmapped",
        user_id: null,
        contact_name: (b.contact_name as string) ?? null,
        contact_email: (b.contact_email as string) ?? null,
        messages: Number(b.messages ?? 2),
        media: Number(b.media ?? 0),
        first_seen_at: new Date(now - Number(b.age_days ?? 2) * DAY)
          .toISOString(),
        last_message_at: new Date(now - 60_000).toISOString(),
      };
      state.contacts = state.contacts.filter((x) => !(x.store_id === c.store_id && x.phone_e164 === c.phone_e164));
      state.contacts.push(c);
      return json(req, c, 201);
    }
    if (req.method === "GET" && parts[0] === "contacts" && parts.length === 3) {
      const c = state.contacts.find((x) => x.store_id === parts[1] && x.phone_e164 === parts[2]);
      return c ? json(req, c) : json(req, {
        error: { code: "not_found", message: "no such contact" },
      }, 404);
    }
    if (req.method === "POST" && parts[0] === "jobs") {
      const b = await readJson(req);
      const j: MockJob = {
        id: String(state.nextJobId++),
        kind: String(b.kind ?? "e2e.replay_probe"),
        status: "dead",
        attempts: 1,
        max_attempts: 1,
        last_error: String(b.last_error ?? "e2e: arranged failure"),
        run_at: new Date().toISOString(),
        created_at: new Date().toISOString(),
        completed_at: null,
        dead_at: new Date().toISOString(),
        store_id: (b.store_id as string) ?? null,
        replays: 0,
      };
      state.jobs.push(j);
      return json(req, { id: j.id }, 201);
    }
    if (req.method === "GET" && parts[0] === "jobs" && parts.length === 2) {
      const j = state.jobs.find((x) => x.id === parts[1]);
      return j ? json(req, { ...jobJson(j), replays: j.replays }) : json(
        req,
        { error: { code: "not_found", message: "no such job" } },
        404,
      );
    }
    return json(req, {
      error: {
        code: "not_found",
        message: `No mock control route ${url.pathname}`,
      },
    }, 404);
  }

  const api = Deno.serve(
    { port: opts.port ?? 0, hostname, onListen: () => {} },
    async (req) => {
      const url = new URL(req.url);
      if (req.method === "OPTIONS") {
        return new Response(null, {
          status: 204,
          headers: cors(req),
        });
      }
      try {
        if (url.pathname.startsWith("/auth/v1/")) return await auth(req, url);
        if (url.pathname.startsWith("/_mock/")) return await control(req, url);
        if (
          url.pathname === "/functions/v1/admin-api" ||
          url.pathname.startsWith("/functions/v1/admin-api/")
        ) {
          const u = caller(req);
          if (!u) {
            return json(req, {
              error: {
                code: "sign_in_required",
                message: "Sign in to use the admin app.",
              },
            }, 401);
          }
          const result = await adminApi(req, url, u);
          const accepted = req.method === "POST" &&
            (/\/map$/.test(url.pathname) || /\/erase$/.test(url.pathname) ||
              /\/reprovision$/.test(url.pathname));
          return json(req, result, accepted ? 202 : 200);
        }
        return json(req, { message: "no route matched" }, 404);
      } catch (err) {
        if (err instanceof HttpError) {
          return json(
            req,
            { error: { code: err.code, message: err.message } },
            err.status,
          );
        }
        console.error("mock_api:", err);
        return json(req, {
          error: {
            code: "internal",
            message: "Something went wrong on our side; nothing was changed. Try again.",
          },
        }, 500);
      } finally {
        if (opts.log) console.log(`${req.method} ${url.pathname}${url.search}`);
      }
    },
  );
  apiBase = `http://${hostname}:${api.addr.port}`;

  let app: Deno.HttpServer<Deno.NetAddr> | null = null;
  if (opts.appDir) {
    const root = opts.appDir.replace(/\/+$/, "");
    const config = JSON.stringify({
      supabaseUrl: apiBase,
      supabaseAnonKey: ANON_KEY,
    });
    const types: Record<string, string> = {
      html: "text/html; charset=utf-8",
      js: "text/javascript; charset=utf-8",
      css: "text/css; charset=utf-8",
      json: "application/json",
      svg: "image/svg+xml",
      map: "application/json",
      png: "image/png",
      ico: "image/x-icon",
    };
    app = Deno.serve(
      { port: opts.appPort ?? 0, hostname, onListen: () => {} },
      async (req) => {
        const url = new URL(req.url);
        if (url.pathname === "/config.json") {
          return new Response(config, {
            headers: {
              "content-type": "application/json",
              "cache-control": "no-store",
            },
          });
        }
        const rel = url.pathname === "/" ? "/index.html" : decodeURIComponent(url.pathname);
        if (rel.includes("..")) {
          return new Response("bad path", { status: 400 });
        }
        try {
          const body = await Deno.readFile(`${root}${rel}`);
          const ext = rel.split(".").pop() ?? "";
          return new Response(body, {
            headers: {
              "content-type": types[ext] ?? "application/octet-stream",
            },
          });
        } catch {
          return new Response("not found", { status: 404 });
        }
      },
    );
  }

  return {
    supabaseUrl: apiBase,
    anonKey: ANON_KEY,
    appUrl: app ? `http://${hostname}:${app.addr.port}` : null,
    state,
    async close() {
      await api.shutdown();
      if (app) await app.shutdown();
    },
  };
}

if (import.meta.main) {
  const flag = (name: string) => {
    const i = Deno.args.indexOf(`--${name}`);
    return i >= 0 ? Deno.args[i + 1] : undefined;
  };
  const appDir = flag("app-dir") ??
    new URL("../dist", import.meta.url).pathname;
  let hasApp = true;
  try {
    await Deno.stat(`${appDir}/index.html`);
  } catch {
    hasApp = false;
  }
  const stack = await startMockStack({
    port: Number(flag("port") ?? 54399),
    appPort: Number(flag("app-port") ?? 4174),
    appDir: hasApp ? appDir : undefined,
    log: Deno.args.includes("--log"),
  });
  console.log(
    `mock admin-api + auth  ${stack.supabaseUrl}   (anon key: ${stack.anonKey})`,
  );
  console.log(
    stack.appUrl ? `admin app              ${stack.appUrl}` : `no app: build it first (npm run build in web/)`,
  );
  console.log(
    `platform admin         ${MOCK_CREDENTIALS.admin.email} / ${MOCK_CREDENTIALS.admin.password}`,
  );
  console.log(
    `store admin (acme)     ${MOCK_CREDENTIALS.storeAdmin.email} / ${MOCK_CREDENTIALS.storeAdmin.password}`,
  );
  console.log(
    `tests against it:      ADMIN_APP_URL=${stack.appUrl} SUPABASE_URL=${stack.supabaseUrl} SUPABASE_ANON_KEY=${stack.anonKey} ...`,
  );
}

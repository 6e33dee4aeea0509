// admin-api (verify_jwt = true): everything the admin app reads and does. Every request runs its
// SQL under RLS as the signed-in user (role and claims set per transaction, as PostgREST does),
// so a store administrator sees only their store whatever they call; changes go through
// security-definer functions that check the caller and write the audit log.

import type { Storage } from "@google-cloud/storage";
import { z } from "zod";
import { type Claims, verifiedClaims } from "../_shared/platform/auth.ts";
import { type Sql, type TransactionSql, withRls } from "../_shared/platform/db.ts";
import { errorResponse, json, subPath } from "../_shared/platform/http.ts";
import type { Logger } from "../_shared/platform/log.ts";
import { listReviewQueue, queueFilters } from "../_shared/archive/review.ts";
import { signedDownloadUrl } from "../_shared/archive/storage.ts";
import { widgetSnippet } from "../_shared/chatwoot/widget.ts";
import type { RateLimiter } from "../_shared/chatwoot/rate_limit.ts";
import { AgentBotError, disableStoreBot, enableStoreBot } from "../_shared/ai/agent_bot.ts";
import type { EmbeddingConfig } from "../_shared/ai/embeddings.ts";
import {
  addFaq,
  embedderForStore,
  ingestDocument,
  KnowledgeError,
  listDocuments,
  searchKnowledge,
} from "../_shared/knowledge/mod.ts";
import { returnToBot } from "../_shared/ai/reply.ts";

export interface AdminApiDeps {
  sql: Sql;
  log: Logger;
  storage: Storage;
  signedUrlTtlSeconds: number;
  /** For enabling a store's agent bot: its webhook URL base, and the shared Chatwoot limiter. */
  functionsUrl?: string;
  limiter?: RateLimiter;
  embedding?: EmbeddingConfig | null;
}

class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly details?: unknown) {
    super(message);
  }
}

const uuid = z.uuid();
const phone = z.string().regex(/^\+[1-9]\d{1,14}$/, "not an E.164 number");
const slug = z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, "not a store slug");

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    throw new ApiError(
      400,
      "invalid_input",
      `Invalid ${what}.`,
      r.error.issues.map((i) => `${i.path.join(".") || what}: ${i.message}`),
    );
  }
  return r.data;
}

async function body(req: Request): Promise<unknown> {
  const text = await req.text();
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(400, "malformed_json", "The request body is not valid JSON.");
  }
}

/** Maps the database's refusals to answers a person can act on. */
function dbError(err: unknown): never {
  const e = err as { code?: string; message?: string };
  if (e?.code === "42501") throw new ApiError(403, "forbidden", e.message ?? "Not allowed.");
  if (e?.code === "P0002") throw new ApiError(404, "not_found", e.message ?? "Not found.");
  if (e?.code === "23514" || e?.code === "22P02") {
    throw new ApiError(400, "invalid_input", e.message ?? "Invalid input.");
  }
  throw err;
}

type Route = (
  ctx: { req: Request; claims: Claims; params: string[]; url: URL; tx: TransactionSql },
) => Promise<unknown>;

async function storeBySlug(tx: TransactionSql, s: string) {
  const [store] = await tx`select id, slug from public.stores where slug = ${parse(slug, s, "store")}`;
  if (!store) throw new ApiError(404, "not_found", `No store "${s}" (or you cannot see it).`);
  return store as { id: string; slug: string };
}

/** Changes that reach Chatwoot or write as the service run only after this check, under RLS. */
async function requireStoreAdmin(tx: TransactionSql, storeId: string): Promise<void> {
  const [r] = await tx`select public.can_administer_store(${storeId}) as ok`;
  if (!r.ok) throw new ApiError(403, "forbidden", "Only the store's administrators can do this.");
}

/** The knowledge base's and the agent bot's refusals as answers a person can act on. */
function domainError(err: unknown): never {
  if (err instanceof KnowledgeError) {
    throw new ApiError(err.code === "not_found" ? 404 : err.code === "too_large" ? 413 : 400, err.code, err.message);
  }
  if (err instanceof AgentBotError) throw new ApiError(409, "agent_bot", err.message);
  throw err;
}

const aiSettingsPatch = z.object({
  mode: z.enum(["auto", "assist"]).optional(),
  handoff_message: z.string().trim().min(1).max(1000).optional(),
  handoff_team_id: z.number().int().positive().nullable().optional(),
  min_similarity: z.number().min(0).max(1).optional(),
  min_text_score: z.number().min(0).max(100).optional(),
  top_k: z.number().int().min(1).max(20).optional(),
  daily_token_budget: z.number().int().min(0).optional(),
  history_messages: z.number().int().min(0).max(50).optional(),
}).strict();

function aiRoutes(deps: AdminApiDeps): [string, RegExp, Route, number?][] {
  return [
    ["GET", /^\/stores\/([^/]+)\/ai$/, async ({ tx, params }) => {
      const store = await storeBySlug(tx, params[0]);
      const [settings] = await tx`select * from public.ai_bot_settings where store_id = ${store.id}`;
      const [usage] = await tx`select tokens, requests from public.ai_usage_daily
                               where store_id = ${store.id} and day = (now() at time zone 'utc')::date`;
      const decisions = await tx`
        select account_ref, message_id, conversation_display_id, status, action, reason, question, answer,
               cited_chunk_ids, chunks, retrieval_mode, model, prompt_tokens, completion_tokens, latency_ms, created_at
        from public.ai_decisions where store_id = ${store.id} order by created_at desc limit 50`;
      return { settings: settings ?? null, usage_today: usage ?? { tokens: 0, requests: 0 }, decisions };
    }],
    ["POST", /^\/stores\/([^/]+)\/ai\/settings$/, async ({ tx, params, req }) => {
      const store = await storeBySlug(tx, params[0]);
      const patch = parse(aiSettingsPatch, await body(req), "settings");
      if (!Object.keys(patch).length) throw new ApiError(400, "invalid_input", "Nothing to change.");
      const [row] = await tx`update public.ai_bot_settings set ${tx(patch)} where store_id = ${store.id} returning *`
        .catch(dbError);
      if (!row) {
        throw new ApiError(404, "not_enabled", "Enable AI replies for this store first (or you cannot change it).");
      }
      return { settings: row };
    }],
    ["POST", /^\/stores\/([^/]+)\/ai\/(enable|disable)$/, async ({ tx, params, req }) => {
      const store = await storeBySlug(tx, params[0]);
      await requireStoreAdmin(tx, store.id);
      if (params[1] === "disable") {
        await disableStoreBot({ sql: deps.sql, limiter: deps.limiter }, store.id).catch(domainError);
        return { enabled: false };
      }
      if (!deps.functionsUrl) throw new ApiError(503, "not_configured", "This deployment has no public functions URL.");
      const b = parse(
        z.object({
          mode: z.enum(["auto", "assist"]).optional(),
          inbox_ids: z.array(z.number().int().positive()).min(1).optional(),
        }),
        await body(req),
        "body",
      );
      const r = await enableStoreBot({ sql: deps.sql, limiter: deps.limiter }, {
        storeId: store.id,
        mode: b.mode,
        inboxIds: b.inbox_ids,
        functionsUrl: deps.functionsUrl,
      }).catch(domainError);
      return { enabled: true, agent_bot_id: r.agentBotId, inbox_ids: r.inboxIds, created: r.created };
    }],
    ["POST", /^\/conversations\/([^/]+)\/(\d+)\/return-to-bot$/, async ({ tx, params }) => {
      const ref = parse(uuid, params[0], "account ref");
      const conversationId = Number(params[1]);
      await returnToBot({ sql: deps.sql, limiter: deps.limiter! }, {
        account_ref: ref,
        conversation_display_id: conversationId,
      }, async () => {
        await tx`select public.return_conversation_to_bot(${ref}, ${conversationId})`.catch(dbError);
      });
      return { status: "returned_to_bot" };
    }],
    ["GET", /^\/stores\/([^/]+)\/kb$/, async ({ tx, params, url }) => {
      const store = await storeBySlug(tx, params[0]);
      const kind = url.searchParams.get("kind");
      const documents = await listDocuments(tx, {
        storeId: store.id,
        ...(kind === "faq" || kind === "document" ? { kind } : {}),
      }).catch(domainError);
      return { documents };
    }],
    ["GET", /^\/stores\/([^/]+)\/kb\/search$/, async ({ tx, params, url }) => {
      const store = await storeBySlug(tx, params[0]);
      const embedder = await embedderForStore(tx, deps.embedding ?? null, store.id);
      const k = Number(url.searchParams.get("k") ?? 5);
      const r = await searchKnowledge(tx, embedder, { storeId: store.id, query: url.searchParams.get("q") ?? "", k })
        .catch(domainError);
      return r;
    }],
    ["POST", /^\/stores\/([^/]+)\/kb\/documents$/, async ({ tx, params, req }) => {
      const store = await storeBySlug(tx, params[0]);
      await requireStoreAdmin(tx, store.id);
      const b = parse(
        z.object({
          source_name: z.string().trim().min(1).max(500),
          content_base64: z.string().min(1).max(28_000_000),
          mime_type: z.string().max(200).optional(),
          title: z.string().trim().min(1).max(500).optional(),
        }),
        await body(req),
        "document",
      );
      let decoded: string;
      try {
        decoded = atob(b.content_base64);
      } catch {
        throw new ApiError(400, "invalid_input", "content_base64 is not valid base64.");
      }
      const bytes = Uint8Array.from(decoded, (c) => c.charCodeAt(0));
      const r = await ingestDocument(deps.sql, {
        storeId: store.id,
        sourceName: b.source_name,
        mimeType: b.mime_type,
        title: b.title,
        bytes,
      }).catch(domainError);
      return { document_id: r.documentId, created: r.created, chunks: r.chunks };
    }, 201],
    ["POST", /^\/stores\/([^/]+)\/kb\/faqs$/, async ({ tx, params, req }) => {
      const store = await storeBySlug(tx, params[0]);
      await requireStoreAdmin(tx, store.id);
      const b = parse(
        z.object({ question: z.string().trim().min(1).max(2000), answer: z.string().trim().min(1).max(20000) }),
        await body(req),
        "FAQ entry",
      );
      const r = await addFaq(deps.sql, { storeId: store.id, question: b.question, answer: b.answer }).catch(
        domainError,
      );
      return { document_id: r.documentId, created: r.created };
    }, 201],
  ];
}

function routes(deps: AdminApiDeps): [string, RegExp, Route, number?][] {
  return [
    ...aiRoutes(deps),
    ["GET", /^\/me$/, async ({ claims, tx }) => {
      const stores = await tx`
        select s.id, s.slug, s.name, m.role::text as role from public.stores s
        left join public.store_members m on m.store_id = s.id and m.user_id = ${claims.sub ?? null}::uuid
        where ${claims.app_metadata?.platform_admin === true} or m.role is not null order by s.slug`;
      return {
        user: { id: claims.sub, email: claims.email ?? null },
        platform_admin: claims.app_metadata?.platform_admin === true,
        stores,
      };
    }],
    ["GET", /^\/stores$/, async ({ tx }) => {
      const stores = await tx`
        select s.id, s.slug, s.name, s.status,
               case when p.store_id is null then null else jsonb_build_object('state', p.state, 'failure_reason', p.failure_reason,
                 'account_id', p.account_id, 'chatwoot_url', p.chatwoot_url) end as chatwoot
        from public.stores s left join public.chatwoot_provisioning p on p.store_id = s.id order by s.slug`;
      return { stores };
    }],
    ["POST", /^\/stores\/([^/]+)\/reprovision$/, async ({ tx, params }) => {
      const store = await storeBySlug(tx, params[0]);
      const [r] = await tx`select public.request_store_reprovision(${store.id})::text as job_id`.catch(dbError);
      return { status: "queued", job_id: r.job_id };
    }, 202],
    ["POST", /^\/stores\/([^/]+)\/(suspend|reactivate)$/, async ({ tx, params }) => {
      const store = await storeBySlug(tx, params[0]);
      const status = params[1] === "suspend" ? "suspended" : "active";
      await tx`select public.set_store_status(${store.id}, ${status})`.catch(dbError);
      return { status };
    }],
    ["GET", /^\/stores\/([^/]+)\/widget$/, async ({ tx, params }) => {
      const store = await storeBySlug(tx, params[0]);
      const [p] =
        await tx`select chatwoot_url, website_token from public.chatwoot_provisioning where store_id = ${store.id}`;
      if (!p?.website_token) throw new ApiError(404, "no_widget", "This store has no website widget yet.");
      return { snippet: widgetSnippet(p.chatwoot_url, p.website_token) };
    }],
    [
      "GET",
      /^\/unmapped$/,
      ({ tx, url }) => listReviewQueue(tx, parse(queueFilters, Object.fromEntries(url.searchParams), "filters")),
    ],
    ["POST", /^\/unmapped\/bulk$/, async ({ tx, req }) => {
      const b = parse(
        z.object({
          action: z.enum(["ignore", "map"]),
          items: z.array(z.object({ store_id: uuid, phone_e164: phone, user_id: uuid.optional() })).min(1).max(200),
        }),
        await body(req),
        "bulk request",
      );
      const results = [];
      for (const item of b.items) {
        try {
          await tx.savepoint(async (sp) => {
            if (b.action === "ignore") {
              await sp`select public.ignore_archive_contact(${item.store_id}, ${item.phone_e164})`;
            } else {
              if (!item.user_id) throw new ApiError(400, "invalid_input", "map needs a user_id for every item");
              await sp`select public.map_archive_contact(${item.store_id}, ${item.phone_e164}, ${item.user_id})`;
            }
          });
          results.push({ phone_e164: item.phone_e164, ok: true });
        } catch (err) {
          results.push({ phone_e164: item.phone_e164, ok: false, error: (err as Error).message });
        }
      }
      return { results };
    }],
    ["GET", /^\/unmapped\/([^/]+)\/([^/]+)$/, async ({ tx, params }) => {
      const storeId = parse(uuid, params[0], "store id");
      const number = parse(phone, decodeURIComponent(params[1]), "phone");
      const [contact] =
        await tx`select * from public.archive_contacts where store_id = ${storeId} and phone_e164 = ${number}`;
      if (!contact) throw new ApiError(404, "not_found", "No such contact (or it is not in your stores).");
      const messages = await tx`
        select m.message_id, cm.content, cm.message_type, cm.created_at,
               (select count(*)::int from public.archived_media x where x.account_ref = m.account_ref and x.message_id = m.message_id) as media
        from public.archived_messages m
        left join public.chatwoot_messages cm on cm.account_ref = m.account_ref and cm.message_id = m.message_id
        where m.store_id = ${storeId} and m.phone_e164 = ${number} order by cm.created_at desc nulls last limit 100`;
      const suggestions = await tx`select * from public.archive_contact_suggestions(${storeId}, ${number})`;
      return { contact, messages, suggestions };
    }],
    ["POST", /^\/unmapped\/([^/]+)\/([^/]+)\/map$/, async ({ tx, params, req }) => {
      const storeId = parse(uuid, params[0], "store id");
      const number = parse(phone, decodeURIComponent(params[1]), "phone");
      const { user_id } = parse(z.object({ user_id: uuid }), await body(req), "body");
      const [r] = await tx`select public.map_archive_contact(${storeId}, ${number}, ${user_id})::text as job_id`.catch(
        dbError,
      );
      return { status: "mapping", job_id: r.job_id };
    }, 202],
    ["POST", /^\/unmapped\/([^/]+)\/([^/]+)\/ignore$/, async ({ tx, params }) => {
      const storeId = parse(uuid, params[0], "store id");
      const number = parse(phone, decodeURIComponent(params[1]), "phone");
      await tx`select public.ignore_archive_contact(${storeId}, ${number})`.catch(dbError);
      return { status: "ignored" };
    }],
    ["GET", /^\/jobs$/, async ({ tx, url }) => {
      const q = parse(
        z.object({
          status: z.enum(["queued", "running", "completed", "dead"]).optional(),
          limit: z.coerce.number().int().min(1).max(200).default(50),
          after: z.coerce.number().int().positive().optional(),
        }),
        Object.fromEntries(url.searchParams),
        "filters",
      );
      const jobs = await tx`select * from public.visible_jobs(${q.status ?? null}, ${q.limit}, ${q.after ?? null})`;
      return { jobs, next: jobs.length === q.limit ? String(jobs.at(-1)!.id) : null };
    }],
    ["GET", /^\/jobs\/(\d+)$/, async ({ tx, params }) => {
      const [job] = await tx`select * from public.visible_jobs(null, 1, ${Number(params[0]) + 1}) where id = ${
        params[0]
      }`;
      if (!job) throw new ApiError(404, "not_found", "No such job (or it is not in your stores).");
      return { job };
    }],
    ["POST", /^\/jobs\/(\d+)\/replay$/, async ({ tx, params }) => {
      const [r] = await tx`select public.replay_visible_job(${params[0]}) as ok`.catch(dbError);
      if (!r.ok) throw new ApiError(409, "not_replayable", "Only dead or completed jobs can be replayed.");
      return { status: "queued" };
    }],
    ["GET", /^\/archive\/users$/, async ({ tx, url }) => {
      const q = url.searchParams.get("q");
      const like = q ? `%${q.replace(/[%_\\]/g, "\\$&")}%` : null;
      const users = await tx`
        select m.user_id, p.full_name, p.email, p.phone_e164, count(*)::int as messages,
               (select count(*)::int from public.archived_media x where x.user_id = m.user_id) as media, min(m.bucket) as bucket
        from public.archived_messages m left join public.profiles p on p.user_id = m.user_id
        where m.user_id is not null and (${like}::text is null or p.full_name ilike ${like} or p.email ilike ${like} or p.phone_e164 like ${like})
        group by m.user_id, p.full_name, p.email, p.phone_e164 order by max(m.archived_at) desc limit 100`;
      return { users };
    }],
    ["GET", /^\/archive\/users\/([^/]+)\/timeline$/, async ({ tx, params, url }) => {
      const userId = parse(uuid, params[0], "user id");
      const limit = parse(
        z.coerce.number().int().min(1).max(200).default(50),
        url.searchParams.get("limit") ?? undefined,
        "limit",
      );
      const messages = await tx`
        select m.account_ref, m.message_id, s.slug as store_slug, cm.conversation_display_id, cm.message_type, cm.content,
               cm.created_at,
               coalesce((select jsonb_agg(jsonb_build_object('account_ref', x.account_ref, 'attachment_id', x.attachment_id,
                   'content_type', x.content_type, 'size', x.size) order by x.attachment_id)
                 from public.archived_media x where x.account_ref = m.account_ref and x.message_id = m.message_id), '[]') as media
        from public.archived_messages m
        join public.stores s on s.id = m.store_id
        left join public.chatwoot_messages cm on cm.account_ref = m.account_ref and cm.message_id = m.message_id
        where m.user_id = ${userId} order by cm.created_at desc nulls last limit ${limit}`;
      return { messages, next: null };
    }],
    ["GET", /^\/archive\/media\/([^/]+)\/(\d+)\/url$/, async ({ tx, params }) => {
      const ref = parse(uuid, params[0], "account ref");
      const [m] =
        await tx`select bucket, object_name from public.archived_media where account_ref = ${ref} and attachment_id = ${
          params[1]
        }`;
      if (!m) throw new ApiError(404, "not_found", "No such medium (or it is not in your stores).");
      const url = await signedDownloadUrl(deps.storage, m.bucket, m.object_name, deps.signedUrlTtlSeconds);
      return { url, expires_at: new Date(Date.now() + deps.signedUrlTtlSeconds * 1000).toISOString() };
    }],
    ["POST", /^\/archive\/users\/([^/]+)\/erase$/, async ({ tx, params }) => {
      const userId = parse(uuid, params[0], "user id");
      const [r] = await tx`select public.request_archive_erasure(${userId})::text as job_id`.catch(dbError);
      return { status: "erasing", job_id: r.job_id };
    }, 202],
  ];
}

const CORS = {
  "access-control-allow-origin": "*",
  "access-control-allow-headers": "authorization, x-client-info, apikey, content-type",
  "access-control-allow-methods": "GET, POST, OPTIONS",
};

export function createHandler(deps: AdminApiDeps): (req: Request) => Promise<Response> {
  const table = routes(deps);
  return async (req) => {
    if (req.method === "OPTIONS") return new Response(null, { status: 204, headers: CORS });
    const withCors = (res: Response) => {
      for (const [k, v] of Object.entries(CORS)) res.headers.set(k, v);
      return res;
    };
    const claims = verifiedClaims(req);
    if (!claims || claims.role !== "authenticated" || !claims.sub) {
      return withCors(errorResponse(401, "sign_in_required", "Sign in to use the admin app."));
    }
    const path = subPath(req, "admin-api");
    const url = new URL(req.url);
    for (const [method, pattern, run, status] of table) {
      const m = path.match(pattern);
      if (!m || req.method !== method) continue;
      try {
        const result = await withRls(deps.sql, claims, (tx) => run({ req, claims, params: m.slice(1), url, tx }));
        return withCors(json(result, status ?? 200));
      } catch (err) {
        if (err instanceof ApiError) return withCors(errorResponse(err.status, err.code, err.message, err.details));
        try {
          dbError(err);
        } catch (mapped) {
          if (mapped instanceof ApiError) return withCors(errorResponse(mapped.status, mapped.code, mapped.message));
        }
        deps.log.error("admin-api failed", { path, error: err instanceof Error ? err.message : String(err) });
        return withCors(
          errorResponse(500, "internal", "Something went wrong on our side; nothing was changed. Try again."),
        );
      }
    }
    return withCors(errorResponse(404, "not_found", `No route ${req.method} ${path}.`));
  };
}

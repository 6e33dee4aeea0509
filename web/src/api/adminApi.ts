// Every call the admin app makes to the `admin-api` edge function, through supabase-js's
// functions.invoke only, so the same code talks to hosted Supabase or the local stand-in.
// Errors become ApiError with the API's own message; a missing session or a 401 ends the session.

import { FunctionsFetchError, FunctionsHttpError, FunctionsRelayError, type SupabaseClient } from "@supabase/supabase-js";
import type {
  AiOverview,
  AiSettings,
  ArchivedMessage,
  ArchiveErasure,
  ArchiveUser,
  BulkResult,
  ContactMessage,
  Job,
  JobId,
  JobStatus,
  KbDocument,
  Me,
  Overview,
  OverviewRange,
  Page,
  SignedUrl,
  Store,
  StoreAction,
  StoreAnalytics,
  StoreActionResult,
  UnmappedContact,
  UnmappedContactDetail,
  UnmappedFilters,
} from "./types.ts";

export const SESSION_EXPIRED_MESSAGE = "Your session expired — sign in again";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

type Method = "GET" | "POST";

function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** Reads `{error:{code,message,details}}`, or the gateway's `{code,message}` / `{msg}` shapes. */
async function errorFromResponse(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => "");
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  const b = (body ?? {}) as Record<string, unknown>;
  const inner = (typeof b.error === "object" && b.error !== null ? b.error : null) as Record<string, unknown> | null;
  const message = (inner?.message ?? b.message ?? b.msg ?? (typeof b.error === "string" ? b.error : null)) as
    | string
    | null;
  const code = String(inner?.code ?? b.code ?? `http_${res.status}`);
  return new ApiError(
    res.status,
    code,
    message || `The admin API answered ${res.status} ${res.statusText || ""}`.trim() + ".",
    inner?.details,
  );
}

export class AdminApi {
  constructor(
    private readonly supabase: SupabaseClient,
    /** Called when the session is gone or refused; the app then shows the sign-in page. */
    private readonly onSessionExpired: () => void,
  ) {}

  async request<T>(method: Method, path: string, body?: unknown): Promise<T> {
    const { data } = await this.supabase.auth.getSession();
    if (!data.session) {
      this.onSessionExpired();
      throw new ApiError(401, "session_expired", SESSION_EXPIRED_MESSAGE);
    }
    const { data: result, error } = await this.supabase.functions.invoke(`admin-api/${path}`, {
      method,
      ...(body === undefined ? {} : { body: body as Record<string, unknown> }),
    });
    if (!error) return result as T;
    if (error instanceof FunctionsHttpError) {
      const apiError = await errorFromResponse(error.context as Response);
      if (apiError.status === 401) {
        this.onSessionExpired();
        throw new ApiError(401, apiError.code, SESSION_EXPIRED_MESSAGE);
      }
      throw apiError;
    }
    if (error instanceof FunctionsRelayError) {
      throw await errorFromResponse(error.context as Response);
    }
    if (error instanceof FunctionsFetchError) {
      throw new ApiError(
        0,
        "network",
        "Could not reach the admin API. Check your connection (or the configured Supabase URL) and try again.",
      );
    }
    throw new ApiError(0, "unknown", error instanceof Error ? error.message : String(error));
  }

  me(): Promise<Me> {
    return this.request("GET", "me");
  }

  async stores(): Promise<Store[]> {
    return (await this.request<{ stores: Store[] }>("GET", "stores")).stores;
  }

  storeAction(slug: string, action: StoreAction): Promise<StoreActionResult> {
    return this.request("POST", `stores/${encodeURIComponent(slug)}/${action}`);
  }

  async widget(slug: string): Promise<string> {
    return (await this.request<{ snippet: string }>("GET", `stores/${encodeURIComponent(slug)}/widget`)).snippet;
  }

  async unmapped(filters: UnmappedFilters, after: string | null, limit = 25): Promise<Page<UnmappedContact>> {
    const r = await this.request<{ contacts: UnmappedContact[]; next: string | null }>(
      "GET",
      `unmapped${query({ ...filters, limit, after })}`,
    );
    return { items: r.contacts, next: r.next };
  }

  unmappedContact(storeId: string, phone: string): Promise<UnmappedContactDetail> {
    return this.request<UnmappedContactDetail>("GET", contactPath(storeId, phone)).then((d) => ({
      ...d,
      messages: (d.messages ?? []) as ContactMessage[],
      suggestions: d.suggestions ?? [],
    }));
  }

  mapContact(storeId: string, phone: string, userId: string): Promise<{ status: string; job_id: JobId }> {
    return this.request("POST", `${contactPath(storeId, phone)}/map`, { user_id: userId });
  }

  ignoreContact(storeId: string, phone: string): Promise<{ status: string }> {
    return this.request("POST", `${contactPath(storeId, phone)}/ignore`);
  }

  async bulk(
    action: "ignore" | "map",
    items: { store_id: string; phone_e164: string; user_id?: string }[],
  ): Promise<BulkResult[]> {
    return (await this.request<{ results: BulkResult[] }>("POST", "unmapped/bulk", { action, items })).results;
  }

  async job(id: JobId): Promise<Job> {
    return (await this.request<{ job: Job }>("GET", `jobs/${encodeURIComponent(String(id))}`)).job;
  }

  async jobs(status: JobStatus, after: string | null, limit = 50): Promise<Page<Job>> {
    const r = await this.request<{ jobs: Job[]; next: string | null }>("GET", `jobs${query({ status, limit, after })}`);
    return { items: r.jobs, next: r.next };
  }

  overview(range: OverviewRange): Promise<Overview> {
    return this.request("GET", `overview${query({ range })}`);
  }

  acknowledgeAlert(id: number): Promise<{ alert: { id: number; acknowledged_at: string } }> {
    return this.request("POST", `alerts/${encodeURIComponent(String(id))}/ack`);
  }

  replayJob(id: JobId): Promise<{ status: string }> {
    return this.request("POST", `jobs/${encodeURIComponent(String(id))}/replay`);
  }

  async archiveUsers(q: string): Promise<ArchiveUser[]> {
    return (await this.request<{ users: ArchiveUser[] }>("GET", `archive/users${query({ q: q.trim() })}`)).users;
  }

  async timeline(userId: string, after: string | null, limit = 50): Promise<Page<ArchivedMessage>> {
    const r = await this.request<{ messages: ArchivedMessage[]; next: string | null }>(
      "GET",
      `archive/users/${encodeURIComponent(userId)}/timeline${query({ limit, after })}`,
    );
    return { items: r.messages, next: r.next };
  }

  mediaUrl(accountRef: string, attachmentId: string | number): Promise<SignedUrl> {
    return this.request(
      "GET",
      `archive/media/${encodeURIComponent(accountRef)}/${encodeURIComponent(String(attachmentId))}/url`,
    );
  }

  /** Starts the erasure (or returns the one already under way); follow it with erasure(id). */
  eraseArchive(userId: string): Promise<{ status: string; erasure_id: string }> {
    return this.request("POST", `archive/users/${encodeURIComponent(userId)}/erase`);
  }

  erasure(id: string): Promise<ArchiveErasure> {
    return this.request("GET", `archive/erasures/${encodeURIComponent(id)}`);
  }

  async erasures(userId?: string | null, limit = 50): Promise<ArchiveErasure[]> {
    return (await this.request<{ erasures: ArchiveErasure[] }>(
      "GET",
      `archive/erasures${query({ user_id: userId, limit })}`,
    )).erasures;
  }

  analytics(slug: string, range: { from: string; to: string }): Promise<StoreAnalytics> {
    return this.request("GET", `stores/${encodeURIComponent(slug)}/analytics${query(range)}`);
  }

  ai(slug: string): Promise<AiOverview> {
    return this.request("GET", `stores/${encodeURIComponent(slug)}/ai`);
  }

  resumeAi(): Promise<{ resumed: boolean }> {
    return this.request("POST", "ai/resume", {});
  }

  setAiEnabled(slug: string, enabled: boolean): Promise<{ enabled: boolean }> {
    return this.request("POST", `stores/${encodeURIComponent(slug)}/ai/${enabled ? "enable" : "disable"}`, {});
  }

  async saveAiSettings(
    slug: string,
    patch: Partial<Pick<AiSettings, "mode" | "handoff_message" | "daily_token_budget">>,
  ): Promise<AiSettings> {
    return (await this.request<{ settings: AiSettings }>("POST", `stores/${encodeURIComponent(slug)}/ai/settings`, patch))
      .settings;
  }

  async knowledge(slug: string): Promise<KbDocument[]> {
    return (await this.request<{ documents: KbDocument[] }>("GET", `stores/${encodeURIComponent(slug)}/kb`)).documents;
  }

  addFaq(slug: string, question: string, answer: string): Promise<{ document_id: string; created: boolean }> {
    return this.request("POST", `stores/${encodeURIComponent(slug)}/kb/faqs`, { question, answer });
  }

  /** Uploads a Markdown, text, HTML or PDF file as its own bytes (the API caps uploads at 5 MiB). */
  uploadDocument(slug: string, file: File): Promise<{ document_id: string; created: boolean; chunks: number }> {
    return this.request(
      "POST",
      `stores/${encodeURIComponent(slug)}/kb/documents?source_name=${encodeURIComponent(file.name)}`,
      // functions.invoke sends a File as itself, with its type as Content-Type.
      file,
    );
  }
}

/** `unmapped/<store_id>/<url-encoded +phone>`: the `+` must travel as %2B. */
function contactPath(storeId: string, phone: string): string {
  return `unmapped/${encodeURIComponent(storeId)}/${encodeURIComponent(phone)}`;
}

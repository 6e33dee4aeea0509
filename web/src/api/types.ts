// The admin-api contract as the app reads it: response shapes of every route it calls, built from the
// database's generated types (JSON: timestamps are strings) wherever a response carries table rows.

import type {
  Constrained,
  FunctionRow,
  LeftJoined,
  PrivateEnum,
  Row,
} from "../../../supabase/functions/_shared/platform/rows.ts";

/** A row as the API's JSON carries it: bigint columns (`B`) arrive as strings (postgres.js) or numbers
 * (when built inside jsonb); the app treats them as text. */
type Wire<R, B extends keyof R = never> = {
  [K in keyof R]: K extends B ? string | number | Extract<R[K], null> : R[K];
};

export type JobId = string | number;

/** A store the user may open; a platform administrator's other stores have no role. */
export type StoreMembership = Pick<Row<"stores">, "id" | "slug" | "name"> & {
  role: Row<"store_members">["role"] | null;
};

export interface Me {
  user: { id: string; email: string | null };
  platform_admin: boolean;
  stores: StoreMembership[];
}

export type ChatwootIntegration = Pick<
  Row<"chatwoot_provisioning">,
  "state" | "failure_reason" | "account_id" | "chatwoot_url"
>;

export type Store =
  & Constrained<Pick<Row<"stores">, "id" | "slug" | "name" | "status">, { status: "active" | "suspended" }>
  & { chatwoot: ChatwootIntegration | null };

export type StoreAction = "reprovision" | "suspend" | "reactivate";

export interface StoreActionResult {
  status: string;
  job_id?: JobId;
}

export type UnmappedContact =
  & Pick<
    Row<"archive_contacts">,
    | "store_id"
    | "phone_e164"
    | "contact_name"
    | "contact_email"
    | "messages"
    | "media"
    | "first_seen_at"
    | "last_message_at"
  >
  & { store_slug: Row<"stores">["slug"] };

export interface UnmappedFilters {
  store_id?: string;
  q?: string;
  has_media?: "true" | "false";
  min_age_days?: number;
}

export interface Page<T> {
  items: T[];
  next: string | null;
}

/** An archived message of the contact, with what the mirror still has of it. */
export type ContactMessage =
  & Wire<Pick<Row<"archived_messages">, "message_id">, "message_id">
  & LeftJoined<Pick<Row<"chatwoot_messages">, "content" | "message_type" | "created_at">>
  & { media: number };

export type UserSuggestion = FunctionRow<"archive_contact_suggestions", "full_name" | "email" | "phone_e164">;

export interface UnmappedContactDetail {
  /** The contact's row; admin-api may leave out store_slug here. */
  contact: Row<"archive_contacts"> & { store_slug?: string };
  messages: ContactMessage[];
  suggestions: UserSuggestion[];
}

export interface BulkResult {
  phone_e164: string;
  ok: boolean;
  error?: string;
}

export type JobStatus = PrivateEnum<"job_status">;

/** A job the user may see (public.visible_jobs). */
export type Job = Constrained<
  Wire<
    FunctionRow<"visible_jobs", "last_error" | "completed_at" | "dead_at" | "store_id" | "store_slug">,
    "id"
  >,
  { status: JobStatus }
>;

/** A user with an archive (rows without a user are the holding bucket's, never listed). */
export type ArchiveUser =
  & { user_id: NonNullable<Row<"archived_messages">["user_id"]> }
  & LeftJoined<Pick<Row<"profiles">, "full_name" | "email" | "phone_e164">>
  & { messages: number; media: number; bucket: Row<"archived_messages">["bucket"] | null };

/** An archive erasure and how far it got (admin-api/archive/erasures): counts and checkpoints, never data. */
export type ArchiveErasure =
  & Constrained<
    Pick<
      Row<"archive_erasures">,
      | "id"
      | "user_id"
      | "requested_by"
      | "status"
      | "step"
      | "bucket"
      | "objects_expected"
      | "objects_found"
      | "objects_deleted"
      | "messages"
      | "media"
      | "soft_delete_seconds"
      | "runs"
      | "last_error"
      | "requested_at"
      | "started_at"
      | "updated_at"
      | "finished_at"
    >,
    {
      status: "queued" | "erasing" | "waiting" | "completed" | "failed";
      step: "recorded_elsewhere" | "bucket_objects" | "bucket" | "done";
    }
  >
  & LeftJoined<Pick<Row<"profiles">, "full_name" | "email">>
  /** Objects known so far (recorded, or found when more), and the share done (100 once completed). */
  & { total: number; percent: number };

export type ArchivedMedia = Wire<
  Pick<Row<"archived_media">, "account_ref" | "attachment_id" | "content_type" | "size">,
  "attachment_id" | "size"
>;

export type ArchivedMessage =
  & Wire<Pick<Row<"archived_messages">, "account_ref" | "message_id">, "message_id">
  & LeftJoined<Pick<Row<"chatwoot_messages">, "conversation_display_id" | "message_type" | "content" | "created_at">>
  & { store_slug: Row<"stores">["slug"]; media: ArchivedMedia[] };

export interface SignedUrl {
  url: string;
  expires_at: string;
}

export type AiSettings = Constrained<Row<"ai_bot_settings">, { mode: "auto" | "assist" }>;

export type AiDecision = Constrained<
  Wire<
    Pick<
      Row<"ai_decisions">,
      | "account_ref"
      | "message_id"
      | "conversation_display_id"
      | "status"
      | "action"
      | "reason"
      | "question"
      | "answer"
      | "cited_chunk_ids"
      | "chunks"
      | "retrieval_mode"
      | "model"
      | "prompt_tokens"
      | "completion_tokens"
      | "latency_ms"
      | "created_at"
    >,
    "message_id"
  >,
  { action: "reply" | "assist" | "handoff" | "skip" | null }
>;

/** The deployment's AI paused because its OpenAI account is out of quota (null while it runs). */
export type AiPause = FunctionRow<"ai_pause_status", "last_probe_at" | "last_probe_error" | "next_probe_at">;

export interface AiOverview {
  settings: AiSettings | null;
  usage_today: Pick<Row<"ai_usage_daily">, "tokens" | "requests">;
  decisions: AiDecision[];
  ai_pause: AiPause | null;
}

/** A document with how many of its chunks there are and how many are embedded. */
export type KbDocument =
  & Constrained<
    Pick<Row<"kb_documents">, "id" | "kind" | "title" | "source_name" | "mime_type" | "status" | "error" | "created_at">,
    { kind: "document" | "faq"; status: "pending" | "ready" | "failed" }
  >
  & { chunks: number; embedded: number };

/** The Overview's range (GET admin-api/overview?range=…). */
export type OverviewRange = "hour" | "day" | "week" | "month";

export interface OverviewPoint {
  t: string;
  deliveries: Record<string, number>;
  deliveries_per_minute: number;
  p50_ms: number | null;
  p95_ms: number | null;
  jobs_completed: number;
  jobs_dead_lettered: number;
  queue_ready: number | null;
  oldest_ready_seconds: number | null;
  jobs_dead: number | null;
  archive_objects: number;
  archive_bytes: number;
  ai_tokens: number;
}

export interface FiringAlert {
  id: number;
  rule: string;
  subject: string;
  value: number;
  threshold: number;
  unit: string;
  message: string;
  fired_at: string;
  acknowledged_at: string | null;
}

export interface Overview {
  range: OverviewRange;
  step_seconds: number;
  generated_at: string;
  series: OverviewPoint[];
  queue: { ready: number; running: number; dead: number; oldest_ready_seconds: number | null };
  storage: { storage_class: string; buckets: number; objects: number; bytes: number; monthly_usd: number }[];
  buckets: number;
  ai: { tokens_today: number; tokens_month: number; usd_month: number };
  alerts: FiringAlert[];
}

/** GET stores/<slug>/analytics: every figure of the store analytics page for one range (the SQL
 * functions' rows; counts cast to int and percentiles to float by the route). */
export interface StoreAnalytics {
  store: { slug: string; time_zone: string | null };
  /** The zone days and hours are in: the store's, else "UTC". */
  time_zone: string;
  range: { from: string; to: string };
  conversations_per_day: FunctionRow<"analytics_conversations_per_day">[];
  response_times: FunctionRow<"analytics_response_times", "p50_seconds" | "p90_seconds">[];
  answer_share: FunctionRow<"analytics_answer_share">[];
  busiest_hours: FunctionRow<"analytics_busiest_hours">[];
  csat: FunctionRow<"analytics_csat_responses", "feedback">[];
}

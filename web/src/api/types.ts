// The admin-api contract as the app reads it: response shapes of every route it calls.
// Ids the database keeps as bigint (jobs) arrive as strings or numbers; the app treats them as text.

export type JobId = string | number;

export interface StoreMembership {
  id: string;
  slug: string;
  name: string;
  role: string;
}

export interface Me {
  user: { id: string; email: string | null };
  platform_admin: boolean;
  stores: StoreMembership[];
}

export interface ChatwootIntegration {
  state: string;
  failure_reason: string | null;
  account_id: number | string | null;
  chatwoot_url: string | null;
}

export interface Store {
  id: string;
  slug: string;
  name: string;
  status: "active" | "suspended";
  chatwoot: ChatwootIntegration | null;
}

export type StoreAction = "reprovision" | "suspend" | "reactivate";

export interface StoreActionResult {
  status: string;
  job_id?: JobId;
}

export interface UnmappedContact {
  store_id: string;
  store_slug: string;
  phone_e164: string;
  contact_name: string | null;
  contact_email: string | null;
  messages: number;
  media: number;
  first_seen_at: string;
  last_message_at: string | null;
}

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

export interface ContactMessage {
  message_id: number | string;
  content: string | null;
  message_type: string | null;
  created_at: string | null;
  media: number;
}

export interface UserSuggestion {
  user_id: string;
  full_name: string | null;
  email: string | null;
  phone_e164: string | null;
  reason: string;
  score: number;
}

export interface UnmappedContactDetail {
  /** The contact's row; admin-api may leave out store_slug here. */
  contact: Omit<UnmappedContact, "store_slug"> & { store_slug?: string; status?: string };
  messages: ContactMessage[];
  suggestions: UserSuggestion[];
}

export interface BulkResult {
  phone_e164: string;
  ok: boolean;
  error?: string;
}

export type JobStatus = "queued" | "running" | "dead" | "completed";

export interface Job {
  id: JobId;
  kind: string;
  status: JobStatus;
  attempts: number;
  max_attempts: number;
  last_error: string | null;
  run_at: string | null;
  completed_at: string | null;
  created_at?: string | null;
  dead_at?: string | null;
  store_slug?: string | null;
}

export interface ArchiveUser {
  user_id: string;
  full_name: string | null;
  email: string | null;
  phone_e164: string | null;
  messages: number;
  media: number;
  bucket: string | null;
}

export interface ArchivedMedia {
  account_ref: string;
  attachment_id: number | string;
  content_type: string | null;
  size: number | string | null;
}

export interface ArchivedMessage {
  account_ref: string;
  message_id: number | string;
  store_slug: string;
  conversation_display_id: number | string | null;
  message_type: string | null;
  content: string | null;
  created_at: string | null;
  media: ArchivedMedia[];
}

export interface SignedUrl {
  url: string;
  expires_at: string;
}

export interface AiSettings {
  store_id: string;
  enabled: boolean;
  mode: "auto" | "assist";
  handoff_message: string;
  daily_token_budget: number;
  agent_bot_id: number | null;
  inbox_ids: number[];
}

export interface AiDecision {
  account_ref: string;
  message_id: number | string;
  conversation_display_id: number;
  status: string;
  action: "reply" | "assist" | "handoff" | "skip" | null;
  reason: string | null;
  question: string | null;
  answer: string | null;
  model: string | null;
  prompt_tokens: number;
  completion_tokens: number;
  latency_ms: number | null;
  created_at: string;
}

export interface AiOverview {
  settings: AiSettings | null;
  usage_today: { tokens: number; requests: number };
  decisions: AiDecision[];
}

export interface KbDocument {
  id: string;
  kind: "document" | "faq";
  title: string;
  source_name: string;
  status: "pending" | "ready" | "failed";
  error: string | null;
  chunks: number;
  embedded: number;
  created_at: string;
}

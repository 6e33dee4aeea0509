// Knowledge-base failures a person can act on: an unsupported or unreadable file, bad input, a
// missing store or document. `code` is stable for the admin API to map onto HTTP statuses.

export type KnowledgeErrorCode = "unsupported_type" | "unreadable" | "empty" | "too_large" | "invalid" | "not_found";

export class KnowledgeError extends Error {
  constructor(readonly code: KnowledgeErrorCode, message: string) {
    super(message);
    this.name = "KnowledgeError";
  }
}

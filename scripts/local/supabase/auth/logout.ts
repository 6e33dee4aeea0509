// POST /logout (GoTrue's logout.go): ends this session (`local`), the user's other sessions (`others`), or all of
// them (`global`, the default).

import { requireAuthentication } from "./authentication.ts";
import type { AuthConfig } from "./config.ts";
import { badRequest } from "./errors.ts";
import { noContent } from "./response.ts";

export async function logout(config: AuthConfig, req: Request, url: URL): Promise<Response> {
  const { sql } = config;
  const raw = url.searchParams.get("scope") ?? "";
  if (!["", "global", "local", "others"].includes(raw)) {
    throw badRequest("validation_failed", `Unsupported logout scope "${raw}"`);
  }
  const scope = raw === "" ? "global" : raw;
  const { user, sessionId } = await requireAuthentication(config, req);
  if (sessionId && scope === "local") {
    await sql`delete from auth.sessions where id = ${sessionId}`;
  } else if (sessionId && scope === "others") {
    await sql`delete from auth.sessions where id <> ${sessionId} and user_id = ${user.id}`;
  } else {
    await sql`delete from auth.sessions where user_id = ${user.id}`;
  }
  return noContent(req);
}

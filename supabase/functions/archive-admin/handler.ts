// archive-admin (verify_jwt = false; verifies callers itself): the archive review's older URLs, kept for platform
// administrators and the service role, as an alias over admin-api's route modules (same SQL, same
// checked functions, same audit). New callers use admin-api's /unmapped and /archive routes.
//   GET  /queue?store_id&q&has_media&min_age_days&limit&after     unmapped contacts, keyset-paged
//   GET  /contacts/<store_id>/<phone>                             one contact, messages, suggestions
//   POST /contacts/<store_id>/<phone>/map   {"user_id": "…"}      map (the archive moves as a job)
//   POST /contacts/<store_id>/<phone>/ignore                      keep it held, out of the queue
//   POST /users/<user_id>/erase                                   erase a user's archive (returns the erasure)

import { callerClaims, isPlatformAdmin } from "../_shared/platform/auth.ts";
import type { CredentialVerifier } from "../_shared/platform/credentials.ts";
import type { Sql } from "../_shared/platform/db.ts";
import { errorResponse, subPath } from "../_shared/platform/http.ts";
import type { Logger } from "../_shared/platform/log.ts";
import { alias, dispatch } from "../admin-api/route.ts";
import { unmapped } from "../admin-api/routes/unmapped.ts";
import { eraseUserArchive } from "../admin-api/routes/archive.ts";

export interface ArchiveAdminDeps {
  sql: Sql;
  verifyCaller: CredentialVerifier;
  log: Logger;
}

const routes = [
  alias("/queue", unmapped.queue),
  alias("/contacts/:store/:phone", unmapped.contact),
  alias("/contacts/:store/:phone/map", unmapped.map),
  alias("/contacts/:store/:phone/ignore", unmapped.ignore),
  alias("/users/:user/erase", eraseUserArchive),
];

export async function handler(req: Request, deps: ArchiveAdminDeps): Promise<Response> {
  const check = await deps.verifyCaller(req);
  if (!check.ok) {
    deps.log.warn("credentials refused", { reason: check.reason });
    return errorResponse(401, "invalid_credentials", "The token or API key is not valid for this project.");
  }
  if (check.caller.kind === "none") {
    return errorResponse(401, "credentials_required", "Sign in, or send a secret key in the apikey header.");
  }
  const claims = callerClaims(check.caller);
  if (!claims || !isPlatformAdmin(claims)) {
    return errorResponse(403, "forbidden", "The archive review is for platform administrators.");
  }
  const path = subPath(req, "archive-admin");
  return await dispatch(routes, deps, req, path, claims) ??
    errorResponse(404, "not_found", `No route ${req.method} ${path}.`);
}

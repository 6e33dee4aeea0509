// The chatwoot-account-manager function's HTTP side (verify_jwt = false; verifies callers itself). Its job handlers live
// in provisioner.ts and run in the jobs-worker.
//   GET  /widget?store=<slug>                the widget snippet and, for the signed-in customer,
//                                            the identifier_hash their page passes to setUser
//   POST /stores/<slug>/reprovision          platform administrators: retry a failed store

import { z } from "zod";
import { callerClaims, isPlatformAdmin } from "../_shared/platform/auth.ts";
import type { CredentialVerifier } from "../_shared/platform/credentials.ts";
import type { Sql } from "../_shared/platform/db.ts";
import type { Row } from "../_shared/platform/rows.ts";
import { errorResponse, json, subPath } from "../_shared/platform/http.ts";
import type { Logger } from "../_shared/platform/log.ts";
import { identifierHash, loadStoreWidget, widgetSnippet } from "../_shared/chatwoot/widget.ts";

export interface AccountManagerDeps {
  sql: Sql;
  verifyCaller: CredentialVerifier;
  log: Logger;
}

const slugSchema = z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, "not a store slug");

export async function handler(req: Request, deps: AccountManagerDeps): Promise<Response> {
  const path = subPath(req, "chatwoot-account-manager");
  const check = await deps.verifyCaller(req);
  if (!check.ok) {
    deps.log.warn("credentials refused", { reason: check.reason });
    return errorResponse(401, "invalid_credentials", "The token or API key is not valid for this project.");
  }
  const claims = callerClaims(check.caller);

  if (req.method === "GET" && path === "/widget") {
    if (claims?.role !== "authenticated" || typeof claims.sub !== "string") {
      return errorResponse(401, "sign_in_required", "Sign in first: the widget identity is for a signed-in customer.");
    }
    const slug = slugSchema.safeParse(new URL(req.url).searchParams.get("store"));
    if (!slug.success) return errorResponse(400, "invalid_store", "Pass ?store=<slug> with a valid store slug.");
    const widget = await loadStoreWidget(deps.sql, slug.data);
    if (!widget) return errorResponse(404, "no_widget", `Store ${slug.data} has no provisioned website widget yet.`);
    if (!widget.hmacToken) {
      return errorResponse(409, "no_hmac_token", "The widget has no HMAC token to sign identities with.");
    }
    return json(
      {
        base_url: widget.baseUrl,
        website_token: widget.websiteToken,
        identifier: claims.sub,
        identifier_hash: identifierHash(widget.hmacToken, claims.sub),
        snippet: widgetSnippet(widget.baseUrl, widget.websiteToken),
      },
      200,
      { "cache-control": "private, no-store" },
    );
  }

  const reprovision = path.match(/^\/stores\/([^/]+)\/reprovision$/);
  if (req.method === "POST" && reprovision) {
    if (!isPlatformAdmin(claims)) {
      return errorResponse(403, "forbidden", "Only platform administrators can re-provision a store.");
    }
    const slug = slugSchema.safeParse(reprovision[1]);
    if (!slug.success) return errorResponse(400, "invalid_store", "Not a store slug.");
    const [store] = await deps.sql<Pick<Row<"stores">, "id" | "chatwoot_provisioning">[]>`
      select id, chatwoot_provisioning from public.stores where slug = ${slug.data}`;
    if (!store) return errorResponse(404, "no_store", `No store with slug ${slug.data}.`);
    if (store.chatwoot_provisioning !== "auto") {
      return errorResponse(
        409,
        "linked_by_hand",
        "This store's Chatwoot account is linked by hand; re-link it instead.",
      );
    }
    const [job] = await deps.sql<
      { id: string }[]
    >`select private.request_chatwoot_reprovision(${store.id})::text as id`;
    deps.log.info("re-provisioning requested", { store: slug.data, job_id: job.id, by: claims?.sub ?? claims?.role });
    return json({ status: "queued", job_id: job.id }, 202);
  }

  return errorResponse(404, "not_found", `No route ${req.method} ${path}.`);
}

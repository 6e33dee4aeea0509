// Who the caller is and which stores they see, and what they may do to one: re-provision its
// Chatwoot account, suspend or reactivate it, fetch its widget snippet. All under their RLS.

import { isPlatformAdmin } from "../../_shared/platform/auth.ts";
import { ApiError } from "../../_shared/platform/http.ts";
import { widgetSnippet } from "../../_shared/chatwoot/widget.ts";
import { dbError, route, storeBySlug } from "../route.ts";

export const storeRoutes = [
  route("GET", "/me", ({ claims, asCaller }) =>
    asCaller(async (tx) => {
      const platformAdmin = isPlatformAdmin(claims);
      const stores = await tx`
        select s.id, s.slug, s.name, m.role::text as role from public.stores s
        left join public.store_members m on m.store_id = s.id and m.user_id = ${claims.sub ?? null}::uuid
        where ${platformAdmin} or m.role is not null order by s.slug`;
      return { user: { id: claims.sub, email: claims.email ?? null }, platform_admin: platformAdmin, stores };
    })),

  route("GET", "/stores", ({ asCaller }) =>
    asCaller(async (tx) => ({
      stores: await tx`
        select s.id, s.slug, s.name, s.status,
               case when p.store_id is null then null else jsonb_build_object('state', p.state, 'failure_reason', p.failure_reason,
                 'account_id', p.account_id, 'chatwoot_url', p.chatwoot_url) end as chatwoot
        from public.stores s left join public.chatwoot_provisioning p on p.store_id = s.id order by s.slug`,
    }))),

  route("POST", "/stores/:slug/reprovision", ({ params, asCaller }) =>
    asCaller(async (tx) => {
      const store = await storeBySlug(tx, params.slug);
      const [r] = await tx`select public.request_store_reprovision(${store.id})::text as job_id`.catch(dbError);
      return { status: "queued", job_id: r.job_id };
    }), 202),

  route("POST", "/stores/:slug/:action(suspend|reactivate)", ({ params, asCaller }) =>
    asCaller(async (tx) => {
      const store = await storeBySlug(tx, params.slug);
      const status = params.action === "suspend" ? "suspended" : "active";
      await tx`select public.set_store_status(${store.id}, ${status})`.catch(dbError);
      return { status };
    })),

  route("GET", "/stores/:slug/widget", ({ params, asCaller }) =>
    asCaller(async (tx) => {
      const store = await storeBySlug(tx, params.slug);
      const [p] =
        await tx`select chatwoot_url, website_token from public.chatwoot_provisioning where store_id = ${store.id}`;
      if (!p?.website_token) throw new ApiError(404, "no_widget", "This store has no website widget yet.");
      return { snippet: widgetSnippet(p.chatwoot_url, p.website_token) };
    })),
];

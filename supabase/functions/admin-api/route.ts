// What an admin-api route is and what it is given, and the dispatcher that runs one: a URLPattern
// with named groups, the caller's claims, and `asCaller`, one short transaction under their RLS.

import { z } from "zod";
import type { Claims } from "../_shared/platform/auth.ts";
import { type Sql, type TransactionSql, withRls } from "../_shared/platform/db.ts";
import { ApiError, errorResponse, json, parse } from "../_shared/platform/http.ts";
import type { Logger } from "../_shared/platform/log.ts";

export interface RouteContext {
  req: Request;
  url: URL;
  /** The pattern's named groups, still percent-encoded as in the URL. */
  params: Record<string, string>;
  claims: Claims;
  /** Runs `fn` in its own transaction as the caller (RLS applies) and commits. A route that calls
   * the network (Chatwoot, the embedding API) checks rights in one of these first and calls out
   * after it has ended, so no transaction is ever held open across a network call. */
  asCaller<T>(fn: (tx: TransactionSql) => Promise<T>): Promise<T>;
}

export interface Route {
  method: "GET" | "POST";
  pattern: URLPattern;
  /** Status of a successful answer. */
  status: number;
  run(ctx: RouteContext): Promise<unknown>;
}

export function route(
  method: Route["method"],
  pathname: string,
  run: Route["run"],
  status = 200,
): Route {
  return { method, pattern: new URLPattern({ pathname }), status, run };
}

/** The same route under another path (archive-admin's URLs): the groups must keep their names. */
export function alias(pathname: string, target: Route): Route {
  return { ...target, pattern: new URLPattern({ pathname }) };
}

export const uuid = z.uuid();
export const phone = z.string().regex(/^\+[1-9]\d{1,14}$/, "not an E.164 number");
const slug = z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, "not a store slug");

/** A phone number from a path segment (`+` arrives as %2B). */
export function phoneParam(raw: string): string {
  return parse(phone, decodeURIComponent(raw), "phone");
}

/** Maps the database's refusals to answers a person can act on. */
export function dbError(err: unknown): never {
  const e = err as { code?: string; message?: string };
  if (e?.code === "42501") throw new ApiError(403, "forbidden", e.message ?? "Not allowed.");
  if (e?.code === "P0002") throw new ApiError(404, "not_found", e.message ?? "Not found.");
  if (e?.code === "23514" || e?.code === "22P02") {
    throw new ApiError(400, "invalid_input", e.message ?? "Invalid input.");
  }
  throw err;
}

export async function storeBySlug(tx: TransactionSql, s: string): Promise<{ id: string; slug: string }> {
  const [store] = await tx`select id, slug from public.stores where slug = ${parse(slug, s, "store")}`;
  if (!store) throw new ApiError(404, "not_found", `No store "${s}" (or you cannot see it).`);
  return store as { id: string; slug: string };
}

/** Changes that reach Chatwoot or write as the service run only after this check, under RLS. */
export async function requireStoreAdmin(tx: TransactionSql, storeId: string): Promise<void> {
  const [r] = await tx`select public.can_administer_store(${storeId}) as ok`;
  if (!r.ok) throw new ApiError(403, "forbidden", "Only the store's administrators can do this.");
}

/** The store by slug, checked to be one the caller administers, in one short transaction. */
export async function administeredStore(ctx: RouteContext, s: string): Promise<{ id: string; slug: string }> {
  return await ctx.asCaller(async (tx) => {
    const store = await storeBySlug(tx, s);
    await requireStoreAdmin(tx, store.id);
    return store;
  });
}

/** Runs the first route matching the request; null when none does. Errors become answers. */
export async function dispatch(
  routes: Route[],
  deps: { sql: Sql; log: Logger },
  req: Request,
  path: string,
  claims: Claims,
): Promise<Response | null> {
  const url = new URL(req.url);
  for (const r of routes) {
    if (r.method !== req.method) continue;
    const m = r.pattern.exec({ pathname: path });
    if (!m) continue;
    const params = m.pathname.groups as Record<string, string>;
    try {
      const result = await r.run({
        req,
        url,
        params,
        claims,
        asCaller: (fn) => withRls(deps.sql, claims, fn),
      });
      return json(result, r.status);
    } catch (err) {
      if (err instanceof ApiError) return errorResponse(err.status, err.code, err.message, err.details);
      try {
        dbError(err);
      } catch (mapped) {
        if (mapped instanceof ApiError) return errorResponse(mapped.status, mapped.code, mapped.message);
      }
      deps.log.error("admin-api failed", { path, error: err instanceof Error ? err.message : String(err) });
      return errorResponse(500, "internal", "Something went wrong on our side; nothing was changed. Try again.");
    }
  }
  return null;
}

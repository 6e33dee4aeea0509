// The stand-ins' own control routes, all under `/_control/…` (never part of the API a stand-in imitates): routing
// them, the fault-rule routes every stand-in has, and answers rendered in the stand-in's own response type.

import { type z, ZodError } from "zod";
import type { FaultRules, RuleFields } from "./faults.ts";
import { type Params, Router } from "./router.ts";

export const CONTROL_PREFIX = "/_control";

/** The path below the prefix (`/faults`, `/` for the prefix itself), or undefined for any other path. */
export function controlPath(pathname: string): string | undefined {
  if (pathname === CONTROL_PREFIX || pathname === `${CONTROL_PREFIX}/`) return "/";
  return pathname.startsWith(`${CONTROL_PREFIX}/`)
    ? pathname.slice(CONTROL_PREFIX.length).replace(/\/+$/, "")
    : undefined;
}

export interface ControlRequest {
  method: string;
  /** Below the prefix, e.g. `/faults/fault_1`. */
  path: string;
  params: Params;
  query: URLSearchParams;
  /** The parsed JSON body (`{}` when there is none). */
  body: unknown;
}

/** How a stand-in answers: its response type and its shapes for the routes' own failures. */
export interface ControlAnswers<R> {
  json(body: unknown, status?: number): R;
  noContent(): R;
  /** A body the route's schema refused (default 400 `{error, issues}`). */
  invalid?(error: ZodError): R;
  /** No such control route (default 404 `{error}`). */
  unknownRoute?(method: string, path: string): R;
}

export type ControlHandler<C, R> = (ctx: C, req: ControlRequest) => R | Promise<R>;

/** The read side of a request, whatever the stand-in's server hands over. */
export interface IncomingControl {
  method: string;
  pathname: string;
  query: URLSearchParams;
  /** Read only for methods that carry a body. */
  readBody(): Promise<unknown>;
}

export class ControlRoutes<C, R> {
  #router = new Router<ControlHandler<C, R>>();

  constructor(private readonly answers: ControlAnswers<R>) {}

  add(method: string, pattern: string, handler: ControlHandler<C, R>): this {
    this.#router.add(method, pattern, handler);
    return this;
  }

  /**
   * The fault-rule routes: `GET /faults`; `POST /faults` with a rule, an array of rules or `{faults: [...]}` →
   * 201 `{faults: [...added]}` (all or none); `DELETE /faults` (all); `DELETE /faults/:id`.
   */
  faults<S extends z.ZodType<RuleFields>>(rulesOf: (ctx: C) => FaultRules<S>): this {
    const a = this.answers;
    return this
      .add("GET", "/faults", (ctx) => a.json({ faults: rulesOf(ctx).list() }))
      .add("POST", "/faults", (ctx, req) => {
        const body = req.body as { faults?: unknown };
        const inputs = Array.isArray(body) ? body : Array.isArray(body?.faults) ? body.faults : [body];
        return a.json({ faults: rulesOf(ctx).addAll(inputs) }, 201);
      })
      .add("DELETE", "/faults", (ctx) => {
        rulesOf(ctx).clear();
        return a.noContent();
      })
      .add(
        "DELETE",
        "/faults/:id",
        (ctx, req) =>
          rulesOf(ctx).remove(req.params.id) ? a.noContent() : a.json({ error: `no fault rule ${req.params.id}` }, 404),
      );
  }

  /** Answers a control request; errors other than a refused body are the caller's to render. */
  async answer(ctx: C, incoming: IncomingControl): Promise<R> {
    const path = controlPath(incoming.pathname) ?? incoming.pathname;
    const route = this.#router.match(incoming.method, path);
    if (!route) {
      return this.answers.unknownRoute?.(incoming.method, incoming.pathname) ??
        this.answers.json({ error: `no control route ${incoming.method} ${incoming.pathname}` }, 404);
    }
    try {
      const body = incoming.method === "GET" || incoming.method === "HEAD" ? {} : await incoming.readBody();
      return await route.handler(ctx, {
        method: incoming.method,
        path,
        params: route.params,
        query: incoming.query,
        body: body ?? {},
      });
    } catch (e) {
      if (!(e instanceof ZodError)) throw e;
      return this.answers.invalid?.(e) ?? this.answers.json({ error: "invalid request body", issues: e.issues }, 400);
    }
  }
}

// Method + path-pattern routing for the stand-ins (Chatwoot's APIs, every stand-in's control routes): one
// matcher, so `:name` segments and their decoding mean the same everywhere.

export type Params = Record<string, string>;

export interface RouteMatch<H> {
  handler: H;
  params: Params;
}

/** Method + path-pattern router; `:name` segments become params. */
export class Router<H> {
  #routes: { method: string; parts: string[]; handler: H }[] = [];

  add(method: string, pattern: string, handler: H): this {
    this.#routes.push({ method, parts: pattern.split("/").filter(Boolean), handler });
    return this;
  }

  match(method: string, path: string): RouteMatch<H> | undefined {
    const segments = path.split("/").filter(Boolean);
    for (const route of this.#routes) {
      if (route.method !== method || route.parts.length !== segments.length) continue;
      const params: Params = {};
      let ok = true;
      for (let i = 0; i < segments.length && ok; i++) {
        const part = route.parts[i];
        if (part.startsWith(":")) params[part.slice(1)] = decodeURIComponent(segments[i]);
        else ok = part === segments[i];
      }
      if (ok) return { handler: route.handler, params };
    }
    return undefined;
  }
}

// Wiring of the OpenAI stand-in: bearer-key auth, the /v1 routes the product uses, scripted responses and the
// record of requests, served with Deno.serve. `createStandinHandler` is the whole server as a fetch handler.

import { controlPath, ControlRoutes } from "../kit/control.ts";
import { jsonLines } from "../kit/cli.ts";
import { delay } from "../kit/faults.ts";
import { completionBody, createChatCompletion, parseChatRequest, promptTokens } from "./chat_completions.ts";
import { CHAT_MODELS } from "./chat_completions.ts";
import { createEmbeddings, EMBEDDING_MODELS } from "./embeddings.ts";
import {
  defaultErrorFor,
  fromZodError,
  insufficientQuota,
  invalidRequest,
  OpenAiError,
  rateLimitExceeded,
} from "./errors.ts";
import {
  createScriptRules,
  type Endpoint,
  type ScriptedRule,
  type ScriptRules,
  takeScript,
} from "./scripted_responses.ts";
import { createTranscription, TRANSCRIPTION_MODELS } from "./transcriptions.ts";

/** OpenAI refuses request bodies over 25 MiB with a 413 (see README for the observed body). */
export const MAX_BODY_BYTES = 26_214_400;

export interface StartOptions {
  port: number;
  hostname?: string;
  /** One JSON line per request on stdout. */
  log?: boolean;
  /** The key clients must send; a fresh random one per run if omitted. */
  apiKey?: string;
}

export interface RunningOpenAiStandin {
  /** http://127.0.0.1:port */
  url: string;
  /** url + "/v1", what `new OpenAI({ baseURL })` takes. */
  baseURL: string;
  apiKey: string;
  close(): Promise<void>;
  requests(): RecordedRequest[];
}

export interface RecordedRequest {
  /** The `x-request-id` the response carried. */
  id: string;
  endpoint: Endpoint | "models" | "other";
  method: string;
  path: string;
  model: string | null;
  /** ISO time the request arrived. */
  time: string;
  /** A short description of the body: counts, the first characters of the text, formats. */
  summary: Record<string, unknown>;
  /** The status sent, or null if the client went away first (a hang or a delay it did not wait for). */
  status: number | null;
  aborted: boolean;
  /** Id of the scripted response that answered it, if any. */
  scriptId: string | null;
  durationMs: number;
}

export interface StandinDeps {
  apiKey: string;
  scripts: ScriptRules;
  recorded: RecordedRequest[];
  /** Aborted when the server closes, releasing hung requests. */
  closing: AbortSignal;
  log?: (entry: Record<string, unknown>) => void;
}

export function generateApiKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return `sk-standin-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

export async function startOpenAiStandin(opts: StartOptions): Promise<RunningOpenAiStandin> {
  const apiKey = opts.apiKey ?? generateApiKey();
  const closing = new AbortController();
  const recorded: RecordedRequest[] = [];
  const log = jsonLines("openai-standin", !opts.log);
  const handler = createStandinHandler({
    apiKey,
    scripts: createScriptRules(),
    recorded,
    closing: closing.signal,
    log,
  });
  const hostname = opts.hostname ?? "127.0.0.1";
  const listening = Promise.withResolvers<void>();
  const server = Deno.serve({ port: opts.port, hostname, onListen: () => listening.resolve() }, handler);
  await listening.promise;
  const url = `http://${hostname}:${server.addr.port}`;
  let closed: Promise<void> | undefined;
  return {
    url,
    baseURL: `${url}/v1`,
    apiKey,
    requests: () => recorded.map((r) => ({ ...r })),
    close: () => {
      closed ??= (async () => {
        closing.abort();
        await server.shutdown();
      })();
      return closed;
    },
  };
}

function json(value: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

function errorResponse(e: OpenAiError, headers: Record<string, string> = {}): Response {
  return json(e.body(), e.status, { ...e.headers, ...headers });
}

function bearerKey(req: Request): string | undefined {
  const header = req.headers.get("authorization");
  const match = header ? /^Bearer\s+(.+)$/i.exec(header.trim()) : null;
  return match ? match[1].trim() : undefined;
}

function authProblem(req: Request, apiKey: string): OpenAiError | undefined {
  const given = bearerKey(req);
  if (given === undefined) {
    return new OpenAiError(
      401,
      "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer " +
        "auth (i.e. Authorization: Bearer YOUR_KEY).",
    );
  }
  if (given === apiKey) return undefined;
  // Like the API, never echo a whole key back.
  const masked = given.length > 8 ? `${given.slice(0, 3)}${"*".repeat(given.length - 7)}${given.slice(-4)}` : "***";
  return new OpenAiError(
    401,
    `Incorrect API key provided: ${masked}. You can find your API key at https://platform.openai.com/account/api-keys.`,
    "invalid_request_error",
    null,
    "invalid_api_key",
  );
}

const ROUTES: Record<string, Endpoint> = {
  "/v1/chat/completions": "chat",
  "/v1/embeddings": "embeddings",
  "/v1/audio/transcriptions": "transcriptions",
};

export function createStandinHandler(deps: StandinDeps): (req: Request) => Promise<Response> {
  return async (req) => {
    const url = new URL(req.url);
    const below = controlPath(url.pathname);
    if (below === undefined) return await serveApi(deps, req, url.pathname.replace(/\/+$/, ""));
    if (below === "/health" && req.method === "GET") return json({ ok: true });
    const problem = authProblem(req, deps.apiKey);
    if (problem) return errorResponse(problem);
    try {
      return await controlRoutes.answer(deps, {
        method: req.method,
        pathname: url.pathname,
        query: url.searchParams,
        readBody: async () => {
          const bytes = new Uint8Array(await req.arrayBuffer());
          return bytes.length ? readJsonBody(bytes) : {};
        },
      });
    } catch (e) {
      if (e instanceof OpenAiError) return errorResponse(e);
      throw e;
    }
  };
}

/** `/_control/…`: scripted responses (the kit's fault routes), the request record, reset. */
const controlRoutes = new ControlRoutes<StandinDeps, Response>({
  json,
  noContent: () => new Response(null, { status: 204 }),
  invalid: (e) => errorResponse(fromZodError(e)),
  unknownRoute: (method, path) => errorResponse(new OpenAiError(404, `Invalid URL (${method} ${path})`)),
})
  .faults((deps) => deps.scripts)
  .add("POST", "/reset", (deps) => {
    deps.scripts.clear();
    deps.recorded.length = 0;
    return json({ ok: true });
  })
  .add("GET", "/requests", (deps) => json({ requests: deps.recorded }))
  .add("DELETE", "/requests", (deps) => {
    deps.recorded.length = 0;
    return new Response(null, { status: 204 });
  });

function readJsonBody(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw invalidRequest(
      "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP " +
        "library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
    );
  }
}

async function serveApi(deps: StandinDeps, req: Request, path: string): Promise<Response> {
  const started = Date.now();
  const requestId = `req_${crypto.randomUUID().replaceAll("-", "")}`;
  const endpoint: RecordedRequest["endpoint"] = (ROUTES[path] as Endpoint | undefined) ??
    (path.startsWith("/v1/models") ? "models" : "other");
  const record: RecordedRequest = {
    id: requestId,
    endpoint,
    method: req.method,
    path,
    model: null,
    time: new Date(started).toISOString(),
    summary: {},
    status: null,
    aborted: false,
    scriptId: null,
    durationMs: 0,
  };
  deps.recorded.push(record);
  const headers = { "x-request-id": requestId, "openai-version": "2020-10-01" };
  const finish = (response: Response | null): Response => {
    record.durationMs = Date.now() - started;
    if (response) record.status = response.status;
    else record.aborted = true;
    deps.log?.({ ...record, summary: undefined });
    if (response) response.headers.set("openai-processing-ms", String(record.durationMs));
    // A response nobody waits for any more: Deno discards it.
    return response ?? new Response(null, { status: 499 });
  };
  try {
    const problem = authProblem(req, deps.apiKey);
    if (problem) return finish(errorResponse(problem, headers));
    if (endpoint === "models") return finish(modelsResponse(req, path, headers));
    const method = req.method;
    if (endpoint === "other" || method !== "POST") {
      return finish(errorResponse(new OpenAiError(404, `Invalid URL (${method} ${path})`), headers));
    }

    const bytes = await readLimitedBody(req);
    const rawText = new TextDecoder().decode(bytes);
    const input = await parseInput(endpoint, req, bytes, rawText, record);

    const script = takeScript(deps.scripts, endpoint, rawText);
    let statusOverride: number | undefined;
    let extraHeaders: Record<string, string> = {};
    if (script) {
      record.scriptId = script.id;
      const { respond } = script;
      // Touch req.signal only when waiting: Deno warns about its legacy abort-after-response otherwise.
      if (respond.delay_ms && !(await delay(respond.delay_ms, req.signal, deps.closing))) return finish(null);
      if (respond.hang) {
        await delay(Infinity, req.signal, deps.closing);
        return finish(null);
      }
      extraHeaders = respond.headers ?? {};
      const scripted = scriptedReply(script, input, { ...headers, ...extraHeaders }, record.model);
      if (scripted) return finish(scripted);
      statusOverride = respond.status;
    }
    if (input.error) throw input.error;
    const reply = await answer(endpoint, input);
    const allHeaders = { ...headers, ...extraHeaders };
    if (reply instanceof Response) {
      for (const [k, v] of Object.entries(allHeaders)) reply.headers.set(k, v);
      return finish(reply);
    }
    return finish(json(reply, statusOverride ?? 200, allHeaders));
  } catch (e) {
    if (e instanceof OpenAiError) return finish(errorResponse(e, headers));
    deps.log?.({ level: "error", id: requestId, error: String(e) });
    return finish(errorResponse(new OpenAiError(500, `The stand-in failed: ${String(e)}`, "server_error"), headers));
  }
}

function modelsResponse(req: Request, path: string, headers: Record<string, string>): Response {
  const created = 1_700_000_000;
  const all = [...CHAT_MODELS, ...Object.keys(EMBEDDING_MODELS), ...TRANSCRIPTION_MODELS].map((id) => ({
    id,
    object: "model",
    created,
    owned_by: id.startsWith("switchboard-") ? "switchboard" : "system",
  }));
  if (req.method !== "GET") return errorResponse(new OpenAiError(404, `Invalid URL (${req.method} ${path})`), headers);
  if (path === "/v1/models") return json({ object: "list", data: all }, 200, headers);
  const id = decodeURIComponent(path.slice("/v1/models/".length));
  const model = all.find((m) => m.id === id);
  return model ? json(model, 200, headers) : errorResponse(
    new OpenAiError(404, `The model '${id}' does not exist`, "invalid_request_error", "model", "model_not_found"),
    headers,
  );
}

async function readLimitedBody(req: Request): Promise<Uint8Array<ArrayBuffer>> {
  const tooLarge = (n: number) =>
    new OpenAiError(413, `Maximum content size limit (${MAX_BODY_BYTES}) exceeded (${n} bytes read)`, "server_error");
  const declared = Number(req.headers.get("content-length") ?? NaN);
  if (declared > MAX_BODY_BYTES) throw tooLarge(declared);
  const bytes = new Uint8Array(await req.arrayBuffer());
  if (bytes.length > MAX_BODY_BYTES) throw tooLarge(bytes.length);
  return bytes;
}

/** A request body decoded far enough to summarise it; `error` is kept until after scripts had their chance. */
interface ParsedInput {
  json?: unknown;
  form?: FormData;
  error?: OpenAiError;
}

async function parseInput(
  endpoint: Endpoint,
  req: Request,
  bytes: Uint8Array<ArrayBuffer>,
  rawText: string,
  record: RecordedRequest,
): Promise<ParsedInput> {
  const clip = (s: unknown, n = 120) => typeof s === "string" ? (s.length > n ? `${s.slice(0, n)}…` : s) : undefined;
  if (endpoint === "transcriptions") {
    try {
      const form = await new Response(bytes, { headers: { "content-type": req.headers.get("content-type") ?? "" } })
        .formData();
      const file = form.get("file");
      record.model = typeof form.get("model") === "string" ? form.get("model") as string : null;
      record.summary = {
        filename: file instanceof File ? file.name : null,
        bytes: file instanceof File ? file.size : null,
        response_format: form.get("response_format") ?? "json",
        language: form.get("language"),
      };
      return { form };
    } catch {
      return { error: invalidRequest("Could not parse multipart form data: send the 'file' and 'model' fields.") };
    }
  }
  let body: unknown;
  try {
    body = readJsonBody(bytes);
  } catch (e) {
    record.summary = { raw: clip(rawText) };
    return { error: e as OpenAiError };
  }
  const b = (body ?? {}) as Record<string, unknown>;
  record.model = typeof b.model === "string" ? b.model : null;
  if (endpoint === "embeddings") {
    const inputs = Array.isArray(b.input) ? b.input : [b.input];
    record.summary = {
      inputs: inputs.length,
      first_input: clip(inputs[0], 80),
      dimensions: b.dimensions,
      encoding_format: b.encoding_format,
    };
  } else {
    const messages = Array.isArray(b.messages) ? b.messages as { role?: unknown; content?: unknown }[] : [];
    const lastUser = messages.findLast((m) => m?.role === "user");
    record.summary = {
      messages: messages.length,
      last_user: clip(typeof lastUser?.content === "string" ? lastUser.content : JSON.stringify(lastUser?.content)),
      response_format: (b.response_format as { type?: unknown } | undefined)?.type ?? "text",
    };
  }
  return { json: body };
}

/** The scripted answer, or null when the script only delays / overrides status and the normal answer follows. */
function scriptedReply(
  script: ScriptedRule,
  input: ParsedInput,
  headers: Record<string, string>,
  model: string | null,
): Response | null {
  const { respond } = script;
  if (respond.error === "insufficient_quota") return errorResponse(insufficientQuota(), headers);
  if (respond.error === "rate_limit_exceeded") {
    return errorResponse(rateLimitExceeded(model, respond.reset_ms ?? 1000), headers);
  }
  if (respond.content !== undefined) {
    let model = "switchboard-test-chat";
    let n: number | null | undefined;
    let prompt = 0;
    try {
      const req = parseChatRequest(input.json);
      ({ model, n } = req);
      prompt = promptTokens(req);
    } catch {
      // A scripted answer does not need a valid request; the model name is cosmetic.
    }
    return json(completionBody({ model, n }, prompt, respond.content), respond.status ?? 200, headers);
  }
  if (respond.body !== undefined) {
    const status = respond.status ?? 200;
    if (typeof respond.body === "string") {
      return new Response(respond.body, { status, headers: { "content-type": "application/json", ...headers } });
    }
    return json(respond.body, status, headers);
  }
  if (respond.status !== undefined && respond.status >= 400) {
    return errorResponse(defaultErrorFor(respond.status), headers);
  }
  return null;
}

async function answer(endpoint: Endpoint, input: ParsedInput): Promise<unknown> {
  if (endpoint === "chat") return createChatCompletion(input.json);
  if (endpoint === "embeddings") return createEmbeddings(input.json);
  const result = await createTranscription(input.form!);
  if (result.format === "text") {
    return new Response(result.text, { headers: { "content-type": "text/plain; charset=utf-8" } });
  }
  return { text: result.text };
}

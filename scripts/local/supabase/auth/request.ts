// Reading a request the way GoTrue's Go handlers do: a JSON object body decoded like encoding/json (and refused with
// its messages), typed fields, and the audience a request speaks for (X-JWT-AUD).

import { badRequest } from "./errors.ts";

export type Json = Record<string, unknown>;

export const DEFAULT_AUDIENCE = "authenticated";

export function isPlainObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** GoTrue's requestAud: the X-JWT-AUD header, else the configured audience. */
export const requestAud = (req: Request) => req.headers.get("x-jwt-aud") || DEFAULT_AUDIENCE;

export async function readJson(req: Request): Promise<Json> {
  const text = await req.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    const detail = text.trim() === "" ? "unexpected end of JSON input" : (err as Error).message;
    throw badRequest("bad_json", `Could not parse request body as JSON: ${detail}`);
  }
  if (!isPlainObject(parsed)) {
    const type = Array.isArray(parsed) ? "array" : parsed === null ? "null" : typeof parsed;
    throw badRequest("bad_json", `Could not parse request body as JSON: json: cannot unmarshal ${type} into Go value`);
  }
  return parsed;
}

/** A string field ("" when absent or null), refused as encoding/json refuses another type. */
export function str(body: Json, key: string): string {
  const v = body[key];
  if (v === undefined || v === null) return "";
  if (typeof v !== "string") {
    throw badRequest(
      "bad_json",
      `Could not parse request body as JSON: json: cannot unmarshal ${typeof v} into Go struct field .${key} of type string`,
    );
  }
  return v;
}

/** A string field that may be left out (null) as distinct from given empty (""), like a Go `*string`. */
export function optionalStr(body: Json, key: string): string | null {
  return body[key] === undefined || body[key] === null ? null : str(body, key);
}

/** An object field (null when absent), refused as encoding/json refuses another type. */
export function obj(body: Json, key: string): Json | null {
  const v = body[key];
  if (v === undefined || v === null) return null;
  if (!isPlainObject(v)) {
    throw badRequest(
      "bad_json",
      `Could not parse request body as JSON: json: cannot unmarshal ${
        Array.isArray(v) ? "array" : typeof v
      } into Go struct field .${key} of type map[string]interface {}`,
    );
  }
  return v;
}

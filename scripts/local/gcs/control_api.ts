// The emulator's own control surface under /_emulator (never subject to faults): state counts, reset, fault
// rules and the clock offset — what tests and `npm start` scripts use to steer it over HTTP.
//
//   GET    /_emulator/health                → {ok: true}
//   GET    /_emulator/state                 → {buckets, objects, bytes, uploads, perBucket, faults, clockOffsetMs}
//   POST   /_emulator/reset                 → empties buckets, objects, sessions, faults; clock back to real time
//   GET    /_emulator/faults                → {faults: [...]}
//   POST   /_emulator/faults  {rule}|{faults:[rule…]} → 201 {faults: [...added]}
//   DELETE /_emulator/faults[/{id}]         → removes one rule, or all
//   POST   /_emulator/clock   {advance_ms}  → {now, offsetMs}

import { ZodError } from "zod";
import { empty, type GcsRequest, json, readJson, type Reply } from "./http.ts";
import type { GcsEmulator } from "./server.ts";

export async function handleControlApi(emulator: GcsEmulator, req: GcsRequest): Promise<Reply> {
  const path = req.url.pathname.replace(/\/+$/, "");
  const method = req.method;
  try {
    if (path === "/_emulator/health" && method === "GET") return json({ ok: true });
    if (path === "/_emulator/state" && method === "GET") return json(emulator.state());
    if (path === "/_emulator/reset" && method === "POST") {
      await emulator.reset();
      return json({ ok: true });
    }
    if (path === "/_emulator/faults") {
      if (method === "GET") return json({ faults: emulator.faults.list() });
      if (method === "DELETE") {
        emulator.faults.clear();
        return empty(204);
      }
      if (method === "POST") {
        const body = await readJson(req);
        const inputs = Array.isArray(body.faults) ? body.faults : [body];
        return json({ faults: inputs.map((input) => emulator.faults.add(input)) }, 201);
      }
    }
    const one = /^\/_emulator\/faults\/([^/]+)$/.exec(path);
    if (one && method === "DELETE") {
      return emulator.faults.remove(decodeURIComponent(one[1])) ? empty(204) : json({ error: "no such fault" }, 404);
    }
    if (path === "/_emulator/clock") {
      if (method === "POST") {
        const body = await readJson(req);
        if (typeof body.advance_ms !== "number") return json({ error: "advance_ms (a number) is required" }, 400);
        emulator.clock.advance(body.advance_ms);
      } else if (method === "DELETE") emulator.clock.reset();
      else if (method !== "GET") return json({ error: "method not allowed" }, 405);
      return json({ now: new Date(emulator.clock.now()).toISOString(), offsetMs: emulator.clock.offsetMs });
    }
    return json({ error: `no control route ${method} ${path}` }, 404);
  } catch (e) {
    if (e instanceof ZodError) return json({ error: "invalid fault rule", issues: e.issues }, 400);
    throw e;
  }
}

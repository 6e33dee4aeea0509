// The emulator's own control surface under /_control (never subject to faults): state counts, reset, fault
// rules and the clock offset — what tests and `npm start` scripts use to steer it over HTTP.
//
//   GET    /_control/health                → {ok: true}
//   GET    /_control/state                 → {buckets, objects, bytes, uploads, perBucket, faults, clockOffsetMs}
//   POST   /_control/reset                 → empties buckets, objects, sessions, faults; clock back to real time
//   GET|POST|DELETE /_control/faults[/{id}] → the kit's fault-rule routes
//   GET    /_control/clock                 → {now, offsetMs}; POST {advance_ms} moves it on, DELETE resets it
//   GET    /_control/bucket-ops            → {interval_ms, burst, granted, refused}: the per-project bucket
//                                             create/delete rate; PUT {interval_ms?, burst?} changes it (0 = off)
//   GET|POST /_control/foreign-buckets     → names another project owns; POST {name}; DELETE …/{name}

import { z } from "zod";
import { ControlRoutes } from "../kit/control.ts";
import { assertBucketName } from "./names.ts";
import { empty, type GcsRequest, json, readJson, type Reply } from "./http.ts";
import type { GcsEmulator } from "./server.ts";

const clockReply = (emulator: GcsEmulator) =>
  json({ now: new Date(emulator.clock.now()).toISOString(), offsetMs: emulator.clock.offsetMs });

const routes = new ControlRoutes<GcsEmulator, Reply>({ json, noContent: () => empty(204) })
  .add("GET", "/health", () => json({ ok: true }))
  .add("GET", "/state", (emulator) => json(emulator.state()))
  .add("POST", "/reset", async (emulator) => {
    await emulator.reset();
    return json({ ok: true });
  })
  .faults((emulator) => emulator.faults)
  .add("GET", "/clock", clockReply)
  .add("POST", "/clock", (emulator, req) => {
    const { advance_ms } = req.body as { advance_ms?: unknown };
    if (typeof advance_ms !== "number") return json({ error: "advance_ms (a number) is required" }, 400);
    emulator.clock.advance(advance_ms);
    return clockReply(emulator);
  })
  .add("DELETE", "/clock", (emulator) => {
    emulator.clock.reset();
    return clockReply(emulator);
  })
  .add("GET", "/bucket-ops", (emulator) => json(emulator.bucketOps.state()))
  .add("PUT", "/bucket-ops", (emulator, req) => {
    emulator.bucketOps.configure(req.body as Record<string, unknown>);
    return json(emulator.bucketOps.state());
  })
  .add("GET", "/foreign-buckets", (emulator) => json({ names: emulator.foreign.list() }))
  .add("POST", "/foreign-buckets", (emulator, req) => {
    const { name } = z.object({ name: z.string() }).parse(req.body);
    assertBucketName(name);
    emulator.foreign.add(name);
    return json({ names: emulator.foreign.list() }, 201);
  })
  .add(
    "DELETE",
    "/foreign-buckets/:name",
    (emulator, req) =>
      emulator.foreign.remove(req.params.name) ? empty(204) : json({ error: `${req.params.name} is not foreign` }, 404),
  );

export function handleControlApi(emulator: GcsEmulator, req: GcsRequest): Promise<Reply> {
  return routes.answer(emulator, {
    method: req.method,
    pathname: req.url.pathname,
    query: req.url.searchParams,
    readBody: () => readJson(req),
  });
}

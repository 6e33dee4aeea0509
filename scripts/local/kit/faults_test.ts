import assert from "node:assert/strict";
import { z } from "zod";
import { ControlRoutes } from "./control.ts";
import { delay, faultRuleFields, FaultRules } from "./faults.ts";

const Rule = z.object({ mode: z.enum(["slow", "fail", "drop"]), ms: z.number().optional(), ...faultRuleFields });
const rules = (random?: () => number) =>
  new FaultRules(Rule, {
    random,
    delayOf: (r) => r.mode === "slow" ? r.ms ?? 0 : undefined,
    dropsConnection: (r) => r.mode === "drop",
  });
const url = (path: string) => new URL(`http://stand-in.test${path}`);

Deno.test("delays add up, the first deciding rule answers, and a second one is not used up by the same request", () => {
  const faults = rules();
  faults.add({ mode: "slow", ms: 30 });
  faults.add({ mode: "slow", ms: 20, count: 1 });
  const first = faults.add({ mode: "fail", count: 1 });
  const second = faults.add({ mode: "fail", count: 1 });
  const plan = faults.forRequest("GET", url("/x"));
  assert.equal(plan.delayMs, 50);
  assert.equal(plan.terminal?.id, first.id);
  assert.deepEqual(faults.list().map((r) => r.applied), [1, 1, 1, 0]);
  assert.equal(faults.forRequest("GET", url("/x")).terminal?.id, second.id, "the next request gets the second");
  assert.equal(faults.forRequest("GET", url("/x")).terminal, undefined, "both are used up");
});

Deno.test("fire() fires every accepted rule, each counted", () => {
  const faults = rules();
  faults.add({ mode: "fail", count: 1 });
  faults.add({ mode: "drop", count: 1 });
  assert.deepEqual(faults.fire(() => true).map((r) => r.mode), ["fail", "drop"]);
  assert.deepEqual(faults.fire(() => true), []);
});

Deno.test("globs match path, path and query when they have a `?`, and a destination URL or its path", () => {
  const faults = rules();
  const rule = (path: string, method?: string) => faults.add({ mode: "fail", path, method });
  assert.ok(faults.matches(rule("/b/*/o/*"), "GET", "/b/x/o/a/b?alt=media"), "`*` crosses `/`, the query is ignored");
  assert.ok(!faults.matches(rule("/b/*?alt=media*"), "GET", "/b/x"), "a `?` glob needs the query");
  assert.ok(faults.matches(rule("/b/*?alt=media*"), "GET", "/b/x?alt=media&x=1"));
  assert.ok(faults.matches(rule("/hook"), undefined, "http://127.0.0.1:9/hook"), "a URL's path");
  assert.ok(faults.matches(rule("*bot*"), undefined, "http://bot.test/in"), "the URL itself");
  assert.ok(!faults.matches(rule("/x", "post"), "GET", "/x"), "the method is upper-cased and compared");
  assert.ok(faults.matches(rule("/x", "post"), undefined, "/x"), "deliveries have no method to compare");
});

Deno.test("probability decides per match; a rule that missed is not counted", () => {
  const draws = [0.9, 0.1];
  const faults = rules(() => draws.shift()!);
  faults.add({ mode: "fail", probability: 0.5 });
  assert.equal(faults.forRequest("GET", url("/")).terminal, undefined);
  assert.equal(faults.forRequest("GET", url("/")).terminal?.applied, 1);
});

Deno.test("a dropping rule is known while it may fire; addAll adds none when one rule is invalid", () => {
  const faults = rules();
  const added: string[] = [];
  faults.onAdd((r) => added.push(r.mode));
  assert.equal(faults.mayDropConnection(), false);
  faults.add({ mode: "drop", count: 1 });
  assert.equal(faults.mayDropConnection(), true);
  faults.forRequest("GET", url("/"));
  assert.equal(faults.mayDropConnection(), false, "used up");
  assert.throws(() => faults.addAll([{ mode: "fail" }, { mode: "explode" }]), (e) => e instanceof z.ZodError);
  assert.deepEqual(added, ["drop"]);
});

Deno.test("the control fault routes list, add (one, an array or {faults}), remove and clear; bad rules get 400", async () => {
  const faults = rules();
  const routes = new ControlRoutes<null, { status: number; body?: unknown }>({
    json: (body, status = 200) => ({ status, body }),
    noContent: () => ({ status: 204 }),
  }).faults(() => faults);
  const call = (method: string, pathname: string, body?: unknown) =>
    routes.answer(null, { method, pathname, query: new URLSearchParams(), readBody: () => Promise.resolve(body) });

  assert.equal((await call("POST", "/_control/faults", { mode: "fail" })).status, 201);
  const added = await call("POST", "/_control/faults", [{ mode: "slow" }, { mode: "drop" }]);
  assert.equal((added.body as { faults: unknown[] }).faults.length, 2);
  await call("POST", "/_control/faults/", { faults: [{ mode: "fail", count: 2 }] });
  assert.equal(faults.list().length, 4);
  assert.equal((await call("POST", "/_control/faults", [{ mode: "fail" }, { mode: "nope" }])).status, 400);
  assert.equal(faults.list().length, 4, "an invalid batch adds nothing");
  assert.equal((await call("DELETE", `/_control/faults/${faults.list()[0].id}`)).status, 204);
  assert.equal((await call("DELETE", "/_control/faults/fault_99")).status, 404);
  const listed = await call("GET", "/_control/faults");
  assert.equal((listed.body as { faults: unknown[] }).faults.length, 3);
  assert.equal((await call("DELETE", "/_control/faults")).status, 204);
  assert.equal(faults.list().length, 0);
  assert.equal((await call("GET", "/_control/nothing")).status, 404);
});

Deno.test("delay resolves true after its time, false as soon as a signal aborts (Infinity waits for one)", async () => {
  assert.equal(await delay(5), true);
  const abort = new AbortController();
  const forever = delay(Infinity, abort.signal);
  abort.abort();
  assert.equal(await forever, false);
  assert.equal(await delay(10, abort.signal), false, "an aborted signal ends the wait at once");
});

// Unit tests of the eval's metrics: the numbers `npm run eval:ai` prints must mean what their names say,
// including the edge cases (nothing relevant, no positives) where a naive division reports 0% or NaN.

import assert from "node:assert/strict";
import { citesExpected, confusion, hitAtK, mean, percent, recallAtK, reciprocalRank } from "./metrics.ts";

function close(actual: number, expected: number): void {
  assert.ok(Math.abs(actual - expected) < 1e-9, `${actual} is not ${expected}`);
}

Deno.test("recall@k counts the expected sources found in the top k", () => {
  const ranked = ["a", "b", "c", "d", "e", "f"];
  assert.deepEqual(recallAtK(ranked, [["c"], ["f"]], 5), 0.5);
  assert.deepEqual(recallAtK(ranked, [["c"], ["f"]], 6), 1);
  assert.deepEqual(recallAtK(ranked, [["x"]], 5), 0);
});

Deno.test("recall@k: a source spanning several chunks counts once, whichever of its chunks is retrieved", () => {
  assert.deepEqual(recallAtK(["b", "a"], [["a", "z"], ["q"]], 5), 0.5);
  assert.deepEqual(recallAtK(["a", "z"], [["a", "z"]], 5), 1);
});

Deno.test("recall@k is undefined (null) when nothing is expected, and 0 for an empty ranking", () => {
  assert.deepEqual(recallAtK(["a"], [], 5), null);
  assert.deepEqual(recallAtK([], [["a"]], 5), 0);
  assert.deepEqual(recallAtK(["a"], [["a"]], 0), 0);
});

Deno.test("hit@k is 1 when any relevant chunk is in the top k", () => {
  assert.deepEqual(hitAtK(["a", "b", "c"], new Set(["c"]), 3), 1);
  assert.deepEqual(hitAtK(["a", "b", "c"], new Set(["c"]), 2), 0);
  assert.deepEqual(hitAtK(["a"], new Set(), 5), null);
});

Deno.test("reciprocal rank uses the first relevant chunk", () => {
  assert.deepEqual(reciprocalRank(["a", "b", "c"], new Set(["a"])), 1);
  close(reciprocalRank(["a", "b", "c"], new Set(["c", "b"]))!, 0.5);
  assert.deepEqual(reciprocalRank(["a", "b"], new Set(["z"])), 0);
  assert.deepEqual(reciprocalRank([], new Set(["z"])), 0);
  assert.deepEqual(reciprocalRank(["a"], new Set()), null);
});

Deno.test("MRR is the mean of defined reciprocal ranks; an empty slice is n/a, not 0", () => {
  close(mean([1, 0.5, 0, null])!, 0.5);
  assert.deepEqual(mean([]), null);
  assert.deepEqual(mean([null, undefined]), null);
  assert.deepEqual(mean([NaN, 1]), 1);
});

Deno.test("precision and recall of handoffs (positive = handoff)", () => {
  const c = confusion([
    { predicted: true, actual: true },
    { predicted: true, actual: false },
    { predicted: false, actual: true },
    { predicted: false, actual: false },
    { predicted: true, actual: true },
  ]);
  assert.deepEqual([c.tp, c.fp, c.fn, c.tn], [2, 1, 1, 1]);
  close(c.precision!, 2 / 3);
  close(c.recall!, 2 / 3);
  close(c.f1!, 2 / 3);
});

Deno.test("zero actual positives: recall is undefined; a bot that never hands off has undefined precision", () => {
  const noPositives = confusion([{ predicted: true, actual: false }, { predicted: false, actual: false }]);
  assert.deepEqual(noPositives.recall, null);
  assert.deepEqual(noPositives.precision, 0);
  assert.deepEqual(noPositives.f1, null);

  const neverHandsOff = confusion([{ predicted: false, actual: true }, { predicted: false, actual: false }]);
  assert.deepEqual(neverHandsOff.precision, null);
  assert.deepEqual(neverHandsOff.recall, 0);
  assert.deepEqual(neverHandsOff.f1, null);

  const empty = confusion([]);
  assert.deepEqual([empty.precision, empty.recall, empty.f1], [null, null, null]);
});

Deno.test("f1 is 0, not NaN, when precision and recall are both 0", () => {
  const c = confusion([{ predicted: true, actual: false }, { predicted: false, actual: true }]);
  assert.deepEqual([c.precision, c.recall, c.f1], [0, 0, 0]);
});

Deno.test("a reply is correct only if it cites an expected chunk", () => {
  assert.deepEqual(citesExpected(["7", "9"], new Set(["9"])), true);
  assert.deepEqual(citesExpected(["7"], new Set(["9"])), false);
  assert.deepEqual(citesExpected([], new Set(["9"])), false);
});

Deno.test("percent prints n/a for undefined metrics", () => {
  assert.deepEqual(percent(null), "n/a");
  assert.deepEqual(percent(0.5), "50.0%");
  assert.deepEqual(percent(2 / 3, 0), "67%");
});

// The arithmetic of `npm run eval:ai`: ranking metrics over retrieved chunk ids and confusion counts
// for the handoff decision. Pure functions; "undefined" cases (no relevant items, no positives) are null.

/**
 * Recall@k over alternative sources: each group holds the chunk ids that satisfy one expected source
 * (a section may span several overlapping chunks); the fraction of groups with a member in the top k.
 * Null when nothing is expected.
 */
export function recallAtK(ranked: readonly string[], groups: readonly (readonly string[])[], k: number): number | null {
  if (groups.length === 0) return null;
  const top = new Set(ranked.slice(0, Math.max(0, k)));
  return groups.filter((g) => g.some((id) => top.has(id))).length / groups.length;
}

/** 1 when any relevant id is in the top k, else 0; null when nothing is relevant. */
export function hitAtK(ranked: readonly string[], relevant: ReadonlySet<string>, k: number): number | null {
  if (relevant.size === 0) return null;
  return ranked.slice(0, Math.max(0, k)).some((id) => relevant.has(id)) ? 1 : 0;
}

/** 1 / rank of the first relevant id (1-based), 0 when none was retrieved; null when nothing is relevant. */
export function reciprocalRank(ranked: readonly string[], relevant: ReadonlySet<string>): number | null {
  if (relevant.size === 0) return null;
  const i = ranked.findIndex((id) => relevant.has(id));
  return i < 0 ? 0 : 1 / (i + 1);
}

/** Mean of the defined values; null when there are none (so an empty slice never reads as 0%). */
export function mean(values: readonly (number | null | undefined)[]): number | null {
  const xs = values.filter((v): v is number => typeof v === "number" && Number.isFinite(v));
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
}

export interface Confusion {
  tp: number;
  fp: number;
  fn: number;
  tn: number;
  /** tp / (tp + fp); null when nothing was predicted positive. */
  precision: number | null;
  /** tp / (tp + fn); null when there are no actual positives. */
  recall: number | null;
  /** Harmonic mean; null unless both are defined, 0 when both are 0. */
  f1: number | null;
}

/** Precision and recall of a binary decision (here positive = handoff). */
export function confusion(pairs: readonly { predicted: boolean; actual: boolean }[]): Confusion {
  let tp = 0, fp = 0, fn = 0, tn = 0;
  for (const p of pairs) {
    if (p.predicted && p.actual) tp++;
    else if (p.predicted) fp++;
    else if (p.actual) fn++;
    else tn++;
  }
  const precision = tp + fp === 0 ? null : tp / (tp + fp);
  const recall = tp + fn === 0 ? null : tp / (tp + fn);
  const f1 = precision === null || recall === null
    ? null
    : precision + recall === 0
    ? 0
    : (2 * precision * recall) / (precision + recall);
  return { tp, fp, fn, tn, precision, recall, f1 };
}

/** A reply is correct when it cites at least one chunk of an expected source. */
export function citesExpected(cited: readonly string[], relevant: ReadonlySet<string>): boolean {
  return cited.some((id) => relevant.has(id));
}

/** "83.3%" or "n/a" for an undefined metric. */
export function percent(x: number | null, digits = 1): string {
  return x === null ? "n/a" : `${(x * 100).toFixed(digits)}%`;
}

// Metric families and their Prometheus text exposition (format 0.0.4): HELP and TYPE lines, label
// values escaped, histograms as cumulative `_bucket{le}` plus `_sum` and `_count`.

export type Labels = Record<string, string>;

export interface Sample {
  labels: Labels;
  value: number;
}

export interface HistogramSample {
  labels: Labels;
  /** Per-bucket counts over `bounds` (not cumulative), the last one past the top bound. */
  buckets: number[];
  sum: number;
  count: number;
}

export type MetricFamily =
  | { name: string; help: string; type: "counter" | "gauge"; samples: Sample[] }
  | { name: string; help: string; type: "histogram"; bounds: number[]; samples: HistogramSample[] };

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function labelText(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return "";
  return `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`;
}

function number(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/** The text a Prometheus server scrapes. */
export function renderExposition(families: MetricFamily[]): string {
  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`);
    lines.push(`# TYPE ${f.name} ${f.type}`);
    if (f.type === "histogram") {
      for (const s of f.samples) {
        let cumulative = 0;
        f.bounds.forEach((bound, i) => {
          cumulative += s.buckets[i] ?? 0;
          lines.push(`${f.name}_bucket${labelText({ ...s.labels, le: number(bound) })} ${cumulative}`);
        });
        lines.push(`${f.name}_bucket${labelText({ ...s.labels, le: "+Inf" })} ${s.count}`);
        lines.push(`${f.name}_sum${labelText(s.labels)} ${number(s.sum)}`);
        lines.push(`${f.name}_count${labelText(s.labels)} ${s.count}`);
      }
    } else {
      for (const s of f.samples) lines.push(`${f.name}${labelText(s.labels)} ${number(s.value)}`);
    }
  }
  return lines.join("\n") + "\n";
}

/** A quantile of a histogram sample, interpolated within its bucket (as histogram_quantile does). */
export function histogramQuantile(q: number, bounds: number[], buckets: number[]): number | null {
  const total = buckets.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const target = q * total;
  let cumulative = 0;
  for (let i = 0; i < buckets.length; i++) {
    if (buckets[i] > 0 && cumulative + buckets[i] >= target) {
      if (i >= bounds.length) return bounds[bounds.length - 1];
      const lower = i === 0 ? 0 : bounds[i - 1];
      return lower + (bounds[i] - lower) * (target - cumulative) / buckets[i];
    }
    cumulative += buckets[i];
  }
  return bounds[bounds.length - 1];
}

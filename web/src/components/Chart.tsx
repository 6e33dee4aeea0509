// A uPlot chart (canvas, ~50 KB, no dependencies) sized to its container: lines or bars over an x
// axis of days (unix seconds) or plain numbers (hours). The figures it draws are also in a table or
// a CSV beside it, so the canvas is described for screen readers by its caption only.

import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface ChartSeries {
  label: string;
  values: (number | null)[];
  color: string;
}

const bars = uPlot.paths.bars!({ size: [0.7, 40] });

export function Chart({
  x,
  series,
  kind = "line",
  time = false,
  height = 220,
  label,
  testId,
}: {
  x: number[];
  series: ChartSeries[];
  kind?: "line" | "bars";
  /** x is unix seconds (days) rather than plain numbers. */
  time?: boolean;
  height?: number;
  label: string;
  testId?: string;
}) {
  const box = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const opts: uPlot.Options = {
      width: Math.max(320, el.clientWidth),
      height,
      scales: { x: { time } },
      // Days are calendar dates in the store's zone, sent as UTC midnights: draw them in UTC.
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      legend: { show: series.length > 1 },
      // Counts: whole-number ticks only.
      axes: [time ? {} : { incrs: [1, 2, 3, 6, 12] }, { size: 48, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000] }],
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          fill: kind === "bars" ? `${s.color}cc` : `${s.color}22`,
          width: kind === "bars" ? 0 : 2,
          paths: kind === "bars" ? bars : undefined,
          points: { show: kind === "line" && x.length < 40 },
        })),
      ],
    };
    const plot = new uPlot(opts, [x, ...series.map((s) => s.values)] as uPlot.AlignedData, el);
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(320, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [x, series, kind, time, height]);

  return <div className="chart" ref={box} role="img" aria-label={label} data-testid={testId} />;
}

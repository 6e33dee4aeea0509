// A progress bar for long CLI runs (backfills, ingestion): done/total, rate and ETA on a TTY,
// and a line every few seconds when the output is a file or a pipe (CI logs, tests).

import cliProgress from "cli-progress";

export interface Progress {
  update(done: number, extra?: Record<string, string | number>): void;
  stop(): void;
}

export function progressBar(label: string, total: number, extraFormat = ""): Progress {
  const started = performance.now();
  const bar = new cliProgress.SingleBar({
    format: `${label} [{bar}] {value}/{total} | {rate}/s | ETA {eta_formatted}${
      extraFormat ? ` | ${extraFormat}` : ""
    }`,
    noTTYOutput: true,
    notTTYSchedule: 2000,
    etaBuffer: 200,
    hideCursor: true,
  }, cliProgress.Presets.shades_classic);
  const blanks = Object.fromEntries([...extraFormat.matchAll(/\{(\w+)\}/g)].map((m) => [m[1], ""]));
  bar.start(total, 0, { ...blanks, rate: "0.0" });
  return {
    update(done, extra = {}) {
      const seconds = (performance.now() - started) / 1000;
      bar.update(done, { rate: seconds > 0 ? (done / seconds).toFixed(1) : "0.0", ...extra });
    },
    stop() {
      bar.stop();
    },
  };
}

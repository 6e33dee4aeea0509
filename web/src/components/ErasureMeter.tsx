// How far one archive erasure got: a progress bar with objects deleted of those known, the step it is
// on, its job runs, and why it waits or failed. Shared by the Archive page and the Erasures page.

import type { ArchiveErasure } from "../api/types.ts";
import { formatCount } from "../format.ts";

const STEPS: Record<ArchiveErasure["step"], string> = {
  recorded_elsewhere: "deleting objects recorded in other buckets",
  bucket_objects: "deleting the bucket's objects",
  bucket: "deleting the bucket",
  done: "forgetting the records",
};

export function erasureSummary(e: ArchiveErasure): string {
  const n = new Intl.NumberFormat();
  if (e.status === "completed") {
    return `${formatCount(e.objects_deleted, "object")} deleted · ${formatCount(e.messages ?? 0, "message")} and ${
      formatCount(e.media ?? 0, "medium", "media")
    } forgotten`;
  }
  return `${n.format(e.objects_deleted)} of ~${n.format(e.total)} objects deleted`;
}

export function ErasureMeter({ erasure: e }: { erasure: ArchiveErasure }) {
  return (
    <div className="erasure-meter" data-testid="erasure-meter" data-status={e.status}>
      <progress max={100} value={e.percent} aria-label="Erasure progress">{e.percent}%</progress>
      <span className="small" data-testid="erasure-counts">
        {erasureSummary(e)} ({e.percent}%)
      </span>
      <span className="muted small">
        {e.status === "completed" ? "" : `${STEPS[e.step]} · `}
        {formatCount(e.runs, "job run")}
        {e.status === "completed" && e.soft_delete_seconds
          ? ` · GCS keeps deleted objects ${Math.round(e.soft_delete_seconds / 86_400)} days`
          : ""}
      </span>
      {e.last_error && e.status !== "completed" && (
        <span className={e.status === "failed" ? "text-error small" : "muted small"} data-testid="erasure-reason">
          {e.last_error}
        </span>
      )}
    </div>
  );
}

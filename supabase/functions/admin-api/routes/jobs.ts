// The job queue as the caller may see it (every job for a platform administrator, their stores'
// for a store administrator: public.visible_jobs), one job, and replaying a dead or finished one.

import { z } from "zod";
import { ApiError, parse } from "../../_shared/platform/http.ts";
import { dbError, route } from "../route.ts";

const jobFilters = z.object({
  status: z.enum(["queued", "running", "completed", "dead"]).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  after: z.coerce.number().int().positive().optional(),
});

export const jobRoutes = [
  route("GET", "/jobs", ({ url, asCaller }) => {
    const q = parse(jobFilters, Object.fromEntries(url.searchParams), "filters");
    return asCaller(async (tx) => {
      const jobs = await tx`select * from public.visible_jobs(${q.status ?? null}, ${q.limit}, ${q.after ?? null})`;
      return { jobs, next: jobs.length === q.limit ? String(jobs.at(-1)!.id) : null };
    });
  }),

  route("GET", "/jobs/:id(\\d+)", async ({ params, asCaller }) => {
    const [job] = await asCaller((tx) =>
      tx`select * from public.visible_jobs(null, 1, ${Number(params.id) + 1}) where id = ${params.id}`
    );
    if (!job) throw new ApiError(404, "not_found", "No such job (or it is not in your stores).");
    return { job };
  }),

  route("POST", "/jobs/:id(\\d+)/replay", async ({ params, asCaller }) => {
    const [r] = await asCaller((tx) => tx`select public.replay_visible_job(${params.id}) as ok`).catch(dbError);
    if (!r.ok) throw new ApiError(409, "not_replayable", "Only dead or completed jobs can be replayed.");
    return { status: "queued" };
  }),
];

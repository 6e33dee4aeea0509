// The app's pages as hash routes (`#/unmapped`, `#/jobs/dead`, …): no server rewrite rules are
// needed, so dist/ deploys to any static host or sub-path.

import { useEffect, useState } from "react";
import type { JobStatus, OverviewRange } from "./api/types.ts";

export type Route =
  | { page: "home" }
  | { page: "overview"; range: OverviewRange }
  | { page: "unmapped" }
  | { page: "contact"; storeId: string; phone: string }
  | { page: "stores" }
  | { page: "archive"; userId: string | null }
  | { page: "erasures" }
  | { page: "jobs"; status: JobStatus }
  | { page: "ai"; slug: string | null }
  | { page: "analytics"; slug: string | null }
  | { page: "notFound"; path: string };

const JOB_STATUSES: JobStatus[] = ["dead", "queued", "running", "completed"];
export const OVERVIEW_RANGES: OverviewRange[] = ["hour", "day", "week", "month"];

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, "").replace(/^\/+/, "").replace(/\/+$/, "");
  const parts = path.split("/").map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  switch (parts[0]) {
    case "":
      // The landing page: the Overview for platform administrators, unmapped contacts for others (App).
      return { page: "home" };
    case "overview": {
      const range = (parts[1] || "day") as OverviewRange;
      if (parts.length <= 2 && OVERVIEW_RANGES.includes(range)) return { page: "overview", range };
      break;
    }
    case "unmapped":
      if (parts.length === 3) return { page: "contact", storeId: parts[1], phone: parts[2] };
      if (parts.length === 1) return { page: "unmapped" };
      break;
    case "stores":
      if (parts.length === 1) return { page: "stores" };
      break;
    case "archive":
      if (parts.length <= 2) return { page: "archive", userId: parts[1] || null };
      break;
    case "ai":
      if (parts.length <= 2) return { page: "ai", slug: parts[1] || null };
      break;
    case "erasures":
      if (parts.length === 1) return { page: "erasures" };
      break;
    case "analytics":
      if (parts.length <= 2) return { page: "analytics", slug: parts[1] || null };
      break;
    case "jobs": {
      const status = (parts[1] || "dead") as JobStatus;
      if (parts.length <= 2 && JOB_STATUSES.includes(status)) return { page: "jobs", status };
      break;
    }
  }
  return { page: "notFound", path: `/${path}` };
}

export function href(route: Route): string {
  switch (route.page) {
    case "home":
      return "#/";
    case "overview":
      return `#/overview/${route.range}`;
    case "unmapped":
      return "#/unmapped";
    case "contact":
      return `#/unmapped/${encodeURIComponent(route.storeId)}/${encodeURIComponent(route.phone)}`;
    case "stores":
      return "#/stores";
    case "archive":
      return route.userId ? `#/archive/${encodeURIComponent(route.userId)}` : "#/archive";
    case "erasures":
      return "#/erasures";
    case "jobs":
      return `#/jobs/${route.status}`;
    case "ai":
      return route.slug ? `#/ai/${encodeURIComponent(route.slug)}` : "#/ai";
    case "analytics":
      return route.slug ? `#/analytics/${encodeURIComponent(route.slug)}` : "#/analytics";
    case "notFound":
      return `#${route.path}`;
  }
}

export function navigate(route: Route): void {
  window.location.hash = href(route);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

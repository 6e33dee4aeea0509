// How values are written for a person: dates, ages, sizes, job ids, roles.

import type { Me } from "./api/types.ts";

const dateTime = new Intl.DateTimeFormat("en-GB", {
  day: "numeric",
  month: "short",
  year: "numeric",
  hour: "2-digit",
  minute: "2-digit",
});

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dateTime.format(d);
}

/** "3 days ago", "in 5 minutes": for a glance; the exact time goes in a title. */
export function formatAge(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "—";
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return iso;
  const seconds = Math.round((t - now) / 1000);
  const units: [Intl.RelativeTimeFormatUnit, number][] = [
    ["year", 31_536_000],
    ["month", 2_592_000],
    ["day", 86_400],
    ["hour", 3_600],
    ["minute", 60],
  ];
  const rtf = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return rtf.format(Math.trunc(seconds / size), unit);
  }
  return "just now";
}

export function formatBytes(size: number | string | null | undefined): string {
  const n = Number(size);
  if (size === null || size === undefined || !Number.isFinite(n)) return "size unknown";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function formatCount(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString("en")} ${n === 1 ? one : many}`;
}

/** "Platform admin", or "Store admin: acme" for the stores the user owns or administers. */
export function roleLabel(me: Me): string {
  if (me.platform_admin) return "Platform admin";
  const administered = me.stores.filter((s) => s.role === "owner" || s.role === "admin");
  if (administered.length > 0) return `Store admin: ${administered.map((s) => s.slug).join(", ")}`;
  return "No admin role";
}

export function isAdministrator(me: Me): boolean {
  return me.platform_admin || me.stores.some((s) => s.role === "owner" || s.role === "admin");
}

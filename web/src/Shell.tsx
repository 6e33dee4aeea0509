// The signed-in frame: header with the navigation, the user's e-mail and role and a sign-out
// button, then the current page.

import type { ReactNode } from "react";
import { useMe, useSession } from "./auth/session.tsx";
import { roleLabel } from "./format.ts";
import { href, type Route } from "./router.ts";

const NAV: { label: string; route: Route; pages: Route["page"][]; testId: string; platformOnly?: boolean }[] = [
  {
    label: "Overview",
    route: { page: "overview", range: "day" },
    pages: ["overview", "home"],
    testId: "nav-overview",
    platformOnly: true,
  },
  { label: "Unmapped contacts", route: { page: "unmapped" }, pages: ["unmapped", "contact"], testId: "nav-unmapped" },
  { label: "Stores", route: { page: "stores" }, pages: ["stores"], testId: "nav-stores" },
  { label: "Archive", route: { page: "archive", userId: null }, pages: ["archive"], testId: "nav-archive" },
  { label: "Erasures", route: { page: "erasures" }, pages: ["erasures"], testId: "nav-erasures", platformOnly: true },
  { label: "Jobs", route: { page: "jobs", status: "dead" }, pages: ["jobs"], testId: "nav-jobs" },
  { label: "AI replies", route: { page: "ai", slug: null }, pages: ["ai"], testId: "nav-ai" },
  { label: "Analytics", route: { page: "analytics", slug: null }, pages: ["analytics"], testId: "nav-analytics" },
];

export function Shell({ route, children }: { route: Route; children: ReactNode }) {
  const me = useMe();
  const { signOut } = useSession();
  return (
    <div className="shell">
      <a className="skip-link" href="#main" onClick={(e) => {
        e.preventDefault();
        document.getElementById("main")?.focus();
      }}>
        Skip to content
      </a>
      <header className="header">
        <div className="header-inner">
          <a className="brand" href={href({ page: "home" })}>
            <span className="brand-mark" aria-hidden="true" />
            Switchboard <span className="brand-sub">admin</span>
          </a>
          <nav aria-label="Main" className="nav">
            {NAV.filter((item) => !item.platformOnly || me.platform_admin).map((item) => {
              const current = item.pages.includes(route.page);
              return (
                <a
                  key={item.label}
                  href={href(item.route)}
                  className={current ? "nav-link nav-link-current" : "nav-link"}
                  aria-current={current ? "page" : undefined}
                  data-testid={item.testId}
                >
                  {item.label}
                </a>
              );
            })}
          </nav>
          <div className="account">
            <div className="account-who">
              <span className="account-email" data-testid="user-email">{me.user.email ?? me.user.id}</span>
              <span className="account-role" data-testid="user-role">{roleLabel(me)}</span>
            </div>
            <button type="button" className="button button-small" onClick={() => void signOut()} data-testid="sign-out">
              Sign out
            </button>
          </div>
        </div>
      </header>
      <main id="main" className="main" tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}

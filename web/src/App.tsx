// Chooses what the user sees: sign-in, a start-up failure, or the signed-in shell with the page
// of the current hash route.

import { useEffect } from "react";
import { useSession } from "./auth/session.tsx";
import { ErrorAlert, Loading } from "./components/feedback.tsx";
import { isAdministrator } from "./format.ts";
import { AiPage } from "./pages/AiPage.tsx";
import { AnalyticsPage } from "./pages/AnalyticsPage.tsx";
import { ArchivePage } from "./pages/ArchivePage.tsx";
import { ContactPage } from "./pages/ContactPage.tsx";
import { ErasuresPage } from "./pages/ErasuresPage.tsx";
import { JobsPage } from "./pages/JobsPage.tsx";
import { OverviewPage } from "./pages/OverviewPage.tsx";
import { SignInPage } from "./pages/SignInPage.tsx";
import { StoresPage } from "./pages/StoresPage.tsx";
import { UnmappedPage } from "./pages/UnmappedPage.tsx";
import { href, type Route, useRoute } from "./router.ts";
import { Shell } from "./Shell.tsx";

const TITLES: Record<Route["page"], string> = {
  home: "Overview",
  overview: "Overview",
  unmapped: "Unmapped contacts",
  contact: "Contact",
  stores: "Stores",
  archive: "Archive",
  erasures: "Erasures",
  jobs: "Jobs",
  ai: "AI replies",
  analytics: "Store analytics",
  notFound: "Not found",
};

export function App() {
  const { state, signOut, retry } = useSession();
  const route = useRoute();

  useEffect(() => {
    document.title = state.status === "signedIn" ? `${TITLES[route.page]} · Switchboard admin` : "Sign in · Switchboard admin";
  }, [state.status, route.page]);

  if (state.status === "loading") {
    return (
      <div className="centered">
        <Loading label="Loading Switchboard admin…" />
      </div>
    );
  }
  if (state.status === "signedOut") return <SignInPage notice={state.notice} />;
  if (state.status === "unavailable") {
    return (
      <main className="centered">
        <div className="narrow">
          <ErrorAlert error={state.error} title="The admin app could not load your account" onRetry={retry} />
          <button type="button" className="button" onClick={() => void signOut()}>
            Sign out
          </button>
        </div>
      </main>
    );
  }
  if (!isAdministrator(state.me)) {
    return (
      <main className="centered">
        <div className="narrow" data-testid="not-admin">
          <h1>No administrator access</h1>
          <p>
            {state.me.user.email} is not a platform administrator and administers no store. Ask a platform
            administrator or your store's owner for access.
          </p>
          <button type="button" className="button" onClick={() => void signOut()} data-testid="sign-out">
            Sign out
          </button>
        </div>
      </main>
    );
  }
  // The landing page: platform administrators see the Overview, store administrators their queue.
  const shown: Route = route.page === "home"
    ? (state.me.platform_admin ? { page: "overview", range: "day" } : { page: "unmapped" })
    : route;
  return (
    <Shell route={shown}>
      <CurrentPage route={shown} />
    </Shell>
  );
}

function CurrentPage({ route }: { route: Route }) {
  switch (route.page) {
    case "home":
    case "overview":
      return <OverviewPage range={route.page === "overview" ? route.range : "day"} />;
    case "unmapped":
      return <UnmappedPage />;
    case "contact":
      return <ContactPage key={`${route.storeId}/${route.phone}`} storeId={route.storeId} phone={route.phone} />;
    case "stores":
      return <StoresPage />;
    case "archive":
      return <ArchivePage userId={route.userId} />;
    case "erasures":
      return <ErasuresPage />;
    case "jobs":
      return <JobsPage status={route.status} />;
    case "ai":
      return <AiPage key={route.slug ?? ""} slug={route.slug} />;
    case "analytics":
      return <AnalyticsPage key={route.slug ?? ""} slug={route.slug} />;
    case "notFound":
      return (
        <section className="page">
          <h1>Page not found</h1>
          <p>
            Nothing lives at <code>{route.path}</code>. <a href={href({ page: "unmapped" })}>Go to unmapped contacts</a>.
          </p>
        </section>
      );
  }
}

// Start-up: read the runtime config (config.json, else the build's VITE_* values), create the one
// Supabase client, and render the app, or a page that says what configuration is missing.

import { createClient } from "@supabase/supabase-js";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App.tsx";
import { SessionProvider } from "./auth/session.tsx";
import { loadConfig } from "./config.ts";
import "./styles.css";

const root = createRoot(document.getElementById("root")!);

loadConfig().then(
  (config) => {
    const supabase = createClient(config.supabaseUrl, config.supabaseAnonKey);
    root.render(
      <StrictMode>
        <SessionProvider supabase={supabase}>
          <App />
        </SessionProvider>
      </StrictMode>,
    );
  },
  (err: unknown) => {
    root.render(
      <main className="centered">
        <div className="narrow alert alert-error" role="alert" data-testid="config-error">
          <div>
            <strong>The admin app is not configured</strong>
            <p>{err instanceof Error ? err.message : String(err)}</p>
          </div>
        </div>
      </main>,
    );
  },
);

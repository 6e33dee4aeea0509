// Where the app finds its Supabase project: a runtime `config.json` next to index.html wins (so
// one bundle serves any stack), else the VITE_SUPABASE_URL / VITE_SUPABASE_ANON_KEY of the build.

export interface AppConfig {
  supabaseUrl: string;
  supabaseAnonKey: string;
  source: "config.json" | "build";
}

interface RuntimeConfigFile {
  supabaseUrl?: string;
  supabaseAnonKey?: string;
  // Accepted too, so a deploy script can reuse the variable names it already has.
  SUPABASE_URL?: string;
  SUPABASE_ANON_KEY?: string;
  VITE_SUPABASE_URL?: string;
  VITE_SUPABASE_ANON_KEY?: string;
}

async function readRuntimeConfig(): Promise<RuntimeConfigFile | null> {
  try {
    const res = await fetch(new URL("config.json", document.baseURI), { cache: "no-store" });
    if (!res.ok) return null;
    // A dev server or an SPA host may answer index.html for a missing file: not a config.
    const parsed: unknown = JSON.parse(await res.text());
    return parsed && typeof parsed === "object" ? (parsed as RuntimeConfigFile) : null;
  } catch {
    return null;
  }
}

export async function loadConfig(): Promise<AppConfig> {
  const file = await readRuntimeConfig();
  const fileUrl = file?.supabaseUrl ?? file?.SUPABASE_URL ?? file?.VITE_SUPABASE_URL;
  const fileKey = file?.supabaseAnonKey ?? file?.SUPABASE_ANON_KEY ?? file?.VITE_SUPABASE_ANON_KEY;
  const buildUrl = import.meta.env.VITE_SUPABASE_URL as string | undefined;
  const buildKey = import.meta.env.VITE_SUPABASE_ANON_KEY as string | undefined;
  const fromFile = Boolean(fileUrl && fileKey);
  const supabaseUrl = (fromFile ? fileUrl : buildUrl) ?? "";
  const supabaseAnonKey = (fromFile ? fileKey : buildKey) ?? "";
  if (!supabaseUrl || !supabaseAnonKey) {
    throw new Error(
      "No Supabase project is configured. Put a config.json next to index.html with " +
        '{"supabaseUrl": "...", "supabaseAnonKey": "..."}, or build with VITE_SUPABASE_URL and VITE_SUPABASE_ANON_KEY.',
    );
  }
  try {
    new URL(supabaseUrl);
  } catch {
    throw new Error(`The configured Supabase URL "${supabaseUrl}" is not a URL.`);
  }
  return { supabaseUrl: supabaseUrl.replace(/\/+$/, ""), supabaseAnonKey, source: fromFile ? "config.json" : "build" };
}

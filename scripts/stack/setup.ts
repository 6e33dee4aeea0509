// Idempotent installation of the system pieces the local stack needs: PostgreSQL 15 with its
// server headers, pgTAP + pg_prove, plpgsql_check (for `supabase db lint`) and pgvector.
// On Debian/Ubuntu as root it installs what is missing; elsewhere it names what to install.

import { exists, log, run, which } from "./proc.ts";

export const PG_MAJOR = Deno.env.get("PG_MAJOR") ?? "15";
export const PG_BIN = Deno.env.get("PG_BIN") ?? `/usr/lib/postgresql/${PG_MAJOR}/bin`;
const SHARE = `/usr/share/postgresql/${PG_MAJOR}`;
const PGVECTOR_VERSION = "0.8.0-1";

interface Requirement {
  what: string;
  present: () => Promise<boolean>;
  aptPackages: string[];
}

const requirements: Requirement[] = [
  {
    what: `PostgreSQL ${PG_MAJOR} server`,
    present: () => exists(`${PG_BIN}/initdb`),
    aptPackages: [`postgresql-${PG_MAJOR}`],
  },
  {
    what: `PostgreSQL ${PG_MAJOR} server development files (to build pgvector)`,
    present: () => exists(`/usr/lib/postgresql/${PG_MAJOR}/lib/pgxs/src/makefiles/pgxs.mk`),
    aptPackages: [`postgresql-server-dev-${PG_MAJOR}`, "dpkg-dev", "make"],
  },
  {
    what: "pgTAP",
    present: () => exists(`${SHARE}/extension/pgtap.control`),
    aptPackages: [`postgresql-${PG_MAJOR}-pgtap`],
  },
  {
    what: "pg_prove",
    present: async () => (await which("pg_prove")) !== null,
    aptPackages: ["libtap-parser-sourcehandler-pgtap-perl"],
  },
  {
    what: "plpgsql_check (used by `supabase db lint`)",
    present: () => exists(`${SHARE}/extension/plpgsql_check.control`),
    aptPackages: [`postgresql-${PG_MAJOR}-plpgsql-check`],
  },
];

async function isDebianRoot(): Promise<boolean> {
  return Deno.uid() === 0 && (await exists("/etc/debian_version")) && (await which("apt-get")) !== null;
}

/** pgvector is not packaged for bookworm: build it from Debian trixie's source package, using a
 * private apt configuration so the machine's own sources are never edited. */
async function buildPgvector(workDir: string) {
  const aptDir = `${workDir}/apt-trixie-src`;
  await Deno.mkdir(`${aptDir}/lists/partial`, { recursive: true });
  await Deno.mkdir(`${aptDir}/archives/partial`, { recursive: true });
  await Deno.writeTextFile(
    `${aptDir}/sources.list`,
    "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main\n",
  );
  await Deno.writeTextFile(
    `${aptDir}/apt.conf`,
    [
      `Dir::Etc::sourcelist "${aptDir}/sources.list";`,
      `Dir::Etc::sourceparts "-";`,
      `Dir::State::lists "${aptDir}/lists";`,
      `Dir::Cache::archives "${aptDir}/archives";`,
      `APT::Get::List-Cleanup "0";`,
      "",
    ].join("\n"),
  );
  const env = { APT_CONFIG: `${aptDir}/apt.conf`, PATH: Deno.env.get("PATH") ?? "" };
  log("building pgvector from Debian trixie's source package");
  await run("apt-get", ["update", "-qq"], { env });
  const src = `${workDir}/pgvector-src`;
  await Deno.remove(src, { recursive: true }).catch(() => {});
  await Deno.mkdir(src, { recursive: true });
  await run("apt-get", ["source", "-qq", `pgvector=${PGVECTOR_VERSION}`], { env, cwd: src });
  const dir = [...Deno.readDirSync(src)].find((e) => e.isDirectory && e.name.startsWith("pgvector"));
  if (!dir) throw new Error("apt-get source pgvector produced no source directory");
  const makeEnv = { ...env, PG_CONFIG: `${PG_BIN}/pg_config` };
  await run("make", ["-s", "-j2", `PG_CONFIG=${PG_BIN}/pg_config`], { cwd: `${src}/${dir.name}`, env: makeEnv });
  await run("make", ["-s", "install", `PG_CONFIG=${PG_BIN}/pg_config`], { cwd: `${src}/${dir.name}`, env: makeEnv });
}

/** Ensures every system requirement of the embedded stack. Returns quickly when all are present. */
export async function ensureSystemDependencies(workDir: string): Promise<void> {
  const missing: Requirement[] = [];
  for (const r of requirements) if (!(await r.present())) missing.push(r);
  const vectorPresent = await exists(`${SHARE}/extension/vector.control`);
  if (missing.length === 0 && vectorPresent) return;

  if (!(await isDebianRoot())) {
    const lines = missing.map((r) => `  - ${r.what} (Debian: ${r.aptPackages.join(" ")})`);
    if (!vectorPresent) lines.push(`  - pgvector for PostgreSQL ${PG_MAJOR} (https://github.com/pgvector/pgvector)`);
    throw new Error(
      "The embedded stack needs these, and this is not Debian/Ubuntu as root, so they cannot be installed here:\n" +
        lines.join("\n") +
        "\nInstall them, or set SUPABASE_DB_URL to an existing Supabase database (e.g. from `supabase start`).",
    );
  }
  const packages = missing.flatMap((r) => r.aptPackages);
  if (!vectorPresent) packages.push(`postgresql-server-dev-${PG_MAJOR}`, "dpkg-dev", "make", "gcc");
  const unique = [...new Set(packages)];
  log(`installing ${unique.join(" ")} (once)`);
  const env = { DEBIAN_FRONTEND: "noninteractive", PATH: Deno.env.get("PATH") ?? "" };
  await run("apt-get", ["update", "-qq"], { env });
  await run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...unique], { env });
  if (!vectorPresent) await buildPgvector(workDir);
  for (const r of requirements) {
    if (!(await r.present())) throw new Error(`${r.what} is still missing after installing ${r.aptPackages.join(" ")}`);
  }
  if (!(await exists(`${SHARE}/extension/vector.control`))) {
    throw new Error("pgvector build did not install vector.control");
  }
}

if (import.meta.main) {
  await Deno.mkdir(".local", { recursive: true });
  await ensureSystemDependencies(`${Deno.cwd()}/.local`);
  log("system dependencies present");
}

/** Debian's Chromium for the browser tests (never a downloaded browser build). */
export async function ensureChromium(): Promise<string> {
  const path = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";
  if (await exists(path)) return path;
  if (!(await isDebianRoot())) {
    throw new Error(
      `The browser tests need Chromium at ${path} (Debian: apt-get install chromium), or set CHROMIUM_PATH.`,
    );
  }
  log("installing chromium for the browser tests (once)");
  const env = { DEBIAN_FRONTEND: "noninteractive", PATH: Deno.env.get("PATH") ?? "" };
  await run("apt-get", ["update", "-qq"], { env });
  await run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "chromium"], { env });
  if (!(await exists(path))) throw new Error(`chromium was installed but ${path} is missing`);
  return path;
}

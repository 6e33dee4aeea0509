// `npm start` and `npm test`.
//   start: the product on its embedded stack, in the foreground until Ctrl-C; data persists
//          under .local/dev.
//   test:  a throwaway stack on free ports, then every suite; ends with "N passed, M failed".

import { clientKey, root, type Stack, startStack, statusBlock, writeStackInfo } from "./stack.ts";
import { log } from "./proc.ts";
import { runAllSuites } from "./suites.ts";
import { demoTraffic } from "./demo.ts";
import { ensureWebBuilt, serveWebApp, type WebApp } from "./webapp.ts";

async function start() {
  // Another data directory and info file let a second stack (a test of stopping) run beside this one.
  const dataDir = Deno.env.get("SWITCHBOARD_DATA_DIR") ?? `${root}/.local/dev`;
  const infoPath = Deno.env.get("SWITCHBOARD_STACK_INFO") ?? `${root}/.local/stack.json`;
  const external = Deno.env.get("SUPABASE_DB_URL");
  // Ctrl-C reaches this process twice (the terminal signals the whole group, and run.mjs passes
  // its own on): one shutdown, whatever arrives, and a start interrupted early stops too.
  let stopping: Promise<void> | null = null;
  let starting: Promise<Stack> | null = null;
  let webApp: WebApp | null = null;
  const stop = () => {
    if (stopping) return;
    log("stopping…");
    stopping = (async () => {
      await webApp?.close().catch(() => {});
      // A start still under way is let finish (it cleans up after itself if it fails), then closed.
      const stack = await starting?.catch(() => null);
      await stack?.close().catch((err) => log(`while stopping: ${err instanceof Error ? err.message : err}`));
      await Deno.remove(infoPath).catch(() => {});
      log("stopped");
      Deno.exit(0);
    })();
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  starting = startStack({
    stateDir: dataDir,
    dbPort: Number(Deno.env.get("SWITCHBOARD_DB_PORT") ?? 54322),
    apiPort: Number(Deno.env.get("SWITCHBOARD_API_PORT") ?? 54321),
    externalDbUrl: external,
    seed: true,
    chatwoot: {
      port: Number(Deno.env.get("SWITCHBOARD_CHATWOOT_PORT") ?? 3000),
      persistPath: `${dataDir}/chatwoot-sandbox.json`,
    },
    gcs: { port: Number(Deno.env.get("SWITCHBOARD_GCS_PORT") ?? 4443), dataDir: `${dataDir}/gcs` },
    openai: { port: Number(Deno.env.get("SWITCHBOARD_OPENAI_PORT") ?? 54330), useRealKey: true },
  });
  const stack = await starting;
  if (stopping) return await new Promise(() => {});
  await demoTraffic(stack).catch((err) => log(`demo data skipped: ${err instanceof Error ? err.message : err}`));
  // SWITCHBOARD_WEB_APP=off: no admin app (a stack started only for its API, as the stop test does).
  if (Deno.env.get("SWITCHBOARD_WEB_APP") !== "off") {
    try {
      webApp = serveWebApp({
        port: Number(Deno.env.get("SWITCHBOARD_WEB_PORT") ?? 54323),
        dist: await ensureWebBuilt(),
        config: { supabaseUrl: stack.apiUrl, supabaseAnonKey: clientKey(stack) },
      });
    } catch (err) {
      log(`the admin app is not served: ${err instanceof Error ? err.message : err}`);
    }
  }
  await writeStackInfo(infoPath, { ...stack, functions: stack.functions });
  console.log(`\nSwitchboard is running.\n\n${
    statusBlock(stack, {
      "Functions": stack.functions.join(", "),
      ...(webApp ? { "Admin app": webApp.url } : {}),
    })
  }\n`);
  const creds = Object.entries(stack.demoCredentials ?? {}).map(([email, password]) => `  ${email}  ${password}`).join(
    "\n",
  );
  if (creds) console.log(`Sign in (local only; generated for this data directory):\n${creds}\n`);
  console.log(`Try: curl ${stack.functionsUrl}/health\n     npx switchboard status\nPress Ctrl-C to stop.`);

  await new Promise(() => {}); // until a signal
}

async function test() {
  const code = await runAllSuites(Deno.args.slice(1));
  Deno.exit(code);
}

/** `npm run gen:types`: a throwaway cluster at the migrations' schema, then the generated types. */
async function types() {
  const { LocalCluster } = await import("./cluster.ts");
  const { applyBootstrap, applyMigrations } = await import("./database.ts");
  const { generateTypes, TYPES_FILE } = await import("./types.ts");
  const { freePort } = await import("./proc.ts");
  const dir = `${root}/.local/types-${Date.now()}`;
  const cluster = new LocalCluster({ dataDir: `${dir}/db`, port: freePort(), fast: true });
  try {
    await cluster.init();
    await cluster.start();
    await applyBootstrap(cluster.url);
    await applyMigrations(cluster.url);
    await Deno.writeTextFile(TYPES_FILE, await generateTypes(cluster.url));
    log(`wrote ${TYPES_FILE}`);
  } finally {
    await cluster.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

const command = Deno.args[0];
if (command === "start") {
  // A start that cannot happen (a port taken, a missing dependency) is a message, not a stack trace.
  await start().catch((err) => {
    log(`could not start: ${err instanceof Error ? err.message : err}`);
    Deno.exit(1);
  });
} else if (command === "test") await test();
else if (command === "types") await types();
else {
  console.error("usage: stack.ts <start|test|types>");
  Deno.exit(2);
}

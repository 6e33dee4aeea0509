// The `switchboard` command-line interface (`npx switchboard …`). Each command lives in
// scripts/cli/<topic>.ts; this file only dispatches and turns errors into exit codes.

import { accountsCommand } from "./accounts.ts";
import { archiveCommand } from "./archive.ts";
import { CliError, type ContextOptions, createContext } from "./context.ts";
import { contactsCommand } from "./contacts.ts";
import { aiCommand } from "./ai.ts";
import { jobsCommand } from "./jobs.ts";
import { kbCommand } from "./kb.ts";
import { alertsCommand, metricsCommand } from "./metrics.ts";
import { statusCommand } from "./status.ts";
import { storesCommand } from "./stores.ts";
import { usersCommand } from "./users.ts";
import { webhooksCommand } from "./webhooks.ts";
import { widgetCommand } from "./widget.ts";

const USAGE = `usage: switchboard <command>

  status                                  stack URLs, database and worker health
  users invite --email e [--name n] [--redirect-to url]
                                          invite a user (Supabase Auth mails a link to set a password)
  users create --email e [--password p] [--name n] [--platform-admin]
                                          a confirmed user who can sign in at once
  users list [--limit n]                  users with their state, stores and roles, last sign-in
  stores create --slug s --name n [--domain d] [--support-email e] [--owner-email e [--invite-owner]]
                [--chatwoot auto|manual] [--time-zone z]
                                          a store; auto provisions its Chatwoot account (Platform API);
                                          an owner with no account is invited (asked, or --invite-owner)
  stores list                             stores with their Chatwoot state and failure reason
  stores reprovision <slug>               retry provisioning a failed store from its checkpoints
  stores time-zone <slug> <zone|none>     the IANA zone its analytics count days and hours in (none: UTC)
  jobs list [--status queued|running|completed|dead] [--kind k] [--limit n]
  jobs dead                               dead-lettered jobs with their last error
  jobs replay <id…> | --all-dead [--kind k]
  metrics [--grep name]                   every figure of GET /functions/v1/metrics, as text (histograms: p50/p95)
  alerts list [--state firing|resolved|all] [--limit n]
  alerts ack <id…> | --all-firing         acknowledge alerts (they still resolve on their own)
  alerts rules                            the rules with their thresholds
  alerts set <rule> [--threshold x] [--window minutes] [--enable|--disable]
  accounts link --store s --chatwoot-url u --account-id n --api-token t [--webhook-secret s] [--accept-unsigned]
                                          link an existing Chatwoot account; registers its webhook
  accounts secret --store s --webhook-secret s
                                          store the secret of a webhook registered by hand
  accounts list                           linked accounts, last delivery, reconciliation cursor
  webhooks kept [--store s] [--limit n]   authenticated deliveries kept unapplied, with the reason
  webhooks replay --store s (--delivery id… | --all)
                                          run kept deliveries through ingestion again (after a fix)
  widget --store s [--identifier id]      the widget snippet, and the identifier_hash for setUser
  contacts sync --store s | --all [--concurrency n]
                                          sync every customer to its Chatwoot contact (resumable)
  contacts conflicts [--store s]          e-mails/phones another contact owns, and how they were resolved
  ai enable --store s [--mode auto|assist] [--inbox id…]
                                          create the store's Chatwoot agent bot and attach it to inboxes
  ai disable --store s                    detach the bot (new conversations go to people)
  ai status --store s [--limit n]         settings, today's tokens, the latest decisions
  ai return-to-bot --store s --conversation n
                                          give a conversation a person took over back to the bot
  archive queue [--store s] [--q text] [--has-media] [--limit n]
                                          WhatsApp numbers that match no user
  archive map --store s --phone p --user <uuid>
                                          map a number to a user; its archive moves to their bucket
  archive ignore --store s --phone p      keep a number's archive held, out of the queue
  archive erase --user <uuid>             erase a user's archive (objects, bucket, records) in resumable
                                          batches, audited; prints the erasure's id
  archive erase status <erasure> | --user <uuid> [--wait]
                                          an erasure's progress (--wait: follow it to the end)
  archive erasures [--user <uuid>] [--limit n]
                                          recent erasures and how far each got
  kb add --store s [--title t] <files…>   add Markdown, text, HTML or PDF files to a store's knowledge base
  kb faq add --store s --question q --answer a
  kb list --store s [--kind document|faq] documents with their status and embedded chunks
  kb search --store s [--k n] [--kind k] "<query>"
                                          hybrid search, with each leg's rank and score
  kb reembed --store s                    queue re-embedding of chunks not on the store's model

Connects to SUPABASE_DB_URL / SUPABASE_URL (users: SUPABASE_SECRET_KEY) when set, else to the running
\`npm start\` stack, whose embedder \`kb search\` also uses unless OPENAI_API_KEY is set.`;

export async function main(
  args: string[],
  out: (line: string) => void = console.log,
  opts: ContextOptions = {},
): Promise<number> {
  const [command, ...rest] = args;
  if (!command || command === "help" || command === "--help" || command === "-h") {
    out(USAGE);
    return command ? 0 : 2;
  }
  const ctx = createContext(out, opts);
  try {
    if (command === "status") await statusCommand(ctx);
    else if (command === "users") await usersCommand(ctx, rest);
    else if (command === "stores") await storesCommand(ctx, rest);
    else if (command === "jobs") await jobsCommand(ctx, rest);
    else if (command === "accounts") await accountsCommand(ctx, rest);
    else if (command === "widget") await widgetCommand(ctx, rest);
    else if (command === "webhooks") await webhooksCommand(ctx, rest);
    else if (command === "contacts") await contactsCommand(ctx, rest);
    else if (command === "ai") await aiCommand(ctx, rest);
    else if (command === "archive") await archiveCommand(ctx, rest);
    else if (command === "kb") await kbCommand(ctx, rest);
    else if (command === "metrics") await metricsCommand(ctx, rest);
    else if (command === "alerts") await alertsCommand(ctx, rest);
    else throw new CliError(`unknown command "${command}"\n\n${USAGE}`, 2);
    return 0;
  } catch (err) {
    if (err instanceof CliError) {
      console.error(`switchboard: ${err.message}`);
      return err.exitCode;
    }
    if (
      err instanceof TypeError &&
      /parseArgs|Unknown option|ERR_PARSE_ARGS/.test(String((err as { code?: string }).code ?? err.message))
    ) {
      console.error(`switchboard: ${err.message}`);
      return 2;
    }
    const e = err as { code?: string; message?: string };
    if (e?.code === "ECONNREFUSED") {
      console.error(
        `switchboard: cannot reach the database at ${
          ctx.dbUrl.replace(/:[^:@/]+@/, ":****@")
        }. Is \`npm start\` running?`,
      );
      return 1;
    }
    console.error(`switchboard: ${e?.message ?? err}`);
    return 1;
  } finally {
    await ctx.sql.end({ timeout: 2 });
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));

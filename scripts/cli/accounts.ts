// `switchboard accounts link|secret|list`: connecting existing Chatwoot accounts to stores.

import { parseArgs } from "node:util";
import { ChatwootClient } from "../../supabase/functions/_shared/chatwoot/client.ts";
import { postgresRateLimiter } from "../../supabase/functions/_shared/chatwoot/rate_limit.ts";
import {
  linkChatwootAccount,
  LinkError,
  setWebhookSecret,
} from "../../supabase/functions/_shared/chatwoot/accounts.ts";
import { CliContext, CliError, table } from "./context.ts";

const LINK_USAGE = "usage: switchboard accounts link --store <slug> --chatwoot-url <url> --account-id <n> " +
  "--api-token <token> [--webhook-secret <s>] [--accept-unsigned]";

export async function accountsCommand(ctx: CliContext, args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  try {
    if (sub === "link") return await link(ctx, rest);
    if (sub === "secret") return await secret(ctx, rest);
    if (sub === "list") return await list(ctx);
  } catch (err) {
    if (err instanceof LinkError) throw new CliError(err.message);
    throw err;
  }
  throw new CliError("usage: switchboard accounts <link|secret|list>", 2);
}

/** Where Chatwoot must post: this deployment's public functions URL. */
export function publicFunctionsUrl(ctx: CliContext): string {
  return Deno.env.get("SWITCHBOARD_PUBLIC_FUNCTIONS_URL") ?? `${ctx.apiUrl.replace(/\/+$/, "")}/functions/v1`;
}

async function link(ctx: CliContext, args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      store: { type: "string" },
      "chatwoot-url": { type: "string" },
      "account-id": { type: "string" },
      "api-token": { type: "string" },
      "webhook-secret": { type: "string" },
      "accept-unsigned": { type: "boolean" },
    },
    strict: true,
  });
  if (!values.store || !values["chatwoot-url"] || !values["account-id"] || !values["api-token"]) {
    throw new CliError(LINK_USAGE, 2);
  }
  const client = new ChatwootClient({
    baseUrl: values["chatwoot-url"],
    token: values["api-token"],
    limiter: postgresRateLimiter(ctx.sql, { perMinute: Number(Deno.env.get("CHATWOOT_REQUESTS_PER_MINUTE") ?? 3000) }),
  });
  const r = await linkChatwootAccount(ctx.sql, client, {
    storeSlug: values.store,
    chatwootUrl: values["chatwoot-url"],
    accountId: Number(values["account-id"]),
    apiToken: values["api-token"],
    webhookSecret: values["webhook-secret"],
    acceptsUnsigned: values["accept-unsigned"] ?? false,
    functionsUrl: publicFunctionsUrl(ctx),
  });
  ctx.out(`linked store ${values.store} to Chatwoot account ${values["account-id"]} at ${values["chatwoot-url"]}`);
  ctx.out(`webhook URL: ${r.webhookUrl}`);
  if (r.webhookTargetWarning) ctx.out(`WARNING: ${r.webhookTargetWarning}`);
  if (r.registration === "manual") {
    ctx.out(
      "This token cannot manage webhooks (it is not an administrator's), so register the webhook yourself:\n" +
        "  Chatwoot → Settings → Integrations → Webhooks → Add new webhook, paste the URL above, tick every event.\n" +
        (r.signed
          ? ""
          : `Then store its secret:  npx switchboard accounts secret --store ${values.store} --webhook-secret <secret>`),
    );
  } else {
    ctx.out(`webhook ${r.registration} in Chatwoot (id ${r.webhookId}), ${r.signed ? "signed" : "UNSIGNED (legacy)"}`);
  }
}

async function secret(ctx: CliContext, args: string[]) {
  const { values } = parseArgs({ args, options: { store: { type: "string" }, "webhook-secret": { type: "string" } } });
  if (!values.store || !values["webhook-secret"]) {
    throw new CliError("usage: switchboard accounts secret --store <slug> --webhook-secret <secret>", 2);
  }
  await setWebhookSecret(ctx.sql, values.store, values["webhook-secret"]);
  ctx.out(`stored the webhook secret for ${values.store}`);
}

async function list(ctx: CliContext) {
  const rows = await ctx.sql`
    select st.slug as store, a.chatwoot_url, a.account_id, (s.webhook_secret is not null) as signed,
           a.accepts_unsigned, a.last_delivery_at, c.synced_until,
           coalesce(a.api_closed_reason, c.last_error, a.webhook_target_warning) as last_error
    from public.chatwoot_accounts a
    join public.stores st on st.id = a.store_id
    left join private.chatwoot_account_secrets s on s.account_ref = a.id
    left join public.chatwoot_sync_cursors c on c.account_ref = a.id
    order by st.slug`;
  ctx.out(
    table(rows, ["store", "chatwoot_url", "account_id", "signed", "last_delivery_at", "synced_until", "last_error"]),
  );
}

// `switchboard widget --store <slug> [--identifier <id>]`: the embed snippet, and the
// identifier_hash the platform passes to window.$chatwoot.setUser for an identified customer.

import { parseArgs } from "node:util";
import { identifierHash, loadStoreWidget, widgetSnippet } from "../../supabase/functions/_shared/chatwoot/widget.ts";
import { CliContext, CliError } from "./context.ts";

export async function widgetCommand(ctx: CliContext, args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { store: { type: "string" }, identifier: { type: "string" } } });
  if (!values.store) throw new CliError("usage: switchboard widget --store <slug> [--identifier <id>]", 2);
  const widget = await loadStoreWidget(ctx.sql, values.store);
  if (!widget) {
    throw new CliError(`store ${values.store} has no provisioned website widget (see \`switchboard stores list\`)`);
  }
  ctx.out(widgetSnippet(widget.baseUrl, widget.websiteToken));
  if (values.identifier !== undefined) {
    if (!widget.hmacToken) throw new CliError("the widget inbox has no HMAC token");
    const hash = identifierHash(widget.hmacToken, values.identifier);
    ctx.out(`\nidentifier:      ${values.identifier}\nidentifier_hash: ${hash}`);
    ctx.out(`\nwindow.$chatwoot.setUser(${JSON.stringify(values.identifier)}, { identifier_hash: "${hash}" });`);
  }
}

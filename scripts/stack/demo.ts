// Demo data for `npm start`: the seeded stores are provisioned in the Chatwoot sandbox by the
// real provisioner (a job, like any new store); once they are active this adds a WhatsApp inbox
// and a little traffic, so the mirror has something to show. Idempotent.

import { connect } from "../../supabase/functions/_shared/platform/db.ts";
import { addFaq, ingestDocument } from "../../supabase/functions/_shared/knowledge/mod.ts";
import { enableStoreBot } from "../../supabase/functions/_shared/ai/agent_bot.ts";
import { log } from "./proc.ts";

interface DemoStack {
  dbUrl: string;
  functionsUrl?: string;
  chatwootUrl?: string;
  chatwootPlatformToken?: string;
}

async function call(base: string, token: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { "Api-Access-Token": token, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => null);
  if (!res.ok) throw new Error(`sandbox ${method} ${path} → ${res.status} ${JSON.stringify(json)}`);
  return json;
}

const DEMO = [
  { slug: "acme", inboxPhone: "+5215500001111", from: "+5511987654321", name: "María López", bot: true },
  { slug: "globex", inboxPhone: "+14155550199", from: "+14155550123", name: "Sam Rivera", bot: false },
];

const KNOWLEDGE = new URL("./demo-knowledge/", import.meta.url);
const FAQS: [string, string][] = [
  ["What are your opening hours?", "Our support team answers Monday to Friday, 9 am to 6 pm (Mexico City time)."],
  ["Do you offer gift wrapping?", "Yes: gift wrapping is free; choose it at checkout."],
];

/** acme answers from a small knowledge base through its agent bot (AI replies), on WhatsApp. */
async function demoKnowledgeAndBot(
  sql: ReturnType<typeof connect>,
  storeId: string,
  inboxId: number,
  functionsUrl: string,
) {
  for (const entry of Deno.readDirSync(KNOWLEDGE)) {
    if (!entry.isFile) continue;
    const bytes = await Deno.readFile(new URL(entry.name, KNOWLEDGE));
    await ingestDocument(sql, { storeId, sourceName: entry.name, bytes });
  }
  for (const [question, answer] of FAQS) await addFaq(sql, { storeId, question, answer });
  await enableStoreBot({ sql }, { storeId, mode: "auto", inboxIds: [inboxId], functionsUrl });
}

export async function demoTraffic(stack: DemoStack, timeoutMs = 60_000): Promise<void> {
  if (!stack.chatwootUrl || !stack.chatwootPlatformToken) return;
  const sql = connect(stack.dbUrl, { max: 2 });
  try {
    const deadline = Date.now() + timeoutMs;
    for (const demo of DEMO) {
      let row;
      while (Date.now() < deadline) {
        [row] = await sql`
          select p.state, p.account_id, s.admin_api_token from public.stores st
          join public.chatwoot_provisioning p on p.store_id = st.id
          left join private.chatwoot_provisioning_secrets s on s.store_id = st.id
          where st.slug = ${demo.slug}`;
        if (!row || row.state === "active" || row.state === "failed") break;
        await new Promise((r) => setTimeout(r, 250));
      }
      if (!row || row.state !== "active") {
        log(`demo: ${demo.slug} is not provisioned (${row?.state ?? "no record"}); skipping its traffic`);
        continue;
      }
      const api = `/api/v1/accounts/${row.account_id}`;
      const inboxes = await call(stack.chatwootUrl, row.admin_api_token, "GET", `${api}/inboxes`);
      if (inboxes.payload.some((i: { channel_type: string }) => i.channel_type === "Channel::Whatsapp")) continue;
      const whatsapp = await call(stack.chatwootUrl, row.admin_api_token, "POST", `${api}/inboxes`, {
        name: "WhatsApp",
        channel: { type: "whatsapp", phone_number: demo.inboxPhone, provider: "whatsapp_cloud" },
      });
      if (demo.bot && stack.functionsUrl) {
        const [st] = await sql`select id from public.stores where slug = ${demo.slug}`;
        await demoKnowledgeAndBot(sql, st.id, whatsapp.id, stack.functionsUrl)
          .catch((err) =>
            log(`demo: AI replies for ${demo.slug} skipped: ${err instanceof Error ? err.message : err}`)
          );
      }
      const traffic = (body: Record<string, unknown>) =>
        call(stack.chatwootUrl!, stack.chatwootPlatformToken!, "POST", "/_control/traffic/whatsapp", {
          inbox_id: whatsapp.id,
          from: demo.from,
          name: demo.name,
          ...body,
        });
      // acme's bot answers the first from its knowledge base and hands the second off to the team.
      if (demo.bot) await traffic({ kind: "text", text: "How long does standard delivery take?" });
      await traffic({ kind: "text", text: "Hola, ¿tienen envío a Monterrey?" });
      await traffic({ kind: "voice", transcription: "Quisiera saber el horario de la tienda" });
      log(`demo: ${demo.slug} is active in the Chatwoot sandbox (account ${row.account_id}); sent WhatsApp traffic`);
    }
  } finally {
    await sql.end();
  }
}

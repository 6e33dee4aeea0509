// Demo data for `npm start`: seeded stores without a Chatwoot account get one in the Chatwoot
// sandbox (Platform API, then linked like any existing account), and a little WhatsApp and
// widget traffic, so the mirror and the job queue have something to show. Idempotent.

import { connect } from "../../supabase/functions/_shared/db.ts";
import { ChatwootClient } from "../../supabase/functions/_shared/chatwoot/client.ts";
import { linkChatwootAccount } from "../../supabase/functions/_shared/chatwoot/accounts.ts";
import { log } from "./proc.ts";

interface DemoStack {
  dbUrl: string;
  functionsUrl: string;
  chatwootUrl?: string;
  chatwootPlatformToken?: string;
}

async function call(base: string, token: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { api_access_token: token, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => null);
  if (!res.ok) throw new Error(`sandbox ${method} ${path} → ${res.status} ${JSON.stringify(json)}`);
  return json;
}

export async function linkDemoStores(stack: DemoStack): Promise<void> {
  if (!stack.chatwootUrl || !stack.chatwootPlatformToken) return;
  const base = stack.chatwootUrl;
  const platform = stack.chatwootPlatformToken;
  const sql = connect(stack.dbUrl, { max: 2 });
  try {
    const stores = await sql`
      select s.slug, s.name, s.domain from public.stores s
      where s.slug in ('acme', 'globex') and not exists (select 1 from public.chatwoot_accounts a where a.store_id = s.id)`;
    for (const store of stores) {
      const account = await call(base, platform, "POST", "/platform/api/v1/accounts", { name: store.name });
      const user = await call(base, platform, "POST", "/platform/api/v1/users", {
        name: `${store.name} admin`,
        email: `admin@${store.slug}.chatwoot.test`,
        password: `Demo-${crypto.randomUUID()}!1a`,
      });
      await call(base, platform, "POST", `/platform/api/v1/accounts/${account.id}/account_users`, {
        user_id: user.id,
        role: "administrator",
      });
      const { access_token: token } = await call(base, platform, "POST", `/platform/api/v1/users/${user.id}/token`);
      const api = `/api/v1/accounts/${account.id}`;
      const whatsapp = await call(base, token, "POST", `${api}/inboxes`, {
        name: `${store.name} WhatsApp`,
        channel: {
          type: "whatsapp",
          phone_number: store.slug === "acme" ? "+5215500001111" : "+14155550199",
          provider: "whatsapp_cloud",
        },
      });
      await call(base, token, "POST", `${api}/inboxes`, {
        name: `${store.name} website`,
        channel: { type: "web_widget", website_url: `https://${store.domain ?? `${store.slug}.test`}` },
      });
      await linkChatwootAccount(sql, new ChatwootClient({ baseUrl: base, token }), {
        storeSlug: store.slug,
        chatwootUrl: base,
        accountId: account.id,
        apiToken: token,
        functionsUrl: stack.functionsUrl,
      });
      const from = store.slug === "acme" ? "+5511987654321" : "+14155550123";
      await call(base, platform, "POST", "/_sandbox/traffic/whatsapp", {
        inbox_id: whatsapp.id,
        from,
        name: store.slug === "acme" ? "María López" : "Sam Rivera",
        kind: "text",
        text: "Hola, ¿tienen envío a Monterrey?",
      });
      await call(base, platform, "POST", "/_sandbox/traffic/whatsapp", {
        inbox_id: whatsapp.id,
        from,
        kind: "voice",
        transcription: "Quisiera saber el horario de la tienda",
      });
      log(`demo: store ${store.slug} linked to Chatwoot sandbox account ${account.id}, with WhatsApp traffic`);
    }
  } finally {
    await sql.end();
  }
}

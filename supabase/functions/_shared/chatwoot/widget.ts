// The Chatwoot website widget for a store: the embed snippet and the identity hash the widget's
// `setUser` needs (Chatwoot: HMAC-SHA256 of the identifier with the inbox's hmac_token, hex).

import { createHmac } from "node:crypto";
import type { Sql } from "../platform/db.ts";
import type { PrivateRow, Row } from "../platform/rows.ts";

export function identifierHash(hmacToken: string, identifier: string): string {
  return createHmac("sha256", hmacToken).update(String(identifier)).digest("hex");
}

export function widgetSnippet(baseUrl: string, websiteToken: string): string {
  const base = JSON.stringify(baseUrl.replace(/\/+$/, ""));
  const token = JSON.stringify(websiteToken);
  return `<script>
  (function (d, t) {
    var BASE_URL = ${base};
    var g = d.createElement(t), s = d.getElementsByTagName(t)[0];
    g.src = BASE_URL + "/packs/js/sdk.js";
    g.defer = true;
    g.async = true;
    s.parentNode.insertBefore(g, s);
    g.onload = function () {
      window.chatwootSDK.run({ websiteToken: ${token}, baseUrl: BASE_URL });
    };
  })(document, "script");
</script>`;
}

export interface StoreWidget {
  storeId: string;
  baseUrl: string;
  websiteToken: string;
  hmacToken: string | null;
}

type WidgetRow =
  & Pick<Row<"chatwoot_provisioning">, "store_id" | "chatwoot_url" | "website_token">
  & Pick<PrivateRow<"chatwoot_provisioning_secrets">, "widget_hmac_token">;

/** The provisioned widget of a store, or null while it has none. */
export async function loadStoreWidget(sql: Sql, slug: string): Promise<StoreWidget | null> {
  const [row] = await sql<WidgetRow[]>`
    select p.store_id, p.chatwoot_url, p.website_token, s.widget_hmac_token
    from public.stores st
    join public.chatwoot_provisioning p on p.store_id = st.id
    left join private.chatwoot_provisioning_secrets s on s.store_id = p.store_id
    where st.slug = ${slug} and p.website_token is not null and p.state in ('active', 'suspended', 'suspending')`;
  // chatwoot_url is recorded before any inbox exists, so a row with a website_token has it too.
  if (!row || row.chatwoot_url === null || row.website_token === null) return null;
  return {
    storeId: row.store_id,
    baseUrl: row.chatwoot_url,
    websiteToken: row.website_token,
    hmacToken: row.widget_hmac_token,
  };
}

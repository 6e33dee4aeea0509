// The whole path with nothing stubbed: WhatsApp traffic in the Chatwoot sandbox → signed webhook
// → mirror → archive job (same transaction) → the stack's worker → the GCS emulator; then the
// transcript arrives as message_updated and the archived document follows.

import assert from "node:assert/strict";
import { connect } from "../platform/db.ts";
import { testStack, waitFor } from "../../../../scripts/testing/env.ts";
import {
  createSandboxWhatsAppInbox,
  newStore,
  provisionSandboxAccount,
  sandboxCall,
  sandboxEnv,
} from "../../../../scripts/testing/chatwoot.ts";
import { ChatwootClient } from "../chatwoot/client.ts";
import { linkChatwootAccount } from "../chatwoot/accounts.ts";
import { createStorage } from "./storage.ts";

const stack = testStack();
const env = sandboxEnv();
const storage = createStorage({ apiEndpoint: Deno.env.get("GCS_ENDPOINT")! });
const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "a WhatsApp voice note is archived by the worker, and its transcript updates the document",
  opts,
  async () => {
    const sql = connect(stack.dbUrl);
    try {
      const cw = await provisionSandboxAccount(env);
      const inboxId = await createSandboxWhatsAppInbox(env, cw.accountId, cw.token);
      const store = await newStore(sql);
      const client = new ChatwootClient({ baseUrl: env.url, token: cw.token });
      const link = await linkChatwootAccount(sql, client, {
        storeSlug: store.slug,
        chatwootUrl: env.url,
        accountId: cw.accountId,
        apiToken: cw.token,
        functionsUrl: `${stack.apiUrl}/functions/v1`,
      });
      client.close();
      const userId = crypto.randomUUID();
      await sql`insert into auth.users (id, email, raw_user_meta_data)
              values (${userId}, ${`${userId}@pipeline.test`}, ${sql.json({ phone_e164: "+5511987650006" })})`;

      const sent = await sandboxCall(env, "POST", "/_control/traffic/whatsapp", {
        body: {
          inbox_id: inboxId,
          from: "+551187650006",
          kind: "voice",
          transcription: "Queria trocar o tamanho",
          transcription_delay_ms: 300,
        },
      });
      assert.equal(sent.status, 200, JSON.stringify(sent.body));
      const messageId = sent.body.message.id;

      const archived = await waitFor(
        async () => {
          const [r] = await sql`select m.bucket, m.object_name, m.user_id, m.message_fingerprint,
                                   (select count(*)::int from public.archived_media x
                                     where x.account_ref = m.account_ref and x.message_id = m.message_id) as media
                            from public.archived_messages m where m.account_ref = ${link.accountRef} and m.message_id = ${messageId}`;
          return r?.media === 1 ? r : null;
        },
        "the worker to archive the voice note",
        30_000,
      );
      assert.equal(archived.user_id, userId, "the Brazilian number without its 9th digit matched the user");

      const withTranscript = await waitFor(
        async () => {
          const [buf] = await storage.bucket(archived.bucket).file(archived.object_name).download();
          const doc = JSON.parse(new TextDecoder().decode(buf));
          return doc.attachments?.[0]?.transcribed_text === "Queria trocar o tamanho" ? doc : null;
        },
        "the transcript to reach the archived document",
        30_000,
      );
      assert.equal(withTranscript.message.type, "incoming");
      assert.ok(withTranscript.attachments[0].object.sha256.match(/^[0-9a-f]{64}$/));
      const [files] = await storage.bucket(archived.bucket).getFiles({ prefix: `stores/${store.id}/` });
      assert.equal(files.length, 2, "still one document and one medium: the update rewrote, it did not add");
    } finally {
      await sql.end();
    }
  },
);

// The bot's two latency paths, measured inside bench:retrieval on its 100k-chunk database:
//  · acknowledgement: signed agent-bot deliveries (new customer messages) POSTed at concurrency 16
//    to the chatwoot-bot receiver (the real handler: route lookup, signature, mirror + reply job in
//    one transaction), against the same requests to a handler that only reads the body (baseline);
//  · reply overhead: the ai.reply job for those messages (checks, history, retrieval on a store with
//    2,000 chunks, the decision, posting to the Chatwoot sandbox) minus the time spent waiting on the
//    model (embedding + chat calls to the in-process OpenAI stand-in, timed at the SDK's fetch).

import OpenAI from "openai";
import { connect } from "../../supabase/functions/_shared/platform/db.ts";
import { unlimited } from "../../supabase/functions/_shared/chatwoot/rate_limit.ts";
import { signChatwootPayload } from "../../supabase/functions/_shared/chatwoot/signature.ts";
import { enableStoreBot } from "../../supabase/functions/_shared/ai/agent_bot.ts";
import { createMemoryLogger } from "../../supabase/functions/_shared/platform/log.ts";
import { cachedRouteResolver } from "../../supabase/functions/_shared/chatwoot/webhook_receiver.ts";
import { botRoute, handler as botHandler } from "../../supabase/functions/chatwoot-bot/handler.ts";
import { replyToMessage } from "../../supabase/functions/_shared/ai/reply.ts";
import { startSandbox } from "../local/chatwoot/server.ts";
import { provisionSandboxAccount } from "../testing/chatwoot.ts";
import { startOpenAiStandin } from "../local/openai/server.ts";
import { freePort } from "../stack/proc.ts";
import { percentile } from "./harness.ts";

const ACKS = Number(Deno.env.get("BENCH_BOT_ACKS") ?? 2000);
const REPLIES = Number(Deno.env.get("BENCH_BOT_REPLIES") ?? 200);
const CONCURRENCY = 16;

export interface BotPathRow {
  path: string;
  samples: number;
  "p50 ms": number;
  "p95 ms": number;
  "p99 ms": number;
}

function row(path: string, t: number[]): BotPathRow {
  const s = [...t].sort((a, b) => a - b);
  const r = (v: number) => Math.round(v * 100) / 100;
  return {
    path,
    samples: s.length,
    "p50 ms": r(percentile(s, 50)),
    "p95 ms": r(percentile(s, 95)),
    "p99 ms": r(percentile(s, 99)),
  };
}

async function load(url: string, bodies: { body: string; headers: Record<string, string> }[]): Promise<number[]> {
  const out: number[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < bodies.length) {
      const b = bodies[next++];
      const t0 = performance.now();
      const res = await fetch(url, { method: "POST", headers: b.headers, body: b.body });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`ack ${res.status}`);
      out.push(performance.now() - t0);
    }
  }));
  return out;
}

export async function benchBotPaths(dbUrl: string, storeId: string, queries: string[]): Promise<BotPathRow[]> {
  const sql = connect(dbUrl, { max: CONCURRENCY + 4 });
  const cw = await startSandbox({ port: freePort() });
  const standin = await startOpenAiStandin({ port: freePort() });
  const log = createMemoryLogger();
  const resolveRoute = cachedRouteResolver(sql, { lookup: botRoute });
  const receiver = Deno.serve(
    { port: freePort(), hostname: "127.0.0.1", onListen: () => {} },
    (req) =>
      botHandler(req, {
        sql,
        resolveRoute,
        maxBodyBytes: 1024 * 1024,
        toleranceSeconds: 300,
        log,
      }),
  );
  const baseline = Deno.serve({ port: freePort(), hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
    await req.arrayBuffer();
    return new Response('{"status":"ok"}', { headers: { "content-type": "application/json" } });
  });
  try {
    // The store's chunks are relabelled with the stand-in's model so the vector leg runs as in production.
    await sql`update public.kb_chunks set embedding_model = 'text-embedding-3-small' where store_id = ${storeId}`;
    await sql`update public.kb_settings set embedding_model = 'text-embedding-3-small', embedding_dimensions = 1536
              where store_id = ${storeId}`;
    const sandboxUrl = cw.url.replace(/\/+$/, "");
    const admin = await provisionSandboxAccount({ url: sandboxUrl, platformToken: cw.sandbox.platformToken });
    const account = { id: admin.accountId };
    const token = admin.token;
    const [acc] = await sql`insert into public.chatwoot_accounts (store_id, chatwoot_url, account_id)
                            values (${storeId}, ${sandboxUrl}, ${account.id}) returning id`;
    await sql`insert into private.chatwoot_account_secrets (account_ref, api_token, route_token_hash)
              values (${acc.id}, ${token}, ${crypto.getRandomValues(new Uint8Array(32))})`;
    const inboxRes = await fetch(`${cw.url}/api/v1/accounts/${account.id}/inboxes`, {
      method: "POST",
      headers: { "Api-Access-Token": token, "content-type": "application/json" },
      body: JSON.stringify({ name: "Bench", channel: { type: "api" } }),
    });
    const inbox = await inboxRes.json();
    const bot = await enableStoreBot({ sql }, {
      storeId,
      inboxIds: [inbox.id],
      functionsUrl: `http://127.0.0.1:${receiver.addr.port}`,
    });
    const routeToken = bot.url.split("/").at(-1)!;
    const [secret] = await sql`select webhook_secret from private.ai_bot_secrets where store_id = ${storeId}`;

    // One real delivery, captured as the sandbox sends it, is the template for the load.
    await fetch(`${cw.url}/_control/traffic/incoming`, {
      method: "POST",
      headers: { "Api-Access-Token": cw.sandbox.platformToken, "content-type": "application/json" },
      body: JSON.stringify({ inbox_id: inbox.id, content: queries[0] }),
    }).then((r) => r.json());
    await fetch(`${cw.url}/_control/settle`, {
      method: "POST",
      headers: { "Api-Access-Token": cw.sandbox.platformToken },
    })
      .then((r) => r.arrayBuffer());
    const template = JSON.parse(JSON.stringify(
      (await fetch(`${cw.url}/_control/deliveries?kind=agent_bot`, {
        headers: { "Api-Access-Token": cw.sandbox.platformToken },
      })
        .then((r) => r.json())).deliveries.find((d: { event: string }) => d.event === "message_created"),
    ));
    const payload = JSON.parse(template.body);

    const ts = Math.floor(Date.now() / 1000);
    const bodies = Array.from({ length: ACKS }, (_, i) => {
      const messageId = 10_000_000 + i;
      // Spread over 500 conversations, as real traffic is (one conversation would serialise every
      // delivery on its mirror row).
      const conversationId = 1_000_000 + (i % 500);
      const conversation = { ...payload.conversation, id: conversationId };
      if (Array.isArray(conversation.messages)) {
        conversation.messages = conversation.messages.map((m: Record<string, unknown>) => ({
          ...m,
          id: messageId,
          conversation_id: conversationId,
        }));
      }
      const b = JSON.stringify({ ...payload, id: messageId, content: queries[i % queries.length], conversation });
      return {
        body: b,
        headers: {
          "content-type": "application/json",
          "x-chatwoot-delivery": crypto.randomUUID(),
          "x-chatwoot-timestamp": String(ts),
          "x-chatwoot-signature": signChatwootPayload(secret.webhook_secret, ts, b),
        },
      };
    });
    const url = `http://127.0.0.1:${receiver.addr.port}/chatwoot-bot/${routeToken}`;
    await load(url, bodies.slice(0, 50)); // warm-up (cache, pool)
    const ackT = await load(url, bodies.slice(50));
    const baseT = await load(`http://127.0.0.1:${baseline.addr.port}/`, bodies.slice(50));

    // Reply overhead: the jobs the acks queued, run one by one with the model time taken out.
    // Every call to the stand-in (embeddings through the product's embedder, chat, all via the
    // openai SDK's fetch) is timed at the global fetch and subtracted.
    let modelMs = 0;
    const origFetch = globalThis.fetch;
    globalThis.fetch = (async (input: Request | URL | string, init?: RequestInit) => {
      if (!String(input instanceof Request ? input.url : input).startsWith(standin.url)) return origFetch(input, init);
      const t0 = performance.now();
      const res = await origFetch(input, init);
      const buf = await res.arrayBuffer();
      modelMs += performance.now() - t0;
      return new Response(buf, { status: res.status, headers: res.headers });
    }) as typeof fetch;
    const deps = {
      sql,
      limiter: unlimited,
      embedding: {
        apiKey: standin.apiKey,
        baseURL: standin.baseURL,
        model: "text-embedding-3-small",
        dimensions: 1536,
        timeoutMs: 10_000,
      },
      chat: {
        client: new OpenAI({ apiKey: standin.apiKey, baseURL: standin.baseURL, maxRetries: 0 }),
        model: "switchboard-test-chat",
      },
      transcription: null,
    };
    const overhead: number[] = [];
    const total: number[] = [];
    // One conversation per reply (Chatwoot limits messages per conversation and minute), each a
    // real customer message delivered by the sandbox to the receiver.
    const targets: { conversationId: number; messageId: number }[] = [];
    for (let i = 0; i < REPLIES; i++) {
      const r = await fetch(`${cw.url}/_control/traffic/incoming`, {
        method: "POST",
        headers: { "Api-Access-Token": cw.sandbox.platformToken, "content-type": "application/json" },
        body: JSON.stringify({ inbox_id: inbox.id, content: queries[(i * 13) % queries.length] }),
      }).then((res) => res.json());
      targets.push({ conversationId: r.conversation.id, messageId: r.message.id });
    }
    await fetch(`${cw.url}/_control/settle`, {
      method: "POST",
      headers: { "Api-Access-Token": cw.sandbox.platformToken },
    })
      .then((r) => r.arrayBuffer());
    try {
      for (const t of targets) {
        // Each sample starts from a bot-owned conversation (a handoff in the previous one opened it).
        await sql`update public.ai_conversations set bot_paused = false where account_ref = ${acc.id}`;
        await sql`update public.chatwoot_conversations set status = 'pending' where account_ref = ${acc.id}`;
        modelMs = 0;
        const t0 = performance.now();
        await replyToMessage(deps, {
          account_ref: acc.id,
          conversation_display_id: t.conversationId,
          message_id: t.messageId,
        });
        const took = performance.now() - t0;
        total.push(took);
        overhead.push(took - modelMs);
      }
    } finally {
      globalThis.fetch = origFetch;
    }
    const [actions] = await sql`select count(*) filter (where action = 'reply')::int as reply,
                                       count(*) filter (where action = 'handoff')::int as handoff,
                                       count(*) filter (where action = 'skip')::int as skip
                                from public.ai_decisions where account_ref = ${acc.id}`;
    console.log(
      `\nbot paths: ${ackT.length} acks, ${total.length} replies (${actions.reply} reply, ${actions.handoff} handoff, ${actions.skip} skip)`,
    );
    return [
      row("bot webhook ack (chatwoot-bot receiver)", ackT),
      row("baseline: read body, 200 (same requests)", baseT),
      row("reply job, total (incl. stand-in model)", total),
      row("reply overhead excluding model time", overhead),
    ];
  } finally {
    await receiver.shutdown();
    await baseline.shutdown();
    await standin.close();
    await cw.close();
    await sql.end();
  }
}

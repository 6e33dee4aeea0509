// A user's WhatsApp archive made to order, for erasure tests and bench:erase: the user (with a phone
// and a profile), their bucket created by the product's own ensureBucket, objects uploaded through the
// SDK with the archive's names, and their records — plus objects nobody recorded (a write whose
// record never committed) and objects recorded in another bucket, when asked for.

import { Buffer } from "node:buffer";
import type { Storage } from "@google-cloud/storage";
import type { Sql } from "../../supabase/functions/_shared/platform/db.ts";
import {
  type BucketPolicy,
  mediaObjectName,
  messageObjectName,
  userBucketName,
} from "../../supabase/functions/_shared/archive/buckets.ts";
import { ensureBucket } from "../../supabase/functions/_shared/archive/storage.ts";
import { type BucketQuota, withBucketSlot } from "../../supabase/functions/_shared/archive/bucket_quota.ts";
import { Deferred } from "../../supabase/functions/_shared/jobs/queue.ts";
import { insertLinkedAccount } from "./chatwoot.ts";

export interface SeedOptions {
  /** Message documents, each recorded in archived_messages. */
  messages: number;
  /** Media, recorded in archived_media (one per message, for the first `media` messages). */
  media: number;
  /** Objects in the user's bucket that no record names. */
  leftovers?: number;
  /** Message documents recorded for the user in another bucket. */
  elsewhere?: number;
  /** Uploads in flight at once. */
  concurrency?: number;
  /** The project's bucket quota (bucket_quota.ts): when given, the buckets are created on its slots, as
   * the product creates them, so the emulator's bucket rate never refuses the product's own later call. */
  quota?: BucketQuota;
}

export interface SeededArchive {
  userId: string;
  phone: string;
  storeId: string;
  accountRef: string;
  bucket: string;
  /** The other bucket, when `elsewhere` > 0. */
  elsewhereBucket: string | null;
  /** Every object uploaded (all buckets). */
  objects: number;
}

const BODY = Buffer.from(JSON.stringify({ schema: "switchboard.whatsapp-message/1", note: "seeded" }));

async function uploadAll(storage: Storage, objects: { bucket: string; name: string }[], concurrency: number) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, objects.length) }, async () => {
    while (next < objects.length) {
      const o = objects[next++];
      await storage.bucket(o.bucket).file(o.name).save(BODY, { resumable: false, validation: false });
    }
  }));
}

/** Inserts `rows` in batches (one statement each), so 20,000 records take a few round trips. */
async function insertBatches(sql: Sql, table: "archived_messages" | "archived_media", rows: Record<string, unknown>[]) {
  for (let i = 0; i < rows.length; i += 1000) {
    const batch = sql(rows.slice(i, i + 1000) as never[]);
    if (table === "archived_messages") await sql`insert into public.archived_messages ${batch}`;
    else await sql`insert into public.archived_media ${batch}`;
  }
}

/** A bucket create, on a slot of the quota when there is one (waiting out any deferral). */
async function createBucket(quota: BucketQuota | undefined, bucket: string, create: () => Promise<void>) {
  if (!quota) return await create();
  for (;;) {
    try {
      return await withBucketSlot(quota, bucket, "create", create);
    } catch (err) {
      if (!(err instanceof Deferred)) throw err;
      await new Promise((resolve) => setTimeout(resolve, err.delayMs));
    }
  }
}

export async function seedUserArchive(
  sql: Sql,
  storage: Storage,
  policy: BucketPolicy,
  opts: SeedOptions,
): Promise<SeededArchive> {
  const concurrency = opts.concurrency ?? 16;
  const userId = crypto.randomUUID();
  const phone = `+5511${String(Math.floor(Math.random() * 1e9)).padStart(9, "0")}`;
  await sql`insert into auth.users (id, email, raw_user_meta_data)
            values (${userId}, ${`${userId}@erase.test`}, ${sql.json({ full_name: "Erase Me", phone_e164: phone })})`;
  const account = await insertLinkedAccount(sql);
  const bucket = userBucketName(policy, userId);
  await createBucket(opts.quota, bucket, () => ensureBucket(storage, bucket, policy, { switchboard: "user-archive" }));
  await sql`insert into public.archive_buckets (name, owner_user_id, kind, location, storage_class, lifecycle)
            values (${bucket}, ${userId}, 'user', ${policy.location}, ${policy.storageClass}, '{}'::jsonb)`;
  await sql`insert into public.archive_contacts (store_id, phone_e164, status, user_id, mapped_by, messages, media)
            values (${account.storeId}, ${phone}, 'mapped', ${userId}, 'auto', ${opts.messages}, ${opts.media})`;

  const where = (messageId: number) => ({
    storeId: account.storeId,
    phone,
    displayId: 1 + (messageId % 50),
    messageId,
  });
  const record = (messageId: number, b: string, name: string) => ({
    account_ref: account.accountRef,
    store_id: account.storeId,
    user_id: userId,
    bucket: b,
    object_name: name,
    generation: 1,
    size: BODY.length,
    sha256: "0".repeat(64),
    crc32c: "AAAAAA==",
    message_id: messageId,
  });
  const messages = Array.from({ length: opts.messages }, (_, i) => {
    const id = 1_000_000 + i;
    return { ...record(id, bucket, messageObjectName(where(id))), phone_e164: phone, message_fingerprint: "seed" };
  });
  const media = Array.from({ length: opts.media }, (_, i) => {
    const id = 1_000_000 + i;
    return { ...record(id, bucket, mediaObjectName(where(id), id * 10, "jpg")), attachment_id: id * 10 };
  });
  const leftovers = Array.from({ length: opts.leftovers ?? 0 }, (_, i) => ({
    bucket,
    name: `stores/${account.storeId}/whatsapp/unrecorded/${i}.json`,
  }));
  let elsewhereBucket: string | null = null;
  const elsewhere: ReturnType<typeof record>[] = [];
  if (opts.elsewhere) {
    const other = `${policy.prefix}-x-${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
    elsewhereBucket = other;
    await createBucket(
      opts.quota,
      other,
      () => ensureBucket(storage, other, policy, { switchboard: "test" }),
    );
    for (let i = 0; i < opts.elsewhere; i++) {
      const id = 2_000_000 + i;
      elsewhere.push({
        ...record(id, elsewhereBucket, messageObjectName(where(id))),
        phone_e164: phone,
        message_fingerprint: "seed",
      } as never);
    }
  }
  const objects = [
    ...messages.map((m) => ({ bucket: m.bucket, name: m.object_name })),
    ...media.map((m) => ({ bucket: m.bucket, name: m.object_name })),
    ...leftovers,
    ...elsewhere.map((m) => ({ bucket: m.bucket, name: m.object_name })),
  ];
  await uploadAll(storage, objects, concurrency);
  await insertBatches(sql, "archived_messages", [...messages, ...elsewhere]);
  await insertBatches(sql, "archived_media", media);
  return {
    userId,
    phone,
    storeId: account.storeId,
    accountRef: account.accountRef,
    bucket,
    elsewhereBucket,
    objects: objects.length,
  };
}

/** The archive's bucket policy as tests and benches use it: the product's defaults (US, STANDARD, lifecycle
 * 30/90/365 days, soft delete off) under a prefix of the caller's and a salt of the run's own, so bucket
 * names never collide between runs. */
export function testBucketPolicy(prefix: string, overrides: Partial<BucketPolicy> = {}): BucketPolicy {
  return {
    prefix,
    salt: `run-${crypto.randomUUID()}`,
    location: "US",
    storageClass: "STANDARD",
    labels: { app: "switchboard" },
    nearlineDays: 30,
    coldlineDays: 90,
    archiveDays: 365,
    softDeleteSeconds: 0,
    ...overrides,
  };
}

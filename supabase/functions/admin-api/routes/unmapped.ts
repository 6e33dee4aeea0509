// The review queue of WhatsApp numbers that match no user, one contact with its messages and
// suggestions, and the decisions on them (map, ignore, in bulk): archive/review.ts under RLS.

import { z } from "zod";
import { ApiError, body, parse } from "../../_shared/platform/http.ts";
import {
  ignoreContact,
  listReviewQueue,
  mapContact,
  queueFilters,
  reviewContact,
} from "../../_shared/archive/review.ts";
import { dbError, phone, phoneParam, route, uuid } from "../route.ts";

const bulkRequest = z.object({
  action: z.enum(["ignore", "map"]),
  items: z.array(z.object({ store_id: uuid, phone_e164: phone, user_id: uuid.optional() })).min(1).max(200),
});

/** Each by name, for archive-admin's aliases. */
export const unmapped = {
  queue: route("GET", "/unmapped", ({ url, asCaller }) => {
    const filters = parse(queueFilters, Object.fromEntries(url.searchParams), "filters");
    return asCaller((tx) => listReviewQueue(tx, filters));
  }),

  bulk: route("POST", "/unmapped/bulk", async ({ req, asCaller }) => {
    const b = parse(bulkRequest, await body(req), "bulk request");
    return await asCaller(async (tx) => {
      const results = [];
      for (const item of b.items) {
        try {
          await tx.savepoint(async (sp) => {
            const input = { storeId: item.store_id, phone: item.phone_e164 };
            if (b.action === "ignore") return await ignoreContact(sp, input);
            if (!item.user_id) throw new ApiError(400, "invalid_input", "map needs a user_id for every item");
            await mapContact(sp, { ...input, userId: item.user_id });
          });
          results.push({ phone_e164: item.phone_e164, ok: true });
        } catch (err) {
          results.push({ phone_e164: item.phone_e164, ok: false, error: (err as Error).message });
        }
      }
      return { results };
    });
  }),

  contact: route("GET", "/unmapped/:store/:phone", async ({ params, asCaller }) => {
    const storeId = parse(uuid, params.store, "store id");
    const number = phoneParam(params.phone);
    const found = await asCaller((tx) => reviewContact(tx, storeId, number));
    if (!found) throw new ApiError(404, "not_found", "No such contact (or it is not in your stores).");
    return found;
  }),

  map: route("POST", "/unmapped/:store/:phone/map", async ({ params, req, asCaller }) => {
    const storeId = parse(uuid, params.store, "store id");
    const number = phoneParam(params.phone);
    const { user_id } = parse(z.object({ user_id: uuid }), await body(req), "body");
    const jobId = await asCaller((tx) => mapContact(tx, { storeId, phone: number, userId: user_id })).catch(dbError);
    return { status: "mapping", job_id: jobId };
  }, 202),

  ignore: route("POST", "/unmapped/:store/:phone/ignore", async ({ params, asCaller }) => {
    const storeId = parse(uuid, params.store, "store id");
    const number = phoneParam(params.phone);
    await asCaller((tx) => ignoreContact(tx, { storeId, phone: number })).catch(dbError);
    return { status: "ignored" };
  }),
};

export const unmappedRoutes = Object.values(unmapped);

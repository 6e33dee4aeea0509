// The admin app as an administrator uses it, in Debian's Chromium: signing in, mapping and
// ignoring unmapped contacts, replaying a dead job, a store admin seeing only their store (in the
// UI and from the API), and the clear messages for a wrong password, an expired session and an
// API failure. Runs against the stack named by ADMIN_APP_URL & co.:
//
//   npm test -- browser     (at the repository root: a throwaway stack, then these tests)

/// <reference lib="deno.ns" />
/// <reference lib="dom" />

import { Buffer } from "node:buffer";
import {
  assert,
  assertEquals,
  callAdminApi,
  type Page,
  screenshot,
  shutdown,
  signIn,
  stack,
  storedAccessToken,
  withPage,
} from "./harness.ts";

const SESSION_EXPIRED = "Your session expired — sign in again";

function e2e(name: string, fn: () => Promise<void>) {
  Deno.test({ name, fn, sanitizeOps: false, sanitizeResources: false });
}

Deno.test.afterAll(shutdown);

/** Filters the unmapped queue by a search term and waits for the answer (rows or the empty state). */
async function searchUnmapped(page: Page, term: string) {
  await page.getByTestId("filter-search").fill(term);
  await page.waitForFunction(
    (t) => {
      const rows = [
        ...document.querySelectorAll("[data-testid=unmapped-row]"),
      ] as HTMLElement[];
      const loading = document.querySelector("[data-testid=loading]");
      const empty = document.querySelector("[data-testid=empty]");
      return !loading &&
        (empty ||
          (rows.length > 0 &&
            rows.every((r) =>
              (r.dataset.phone ?? "").includes(t) || r.textContent!.includes(t)
            )));
    },
    term,
  );
}

async function dialogHasFocus(page: Page, testId: string): Promise<boolean> {
  return await page.evaluate(
    (id) =>
      document.querySelector(`[data-testid=${id}]`)?.contains(
        document.activeElement,
      ) ?? false,
    testId,
  );
}

e2e(
  "a platform admin signs in and sees their e-mail and role; every page renders",
  async () => {
    const s = await stack();
    const ctx = await s.arranger.context();
    // More rows than a page (25), so "Load more" has a second page to append.
    for (let i = 0; i < 26; i++) {
      await s.arranger.createUnmappedContact({
        storeId: ctx.adminStore.id,
        name: `E2E Screenshot Contact ${i + 1}`,
        media: i % 2,
      });
    }
    // An archived WhatsApp image, so the archive, its timeline and a signed media download have one.
    const archivedUser = await s.arranger.archiveWhatsAppImage(
      ctx.adminStore.id,
      s.storeAdmin.email,
    );
    await withPage(async (page) => {
      await page.goto(`${s.appUrl}/`);
      await page.getByTestId("sign-in-email").waitFor();
      await screenshot(page, "sign-in");

      await signIn(page, s.admin);
      assertEquals(
        (await page.getByTestId("user-email").textContent())?.trim(),
        s.admin.email,
      );
      assertEquals(
        (await page.getByTestId("user-role").textContent())?.trim(),
        "Platform admin",
      );
      // A platform administrator lands on the Overview.
      await page.getByTestId("overview-page").waitFor();
      await page.getByTestId("nav-unmapped").click();
      await page.getByTestId("unmapped-page").waitFor();
      await page.locator("[data-testid=unmapped-table], [data-testid=empty]")
        .first().waitFor();
      await screenshot(page, "unmapped");
      // Keyset paging: the next page is appended below the first.
      const before = await page.getByTestId("unmapped-row").count();
      await page.getByTestId("load-more").click();
      await page.waitForFunction(
        (n) =>
          document.querySelectorAll("[data-testid=unmapped-row]").length > n,
        before,
      );

      await page.getByTestId("contact-link").first().click();
      await page.getByTestId("contact-page").waitFor();
      await screenshot(page, "unmapped-contact");

      await page.getByTestId("nav-stores").click();
      await page.getByTestId("store-row").first().waitFor();
      await screenshot(page, "stores");
      // The admin's store was provisioned by the stack, so its widget has a snippet.
      await page.locator(
        `[data-testid=store-row][data-slug="${ctx.adminStore.slug}"] [data-testid=store-widget]`,
      )
        .click();
      await page.getByTestId("widget-snippet").waitFor();
      assert(
        await dialogHasFocus(page, "widget-dialog"),
        "the widget dialog takes the focus",
      );
      await screenshot(page, "stores-widget");
      await page.keyboard.press("Escape");
      await page.getByTestId("widget-dialog").waitFor({ state: "detached" });

      await page.getByTestId("nav-archive").click();
      await page.getByTestId("archive-users").waitFor();
      await screenshot(page, "archive");
      await page.locator(`[data-testid=archive-user][href$="${archivedUser}"]`)
        .click();
      await page.getByTestId("timeline-messages").waitFor();
      await screenshot(page, "archive-timeline");
      {
        // The button fetches a signed URL, then opens it in a new tab.
        const [popup] = await Promise.all([
          page.waitForEvent("popup"),
          page.getByTestId("media-download").first().click(),
        ]);
        await popup.waitForURL((u) => u.protocol.startsWith("http"), {
          timeout: 15_000,
        });
        // The signed URL is GCS's (the emulator checks the signature): it serves the archived image.
        const medium = await fetch(popup.url());
        assertEquals(medium.status, 200, `the signed URL ${popup.url()}`);
        assert(
          (medium.headers.get("content-type") ?? "").startsWith("image/"),
          "the medium is the image",
        );
        await medium.body?.cancel();
        await popup.close();
      }
      {
        // Erasing asks for the e-mail to be typed; the test stops before erasing anything.
        await page.getByTestId("erase-archive").click();
        await page.getByTestId("erase-dialog").waitFor();
        assert(
          await page.evaluate(() =>
            document.activeElement?.getAttribute("data-testid") ===
              "erase-confirm-input"
          ),
          "the erase dialog focuses the confirmation field",
        );
        const confirm = page.getByTestId("dialog-confirm");
        assert(await confirm.isDisabled(), "erase is disabled before typing");
        await page.getByTestId("erase-confirm-input").fill("not the e-mail");
        assert(
          await confirm.isDisabled(),
          "erase stays disabled for a wrong confirmation",
        );
        const expected =
          (await page.locator("[data-testid=erase-dialog] label strong")
            .textContent())!.trim();
        await page.getByTestId("erase-confirm-input").fill(expected);
        assert(
          await confirm.isEnabled(),
          "erase is enabled once the e-mail is typed",
        );
        await screenshot(page, "archive-erase-dialog");
        await page.keyboard.press("Escape");
        await page.getByTestId("erase-dialog").waitFor({ state: "detached" });
      }

      await page.getByTestId("nav-jobs").click();
      await page.locator("[data-testid=jobs-table], [data-testid=empty]")
        .first().waitFor();
      await screenshot(page, "jobs");
      assertEquals(
        await page.getByRole("alert").count(),
        0,
        "no page showed an error",
      );
    });
  },
);

e2e(
  "mapping an unmapped contact to a suggested user moves its archive",
  async () => {
    const s = await stack();
    const ctx = await s.arranger.context();
    const phone = await s.arranger.createUnmappedContact({
      storeId: ctx.adminStore.id,
      name: `E2E ${ctx.mapTarget.full_name ?? "Mapped"}`,
      email: ctx.mapTarget.email,
    });
    await withPage(async (page) => {
      await signIn(page, s.admin, "#/unmapped");
      await searchUnmapped(page, phone);
      await page.locator(
        `[data-testid=unmapped-row][data-phone="${phone}"] [data-testid=contact-link]`,
      ).click();
      await page.getByTestId("contact-page").waitFor();
      assertEquals(
        (await page.getByTestId("contact-phone").textContent())?.trim(),
        phone,
      );

      const suggestion = page.locator(
        `[data-testid=suggestion][data-user-id="${ctx.mapTarget.user_id}"]`,
      );
      await suggestion.waitFor();
      await suggestion.getByTestId("map-suggestion").click();
      await page.getByTestId("map-dialog").waitFor();
      assert(
        await dialogHasFocus(page, "map-dialog"),
        "the confirmation dialog focuses its first control",
      );
      await screenshot(page, "unmapped-map-dialog");
      await page.getByTestId("dialog-confirm").click();

      const status = page.getByTestId("mapping-status");
      await status.waitFor();
      await page.waitForFunction(
        () =>
          document.querySelector("[data-testid=mapping-status]")?.textContent
            ?.includes("Archive moved"),
        undefined,
        { timeout: 45_000 },
      );
      assert((await status.textContent())!.includes("Archive moved"));
      await screenshot(page, "unmapped-contact-mapped");
      assertEquals(
        await s.arranger.contactStatus(ctx.adminStore.id, phone),
        "mapped",
      );

      await page.getByTestId("back-to-unmapped").click();
      await searchUnmapped(page, phone);
      await page.getByTestId("empty").waitFor();
    });
  },
);

e2e(
  "ignoring a contact (after a cancelled first try with Esc) takes it out of the queue",
  async () => {
    const s = await stack();
    const ctx = await s.arranger.context();
    const phone = await s.arranger.createUnmappedContact({
      storeId: ctx.adminStore.id,
      name: "E2E Not A Customer",
    });
    await withPage(async (page) => {
      await signIn(page, s.admin, "#/unmapped");
      await searchUnmapped(page, phone);
      await page.locator(
        `[data-testid=unmapped-row][data-phone="${phone}"] [data-testid=contact-link]`,
      ).click();
      await page.getByTestId("contact-page").waitFor();

      await page.getByTestId("ignore-contact").click();
      await page.getByTestId("ignore-dialog").waitFor();
      assert(
        await dialogHasFocus(page, "ignore-dialog"),
        "the dialog focuses its first control",
      );
      await page.keyboard.press("Escape");
      await page.getByTestId("ignore-dialog").waitFor({ state: "detached" });
      assertEquals(
        await s.arranger.contactStatus(ctx.adminStore.id, phone),
        "unmapped",
        "Esc changed nothing",
      );

      await page.getByTestId("ignore-contact").click();
      await page.getByTestId("dialog-confirm").click();
      await page.getByTestId("ignored-notice").waitFor();
      assertEquals(
        await s.arranger.contactStatus(ctx.adminStore.id, phone),
        "ignored",
      );

      await page.getByTestId("back-to-unmapped").click();
      await searchUnmapped(page, phone);
      await page.getByTestId("empty").waitFor();
    });
  },
);

e2e(
  "bulk-ignoring the selected contacts takes them all out of the queue",
  async () => {
    const s = await stack();
    const ctx = await s.arranger.context();
    const tag = `E2E Bulk ${crypto.randomUUID().slice(0, 6)}`;
    const phones = [
      await s.arranger.createUnmappedContact({
        storeId: ctx.adminStore.id,
        name: `${tag} one`,
      }),
      await s.arranger.createUnmappedContact({
        storeId: ctx.adminStore.id,
        name: `${tag} two`,
      }),
    ];
    await withPage(async (page) => {
      await signIn(page, s.admin, "#/unmapped");
      await searchUnmapped(page, tag);
      assertEquals(await page.getByTestId("unmapped-row").count(), 2);
      await page.getByTestId("select-all").check();
      await page.getByTestId("bulk-ignore").click();
      await page.getByTestId("bulk-ignore-dialog").waitFor();
      await screenshot(page, "unmapped-bulk-ignore-dialog");
      await page.getByTestId("dialog-confirm").click();
      const notice = page.getByTestId("bulk-notice");
      await notice.waitFor();
      assert(
        (await notice.textContent())!.includes("Ignored 2 contacts"),
        await notice.textContent() ?? "",
      );
      await page.getByTestId("empty").waitFor();
      for (const phone of phones) {
        assertEquals(
          await s.arranger.contactStatus(ctx.adminStore.id, phone),
          "ignored",
        );
      }
    });
  },
);

e2e("replaying a dead-lettered job queues it again", async () => {
  const s = await stack();
  const ctx = await s.arranger.context();
  const reason = `e2e: arranged failure ${crypto.randomUUID().slice(0, 8)}`;
  const id = await s.arranger.createDeadJob(ctx.adminStore.id, reason);
  await withPage(async (page) => {
    await signIn(page, s.admin, "#/jobs/dead");
    const row = page.locator(`[data-testid=job-row][data-job-id="${id}"]`);
    await row.waitFor();
    assert(
      (await row.getByTestId("job-reason").textContent())!.includes(reason),
      "the reason column shows last_error",
    );
    await row.getByTestId("job-replay").click();
    const notice = page.getByTestId("replay-notice");
    await notice.waitFor();
    assert((await notice.textContent())!.includes(`#${id}`));
    await row.waitFor({ state: "detached" });
    await screenshot(page, "jobs-replayed");
    const job = await s.arranger.job(id);
    assert(
      job && job.replays >= 1,
      `job ${id} was replayed (replays = ${job?.replays})`,
    );
  });
});

e2e(
  "a store admin sees only their store's contacts, in the UI and from admin-api",
  async () => {
    const s = await stack();
    const ctx = await s.arranger.context();
    const own = await s.arranger.createUnmappedContact({
      storeId: ctx.adminStore.id,
      name: "E2E Own Store",
    });
    const foreign = await s.arranger.createUnmappedContact({
      storeId: ctx.otherStore.id,
      name: "E2E Other Store",
    });
    await withPage(async (page) => {
      await signIn(page, s.storeAdmin);
      const role = (await page.getByTestId("user-role").textContent())!.trim();
      assert(
        role.startsWith("Store admin: ") && role.includes(ctx.adminStore.slug),
        `role shown: ${role}`,
      );

      await page.getByTestId("unmapped-page").waitFor();
      await page.locator("[data-testid=unmapped-table], [data-testid=empty]")
        .first().waitFor();
      const stores = await page.locator("[data-testid=unmapped-row]")
        .evaluateAll((rows) =>
          rows.map((r) => (r as HTMLElement).dataset.store)
        );
      assert(
        !stores.includes(ctx.otherStore.slug),
        `rows of ${ctx.otherStore.slug} shown: ${stores.join(", ")}`,
      );
      const options = await page.getByTestId("filter-store").locator("option")
        .allTextContents();
      assert(
        !options.some((o) => o.includes(`(${ctx.otherStore.slug})`)),
        `store filter offers ${options.join(", ")}`,
      );
      await screenshot(page, "unmapped-store-admin");

      await searchUnmapped(page, own);
      await page.locator(`[data-testid=unmapped-row][data-phone="${own}"]`)
        .waitFor();
      await searchUnmapped(page, foreign);
      await page.getByTestId("empty").waitFor();

      // The same user's token, straight at the API: nothing of the other store comes back.
      const token = await storedAccessToken(page);
      let after: string | null = null;
      for (let i = 0; i < 50; i++) {
        const r = await callAdminApi(
          `unmapped?limit=200${
            after ? `&after=${encodeURIComponent(after)}` : ""
          }`,
          token,
        );
        assertEquals(r.status, 200, JSON.stringify(r.body));
        for (const c of r.body.contacts) {
          assert(
            c.store_id !== ctx.otherStore.id,
            `API returned ${c.phone_e164} of ${ctx.otherStore.slug}`,
          );
        }
        after = r.body.next;
        if (!after) break;
      }
      const byStore = await callAdminApi(
        `unmapped?store_id=${ctx.otherStore.id}`,
        token,
      );
      assert(
        byStore.status >= 400 || byStore.body.contacts.length === 0,
        `store filter: ${JSON.stringify(byStore.body)}`,
      );
      const bySearch = await callAdminApi(
        `unmapped?q=${encodeURIComponent(foreign)}`,
        token,
      );
      assert(
        bySearch.status >= 400 || bySearch.body.contacts.length === 0,
        `search: ${JSON.stringify(bySearch.body)}`,
      );
      const detail = await callAdminApi(
        `unmapped/${ctx.otherStore.id}/${encodeURIComponent(foreign)}`,
        token,
      );
      assert(
        detail.status === 404 || detail.status === 403,
        `detail answered ${detail.status}`,
      );
      const ownDetail = await callAdminApi(
        `unmapped/${ctx.adminStore.id}/${encodeURIComponent(own)}`,
        token,
      );
      assertEquals(
        ownDetail.status,
        200,
        "their own store's contact is readable",
      );
    });
  },
);

e2e("a wrong password shows “Invalid login credentials”", async () => {
  const s = await stack();
  await withPage(async (page) => {
    await page.goto(`${s.appUrl}/`);
    await page.getByTestId("sign-in-email").fill(s.admin.email);
    await page.getByTestId("sign-in-password").fill(
      `${s.admin.password}-wrong`,
    );
    await page.getByTestId("sign-in-submit").click();
    const alert = page.getByTestId("sign-in-error");
    await alert.waitFor();
    assertEquals(await alert.getAttribute("role"), "alert");
    assert(
      (await alert.textContent())!.includes("Invalid login credentials"),
      await alert.textContent() ?? "",
    );
    await screenshot(page, "sign-in-wrong-password");
  });
});

e2e(
  "an expired session sends the user back to sign-in with a message",
  async () => {
    const s = await stack();
    await withPage(async (page) => {
      // 1. The stored session disappears while the app is open: the next API call notices.
      await signIn(page, s.admin, "#/stores");
      await page.locator("[data-testid=stores-table], [data-testid=empty]")
        .first().waitFor();
      await page.evaluate(() => {
        for (
          const key of Object.keys(localStorage)
        ) if (key.startsWith("sb-")) localStorage.removeItem(key);
      });
      await page.getByTestId("nav-jobs").click();
      const notice = page.getByTestId("session-notice");
      await notice.waitFor();
      assertEquals((await notice.textContent())?.trim(), SESSION_EXPIRED);
      await screenshot(page, "sign-in-session-expired");

      // Signing in again returns to the page the user was on.
      await page.getByTestId("sign-in-email").fill(s.admin.email);
      await page.getByTestId("sign-in-password").fill(s.admin.password);
      await page.getByTestId("sign-in-submit").click();
      await page.getByTestId("jobs-page").waitFor();

      // 2. The stored session expired and cannot be refreshed: on the next load, sign-in says so.
      await page.evaluate(() => {
        for (const key of Object.keys(localStorage)) {
          if (!/^sb-.*-auth-token$/.test(key)) continue;
          const session = JSON.parse(localStorage.getItem(key)!);
          session.expires_at = Math.floor(Date.now() / 1000) - 60;
          session.refresh_token = "e2e-revoked-refresh-token";
          localStorage.setItem(key, JSON.stringify(session));
        }
      });
      await page.reload();
      await notice.waitFor();
      assertEquals((await notice.textContent())?.trim(), SESSION_EXPIRED);

      // 3. The API refuses the token (401): same message.
      await signIn(page, s.admin, "#/stores");
      await page.route(
        "**/functions/v1/admin-api/jobs?**",
        (route) =>
          route.request().method() === "OPTIONS"
            ? route.continue()
            : route.fulfill({
              status: 401,
              contentType: "application/json",
              headers: { "access-control-allow-origin": "*" },
              body: JSON.stringify({
                error: {
                  code: "sign_in_required",
                  message: "Sign in to use the admin app.",
                },
              }),
            }),
      );
      await page.getByTestId("nav-jobs").click();
      await notice.waitFor();
      assertEquals((await notice.textContent())?.trim(), SESSION_EXPIRED);
    });
  },
);

e2e(
  "an API 500 shows the API's message in an alert, and Try again recovers",
  async () => {
    const s = await stack();
    await withPage(async (page) => {
      await signIn(page, s.admin);
      await page.route(
        "**/functions/v1/admin-api/stores",
        (route) =>
          route.request().method() === "OPTIONS"
            ? route.continue()
            : route.fulfill({
              status: 500,
              contentType: "application/json",
              headers: { "access-control-allow-origin": "*" },
              body: JSON.stringify({
                error: { code: "internal", message: "Something broke" },
              }),
            }),
      );
      await page.getByTestId("nav-stores").click();
      const alert = page.getByTestId("stores-page").getByRole("alert");
      await alert.waitFor();
      assert(
        (await alert.textContent())!.includes("Something broke"),
        await alert.textContent() ?? "",
      );
      await screenshot(page, "stores-api-error");

      await page.unroute("**/functions/v1/admin-api/stores");
      await alert.getByRole("button", { name: "Try again" }).click();
      await page.locator(
        "[data-testid=stores-table], [data-testid=stores-page] [data-testid=empty]",
      ).first().waitFor();
    });
  },
);

e2e(
  "a store admin adds an FAQ entry and a file on the AI replies page and sees the bot's settings",
  async () => {
    const s = await stack();
    await withPage(async (page) => {
      await signIn(page, s.storeAdmin);
      await page.getByTestId("nav-ai").click();
      await page.getByTestId("ai-page").waitFor();
      await page.getByTestId("bot-panel").waitFor();

      const question = `Do you deliver to the Moon (${
        crypto.randomUUID().slice(0, 6)
      })?`;
      await page.getByTestId("faq-question").fill(question);
      await page.getByTestId("faq-answer").fill(
        "Not yet, only to Earth addresses.",
      );
      await page.getByTestId("faq-add").click();
      await page.getByTestId("ai-notice").filter({ hasText: "FAQ entry added" })
        .waitFor();
      await page.getByTestId("kb-row").filter({ hasText: question }).waitFor();

      const name = `care-${crypto.randomUUID().slice(0, 6)}.md`;
      await page.getByTestId("kb-file").setInputFiles({
        name,
        mimeType: "text/markdown",
        buffer: Buffer.from(
          "# Care\n\n## Washing\nMachine wash cold; never use bleach.\n",
        ),
      });
      await page.getByTestId("kb-row").filter({ hasText: name }).waitFor();
      await screenshot(page, "ai-replies");

      const bad = Buffer.from("MZ\u0000binary");
      await page.getByTestId("kb-file").setInputFiles({
        name: "setup.exe",
        mimeType: "application/octet-stream",
        buffer: bad,
      });
      const error = page.getByTestId("ai-error");
      await error.waitFor();
      assert(
        (await error.textContent())?.includes("setup.exe"),
        "the API's reason names the refused file",
      );
    });
  },
);

e2e(
  "the Overview: a platform admin's landing page with its charts, every time range, a firing alert acknowledged",
  async () => {
    const s = await stack();
    const ctx = await s.arranger.context();
    // A dead job, then the evaluation the worker runs every minute: the dead_jobs rule fires.
    await s.arranger.createDeadJob(ctx.adminStore.id, "E2E overview probe");
    await s.arranger.evaluateAlerts();
    const charts = [
      "chart-deliveries",
      "chart-latency",
      "chart-queue",
      "chart-dead",
      "chart-archive",
      "chart-ai",
    ];
    // uPlot draws each chart on a canvas inside the chart's element.
    const chartSvg = (testId: string) => `[data-testid=${testId}] canvas`;
    await withPage(async (page) => {
      await page.setViewportSize({ width: 1366, height: 1800 });
      await signIn(page, s.admin);
      await page.getByTestId("overview-page").waitFor();
      assertEquals(
        await page.getByTestId("nav-overview").getAttribute("aria-current"),
        "page",
      );
      for (const chart of charts) await page.locator(chartSvg(chart)).waitFor();
      const alert = page.locator(
        "[data-testid=overview-alert][data-rule=dead_jobs]",
      );
      await alert.waitFor();
      assert(
        (await alert.textContent())!.includes("dead jobs"),
        await alert.textContent() ?? "",
      );
      await page.getByTestId("storage-table").waitFor();
      // Laid out, not just present: the figures sit in a grid of tiles and the charts in columns (a stylesheet
      // left with an unclosed rule once nested these pages' rules inside another and left them bare).
      const layout = await page.evaluate(() =>
        [".overview-stats", ".overview-charts"].map((s) =>
          getComputedStyle(document.querySelector(s)!).display
        )
      );
      assertEquals(layout.join(" "), "grid grid");
      await screenshot(page, "overview");

      for (const range of ["hour", "week", "month", "day"]) {
        const answered = page.waitForResponse((r) =>
          r.url().includes(`/admin-api/overview?range=${range}`) && r.ok()
        );
        await page.getByTestId(`overview-range-${range}`).click();
        await answered;
        await page.locator(
          `[data-testid=overview-range-${range}][aria-current=page]`,
        ).waitFor();
        assertEquals(
          await page.evaluate(() => location.hash),
          `#/overview/${range}`,
        );
        await page.locator(chartSvg("chart-deliveries")).waitFor();
        if (range === "week") await screenshot(page, "overview-week");
      }

      // It refreshes on its own: another answer arrives without a click (the 30 s timer).
      await page.waitForResponse(
        (r) => r.url().includes("/admin-api/overview?range=day"),
        { timeout: 40_000 },
      );

      await alert.getByTestId("overview-alert-ack").click();
      await page.getByTestId("overview-notice").waitFor();
      await alert.locator(".badge-muted").filter({ hasText: "acknowledged" })
        .waitFor();
      await screenshot(page, "overview-alert-acknowledged");
    });

    // A store administrator has no Overview: not in the navigation, and refused by the API.
    await withPage(async (page) => {
      await signIn(page, s.storeAdmin);
      await page.getByTestId("unmapped-page").waitFor();
      assertEquals(await page.getByTestId("nav-overview").count(), 0);
      await page.goto(`${s.appUrl}/#/overview/day`);
      await page.getByTestId("overview-page").getByRole("alert").waitFor();
    });
  },
);

e2e(
  "a platform admin erases a user's archive and follows it to the end; the Erasures page lists it; store admins see none",
  async () => {
    const s = await stack();
    const ctx = await s.arranger.context();
    const erased = await s.arranger.createArchivedUser(ctx.adminStore.id);
    await withPage(async (page) => {
      await signIn(page, s.admin);
      await page.goto(`${s.appUrl}/#/archive/${erased.userId}`);
      await page.getByTestId("timeline-messages").waitFor();
      await page.getByTestId("erase-archive").click();
      await page.getByTestId("erase-dialog").waitFor();
      await page.getByTestId("erase-confirm-input").fill(erased.email);
      await page.getByTestId("dialog-confirm").click();
      await page.getByTestId("erase-status").waitFor();
      await page.waitForFunction(
        () =>
          document.querySelector("[data-testid=erase-status]")?.textContent
            ?.includes("Archive erased"),
        undefined,
        { timeout: 45_000 },
      );
      const counts = (await page.getByTestId("erasure-counts").textContent()) ??
        "";
      assert(
        /1 object deleted · 1 message and 0 media forgotten \(100%\)/.test(
          counts,
        ),
        counts,
      );
      assertEquals(
        await page.getByTestId("erase-archive").count(),
        0,
        "no second erase button for the same erasure",
      );
      await page.locator("[data-testid=timeline] [data-testid=empty]")
        .waitFor();
      await page.waitForFunction(
        (id) =>
          !document.querySelector(`[data-testid=archive-user][href$="${id}"]`),
        erased.userId,
      );
      await screenshot(page, "archive-erased");

      await page.getByTestId("nav-erasures").click();
      const row = page.locator(
        `[data-testid=erasure-row][data-user-id="${erased.userId}"]`,
      );
      await row.waitFor();
      assertEquals(
        (await row.getByTestId("erasure-status").textContent())?.trim(),
        "completed",
      );
      assert(
        ((await row.getByTestId("erasure-counts").textContent()) ?? "")
          .includes("(100%)"),
      );
      assert(
        ((await row.textContent()) ?? "").includes(`user:`),
        "who asked is shown",
      );
      await screenshot(page, "erasures");
      assertEquals(
        await page.getByRole("alert").count(),
        0,
        "no error on the way",
      );
    });
    await withPage(async (page) => {
      await signIn(page, s.storeAdmin);
      assertEquals(
        await page.getByTestId("nav-erasures").count(),
        0,
        "store admins have no Erasures page",
      );
      await page.goto(`${s.appUrl}/#/erasures`);
      await page.getByTestId("erasures-forbidden").waitFor();
      const token = await storedAccessToken(page);
      const r = await callAdminApi("archive/erasures", token);
      assertEquals(r.status, 200);
      assertEquals(r.body.erasures.length, 0, "and the API shows them nothing");
    });
  },
);

/** Clicks a figure's "Download CSV" and returns the file's name and text. */
async function downloadFigure(
  page: Page,
  figure: string,
): Promise<{ name: string; text: string }> {
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByTestId(`csv-${figure}`).click(),
  ]);
  const path = await download.path();
  return {
    name: download.suggestedFilename(),
    text: await Deno.readTextFile(path),
  };
}

/** The page's conversation total once the figures for the chosen range have loaded. */
async function conversationsTotal(page: Page): Promise<number> {
  await page.getByTestId("figure-conversations-per-day").waitFor();
  return Number(
    (await page.getByTestId("conversations-total").textContent())?.replace(
      /[^\d]/g,
      "",
    ),
  );
}

e2e(
  "a store admin reads their store's analytics, changes the range and downloads each figure as CSV",
  async () => {
    const s = await stack();
    const ctx = await s.arranger.context();
    const feedback = `E2E: quick and kind ${crypto.randomUUID().slice(0, 6)}`;
    await s.arranger.createAnalyticsConversations(ctx.adminStore.id, feedback);
    await withPage(async (page) => {
      await signIn(page, s.storeAdmin);
      await page.getByTestId("nav-analytics").click();
      await page.getByTestId("analytics-page").waitFor();
      await page.locator(".analytics-grid").waitFor();
      assertEquals(
        await page.evaluate(() =>
          getComputedStyle(document.querySelector(".analytics-grid")!).display
        ),
        "grid",
      );
      // The picker (shown when they administer more than one store: other tests may give them one) offers only theirs.
      const offered = await page.getByTestId("analytics-store").locator(
        "option",
      ).evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
      assert(
        !offered.includes(ctx.otherStore.slug),
        `the picker offers no other store: ${offered.join(", ")}`,
      );
      await page.goto(`${s.appUrl}/#/analytics/${ctx.adminStore.slug}`);

      await page.getByTestId("analytics-range").selectOption("7d");
      const week = await conversationsTotal(page);
      await page.getByTestId("analytics-range").selectOption("30d");
      await page.getByTestId("conversations-total").filter({
        hasText: String(week + 1),
      }).waitFor();
      await page.getByTestId("analytics-range").selectOption("90d");
      await page.getByTestId("conversations-total").filter({
        hasText: String(week + 2),
      }).waitFor();
      assert(week >= 2, "the last 7 days hold the two recent conversations");

      await page.getByTestId("csat-feedback").filter({ hasText: feedback })
        .waitFor();
      assert(
        (await page.getByTestId("analytics-zone").textContent())?.includes(
          "UTC",
        ) ?? false,
        "the page says which time zone its days and hours are in",
      );
      for (
        const figure of [
          "conversations-per-day",
          "response-times",
          "answer-share",
          "busiest-hours",
        ]
      ) {
        await page.getByTestId(`figure-${figure}`).waitFor();
      }
      await page.getByTestId("chart-per-day").locator("canvas").first()
        .waitFor();
      await page.getByTestId("chart-hours").locator("canvas").first().waitFor();
      await page.getByTestId("hours-grid").waitFor();
      await screenshot(page, "analytics");
      await page.getByTestId("figure-csat").scrollIntoViewIfNeeded();
      await screenshot(page, "analytics-hours-and-csat");

      const perDay = await downloadFigure(page, "conversations-per-day");
      assert(
        perDay.name.startsWith(`${ctx.adminStore.slug}-conversations-per-day-`),
        `file name ${perDay.name}`,
      );
      const lines = perDay.text.trim().split("\r\n");
      assertEquals(lines[0], "day,channel,conversations");
      const total = lines.slice(1).reduce(
        (n, l) => n + Number(l.split(",")[2]),
        0,
      );
      assertEquals(
        total,
        week + 2,
        "the CSV holds the same conversations as the page",
      );
      const csat = await downloadFigure(page, "csat");
      assertEquals(
        csat.text.split("\r\n")[0],
        "conversation,rating,feedback,sent_at",
      );
      assert(
        csat.text.includes(`,5,${feedback},`),
        "the CSAT answer and its comment are in the CSV",
      );
      const share = await downloadFigure(page, "answer-share");
      assertEquals(share.text.split("\r\n")[0], "outcome,conversations,share");
      assertEquals(
        share.text.trim().split("\r\n").length,
        5,
        "bot, handed off, people, unanswered",
      );
      const hours = await downloadFigure(page, "busiest-hours");
      assertEquals(
        hours.text.split("\r\n")[0],
        "weekday,hour,incoming_messages,time_zone",
      );
      const times = await downloadFigure(page, "response-times");
      assert(
        times.text.includes("first_response,") &&
          times.text.includes("resolution,"),
        times.text,
      );

      // Another store's analytics are refused by the API, whatever the URL says.
      await page.goto(`${s.appUrl}/#/analytics/${ctx.otherStore.slug}`);
      await page.getByTestId("error-alert").filter({ hasText: "No store" })
        .waitFor();
    });
    await withPage(async (page) => {
      await signIn(page, s.admin);
      await page.goto(`${s.appUrl}/#/analytics/${ctx.adminStore.slug}`);
      await page.getByTestId("analytics-store").waitFor();
      assert(
        (await page.getByTestId("analytics-store").locator("option").count()) >=
          2,
        "a platform admin picks any store",
      );
      await page.getByTestId("csat-feedback").filter({ hasText: feedback })
        .waitFor();
      await screenshot(page, "analytics-platform-admin");
    });
  },
);

e2e(
  "the AI page says when the OpenAI account is out of quota; a platform administrator resumes it",
  async () => {
    const s = await stack();
    await s.arranger.pauseAiForQuota(
      "You exceeded your current quota, please check your plan and billing details.",
    );
    try {
      await withPage(async (page) => {
        await signIn(page, s.storeAdmin);
        await page.getByTestId("nav-ai").click();
        const banner = page.getByTestId("ai-paused");
        await banner.waitFor();
        const text = (await banner.textContent()) ?? "";
        assert(text.includes("the OpenAI account is out of quota"), text);
        assert(
          text.includes("You exceeded your current quota"),
          "OpenAI's own words are shown",
        );
        assert(
          await page.getByTestId("ai-resume").count() === 0,
          "a store admin cannot resume the deployment's AI",
        );
        await screenshot(page, "ai-paused");
      });
      await withPage(async (page) => {
        await signIn(page, s.admin);
        await page.getByTestId("nav-ai").click();
        await page.getByTestId("ai-paused").waitFor();
        await page.getByTestId("ai-resume").click();
        await page.getByTestId("ai-notice").filter({ hasText: "AI resumed" })
          .waitFor();
        await page.getByTestId("ai-paused").waitFor({ state: "detached" });
        assert(!(await s.arranger.aiPaused()), "the pause is gone");
      });
    } finally {
      await s.arranger.cleanup();
    }
  },
);

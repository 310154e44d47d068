// Accessibility and layout of the main screens, in English and French, on a
// 1280×800 desktop and a 390×844 phone: axe-core (WCAG 2.1 A/AA and best
// practices) finds no violation on the home, account and friends pages, the
// pre-join screen, the room (alone, Host panel, chat, "More", shortcuts) and
// the end card. On the phone: the control bar is one row, every visible
// control is at least 44 px, and the chat covers the screen. A screenshot of
// each state goes to test-artifacts/ (a11y-<lang>-<size>-<state>.png).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startSalon, launchChromium, eventually, axeViolations, ARTIFACTS } from "./helpers.mjs";

let salon;
let browser;

before(async () => {
  salon = await startSalon();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await salon?.stop();
});

const SIZES = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } };
const WORDS = {
  en: { locale: "en-US", create: "Create a room", name: "Your name", join: "Join", chat: "Chat", leave: "Leave" },
  fr: { locale: "fr-FR", create: "Créer une salle", name: "Votre nom", join: "Rejoindre", chat: "Discussion", leave: "Quitter" },
};

for (const [lang, w] of Object.entries(WORDS)) {
  for (const [size, viewport] of Object.entries(SIZES)) {
    test(`${lang} ${size}: no axe violation on the main screens; layout fits`, async () => {
      const context = await browser.newContext({ locale: w.locale, viewport, isMobile: size === "phone", hasTouch: size === "phone" });
      const page = await context.newPage();
      page.on("pageerror", (e) => console.error(`[page error] ${e.message}`));
      const found = [];
      const check = async (state) => {
        await page.screenshot({ path: join(ARTIFACTS, `a11y-${lang}-${size}-${state}.png`) });
        for (const v of await axeViolations(page)) found.push(`${state}: ${v}`);
        // Exactly one h1 is shown on every screen.
        const h1 = await page.evaluate(() => [...document.querySelectorAll("h1")].filter((h) => h.checkVisibility() || h.classList.contains("sr-only")).filter((h) => !h.closest("[hidden]")).length);
        if (h1 !== 1) found.push(`${state}: ${h1} visible h1`);
      };
      try {
        for (const path of ["/account", "/friends", "/"]) {
          await page.goto(salon.url + path);
          await page.waitForLoadState("networkidle");
          await check(path === "/" ? "home" : path.slice(1));
        }
        await page.getByRole("button", { name: w.create }).click();
        await page.waitForURL(/\/r\//);
        await page.locator("#host-note").waitFor({ state: "visible" });
        // Join is above the fold without scrolling.
        const joinBox = await page.getByRole("button", { name: w.join, exact: true }).boundingBox();
        assert.ok(joinBox && joinBox.y + joinBox.height <= viewport.height, `Join above the fold: ${JSON.stringify(joinBox)}`);
        await eventually(async () => (await page.locator("#prejoin-status").textContent()) === "", { what: "preview started" });
        // The fake microphone beeps: the meter moves.
        await eventually(async () => (await page.locator("#mic-meter").evaluate((m) => m.value)) > 0.05, { what: "the microphone meter moves" });
        await check("prejoin");
        await page.getByLabel(w.name).fill("Alex");
        await page.getByRole("button", { name: w.join, exact: true }).click();
        await page.locator("#in-room").waitFor({ state: "visible" });
        await check("room");

        // One row of controls, nothing cut off; 44 px targets on the phone.
        const bar = await page.evaluate(() => {
          const b = document.getElementById("bar");
          const r = b.getBoundingClientRect();
          const buttons = [...b.querySelectorAll("button")].filter((x) => !x.hidden).map((x) => x.getBoundingClientRect());
          return { height: r.height, rows: new Set(buttons.map((x) => Math.round(x.top))).size, outside: buttons.filter((x) => x.right > r.right + 1 || x.left < r.left - 1).length, scroll: b.scrollWidth - b.clientWidth };
        });
        assert.equal(bar.rows, 1, `one row of controls: ${JSON.stringify(bar)}`);
        assert.equal(bar.outside, 0, `no control cut off: ${JSON.stringify(bar)}`);
        const targets = async (state) => {
          if (size !== "phone") return;
          const small = await page.evaluate(() =>
            [...document.querySelectorAll("#in-room button, #in-room input:not([type=checkbox]), #in-room select")]
              .filter((el) => el.checkVisibility())
              .map((el) => [el.id || el.getAttribute("aria-label") || el.textContent.trim(), el.getBoundingClientRect()])
              .filter(([, r]) => r.width < 43.5 || r.height < 43.5)
              .map(([n, r]) => `${n} ${Math.round(r.width)}x${Math.round(r.height)}`),
          );
          assert.deepEqual(small, [], `touch targets of at least 44 px (${state})`);
        };
        await targets("room");

        await page.locator("#people-btn").click();
        await page.locator("#people").waitFor({ state: "visible" });
        await page.getByRole("button", { name: /^(Actions for|Actions pour) Alex/ }).click();
        await check("host-panel");
        await targets("host-panel");
        await page.keyboard.press("Escape");
        await page.locator("#people").waitFor({ state: "hidden" });

        await page.getByRole("button", { name: w.chat, exact: true }).click();
        await page.locator("#chat-input").fill("Bonjour");
        await page.locator("#chat-input").press("Enter");
        await page.locator("#chat-log li").waitFor();
        if (size === "phone") {
          const chat = await page.locator("#chat").boundingBox();
          assert.ok(chat && chat.width >= viewport.width - 1, `the chat covers the phone's width: ${JSON.stringify(chat)}`);
        }
        await check("chat");
        await page.getByRole("button", { name: lang === "fr" ? "Fermer le panneau" : "Close the panel" }).last().click();
        await page.locator("#chat").waitFor({ state: "hidden" });

        await page.locator("#more-btn").click();
        await check("more");
        await page.keyboard.press("Escape");
        await page.locator("body").press("?");
        await page.locator("#keys-dialog").waitFor({ state: "visible" });
        await check("shortcuts");
        await page.keyboard.press("Escape");

        await page.getByRole("button", { name: w.leave, exact: true }).click();
        await page.locator("#ended").waitFor({ state: "visible" });
        await check("ended");
      } finally {
        await context.close();
      }
      assert.deepEqual(found, [], "axe-core violations");
    });
  }
}

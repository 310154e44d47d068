// Never drop out (issue 12), in real Chromium: five browsers join one
// after another: each newcomer decodes everyone and everyone decodes the
// newcomer, and no tile is a black box. (Server restarts: restart.test.mjs.)
// Times are printed (RELIABILITY.md records them); the asserts allow a
// loaded 2-core machine some slack.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startSalon, launchChromium, newPage, joinRoom, decoding } from "./helpers.mjs";

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

test("five browsers join one after another; each newcomer and everyone else decode each other", async () => {
  const first = await newPage(browser);
  await first.goto(salon.url + "/");
  await first.getByRole("button", { name: "Create a room" }).click();
  await first.waitForURL(/\/r\/[A-Za-z0-9_-]{22}$/);
  const link = first.url();
  await joinRoom(first, link, "P1");
  const pages = [first];
  const figures = [];
  for (let i = 2; i <= 5; i++) {
    const page = await newPage(browser);
    await joinRoom(page, link, `P${i}`);
    const joined = Date.now();
    await decoding(page, i - 1, { timeout: 20000, what: `at newcomer P${i}` });
    const newcomer = Date.now() - joined;
    for (const p of pages) await decoding(p, i - 1, { timeout: 20000, what: `of P${i} at the others` });
    const everyone = Date.now() - joined;
    figures.push(`P${i}: ${newcomer} ms (newcomer), ${everyone} ms (all)`);
    pages.push(page);
  }
  console.log(`# late joiners: ${figures.join("; ")}`);
  // No tile is a black box: any tile without a frame shows a placeholder.
  for (const p of pages) {
    const black = await p.locator(".tile:not(.video-off):not(.no-frame) video").evaluateAll((vs) => vs.filter((v) => v.videoWidth === 0 && !v.closest(".self")).length);
    assert.equal(black, 0, "no tile without picture or placeholder");
  }
  for (const p of pages) await p.context().close();
});

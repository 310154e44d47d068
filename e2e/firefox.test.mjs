// Firefox as a second real browser: Debian's Firefox ESR (puppeteer-core
// over WebDriver BiDi) and Chromium (playwright-core) in one room see and
// hear each other both ways; each turns its camera off and on and the other
// sees it stop and resume; Firefox leaves and its tile goes.
//
// And effects where there is no WebGL (headless Firefox has none): choosing
// a background never loads the segmentation (whose loader would block the
// page with an alert()); the panel says backgrounds are not available, and
// lighting still runs.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startSalon, launchChromium, launchFirefox, newPage, eventually, inboundStats, ARTIFACTS } from "./helpers.mjs";

let salon;
let chromium;
let firefox;

before(async () => {
  salon = await startSalon([], { announceAll: true });
  [chromium, firefox] = await Promise.all([launchChromium(), launchFirefox()]);
});

after(async () => {
  await firefox?.close();
  await chromium?.close();
  await salon?.stop();
});

async function createRoom(name) {
  const res = await fetch(`${salon.url}/api/rooms`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name }) });
  assert.equal(res.status, 201);
  return `${salon.url}/r/${(await res.json()).id}`;
}

/** A Firefox page (puppeteer) in a fresh browser context, collecting any dialog. */
async function firefoxPage() {
  const context = await firefox.createBrowserContext();
  const page = await context.newPage();
  await page.setViewport({ width: 1000, height: 700 });
  page.dialogs = [];
  page.on("dialog", async (d) => {
    page.dialogs.push(d.message());
    await d.dismiss().catch(() => {});
  });
  page.on("pageerror", (e) => console.error(`[firefox page error] ${e.message}`));
  return page;
}

/** Roles asked for explicitly: `::-p-aria(Name)` alone also matches a <label>. */
const button = (page, name) => page.locator(`::-p-aria([name="${name}"][role="button"])`);

/** Video frames decoded and audio packets received, summed over inbound streams. */
async function received(page) {
  const s = await inboundStats(page);
  return {
    frames: s.video.reduce((n, v) => n + v.framesDecoded, 0),
    videos: s.video.filter((v) => v.framesDecoded > 0).length,
    packets: s.audio.reduce((n, a) => n + a.packets, 0),
  };
}

/** The page's remote video keeps decoding and its remote audio keeps arriving. */
async function seesAndHears(page, what) {
  const a = await eventually(async () => {
    const r = await received(page);
    return r.frames > 10 && r.packets > 10 && r;
  }, { timeout: 30000, what: `${what}: first video frames and audio packets` });
  return eventually(async () => {
    const r = await received(page);
    return r.frames > a.frames + 20 && r.packets > a.packets + 20 && r;
  }, { timeout: 20000, what: `${what}: video and audio keep coming` });
}

/** The page's remote video has stopped decoding (camera off on the other side). */
async function videoStopped(page, what) {
  await eventually(async () => {
    const a = await received(page);
    await new Promise((r) => setTimeout(r, 1500));
    const b = await received(page);
    return b.frames === a.frames;
  }, { timeout: 20000, what });
}

test("Chromium and Firefox ESR see and hear each other; camera off and on; leave", async () => {
  const link = await createRoom("Chromium et Firefox");
  const chrome = await newPage(chromium);
  await chrome.goto(link);
  await chrome.getByLabel("Your name").fill("Chromium");
  await chrome.getByRole("button", { name: "Join", exact: true }).click();
  await chrome.locator("#in-room").waitFor({ state: "visible" });

  const fox = await firefoxPage();
  await fox.goto(link);
  await fox.locator("#name").fill("Firefox");
  await button(fox, "Join").click();
  await fox.waitForSelector("#in-room:not([hidden])");
  const ua = await fox.evaluate(() => navigator.userAgent);
  assert.match(ua, /Firefox\//);

  await eventually(async () => (await chrome.locator(".tile").count()) === 2, { what: "two tiles in Chromium" });
  await eventually(async () => (await fox.$$(".tile")).length === 2, { what: "two tiles in Firefox" });
  const inChrome = await seesAndHears(chrome, "Chromium receives Firefox");
  const inFox = await seesAndHears(fox, "Firefox receives Chromium");
  console.log(`Chromium decoded ${inChrome.frames} frames and got ${inChrome.packets} audio packets from Firefox; Firefox ${inFox.frames} / ${inFox.packets}`);
  await chrome.locator("#grid").screenshot({ path: join(ARTIFACTS, "firefox-in-chromium.png") });
  await fox.screenshot({ path: join(ARTIFACTS, "chromium-in-firefox.png") });

  // Firefox turns its camera off: Chromium shows the tile as camera-off and
  // stops decoding; back on, it decodes again. Then the other way round.
  await button(fox, "Turn camera off").click();
  await eventually(async () => (await chrome.locator(".tile.video-off").count()) === 1, { what: "Firefox's tile camera-off in Chromium" });
  await videoStopped(chrome, "Chromium stops decoding Firefox's video");
  await button(fox, "Turn camera on").click();
  await eventually(async () => (await chrome.locator(".tile.video-off").count()) === 0, { what: "Firefox's video back in Chromium" });
  await seesAndHears(chrome, "Chromium receives Firefox again");

  await chrome.getByRole("button", { name: "Turn camera off" }).click();
  await eventually(async () => (await fox.$$(".tile.video-off")).length === 1, { what: "Chromium's tile camera-off in Firefox" });
  await videoStopped(fox, "Firefox stops decoding Chromium's video");
  await chrome.getByRole("button", { name: "Turn camera on" }).click();
  await eventually(async () => (await fox.$$(".tile.video-off")).length === 0, { what: "Chromium's video back in Firefox" });
  await seesAndHears(fox, "Firefox receives Chromium again");

  // Firefox leaves: its tile goes from Chromium's grid.
  await button(fox, "Leave").click();
  await fox.waitForFunction(() => document.body.innerText.includes("You left the room."));
  await eventually(async () => (await chrome.locator(".tile").count()) === 1, { what: "Firefox's tile removed in Chromium" });
  assert.deepEqual(fox.dialogs, [], "no dialog in Firefox");
});

test("without WebGL (headless Firefox), a background effect raises no dialog and says it is not available; lighting works", async () => {
  const link = await createRoom("Sans WebGL");
  const fox = await firefoxPage();
  const requests = [];
  fox.on("request", (r) => requests.push(r.url()));
  await fox.goto(link);
  assert.equal(await fox.evaluate(() => !!(document.createElement("canvas").getContext("webgl2") || document.createElement("canvas").getContext("webgl"))), false, "this Firefox has no WebGL");
  // The pre-join preview has the camera; the effects panel is on the pre-join screen.
  await fox.waitForFunction(() => globalThis.salonEffects?.source?.readyState === "live", { timeout: 20000 });
  await fox.click("#prejoin-more > summary"); // effects are folded on the pre-join screen
  await fox.select("#fx-background", "blur-light");
  const message = "Backgrounds and face effects are not available in this browser; lighting still works.";
  await fox.waitForFunction((m) => document.querySelector(".fx-status")?.textContent === m, { timeout: 10000 }, message);
  const stats = await fox.evaluate(() => globalThis.salonEffects.stats());
  assert.equal(stats.segmentation, "failed", JSON.stringify(stats));

  // Lighting still runs on the canvas path, the background picked or not.
  await fox.select("#fx-lighting", "warm");
  const first = await eventually(async () => {
    const s = await fox.evaluate(() => globalThis.salonEffects.stats());
    return s.path === "canvas" && s.framesOut > 0 && s;
  }, { what: "the canvas pipeline draws lighting" });
  await eventually(async () => (await fox.evaluate(() => globalThis.salonEffects.stats())).framesOut > first.framesOut + 10, { what: "lighting keeps drawing" });
  assert.equal(await fox.$eval(".fx-status", (e) => e.textContent), message);

  // Still no dialog, and the segmentation loader was never even fetched.
  await new Promise((r) => setTimeout(r, 1000));
  assert.deepEqual(fox.dialogs, [], "no alert() or other dialog");
  assert.deepEqual(requests.filter((u) => u.includes("selfie_segmentation")), [], "segmentation never loaded");
});

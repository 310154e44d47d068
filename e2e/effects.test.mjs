// Video effects, end to end in real headless Chromium: each effect picked on
// the pre-join screen, then join; the other participant decodes the video;
// blur really changes the background; effects switch live mid-call; the
// page never talks to another host (models and wasm are served by Salon).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startSalon, launchChromium, newPage, eventually, inboundStats, ARTIFACTS } from "./helpers.mjs";

let salon;
let browser;
let link;
let bob;
/** Every request and WebSocket any page made: [page label, url, method]. */
const requests = [];

before(async () => {
  salon = await startSalon();
  browser = await launchChromium();
  const res = await fetch(`${salon.url}/api/rooms`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "Effets" }) });
  link = `${salon.url}/r/${(await res.json()).id}`;
  // Bob watches: he joins without effects and stays.
  bob = await open("bob");
  await joinNow(bob, "Bob");
});

after(async () => {
  await browser?.close();
  await salon?.stop();
});

async function open(label, locale, storage = {}) {
  const page = await newPage(browser, locale);
  await page.addInitScript((kv) => Object.entries(kv).forEach(([k, v]) => localStorage.setItem(k, v)), storage);
  page.on("request", (r) => requests.push([label, r.url(), r.method()]));
  page.on("websocket", (ws) => requests.push([label, ws.url(), "WS"]));
  await page.goto(link);
  // Effects are folded on the pre-join screen: unfold them.
  await page.locator("#prejoin-more > summary").click();
  return page;
}

async function joinNow(page, name) {
  await page.getByLabel("Your name").fill(name);
  await page.getByRole("button", { name: "Join", exact: true }).click();
  await page.locator("#in-room").waitFor({ state: "visible" });
}

/** Waits until the pipeline writes frames with the given settings. */
async function pipelineRuns(page, settings) {
  return eventually(async () => {
    const a = await page.evaluate(() => globalThis.salonEffects.stats());
    await page.waitForTimeout(500);
    const b = await page.evaluate(() => globalThis.salonEffects.stats());
    const same = Object.entries(settings).every(([k, v]) => b.settings[k] === v);
    const masked = !(settings.background || settings.ar) || b.segmentation === "ready";
    return same && masked && b.path !== "off" && b.framesOut > a.framesOut && b;
  }, { timeout: 30000, what: `effects pipeline running with ${JSON.stringify(settings)}` });
}

/** Bob decodes the one other person's video, and it keeps coming. */
async function bobDecodes(what) {
  const frames = () =>
    bob.evaluate(() => {
      const v = [...document.querySelectorAll(".tile:not(.self) video")].filter((v) => v.srcObject);
      return v.length === 1 && v[0].videoWidth > 0 ? v[0].getVideoPlaybackQuality().totalVideoFrames : 0;
    });
  const first = await eventually(frames, { timeout: 30000, what: `bob decodes video (${what})` });
  await eventually(async () => (await frames()) > first + 10, { timeout: 20000, what: `bob's video keeps decoding (${what})` });
  const stats = await inboundStats(bob);
  assert.ok(stats.video.some((v) => v.framesDecoded > 0), `framesDecoded grows (${what})`);
}

/** Picks effects in the panel: {background, lighting, ar}. */
async function pick(page, settings) {
  for (const [k, v] of Object.entries(settings)) await page.selectOption(`#fx-${k}`, v);
}

async function leave(page) {
  await page.getByRole("button", { name: "Leave" }).click();
  await page.context().close();
  await eventually(async () => (await bob.locator(".tile").count()) === 1, { what: "tile removed" });
}

/**
 * Statistics of a video element's picture, scaled to 320x180: the mean
 * colour of the whole picture, and the detail (mean absolute difference
 * between neighbouring pixels) of its left quarter, which in the fake
 * camera's picture is background (the moving shape is in the middle).
 */
async function pictureStats(page, selector) {
  return page.evaluate((sel) => {
    const v = document.querySelector(sel);
    const c = document.createElement("canvas");
    c.width = 320;
    c.height = 180;
    const g = c.getContext("2d", { willReadFrequently: true });
    g.drawImage(v, 0, 0, 320, 180);
    const px = g.getImageData(0, 0, 320, 180).data;
    let r = 0, gr = 0, b = 0, detail = 0, n = 0;
    for (let i = 0; i < px.length; i += 4) {
      r += px[i];
      gr += px[i + 1];
      b += px[i + 2];
    }
    for (let y = 0; y < 180; y++) {
      for (let x = 0; x < 79; x++) {
        const i = (y * 320 + x) * 4;
        for (let k = 0; k < 3; k++) detail += Math.abs(px[i + k] - px[i + 4 + k]) + (y < 179 ? Math.abs(px[i + k] - px[i + 320 * 4 + k]) : 0);
        n++;
      }
    }
    const count = px.length / 4;
    return { r: r / count, g: gr / count, b: b / count, detail: detail / n };
  }, selector);
}

const EACH = [
  { background: "blur-light" },
  { background: "blur-strong" },
  { background: "picture:study" },
  { background: "picture:dunes" },
  { background: "picture:bokeh" },
  { background: "panorama:lake" },
  { background: "panorama:aurora" },
  { background: "panorama:sunset" },
  { lighting: "warm" },
  { lighting: "cool" },
  { lighting: "soft" },
  { lighting: "bw" },
  { lighting: "lowlight" },
  { ar: "crown" },
  { ar: "glasses" },
  { ar: "ears" },
];

test("each effect picked before joining: the other side decodes the processed video", async () => {
  for (const settings of EACH) {
    const what = JSON.stringify(settings);
    const alice = await open("alice");
    await pick(alice, settings);
    await pipelineRuns(alice, settings);
    await joinNow(alice, "Alice");
    // The room's self view and the sent track are the processed track.
    const sent = await alice.evaluate(() => {
      const pc = globalThis.salonDebug.pc();
      const track = pc.getSenders().find((s) => s.track?.kind === "video")?.track;
      return { sentIsProcessed: track === globalThis.salonEffects.track && track !== globalThis.salonEffects.source, live: track?.readyState };
    });
    assert.deepEqual(sent, { sentIsProcessed: true, live: "live" }, `sender carries the processed track (${what})`);
    await pipelineRuns(alice, settings);
    await bobDecodes(what);
    await leave(alice);
  }
});

test("a person's own background picture stays in the page and is used", async () => {
  const alice = await open("alice");
  // Make a picture in the browser (a red and blue split) and pick it as a file.
  const png = await alice.evaluate(() => {
    const c = document.createElement("canvas");
    c.width = 320;
    c.height = 180;
    const g = c.getContext("2d");
    g.fillStyle = "#d02020";
    g.fillRect(0, 0, 160, 180);
    g.fillStyle = "#2040d0";
    g.fillRect(160, 0, 160, 180);
    return c.toDataURL("image/png").split(",")[1];
  });
  const before = requests.length;
  await alice.getByLabel("Use your own picture (stays on this device)").setInputFiles({ name: "mine.png", mimeType: "image/png", buffer: Buffer.from(png, "base64") });
  await eventually(async () => (await alice.locator("#fx-background").inputValue()) === "picture:own", { what: "own picture chosen" });
  await pipelineRuns(alice, { background: "picture:own" });
  // The picture went nowhere: only files were fetched since (the pipeline's modules), nothing sent.
  assert.deepEqual(requests.slice(before).filter(([label, , method]) => label === "alice" && method !== "GET"), []);
  // The fake camera's background is now red and blue.
  await eventually(async () => {
    const s = await pictureStats(alice, "#preview");
    return s.r > s.g + 40 && s.b > s.g + 20 && s;
  }, { what: "own picture in the preview" });
  await joinNow(alice, "Alice");
  await bobDecodes("own picture");
  await leave(alice);
});

test("blur changes the background region measurably; lighting switched mid-call reaches the others", async () => {
  // Without effects, then with strong blur, as received by Bob.
  const alice = await open("alice");
  await joinNow(alice, "Alice");
  await bobDecodes("no effect");
  const sel = ".tile:not(.self) video";
  const sample = async (n = 5) => {
    const all = [];
    for (let i = 0; i < n; i++) {
      all.push(await pictureStats(bob, sel));
      await bob.waitForTimeout(300);
    }
    const avg = (k) => all.reduce((s, x) => s + x[k], 0) / all.length;
    return { r: avg("r"), g: avg("g"), b: avg("b"), detail: avg("detail") };
  };
  const plain = await sample();
  await bob.locator("#grid").screenshot({ path: join(ARTIFACTS, "effects-none.png") });

  // Mid-call, through the in-room panel, with the keyboard.
  await alice.getByRole("button", { name: "More" }).press("Enter");
  await alice.getByRole("button", { name: "Effects" }).press("Enter");
  await alice.locator("#effects-room #fx-background").waitFor({ state: "visible" });
  await alice.selectOption("#effects-room #fx-background", "blur-strong");
  await pipelineRuns(alice, { background: "blur-strong" });
  await bobDecodes("blur");
  await bob.waitForTimeout(1500);
  const blurred = await sample();
  await bob.locator("#grid").screenshot({ path: join(ARTIFACTS, "effects-blur.png") });
  assert.ok(blurred.detail < plain.detail * 0.7, `blur removes detail in the background region: ${JSON.stringify({ plain, blurred })}`);

  // Then an immersive background, then warm light: Bob's picture turns warmer.
  await alice.selectOption("#effects-room #fx-background", "panorama:lake");
  await pipelineRuns(alice, { background: "panorama:lake" });
  await bob.waitForTimeout(1500);
  const lake = await sample();
  await alice.locator("#effects-room #fx-lighting").focus();
  await alice.keyboard.press("ArrowDown"); // Natural -> Warm
  await pipelineRuns(alice, { background: "panorama:lake", lighting: "warm" });
  await bob.waitForTimeout(1500);
  const warm = await sample();
  await bob.locator("#grid").screenshot({ path: join(ARTIFACTS, "effects-lake-warm.png") });
  assert.ok(warm.r - warm.b > lake.r - lake.b + 15, `warm light shifts red against blue: ${JSON.stringify({ lake, warm })}`);

  // Camera off and on again with effects on: the processed track comes back.
  await alice.getByRole("button", { name: "Turn camera off" }).click();
  await eventually(async () => (await bob.locator(".tile.video-off").count()) === 1, { what: "camera off seen" });
  assert.equal(await alice.evaluate(() => globalThis.salonEffects.stats().path), "off");
  await alice.getByRole("button", { name: "Turn camera on" }).click();
  await eventually(async () => (await bob.locator(".tile.video-off").count()) === 0, { what: "camera on seen" });
  await pipelineRuns(alice, { background: "panorama:lake", lighting: "warm" });
  await bobDecodes("camera back on");

  // Every control of the panel has a name, in the room too.
  const unnamed = await alice.evaluate(() =>
    [...document.querySelectorAll("#effects-panel select, #effects-panel input")].filter((el) => !el.closest("label")?.textContent?.trim()).map((el) => el.id),
  );
  assert.deepEqual(unnamed, []);
  await leave(alice);
});

test("the other paths work too: WebGL2 renderer (GPU machines), canvas capture (Firefox, Safari)", async () => {
  const settings = { background: "blur-strong", lighting: "warm", ar: "crown" };
  for (const [storage, expect] of [
    [{ "salon.fxRenderer": "webgl" }, { path: "insertable", renderer: "webgl" }],
    [{ "salon.fxPath": "canvas" }, { path: "canvas", renderer: "2d" }],
  ]) {
    const alice = await open("alice", "en-US", storage);
    await pick(alice, settings);
    const stats = await pipelineRuns(alice, settings);
    assert.deepEqual({ path: stats.path, renderer: stats.renderer }, expect);
    await joinNow(alice, "Alice");
    await bobDecodes(JSON.stringify(expect));
    await leave(alice);
  }
});

test("the pages made requests to Salon only", () => {
  const origin = new URL(salon.url);
  const foreign = requests.filter(([, url]) => {
    const u = new URL(url);
    if (u.protocol === "blob:" || u.protocol === "data:") return false;
    return u.host !== origin.host;
  });
  assert.ok(requests.some(([, url]) => /\.wasm(\?v=\w+)?$/.test(url)), "the segmentation wasm was loaded (from Salon)");
  assert.deepEqual(foreign, []);
});

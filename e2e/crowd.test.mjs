// 50 people in one room: 47 synthetic participants (salon-load crowd: real
// str0m peers publishing simulcast) and 3 real Chromium pages. Small tiles
// get the low simulcast layer; a large tile (speaker view) gets a high one
// and keeps playing smoothly.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { startSalon, launchChromium, newPage, eventually, inboundStats, outboundStats, ARTIFACTS, LOAD_BIN } from "./helpers.mjs";

let salon;
let browser;
let crowd;

before(async () => {
  salon = await startSalon();
  browser = await launchChromium();
});

after(async () => {
  crowd?.kill("SIGINT");
  await browser?.close();
  await salon?.stop();
});

/** Remote browser videos (the crowd never sends video to the pages). */
async function remoteVideos(page) {
  return (await inboundStats(page)).video.filter((v) => v.framesDecoded > 0);
}

test("50 people: small tiles get the low layer; the featured publisher is asked for its full layer and the large tile keeps playing", async () => {
  const res = await fetch(`${salon.url}/api/rooms`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"name":"Crowd"}' });
  const { id, path } = await res.json();
  const host = new URL(salon.url).host;
  crowd = spawn(LOAD_BIN, ["crowd", "--server", host, `--room=${id}`, "--participants", "47", "--duration", "300"], { stdio: ["ignore", "pipe", "pipe"] });
  let crowdLog = "";
  crowd.stderr.on("data", (d) => (crowdLog = (crowdLog + d).slice(-2000)));
  await new Promise((resolve, reject) => {
    crowd.on("exit", (c) => reject(new Error(`salon-load crowd exited with ${c}: ${crowdLog}`)));
    crowd.stdout.on("data", (d) => String(d).includes("ready") && resolve());
  });

  const pages = [];
  /** layers requests each page received from the server, as text */
  const layers = new Map();
  for (const name of ["Ana", "Ben", "Cleo"]) {
    const page = await newPage(browser);
    layers.set(page, []);
    page.on("websocket", (ws) => ws.on("framereceived", (f) => {
      if (String(f.payload).includes('"type":"layers"')) layers.get(page).push(String(f.payload));
    }));
    await page.goto(salon.url + path);
    await page.getByLabel("Your name").fill(name);
    await page.getByRole("button", { name: "Join", exact: true }).click();
    try {
      await page.locator("#in-room").waitFor({ state: "visible", timeout: 45000 });
    } catch (e) {
      await page.screenshot({ path: join(ARTIFACTS, `crowd-join-${name}.png`) });
      throw new Error(`${name} could not join: "${await page.locator("#join-error").textContent()}"\n${salon.log().slice(-2000)}`);
    }
    pages.push(page);
  }
  for (const page of pages) {
    await eventually(async () => (await page.locator(".tile").count()) === 50, { what: "50 tiles", timeout: 30000 }).catch(async (e) => {
      throw new Error(`${e.message}; have ${await page.locator(".tile").count()} tiles`);
    });
    assert.equal(await page.locator(".tile:not([hidden])").count(), 25, "a grid page shows 25 tiles");
    assert.ok(await page.getByText("Page 1 of 2").isVisible());
  }

  // Small tiles (a 5x5 grid): both other browsers arrive in the low layer (q: a quarter of the camera's height).
  for (const page of pages) {
    await eventually(async () => {
      const v = await remoteVideos(page);
      return v.length === 2 && v.every((x) => x.height > 0 && x.height <= 200) && v;
    }, { timeout: 40000, what: "two low-layer videos" }).catch(async (e) => {
      const stats = await inboundStats(page);
      const view = await page.evaluate(() => [...document.querySelectorAll(".tile:not([hidden])")].map((t) => [t.querySelector(".name").textContent, Math.round(t.getBoundingClientRect().height)]).slice(0, 6));
      throw new Error(`${e.message}\nstats: ${JSON.stringify(stats.video)}\nfirst tiles: ${JSON.stringify(view)}`);
    });
  }
  await pages[0].locator("#grid").screenshot({ path: join(ARTIFACTS, "crowd-grid.png") });

  // Speaker view on the first page: its featured tile is large, so the
  // server asks that publisher for its full layer (f) and forwards the best
  // layer it gets. Which resolution Chrome then sends is Chrome's choice: on
  // this 2-core machine, loaded by 3 browsers and 47 synthetic peers, its
  // uplink estimate often holds it at q (see BENCHMARKS.md). What must hold
  // here: the request, and a large tile that keeps playing smoothly.
  const before = new Map(pages.map((p) => [p, layers.get(p).length]));
  // The layout toggle is on the bar, or in "More" when the bar is too
  // narrow for it (as a person would find it; at this 1000 px window both happen).
  const toggle = pages[0].getByRole("button", { name: "Speaker view" });
  if (!(await toggle.isVisible())) await pages[0].getByRole("button", { name: "More", exact: true }).click();
  await toggle.click();
  await eventually(async () => pages.slice(1).some((p) => layers.get(p).slice(before.get(p)).some((m) => m.includes('"f"'))), {
    timeout: 20000,
    what: "the featured publisher asked for its full layer",
  }).catch(async (e) => {
    const featured = await pages[0].evaluate(() => [...document.querySelectorAll(".tile.featured .name")].map((n) => [n.textContent, Math.round(n.closest(".tile").getBoundingClientRect().height)]));
    const asked = pages.slice(1).map((p) => layers.get(p).slice(-3));
    throw new Error(`${e.message}\nfeatured on page 1: ${JSON.stringify(featured)}\nlast layers messages to pages 2 and 3: ${JSON.stringify(asked)}`);
  });
  const [first] = await eventually(async () => {
    const v = await remoteVideos(pages[0]);
    return v.length > 0 && v;
  }, { what: "the featured video" });
  const t0 = Date.now();
  const sentBefore = await Promise.all(pages.slice(1).map(outboundStats));
  await new Promise((r) => setTimeout(r, 4000));
  const later = (await remoteVideos(pages[0])).find((x) => x.mid === first.mid);
  const secs = (Date.now() - t0) / 1000;
  const fps = (later.framesDecoded - first.framesDecoded) / secs;
  // What the two other browsers encoded meanwhile, per layer: a publisher
  // starved of CPU encodes few frames, which no server can make up for.
  const sent = (await Promise.all(pages.slice(1).map(outboundStats))).map((layers, i) =>
    layers.map((l) => {
      const was = sentBefore[i].find((b) => b.rid === l.rid && b.mid === l.mid);
      return `${l.rid ?? "-"}:${((l.frames - (was?.frames ?? 0)) / secs).toFixed(1)}fps@${l.height}p(${l.limit})`;
    }).join(" "));
  // The receiving side of that video: loss, repairs and freezes, for a failure's diagnosis.
  const received = await pages[0].evaluate(async (mid) => {
    const r = {};
    (await globalThis.salonDebug.pc().getStats()).forEach((s) => {
      if (s.type === "inbound-rtp" && s.mid === mid) {
        Object.assign(r, { lost: s.packetsLost, received: s.packetsReceived, framesDropped: s.framesDropped, nacks: s.nackCount, plis: s.pliCount, keyframes: s.keyFramesDecoded, freezeSecs: s.totalFreezesDuration });
      }
    });
    return r;
  }, first.mid);
  console.log(`featured tile, receiving: ${JSON.stringify(received)}`);
  console.log(`featured tile: ${later.height}p at ${fps.toFixed(1)} fps decoded, ${later.freezes} freezes; encoded by Ben: ${sent[0]}; by Cleo: ${sent[1]}`);
  // q is capped at 15 fps by design; under this machine's load 9-16 fps was measured.
  assert.ok(fps >= 7, `the large tile keeps playing (${fps.toFixed(1)} fps; encoded by Ben: ${sent[0]}; by Cleo: ${sent[1]})`);
  await pages[0].locator("#grid").screenshot({ path: join(ARTIFACTS, "crowd-speaker-view.png") });
});

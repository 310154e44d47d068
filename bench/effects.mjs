// Effects benchmark: frame rate of the processed camera track (640x360) in
// headless Chromium, per effect, measured in the page before joining.
//
//   node bench/effects.mjs [--runs 5] [--secs 10] [--effects background=blur-strong,...]
//
// Needs a debug build of salon (cargo build --bin salon; CARGO_TARGET_DIR is
// honoured) and Debian's chromium. The fake camera is asked for 30 fps (its
// default is 20). For each effect: open the pre-join screen, pick the effect
// in the panel, wait 6 s (model load, adaptation), then count the frames the
// pipeline writes to the processed track for `secs` seconds (the worker's
// counter, over the worker's own clock) and, as a cross-check, the frames the preview <video> presents
// (requestVideoFrameCallback). Prints one line per run and the medians, and
// the load average, since this machine is shared.
import { chromium } from "playwright-core";
import { loadavg } from "node:os";
import { startSalon } from "../e2e/helpers.mjs";

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const RUNS = Number(arg("runs", 5));
const SECS = Number(arg("secs", 10));
const EFFECTS = arg("effects", "none=none,background=blur-light,background=blur-strong,background=picture:study,background=panorama:lake,lighting=warm,ar=crown,background=panorama:aurora+lighting=warm+ar=glasses").split(",");
const RENDERER = arg("renderer", ""); // "" (automatic), "webgl" or "2d"

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const salon = await startSalon();
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox", "--disable-gpu", "--use-fake-device-for-media-stream=fps=30", "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-quic", "--no-first-run",
  ],
});
const results = {};
try {
  const res = await fetch(`${salon.url}/api/rooms`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  const room = await res.json();
  console.log(`# ${new Date().toISOString()} cpus=2 renderer=${RENDERER || "auto"} runs=${RUNS} secs=${SECS}`);
  for (let run = 0; run < RUNS; run++) {
    for (const effect of EFFECTS) {
      const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
      const page = await context.newPage();
      if (RENDERER) await page.addInitScript((r) => localStorage.setItem("salon.fxRenderer", r), RENDERER);
      await page.goto(`${salon.url}/r/${room.id}`);
      await page.waitForFunction(() => document.getElementById("preview")?.srcObject);
      for (const part of effect.split("+")) {
        const [sel, val] = part.split("=");
        if (sel !== "none") await page.selectOption(`#fx-${sel}`, val);
      }
      await page.waitForTimeout(6000);
      const load = loadavg()[0];
      const m = await page.evaluate(async (secs) => {
        const v = document.getElementById("preview");
        let presented = 0;
        const count = () => {
          presented++;
          v.requestVideoFrameCallback(count);
        };
        v.requestVideoFrameCallback(count);
        const a = globalThis.salonEffects.stats();
        const t0 = performance.now();
        await new Promise((r) => setTimeout(r, secs * 1000));
        const b = globalThis.salonEffects.stats();
        const dt = (performance.now() - t0) / 1000;
        const s = v.srcObject.getVideoTracks()[0].getSettings();
        // framesOut and lastOutMs come together from the drawing thread: frames per its own elapsed time.
        const fps = b.path === "off" ? null : (b.framesOut - a.framesOut) / ((b.lastOutMs - a.lastOutMs) / 1000);
        return { fps, presentedFps: presented / dt, w: s.width, h: s.height, segEvery: b.segIntervalMs, segMs: b.segCostMs, drawMs: b.drawMs, renderer: b.renderer, path: b.path, segmentation: b.segmentation };
      }, SECS);
      (results[effect] ??= []).push(m);
      console.log(`run ${run + 1} ${effect.padEnd(40)} out=${m.fps?.toFixed(1) ?? "-"} fps presented=${m.presentedFps.toFixed(1)} fps ${m.w}x${m.h} ${m.path}/${m.renderer ?? "-"} seg every ${m.segEvery ?? "-"} ms (${m.segMs ?? "-"} ms each, ${m.segmentation}) draw ${m.drawMs ?? "-"} ms load1=${load.toFixed(2)}`);
      await context.close();
    }
  }
  console.log("\n| effect | processed fps (median) | presented fps (median) | segmentation interval (median, ms) |\n|---|---|---|---|");
  for (const [effect, ms] of Object.entries(results)) {
    const out = ms.map((m) => m.fps).filter((x) => x !== null);
    console.log(`| ${effect} | ${out.length ? median(out).toFixed(1) : "camera as is"} | ${median(ms.map((m) => m.presentedFps)).toFixed(1)} | ${ms[0].segEvery === undefined ? "-" : median(ms.map((m) => m.segEvery ?? 0))} |`);
  }
} finally {
  await browser.close();
  await salon.stop();
}

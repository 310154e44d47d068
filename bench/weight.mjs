// Page weight: what the home page and a room's pre-join page cost to load,
// first and second visit, and what the first background effect downloads.
//
//   node bench/weight.mjs            # SALON_BIN=... measures another build
//
// Needs a debug build of salon (CARGO_TARGET_DIR is honoured) and Debian's
// chromium. One browser context, so the second visit sees the first one's
// HTTP cache, as a returning visitor would. Counted over the DevTools
// protocol: requests, bytes on the wire (`encodedDataLength`: headers and
// the possibly compressed body) and bytes after decoding; a request answered
// from the cache, or by a 304, is counted apart.
import { chromium } from "playwright-core";
import { startSalon } from "../e2e/helpers.mjs";

const salon = await startSalon();
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
});
try {
  const context = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  /** @type {Map<string, {url: string, wire: number, body: number, cached: boolean, status: number}>} */
  let reqs = new Map();
  cdp.on("Network.requestWillBeSent", (e) => reqs.set(e.requestId, { url: e.request.url, wire: 0, body: 0, cached: false, status: 0 }));
  cdp.on("Network.requestServedFromCache", (e) => reqs.get(e.requestId) && (reqs.get(e.requestId).cached = true));
  cdp.on("Network.responseReceived", (e) => {
    const r = reqs.get(e.requestId);
    if (!r) return;
    r.status = e.response.status;
    if (e.response.fromDiskCache || e.response.fromPrefetchCache) r.cached = true;
  });
  cdp.on("Network.dataReceived", (e) => reqs.get(e.requestId) && (reqs.get(e.requestId).body += e.dataLength));
  cdp.on("Network.loadingFinished", (e) => reqs.get(e.requestId) && (reqs.get(e.requestId).wire = e.encodedDataLength));

  const measure = async (label, go) => {
    reqs = new Map();
    await go();
    await page.waitForLoadState("networkidle");
    await new Promise((r) => setTimeout(r, 500));
    const all = [...reqs.values()].filter((r) => r.url.startsWith(salon.url));
    const fromCache = all.filter((r) => r.cached).length;
    const notModified = all.filter((r) => r.status === 304).length;
    const wire = all.reduce((n, r) => n + r.wire, 0);
    const body = all.reduce((n, r) => n + r.body, 0);
    const kb = (n) => (n / 1024).toFixed(1);
    console.log(`${label.padEnd(34)} requests ${String(all.length).padStart(3)}  from cache ${String(fromCache).padStart(3)}  304 ${String(notModified).padStart(3)}  on the wire ${kb(wire).padStart(8)} KiB  decoded ${kb(body).padStart(8)} KiB`);
    if (process.env.VERBOSE) for (const r of all.filter((r) => !r.cached)) console.log(`    ${r.status} ${r.url.slice(salon.url.length)} ${r.wire} B`);
    return all;
  };

  await measure("home, first visit", () => page.goto(salon.url + "/"));
  await measure("home, second visit", () => page.goto(salon.url + "/"));
  const link = await page.evaluate(async () => {
    const r = await fetch("/api/rooms", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "Poids" }) });
    return (await r.json()).url;
  });
  await measure("room pre-join, first visit", () => page.goto(link));
  await measure("room pre-join, second visit", () => page.goto(link));
  // The first background effect loads the segmentation model and its wasm.
  const blur = async () => {
    await page.locator("#prejoin-more > summary").click().catch(() => {});
    await page.selectOption("#fx-background", "blur-light");
    await page.waitForFunction(() => globalThis.salonEffects?.stats?.().segmenter !== undefined || true);
    await new Promise((r) => setTimeout(r, 8000));
  };
  const first = await measure("first blur, first visit", blur);
  await page.goto(link);
  await page.waitForLoadState("networkidle");
  const again = await measure("first blur, second visit", blur);
  const wasm = (rs) => rs.filter((r) => /\.wasm(\?|$)/.test(r.url)).map((r) => `${r.url.split("/").pop()}: ${r.cached ? "cache" : r.status} ${(r.wire / 1024).toFixed(0)} KiB on the wire, ${(r.body / 1024).toFixed(0)} KiB decoded`);
  console.log("wasm, first visit: ", wasm(first).join("; ") || "none");
  console.log("wasm, second visit:", wasm(again).join("; ") || "none");
} finally {
  await browser.close();
  await salon.stop();
}

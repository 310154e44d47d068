// Shared helpers for the browser tests: start a real Salon binary on free
// ports with a temporary data dir, and launch Debian's Chromium (through
// playwright-core) or Firefox ESR (through puppeteer-core over WebDriver
// BiDi) with fake camera and microphone (settings measured in ../shared/GUIDE.md).
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { setPriority, tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import puppeteer from "puppeteer-core";

export const ARTIFACTS = join(process.cwd(), "test-artifacts");
mkdirSync(ARTIFACTS, { recursive: true });

const TARGET = join(process.env.CARGO_TARGET_DIR || "target", "debug");
const BIN = process.env.SALON_BIN || join(TARGET, "salon");
export const LOAD_BIN = process.env.SALON_LOAD_BIN || join(TARGET, "salon-load");

/**
 * Gives every thread of the server a higher CPU priority (nice -5) than
 * the browsers and synthetic clients of a test.
 *
 * Why: here the SFU shares 2 cores with its own clients (3 to 5 Chromium
 * pages, 47 synthetic peers), which a deployment never does. With equal
 * shares its media loop fell behind the datagrams arriving: in the
 * 50-person test the kernel dropped 99 000-123 000 of them at its full
 * socket queue in 85 s and the featured video froze; at nice -5 a few
 * thousand, while the pages joined (RELIABILITY.md). Needs root (CI and the namespace tests run as root);
 * otherwise the server keeps an equal share and this says so once.
 */
let warnedPriority = false;
function prioritizeServer(pid) {
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) setPriority(Number(tid), -5);
  } catch (e) {
    if (!warnedPriority) console.error(`[helpers] the server keeps normal priority (${e.code ?? e.message}): multi-browser tests may be CPU-starved`);
    warnedPriority = true;
  }
}

/**
 * Starts Salon; resolves with {url, stop, kill} (https with --tls-self-signed
 * or --tls-cert). `opts.dataDir` and `opts.listen` restart a server where an
 * earlier one was (same database, same address), as after a crash. Media is
 * announced on 127.0.0.1 only, unless `opts.announceAll`: then on every IPv4
 * address of the machine (Salon's default), which Firefox needs because it
 * gathers no loopback candidates.
 * @param {string[]} [extraArgs] @param {{dataDir?: string, listen?: string, announceAll?: boolean}} [opts]
 */
export async function startSalon(extraArgs = [], opts = {}) {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "salon-e2e-"));
  // Anyone may create rooms unless a test says otherwise (the room tests create rooms anonymously).
  const creation = extraArgs.includes("--room-creation") ? [] : ["--room-creation", "anyone"];
  // TURN's default port (3478) would clash between servers run side by side.
  const turn = extraArgs.includes("--turn-port") ? [] : ["--turn-port", "0", "--turn-tls-port", "0"];
  const announce = opts.announceAll ? [] : ["--public-ip", "127.0.0.1"];
  const args = ["--listen", opts.listen ?? "127.0.0.1:0", "--media-port", "0", ...announce, "--data-dir", dataDir, ...creation, ...turn, ...extraArgs];
  const tls = extraArgs.includes("--tls-self-signed") || extraArgs.includes("--tls-cert");
  const proc = spawn(BIN, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, RUST_LOG: "salon=info,warn" } });
  let log = "";
  proc.stderr.on("data", (d) => (log += d));
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`salon did not start:\n${log}`)), 20000);
    proc.on("exit", (code) => reject(new Error(`salon exited with ${code}:\n${log}`)));
    let out = "";
    proc.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/listening on (\S+)/);
      if (m) {
        clearTimeout(timer);
        prioritizeServer(proc.pid);
        resolve(`${tls ? "https" : "http"}://${m[1]}`);
      }
    });
  });
  return {
    url,
    dataDir,
    log: () => log,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGINT");
        await new Promise((r) => proc.once("exit", r));
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
    /** Ends the process with `signal` (SIGKILL: a crash) and keeps the data dir. */
    async kill(signal = "SIGKILL") {
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill(signal);
      await exited;
    },
  };
}

/**
 * Launches Debian's Chromium. `opts`: extra flags as an array (e.g.
 * ["--ignore-certificate-errors"] for a self-signed server), or
 * {executablePath, args} for the network tests.
 * @param {string[] | {executablePath?: string, args?: string[]}} [opts]
 */
export async function launchChromium(opts = {}) {
  const { executablePath = undefined, args = [] } = Array.isArray(opts) ? { args: opts } : opts;
  return chromium.launch({
    executablePath: executablePath || process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      ...args,
      "--no-sandbox",
      "--disable-gpu",
      "--use-fake-device-for-media-stream",
      "--use-fake-ui-for-media-stream",
      "--autoplay-policy=no-user-gesture-required",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-quic",
      "--no-first-run",
    ],
  });
}

/**
 * Debian's Firefox ESR, headless, driven by puppeteer-core over WebDriver
 * BiDi (no geckodriver). Fake camera and microphone, no permission prompt,
 * autoplay allowed. Firefox ESR 153 gathers no loopback ICE candidates here
 * (even with media.peerconnection.ice.loopback), so start Salon with
 * `announceAll`. Headless Firefox has no WebGL.
 */
export async function launchFirefox() {
  return puppeteer.launch({
    browser: "firefox",
    executablePath: process.env.FIREFOX || "/usr/bin/firefox-esr",
    headless: true,
    extraPrefsFirefox: {
      "media.navigator.streams.fake": true,
      "media.navigator.permission.disabled": true,
      "media.autoplay.default": 0,
      "intl.accept_languages": "en-US",
    },
  });
}

/** Polls fn until it returns a truthy value or time runs out. */
export async function eventually(fn, { timeout = 20000, interval = 250, what = "condition" } = {}) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, interval));
  }
  throw new Error(`timed out waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
}

/** Inbound RTP counters of a page, per kind and track. */
export async function inboundStats(page) {
  return page.evaluate(async () => {
    const pc = globalThis.salonDebug?.pc();
    if (!pc) return { video: [], audio: [] };
    const stats = await pc.getStats();
    const video = [];
    const audio = [];
    stats.forEach((s) => {
      if (s.type !== "inbound-rtp") return;
      if (s.kind === "video") {
        video.push({ mid: s.mid, framesDecoded: s.framesDecoded || 0, height: s.frameHeight || 0, fps: s.framesPerSecond || 0, freezes: s.freezeCount || 0 });
      }
      if (s.kind === "audio") audio.push({ mid: s.mid, samples: s.totalSamplesReceived || 0, packets: s.packetsReceived || 0 });
    });
    return { video, audio };
  });
}

/**
 * What a page sends: per outgoing video encoding (rid), frames encoded, the
 * current resolution and fps, and why the browser limits its quality
 * ("cpu", "bandwidth" or "none"). Used to tell a slow publisher from a
 * server that holds frames back.
 */
export async function outboundStats(page) {
  return page.evaluate(async () => {
    const pc = globalThis.salonDebug?.pc();
    if (!pc) return [];
    const out = [];
    (await pc.getStats()).forEach((s) => {
      if (s.type === "outbound-rtp" && s.kind === "video") {
        out.push({ mid: s.mid, rid: s.rid, frames: s.framesEncoded || 0, height: s.frameHeight || 0, fps: s.framesPerSecond || 0, limit: s.qualityLimitationReason, active: s.active });
      }
    });
    return out;
  });
}

/** Opens a page in a fresh context (own cookies and storage) with a locale. */
export async function newPage(browser, locale = "en-US") {
  const context = await browser.newContext({ locale, viewport: { width: 1000, height: 700 } });
  const page = await context.newPage();
  page.on("pageerror", (e) => console.error(`[page error] ${e.message}`));
  return page;
}

/**
 * Opens `link` (unless null: the page is already there) and joins as `name`;
 * resolves once the room is shown. Labels default to the English ones.
 * @param {{nameLabel?: string, joinLabel?: string}} [labels]
 */
export async function joinRoom(page, link, name, { nameLabel = "Your name", joinLabel = "Join" } = {}) {
  if (link) await page.goto(link);
  await page.getByLabel(nameLabel).fill(name);
  await page.getByRole("button", { name: joinLabel, exact: true }).click();
  await page.locator("#in-room").waitFor({ state: "visible" });
}

/** Resolves once `page` decodes `n` remote videos whose frame counts grow. */
export async function decoding(page, n, { timeout = 30000, what = "" } = {}) {
  const base = new Map((await inboundStats(page)).video.map((v) => [v.mid, v.framesDecoded]));
  return eventually(
    async () => (await inboundStats(page)).video.filter((v) => v.framesDecoded > (base.get(v.mid) ?? 0) + 3).length >= n,
    { timeout, interval: 100, what: `${n} decoding videos ${what}` },
  );
}

const AXE = readFileSync(join(process.cwd(), "node_modules/axe-core/axe.min.js"), "utf8");

/**
 * Runs axe-core (npm) in the page, WCAG 2.x A and AA rules, and returns the
 * violations as short strings ("rule: target, target…"). Injected through
 * the DevTools protocol, which the page's Content-Security-Policy does not
 * govern (Salon allows no inline script).
 */
export async function axeViolations(page) {
  if (!(await page.evaluate(() => !!globalThis.axe))) await page.evaluate(AXE);
  const result = await page.evaluate(() =>
    globalThis.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] } }),
  );
  return result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).slice(0, 5).join(", ")}`);
}

// Never drop out (issue 12), in real Chromium:
// - the server is killed (kill -9) and started again on the same address and
//   database: three pages come back into the room by themselves, video
//   playing, the host still host;
// - a graceful restart (SIGTERM): the server tells the pages to reconnect;
// - five browsers join one after another: each newcomer decodes everyone
//   and everyone decodes the newcomer.
// Times are printed (RELIABILITY.md records them); the asserts allow a
// loaded 2-core machine some slack.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startSalon, launchChromium, newPage, eventually, inboundStats, ARTIFACTS } from "./helpers.mjs";

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

async function joinRoom(page, link, name) {
  await page.goto(link);
  await page.getByLabel("Your name").fill(name);
  await page.getByRole("button", { name: "Join", exact: true }).click();
  await page.locator("#in-room").waitFor({ state: "visible" });
}

/** Resolves once `page` decodes `n` remote videos whose frame counts grow. */
async function decoding(page, n, { timeout = 30000, what = "" } = {}) {
  const before = await inboundStats(page);
  const base = new Map(before.video.map((v) => [v.mid, v.framesDecoded]));
  return eventually(
    async () => {
      const s = await inboundStats(page);
      const growing = s.video.filter((v) => v.framesDecoded > (base.get(v.mid) ?? 0) + 3);
      return growing.length >= n;
    },
    { timeout, interval: 100, what: `${n} decoding videos ${what}` },
  );
}

test("after kill -9 and a restart, and after a graceful restart, pages come back by themselves", async () => {
  const host = await newPage(browser);
  await host.goto(salon.url + "/");
  await host.getByRole("button", { name: "Create a room" }).click();
  await host.waitForURL(/\/r\/[A-Za-z0-9_-]{22}$/);
  const link = host.url();
  const bob = await newPage(browser);
  const carol = await newPage(browser);
  await joinRoom(host, link, "Hôte");
  await joinRoom(bob, link, "Bob");
  await joinRoom(carol, link, "Carol");
  const pages = [host, bob, carol];
  for (const p of pages) await decoding(p, 2, { what: "before the crash" });
  // The host's controls (inside the people panel) are enabled only for hosts.
  const hosts = () => host.locator("#host-panel").evaluate((e) => !e.hidden);
  assert.equal(await hosts(), true, "the creator hosts");

  const address = new URL(salon.url).host;
  for (const [signal, label] of [["SIGKILL", "kill -9"], ["SIGTERM", "graceful"]]) {
    await salon.kill(signal);
    // The pages notice and say so (kill -9: by silence; SIGTERM: told to reconnect).
    for (const p of pages) {
      await eventually(async () => p.locator("#conn-status").isVisible(), { timeout: 15000, what: `Reconnecting… shown (${label})` });
    }
    salon = await startSalon([], { dataDir: salon.dataDir, listen: address });
    const answering = Date.now();
    const times = [];
    for (const p of pages) {
      await eventually(async () => (await p.locator(".tile").count()) === 3, { timeout: 15000, what: `three tiles again (${label})` });
      await decoding(p, 2, { timeout: 15000, what: `after the restart (${label})` });
      times.push(Date.now() - answering);
    }
    console.log(`# ${label}: pages back with video ${times.map((t) => `${t} ms`).join(", ")} after the server answered`);
    // Generous for a loaded machine; RELIABILITY.md records the figures.
    assert.ok(Math.max(...times) < 12000, `back within 12 s (${times})`);
    for (const p of pages) {
      assert.equal(await p.locator("#ended").isVisible(), false, "no end screen, no click needed");
    }
    assert.equal(await hosts(), true, `the host is host again (${label})`);
    await host.screenshot({ path: join(ARTIFACTS, `reconnect-${signal}.png`) });
  }
  for (const p of pages) await p.context().close();
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

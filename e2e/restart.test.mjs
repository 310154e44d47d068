// Never drop out (issue 12), in real Chromium: kill -9 of the server, then a
// restart on the same address and database, then a graceful restart
// (SIGTERM, which tells every page to reconnect). Each time the three pages
// rejoin by themselves, with no click: three tiles, no "Reconnecting…",
// video flowing both ways, and the room's creator is host again.
// Times are printed (RELIABILITY.md records them).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startSalon, launchChromium, newPage, eventually, joinRoom, decoding, ARTIFACTS } from "./helpers.mjs";

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
      await eventually(async () => (await p.locator(".tile").count()) === 3 && !(await p.locator(".in-room.reconnecting").count()), { timeout: 15000, what: `back in the room with three tiles (${label})` });
      times.push(Date.now() - answering);
    }
    console.log(`# ${label}: pages back in the room ${times.map((t) => `${t} ms`).join(", ")} after the server answered`);
    // Generous for a loaded machine; RELIABILITY.md records the figures.
    assert.ok(Math.max(...times) < 12000, `back within 12 s (${times})`);
    for (const p of pages) await decoding(p, 2, { timeout: 15000, what: `video after the restart (${label})` });
    console.log(`# ${label}: video flowing on every page ${Date.now() - answering} ms after the server answered`);
    for (const p of pages) {
      assert.equal(await p.locator("#ended").isVisible(), false, "no end screen, no click needed");
    }
    assert.equal(await hosts(), true, `the host is host again (${label})`);
    await host.screenshot({ path: join(ARTIFACTS, `reconnect-${signal}.png`) });
  }
  for (const p of pages) await p.context().close();
});


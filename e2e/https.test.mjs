// HTTPS as a real browser speaks it: Salon with its own self-signed
// certificate, headless Chromium (certificate errors ignored) talking HTTP/2
// to it. Alice signs up and creates a room through the UI (same-origin POSTs
// over HTTP/2, where the host is `:authority`, not `Host`), joins it over
// wss://, and a guest joins by the link; both decode each other's video.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startSalon, launchChromium, newPage, eventually, inboundStats } from "./helpers.mjs";

let salon;
let browser;

before(async () => {
  salon = await startSalon(["--tls-self-signed", "--room-creation", "accounts"]);
  browser = await launchChromium(["--ignore-certificate-errors"]);
});

after(async () => {
  await browser?.close();
  await salon?.stop();
});

/** The protocol the page's document came over ("h2" for HTTP/2). */
const protocol = (page) => page.evaluate(() => performance.getEntriesByType("navigation")[0].nextHopProtocol);

test("over HTTPS (HTTP/2), a browser signs up, creates a room and joins it", async () => {
  assert.match(salon.url, /^https:/);
  const alice = await newPage(browser);
  await alice.goto(salon.url + "/account");
  assert.equal(await protocol(alice), "h2", "Chromium speaks HTTP/2 to Salon");
  await alice.locator("#up-username").fill("alice");
  await alice.locator("#up-display").fill("Alice");
  await alice.locator("#up-password").fill("correct horse battery");
  await alice.locator("#signup button[type=submit]").click();
  await alice.waitForURL(salon.url + "/");
  await alice.locator("#account-nav button").waitFor();

  await alice.getByLabel("Room name (optional)").fill("Séance HTTPS");
  await alice.getByRole("button", { name: "Create a room" }).click();
  await alice.waitForURL(/\/r\/[A-Za-z0-9_-]{22}$/);
  const link = alice.url();
  assert.equal(await protocol(alice), "h2");
  // The share link the server gives names this very host (no --public-url).
  const room = await alice.evaluate(async () => (await fetch(`/api/rooms/${location.pathname.split("/").pop()}`)).json());
  assert.equal(room.url, link);
  assert.equal(room.host, true);

  const guest = await newPage(browser);
  for (const [page, name] of [[alice, "Alice"], [guest, "Bob"]]) {
    if (page === guest) await page.goto(link);
    await page.getByLabel("Your name").fill(name);
    await page.getByRole("button", { name: "Join", exact: true }).click();
    await page.locator("#in-room").waitFor({ state: "visible" });
  }
  for (const page of [alice, guest]) {
    await eventually(async () => {
      const s = await inboundStats(page);
      return s.video.some((v) => v.framesDecoded > 10) && s.audio.some((a) => a.packets > 10);
    }, { timeout: 30000, what: "remote video decoded and audio received over HTTPS" });
  }
  // Alice is the host over wss:// too: her cookies (set over HTTP/2) came with the upgrade.
  await alice.getByRole("button", { name: "Show host controls" }).click();
  await alice.locator("#host-panel").waitFor({ state: "visible" });
  await guest.getByRole("button", { name: "Show participants" }).click();
  assert.equal(await guest.locator("#host-panel").isVisible(), false, "the guest is no host");
});

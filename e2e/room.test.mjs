// Three real Chromium pages join one room through the real UI and see and
// hear each other through Salon's SFU; one leaves and its tile disappears.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startSalon, launchChromium, newPage, eventually, inboundStats, joinRoom, ARTIFACTS } from "./helpers.mjs";

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

test("three browsers see and hear each other; leaving removes the tile", async () => {
  const alice = await newPage(browser);
  await alice.goto(salon.url + "/");
  await alice.getByLabel("Room name (optional)").fill("Relaxation du mardi");
  await alice.getByRole("button", { name: "Create a room" }).click();
  await alice.waitForURL(/\/r\/[A-Za-z0-9_-]{22}$/);
  const link = alice.url();

  const bob = await newPage(browser);
  const chloe = await newPage(browser, "fr-FR");
  await joinRoom(alice, link, "Alice");
  await joinRoom(bob, link, "Bob");
  await joinRoom(chloe, link, "Chloé", { nameLabel: "Votre nom", joinLabel: "Rejoindre" });
  const pages = [alice, bob, chloe];

  for (const page of pages) {
    await eventually(async () => (await page.locator(".tile").count()) === 3, { what: "three tiles" });
    // Join clicked right after typing a name must not join without the camera.
    assert.equal(await page.locator(".tile.self.video-off").count(), 0, "own camera is on");
  }

  // Every page decodes two remote videos, and the counts keep growing.
  const first = [];
  for (const page of pages) {
    first.push(
      await eventually(async () => {
        const s = await inboundStats(page);
        const playing = s.video.filter((v) => v.framesDecoded > 10);
        return playing.length === 2 && s;
      }, { timeout: 30000, what: "two decoding remote videos" }),
    );
  }
  for (const [i, page] of pages.entries()) {
    // Both videos keep decoding (given time: this machine is shared and loaded).
    const later = await eventually(async () => {
      const s = await inboundStats(page);
      const grown = s.video.filter((v) => v.framesDecoded > (first[i].video.find((x) => x.mid === v.mid)?.framesDecoded ?? 0) + 10);
      return grown.length === 2 && s;
    }, { timeout: 15000, what: `video keeps decoding on page ${i}` });
    const audio = later.audio.filter((a) => a.samples > 0);
    assert.equal(audio.length, 2, `two remote audio streams play on page ${i}: ${JSON.stringify(later)}`);
    // The remote <video> elements really play (have frames and advance).
    const videos = await page.$$eval(".tile:not(.self) video", (vs) => vs.map((v) => ({ w: v.videoWidth, t: v.currentTime })));
    assert.equal(videos.length, 2);
    for (const v of videos) assert.ok(v.w > 0 && v.t > 0, `remote video element is playing: ${JSON.stringify(videos)}`);
  }

  // Names are shown; the French page speaks French.
  const names = await alice.locator(".tile figcaption .name").allTextContents();
  assert.deepEqual(names.sort(), ["Alice (you)", "Bob", "Chloé"].sort());
  assert.ok((await chloe.locator(".tile figcaption .name").allTextContents()).includes("Chloé (vous)"));

  // The fake microphones beep: remote tiles light up as speaking (RTP audio level through the SFU).
  // The beeps are short (and DTX is silent between them), so remember any ring instead of sampling.
  await alice.evaluate(() => {
    const grid = document.getElementById("grid");
    const seen = () => grid.querySelector(".tile.speaking:not(.self)") && (globalThis.ringSeen = true);
    seen();
    new MutationObserver(seen).observe(grid, { subtree: true, attributes: true, attributeFilter: ["class"] });
  });
  await eventually(() => alice.evaluate(() => globalThis.ringSeen === true), { what: "a speaking ring" });

  await alice.locator("#grid").screenshot({ path: join(ARTIFACTS, "grid-3.png") });

  // Bob leaves: the others drop his tile and his tracks.
  await bob.getByRole("button", { name: "Leave" }).click();
  await bob.getByText("You left the room.").waitFor();
  assert.ok(await bob.getByRole("button", { name: "Rejoin" }).isVisible(), "leaving by choice offers Rejoin");
  for (const page of [alice, chloe]) {
    await eventually(async () => (await page.locator(".tile").count()) === 2, { what: "bob's tile removed" });
    await eventually(async () => (await page.$$eval("#audio-sink audio", (a) => a.length)) === 1, { what: "bob's audio removed" });
  }
  await alice.locator("#grid").screenshot({ path: join(ARTIFACTS, "grid-2.png") });

  // Camera off on Chloé's side shows her initials to Alice.
  await chloe.getByRole("button", { name: "Couper la caméra" }).click();
  await eventually(async () => alice.locator(".tile.video-off .initials").filter({ hasText: "C" }).isVisible(), { what: "initials tile" });
  await chloe.getByRole("button", { name: "Activer la caméra" }).click();
  await eventually(async () => (await alice.locator(".tile.video-off").count()) === 0, { what: "video back" });
});

test("an unknown room shows a clear not-found page with status 404", async () => {
  const page = await newPage(browser);
  const res = await page.goto(salon.url + "/r/AAAAAAAAAAAAAAAAAAAAAA");
  assert.equal(res.status(), 404);
  await page.getByRole("heading", { name: "Room not found" }).waitFor();
  const fr = await newPage(browser, "fr-FR");
  await fr.goto(salon.url + "/r/nope");
  await fr.getByRole("heading", { name: "Salle introuvable" }).waitFor();
});

test("every control has an accessible name, in English and French", async () => {
  for (const locale of ["en-US", "fr-FR"]) {
    const page = await newPage(browser, locale);
    await page.goto(salon.url + "/");
    await page.getByRole("button", { name: locale === "fr-FR" ? "Créer une salle" : "Create a room" }).click();
    await page.waitForURL(/\/r\//);
    await page.getByLabel(locale === "fr-FR" ? "Votre nom" : "Your name").fill("Test");
    await page.getByRole("button", { name: locale === "fr-FR" ? "Rejoindre" : "Join", exact: true }).click();
    await page.locator("#in-room").waitFor({ state: "visible" });
    const unnamed = await page.evaluate(() => {
      const bad = [];
      for (const el of document.querySelectorAll("button, input, select, a")) {
        const hidden = el.closest("[hidden]");
        if (hidden) continue;
        const labelled = el.getAttribute("aria-label") || el.textContent?.trim() || (el.id && document.querySelector(`label[for="${el.id}"]`)) || el.closest("label");
        if (!labelled) bad.push(el.outerHTML.slice(0, 80));
      }
      return bad;
    });
    assert.deepEqual(unnamed, [], `controls without a name (${locale})`);
  }
});

// A practitioner's session in real Chromium: schedule it from the home page
// (link + .ics), a client who comes early sees a countdown, then waits in the
// waiting room until the host admits them; they arrive muted; the host mutes
// everyone and the client's microphone goes silent at the server; spotlight;
// a screen share shows as its own tile; the host locks the room and a
// newcomer gets the "locked" message. Then the room's own tools: a hand
// raised with the keyboard shows on the host's tile with a toast and a count,
// the host lowers all hands; a muted client who speaks is told so; `?` lists
// the shortcuts; one side panel at a time with Escape; and the end screen
// after the host ends the session offers no Rejoin.
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

/** Audio packets the page has received so far, all streams together. */
async function audioPackets(page) {
  const s = await inboundStats(page);
  return s.audio.reduce((n, a) => n + a.packets, 0);
}

test("schedule, countdown, waiting room, mute all, spotlight, lock", async () => {
  const host = await newPage(browser);
  await host.goto(salon.url + "/");
  await host.getByLabel("Title").fill("Relaxation du soir");
  await host.getByRole("button", { name: "Schedule", exact: true }).click();
  await host.locator("#s-result").waitFor({ state: "visible" });
  const link = await host.locator("#s-link").inputValue();
  const roomId = link.split("/").pop();
  const ics = await host.evaluate(async (href) => (await fetch(href)).text(), await host.locator("#s-ics").getAttribute("href"));
  assert.match(ics, /BEGIN:VEVENT\r\n/);
  assert.match(ics, /SUMMARY:Relaxation du soir\r\n/);

  // Move the session to start in a few seconds, opening at the start.
  const startsAt = Math.floor(Date.now() / 1000) + 12;
  const moved = await host.evaluate(
    async ([id, startsAt]) =>
      (await fetch(`/api/rooms/${id}/schedule`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ title: "Relaxation du soir", starts_at: startsAt, duration_min: 30, opens_before_min: 0 }),
      })).status,
    [roomId, startsAt],
  );
  assert.equal(moved, 200);

  // An early client sees the countdown and cannot join yet.
  const bob = await newPage(browser);
  await bob.goto(link);
  await eventually(async () => /opens in/.test(await bob.locator("#schedule-note").textContent()), { what: "countdown" });
  assert.equal(await bob.locator("#join-btn").isDisabled(), true, "join waits for the opening");
  await bob.screenshot({ path: join(ARTIFACTS, "host-countdown.png") });

  // The host may enter at any time.
  await host.goto(link);
  await host.getByLabel("Your name").fill("Léa (hôte)");
  await host.getByRole("button", { name: "Join", exact: true }).click();
  await host.locator("#in-room").waitFor({ state: "visible" });

  // Once open, Bob joins and lands in the waiting room.
  await eventually(async () => !(await bob.locator("#join-btn").isDisabled()), { timeout: 30000, what: "the room opens" });
  assert.match(await bob.locator("#schedule-note").textContent(), /The room is open/);
  await bob.getByLabel("Your name").fill("Bob");
  await bob.getByRole("button", { name: "Join", exact: true }).click();
  await eventually(async () => (await bob.locator("#prejoin-title").textContent()) === "Waiting room", { what: "waiting room" });
  assert.equal(await bob.locator("#preview").isVisible(), true, "own preview while waiting");
  // The waiting room says which session this is, and when.
  assert.match(await bob.locator("#waiting-info").textContent(), /Relaxation du soir · \w+day/);
  await bob.screenshot({ path: join(ARTIFACTS, "host-waiting.png") });

  // The host sees the knock and admits Bob.
  await host.locator("#notice").waitFor({ state: "visible" });
  assert.match(await host.locator("#notice-text").textContent(), /Bob is waiting/);
  await host.locator("#notice-action").click();
  await bob.locator("#in-room").waitFor({ state: "visible" });

  // Bob arrived muted (mute on entry), then unmutes: the host hears him.
  await eventually(async () => (await bob.locator("#mic-btn").getAttribute("class")).includes("off"), { what: "muted on entry" });
  await bob.locator("#mic-btn").click();
  const flowing = await audioPackets(host);
  await eventually(async () => (await audioPackets(host)) > flowing + 50, { what: "Bob's audio reaches the host" });

  // Mute everyone: Bob's microphone goes off and the server forwards nothing.
  await host.locator("#people-btn").click();
  await host.getByRole("button", { name: "Mute everyone" }).click();
  await eventually(async () => (await bob.locator("#mic-btn").getAttribute("class")).includes("off"), { what: "Bob muted" });
  await eventually(async () => /host muted you/.test(await bob.locator("#notice-text").textContent()), { what: "Bob told" });
  // Bob's fake microphone keeps beeping: he is told he is muted.
  await bob.locator("#muted-hint").waitFor({ state: "visible", timeout: 15000 });
  assert.match(await bob.locator("#muted-hint").textContent(), /You are muted/);
  await new Promise((r) => setTimeout(r, 1000));
  const before = await audioPackets(host);
  await new Promise((r) => setTimeout(r, 2000));
  assert.ok((await audioPackets(host)) - before <= 2, "no audio from Bob after mute all");

  // Spotlight the host: Bob sees the host's tile large.
  // Each person's actions are behind their "…" button in the Host panel.
  await host.getByRole("button", { name: "Actions for Léa (hôte)" }).click();
  await host.getByRole("button", { name: /^Spotlight: Léa/ }).click();
  await eventually(async () => (await bob.locator(".tile.featured").count()) === 1, { what: "spotlight on Bob's screen" });
  assert.match(await bob.locator(".tile.featured").textContent(), /Léa/);

  // The host shares a screen: Bob gets it as its own tile, playing.
  await host.getByRole("button", { name: "Share screen" }).click();
  const bobScreen = bob.locator('.tile[data-participant$="-screen"]');
  await bobScreen.waitFor({ state: "visible", timeout: 20000 });
  await eventually(
    async () => bob.$eval('.tile[data-participant$="-screen"] video', (v) => v.videoWidth > 0 && v.currentTime > 0.5),
    { timeout: 30000, what: "the shared screen plays on Bob's page" },
  );
  await host.getByRole("button", { name: "Stop sharing" }).click();
  await eventually(async () => (await bobScreen.count()) === 0, { what: "screen tile gone" });

  // Lock: a newcomer is told the room is locked.
  await host.getByRole("button", { name: "Lock the room" }).click();
  await host.locator("#locked-badge").waitFor({ state: "visible" });
  const carol = await newPage(browser, "fr-FR");
  await carol.goto(link);
  await carol.getByLabel("Votre nom").fill("Carole");
  await carol.getByRole("button", { name: "Rejoindre", exact: true }).click();
  await eventually(async () => /verrouillé/.test(await carol.locator("#join-error").textContent()), { what: "locked message" });
  await host.screenshot({ path: join(ARTIFACTS, "host-controls.png") });

  // Every control of the host's page has an accessible name.
  const unnamed = await host.evaluate(() =>
    [...document.querySelectorAll("button, input, select, textarea")]
      .filter((el) => !el.closest("[hidden]"))
      .filter((el) => !(el.getAttribute("aria-label") || el.textContent?.trim() || (el.id && document.querySelector(`label[for="${el.id}"]`)) || el.closest("label")))
      .map((el) => el.outerHTML.slice(0, 80)),
  );
  assert.deepEqual(unnamed, []);

  // Bob raises his hand with the keyboard (H): the host sees it on his tile,
  // in a toast and as a count on the Host button.
  await bob.locator("body").press("h");
  await eventually(async () => (await bob.locator("#hand-btn").getAttribute("aria-pressed")) === "true", { what: "Bob's hand up" });
  const bobTile = host.locator(".tile", { hasText: "Bob" });
  await bobTile.locator(".hand-mark").waitFor({ state: "visible" });
  await eventually(async () => /Bob raised a hand/.test(await host.locator("#toast").textContent()), { what: "hand toast" });
  assert.match(await host.locator("#people-btn").getAttribute("aria-label"), /1 raised hand/);
  assert.equal(await host.locator("#people-btn .count").textContent(), "1");
  // Search the people list, then lower every hand at once.
  await host.getByLabel("Search people").fill("bo");
  await eventually(async () => (await host.locator("#people-list > li").count()) === 1, { what: "search keeps only Bob" });
  await host.getByRole("button", { name: "Lower all hands" }).click();
  await eventually(async () => (await bob.locator("#hand-btn").getAttribute("aria-pressed")) === "false", { what: "Bob's hand lowered" });
  await bobTile.locator(".hand-mark").waitFor({ state: "hidden" });
  await host.getByLabel("Search people").fill("");

  // Shortcuts: ? lists them; C opens the chat (closing the people panel: one at a time); Escape closes it.
  await bob.locator("body").press("?");
  await bob.locator("#keys-dialog").waitFor({ state: "visible" });
  assert.match(await bob.locator("#keys-list").textContent(), /Mute or unmute the microphone/);
  await bob.screenshot({ path: join(ARTIFACTS, "room-shortcuts.png") });
  await bob.keyboard.press("Escape");
  await bob.locator("#keys-dialog").waitFor({ state: "hidden" });
  await bob.locator("body").press("p");
  await bob.locator("#people").waitFor({ state: "visible" });
  await bob.locator("body").press("c");
  await bob.locator("#chat").waitFor({ state: "visible" });
  assert.equal(await bob.locator("#people").isVisible(), false, "one side panel at a time");
  await bob.keyboard.press("Escape");
  await bob.locator("#chat").waitFor({ state: "hidden" });
  await bob.locator("body").press("m");
  await eventually(async () => !(await bob.locator("#mic-btn").getAttribute("class")).includes("off"), { what: "M unmutes (self-unmute is on)" });

  // The host ends the session: Bob's end card has no Rejoin, and no stale notice covers it.
  host.once("dialog", (d) => d.accept());
  await host.getByRole("button", { name: "End for everyone" }).click();
  await bob.getByRole("heading", { name: "The session has ended" }).waitFor();
  assert.equal(await bob.locator("#rejoin-btn").isVisible(), false, "no Rejoin after the host ended it");
  assert.equal(await bob.locator("#notice").isVisible(), false, "no stale notice");
  await bob.screenshot({ path: join(ARTIFACTS, "end-ended.png") });

});

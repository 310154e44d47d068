// My sessions (/sessions), in French: a signed-in practitioner sees her
// scheduled session under "À venir" with its date in French, copies the
// invitation, reschedules it (the .ics then has the new start and
// SEQUENCE:1), finds its roster, and cancels it; axe-core finds nothing.
// The page also joins the room as the signed-in host: pre-join fills in her
// display name and says she is the host; a guest in the waiting room sees
// the session's title and her name.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startSalon, launchChromium, eventually, axeViolations, ARTIFACTS } from "./helpers.mjs";

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

test("my sessions: list, copy, reschedule (.ics SEQUENCE), roster, cancel; the signed-in host's pre-join", async () => {
  const context = await browser.newContext({ locale: "fr-FR", viewport: { width: 1280, height: 800 } });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: salon.url });
  const page = await context.newPage();
  page.on("pageerror", (e) => console.error(`[page error] ${e.message}`));
  const guest = await browser.newContext({ locale: "en-US" });
  try {
    await page.goto(salon.url + "/");
    // In an hour (whole minutes), open from now on (two hours early).
    const start = new Date(Math.ceil(Date.now() / 60_000) * 60_000 + 3_600_000);
    const hm = (d) => new Intl.DateTimeFormat("fr-FR", { timeStyle: "short" }).format(d);
    const room = await page.evaluate(async (startsAt) => {
      const post = async (path, body) => {
        const r = await fetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
        if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
        return r.json();
      };
      await post("/api/accounts", { username: "lea", display_name: "Léa Martin", password: "correct horse battery" });
      const room = await post("/api/rooms", {
        name: "Sophrologie",
        settings: { waiting_room: true, mute_on_entry: false, self_unmute: true },
        schedule: { title: "Sophrologie du mercredi", description: "", starts_at: startsAt, duration_min: 45, opens_before_min: 120 },
      });
      await post(`/api/rooms/${room.id}/invites`, { label: "Camille" });
      return room;
    }, Math.floor(start.getTime() / 1000));

    await page.goto(salon.url + "/sessions");
    const item = page.locator("#upcoming li.session");
    await item.waitFor();
    assert.match(await item.locator("h3").textContent(), /Sophrologie du mercredi/);
    const when = await item.locator(".session-when").textContent();
    const day = new Intl.DateTimeFormat("fr-FR", { dateStyle: "full" }).format(start);
    assert.ok(when.includes(day) && when.includes(hm(start)), `the date in French, local time: ${when} (${day} ${hm(start)})`);

    await item.getByRole("button", { name: "Copier l’invitation: Sophrologie du mercredi" }).click();
    await page.getByText("Invitation copiée").waitFor();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    assert.match(copied, /Sophrologie du mercredi/);
    assert.ok(copied.includes(room.path), `the invitation has the link: ${copied}`);

    // The roster shows the personal invite.
    await item.locator("summary", { hasText: "Liste des personnes inscrites" }).click();
    await item.getByText("Camille").waitFor();
    for (const v of await axeViolations(page)) assert.fail(`axe: ${v}`);
    await page.screenshot({ path: join(ARTIFACTS, "sessions-fr-desktop.png") });

    // Reschedule half an hour later: the .ics follows, with a higher SEQUENCE.
    const ics0 = await page.evaluate(async (p) => (await fetch(`${p}/invite.ics`)).text(), room.path);
    assert.match(ics0, /\r\nSEQUENCE:0\r\n/);
    await item.locator("summary", { hasText: "Modifier ou déplacer" }).click();
    const later = new Date(start.getTime() + 30 * 60_000);
    const local = new Date(later.getTime() - later.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    await item.getByLabel("Date et heure").fill(local);
    await item.getByRole("button", { name: "Enregistrer" }).click();
    await page.getByText("Sophrologie du mercredi est enregistrée").waitFor();
    await eventually(async () => (await page.locator("#upcoming .session-when").textContent()).includes(hm(later)), { what: "the list shows the new time" });
    const ics1 = await page.evaluate(async (p) => (await fetch(`${p}/invite.ics`)).text(), room.path);
    assert.match(ics1, /\r\nSEQUENCE:1\r\n/);
    const utc = later.toISOString().replace(/[-:]/g, "").slice(0, 15) + "Z";
    assert.ok(ics1.includes(`DTSTART:${utc}\r\n`), `new start ${utc} in:\n${ics1}`);

    // The signed-in host's pre-join: her name, and she is told she is the host.
    await page.goto(salon.url + room.path);
    await page.locator("#host-note").waitFor({ state: "visible" });
    assert.equal(await page.locator("#name").inputValue(), "Léa Martin");
    await page.getByRole("button", { name: "Rejoindre", exact: true }).click();
    await page.locator("#in-room").waitFor({ state: "visible" });
    // A guest knocks: the waiting room says whose session it is.
    const g = await guest.newPage();
    await g.goto(salon.url + room.path);
    await g.getByLabel("Your name").fill("Camille");
    await g.getByRole("button", { name: "Join", exact: true }).click();
    await g.locator("#waiting-info").waitFor({ state: "visible" });
    assert.match(await g.locator("#waiting-info").textContent(), /Sophrologie du mercredi · with Léa Martin · /);
    await g.screenshot({ path: join(ARTIFACTS, "waiting-room-en-desktop.png") });
    await g.close();
    await page.getByRole("button", { name: "Quitter", exact: true }).click();

    // Cancel: the session leaves the list.
    await page.goto(salon.url + "/sessions");
    await page.locator("#upcoming li.session summary", { hasText: "Modifier ou déplacer" }).click();
    page.once("dialog", (d) => d.accept());
    await page.getByRole("button", { name: "Annuler la séance" }).click();
    await page.getByText("Sophrologie du mercredi est annulée").waitFor();
    assert.equal(await page.locator("#upcoming li.session").count(), 0);
    await page.locator("#upcoming-empty").waitFor({ state: "visible" });
  } finally {
    await guest.close();
    await context.close();
  }
});

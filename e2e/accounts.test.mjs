// Accounts, friends and the rooms tray through the real UI: Alice and Bob
// sign up and become friends; Alice opens a public room; Bob's home shows it
// without a reload; Bob drops in and both see each other's video; Carol (not
// a friend) sees nothing and cannot read Alice's profile; a guest joins
// Alice's private room by its link. Each person has their own browser context.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startSalon, launchChromium, newPage, eventually, inboundStats, joinRoom, ARTIFACTS } from "./helpers.mjs";

let salon;
let browser;

before(async () => {
  salon = await startSalon(["--room-creation", "accounts"]);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await salon?.stop();
});

async function signUp(page, username, displayName) {
  await page.goto(salon.url + "/account");
  await page.locator("#up-username").fill(username);
  await page.locator("#up-display").fill(displayName);
  await page.locator("#up-password").fill("correct horse battery");
  await page.locator("#signup button[type=submit]").click();
  await page.waitForURL(salon.url + "/");
  // The sign-out button exists only for a signed-in person.
  await page.locator("#account-nav button").waitFor();
  assert.match(await page.locator("#account-nav").innerText(), new RegExp(displayName));
}

async function decodesVideos(page, count, what) {
  await eventually(async () => {
    const s = await inboundStats(page);
    return s.video.filter((v) => v.framesDecoded > 10).length === count;
  }, { timeout: 30000, what });
}

test("friends see each other's public rooms live and drop in; others see nothing", async () => {
  // Signed out, on an accounts-only server: the home page says why there is no Create button.
  const guestHome = await newPage(browser);
  await guestHome.goto(salon.url + "/");
  await guestHome.getByText("On this server, creating a room needs an account.").waitFor();
  assert.equal(await guestHome.getByRole("button", { name: "Create a room" }).isVisible(), false);

  const alice = await newPage(browser);
  const bob = await newPage(browser);
  const carol = await newPage(browser);
  await signUp(alice, "alice", "Alice");
  await signUp(bob, "bob", "Bob");
  await signUp(carol, "carol", "Carol");
  assert.match(await alice.locator("#account-nav").innerText(), /Signed in as Alice/);

  // Alice asks Bob; Bob accepts on his friends page.
  await alice.goto(salon.url + "/friends");
  await alice.getByLabel("Username of the person to add").fill("bob");
  await alice.getByRole("button", { name: "Send friend request" }).click();
  await alice.getByText("Friend request sent to bob.").waitFor();
  await alice.getByRole("button", { name: "Cancel the request to bob" }).waitFor();
  await bob.goto(salon.url + "/friends");
  await bob.getByRole("button", { name: "Accept alice" }).click();
  await bob.getByRole("button", { name: "Unfriend alice" }).waitFor();

  // Bob and Carol wait on their home pages; nothing is open yet.
  for (const page of [bob, carol]) {
    await page.goto(salon.url + "/");
    await page.getByText("None of your friends' public rooms is open right now.").waitFor();
  }

  // Alice gives herself an avatar on her account page (a PNG drawn in the page).
  await alice.goto(salon.url + "/account");
  const png = await alice.evaluate(() => {
    const c = document.createElement("canvas");
    c.width = c.height = 300;
    const g = /** @type {CanvasRenderingContext2D} */ (c.getContext("2d"));
    g.fillStyle = "#c63";
    g.fillRect(0, 0, 300, 300);
    return c.toDataURL("image/png").split(",")[1];
  });
  await alice.getByLabel("Avatar (PNG, JPEG or WebP, up to 1 MiB)").setInputFiles({ name: "me.png", mimeType: "image/png", buffer: Buffer.from(png, "base64") });
  await alice.getByRole("img", { name: "Your avatar" }).waitFor();

  // Alice opens a public room.
  await alice.goto(salon.url + "/");
  await alice.getByLabel("Room name (optional)").fill("Atelier du jeudi");
  await alice.getByLabel("Public: shown to my friends while someone is in it").check();
  await alice.getByRole("button", { name: "Create a room" }).click();
  await alice.waitForURL(/\/r\/[A-Za-z0-9_-]{22}$/);
  const publicLink = alice.url();
  await joinRoom(alice, null, "Alice");

  // Bob's home shows it without a reload.
  const joinButton = bob.getByRole("link", { name: "Join Atelier du jeudi, hosted by Alice" });
  await joinButton.waitFor({ timeout: 5000 });
  const item = bob.locator(".tray-room");
  assert.match(await item.innerText(), /Hosted by Alice/);
  assert.match(await item.innerText(), /Inside: Alice/);
  await bob.screenshot({ path: join(ARTIFACTS, "tray.png") });

  // Carol is not a friend: her tray stays empty and Alice's profile is "not found".
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(await carol.locator(".tray-room").count(), 0);
  assert.ok(await carol.getByText("None of your friends' public rooms is open right now.").isVisible());
  const profile = await carol.evaluate(async () => {
    const r = await fetch("/api/users/alice");
    return { status: r.status, body: await r.json() };
  });
  assert.deepEqual(profile, { status: 404, body: { code: "user_not_found", message: "no such user" } });
  const friendView = await bob.evaluate(async () => (await fetch("/api/users/alice")).status);
  assert.equal(friendView, 200, "a friend can read it");

  // Bob drops in: both see each other's video.
  await joinButton.click();
  await bob.waitForURL(publicLink);
  await joinRoom(bob, null, "Bob");
  await decodesVideos(alice, 1, "Alice decodes Bob's video");
  await decodesVideos(bob, 1, "Bob decodes Alice's video");
  // Alice's avatar stands in for her initials on Bob's screen.
  assert.equal(await bob.locator('.tile:not(.self) .initials img[src^="/api/avatars/"]').count(), 1);

  // A guest (no account) joins Alice's private room by its link.
  const privateId = await alice.evaluate(async () => {
    const r = await fetch("/api/rooms", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "Privé", visibility: "private" }) });
    return (await r.json()).id;
  });
  const alice2 = await alice.context().newPage();
  await alice2.goto(`${salon.url}/r/${privateId}`);
  await joinRoom(alice2, null, "Alice");
  const guest = await newPage(browser);
  await guest.goto(`${salon.url}/r/${privateId}`);
  await joinRoom(guest, null, "Invité");
  await eventually(async () => (await guest.locator(".tile").count()) === 2, { what: "guest sees Alice's tile" });
  await decodesVideos(guest, 1, "the guest decodes Alice's video");
  // The private room never shows in Bob's tray.
  await bob.goto(salon.url + "/");
  await bob.getByRole("link", { name: "Join Atelier du jeudi, hosted by Alice" }).waitFor();
  assert.equal(await bob.locator(".tray-room").count(), 1);
});

test("account, friends and home pages name every control, in English and French", async () => {
  for (const locale of ["en-US", "fr-FR"]) {
    const page = await newPage(browser, locale);
    const user = `access${locale.slice(0, 2)}`;
    await signUp(page, user, locale === "fr-FR" ? "Ana" : "Ann");
    for (const path of ["/", "/account", "/friends"]) {
      await page.goto(salon.url + path);
      await page.locator("#account-nav a, #account-nav button").first().waitFor();
      const unnamed = await page.evaluate(() => {
        const bad = [];
        for (const el of document.querySelectorAll("button, input, select, textarea, a")) {
          if (el.closest("[hidden]")) continue;
          const labelled = el.getAttribute("aria-label") || el.textContent?.trim() || (el.id && document.querySelector(`label[for="${el.id}"]`)) || el.closest("label");
          if (!labelled) bad.push(el.outerHTML.slice(0, 80));
        }
        return bad;
      });
      assert.deepEqual(unnamed, [], `controls without a name on ${path} (${locale})`);
    }
    const heading = await page.locator("h1:visible").first().innerText();
    assert.equal(heading, locale === "fr-FR" ? "Ami·es" : "Friends");
    // Errors from the server are shown in the page's language.
    await page.locator("#account-nav button").click();
    await page.waitForURL(salon.url + "/");
    await page.goto(salon.url + "/account");
    await page.locator("#in-username").fill(user);
    await page.locator("#in-password").fill("not the password");
    await page.locator("#signin button[type=submit]").click();
    await page.getByText(locale === "fr-FR" ? "Identifiant ou mot de passe incorrect." : "Wrong username or password.").waitFor();
  }
});

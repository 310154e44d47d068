// @ts-check
/** Home page: create a room and go to its link, or schedule a session (link, .ics, roster). */
import { t, translate, bindSwitcher } from "./i18n.js";
import { createExtras } from "./home-accounts.js";

translate();
bindSwitcher(/** @type {HTMLSelectElement} */ (document.getElementById("lang")));

const form = /** @type {HTMLFormElement} */ (document.getElementById("create"));
const button = /** @type {HTMLButtonElement} */ (document.getElementById("create-btn"));
const status = /** @type {HTMLElement} */ (document.getElementById("create-status"));
const nameInput = /** @type {HTMLInputElement} */ (document.getElementById("room-name"));

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  status.textContent = t("home.creating");
  try {
    const res = await fetch("/api/rooms", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: nameInput.value, ...createExtras() }),
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(body.message || res.statusText);
    location.assign(body.path);
  } catch (err) {
    status.textContent = t("home.createFailed", { message: err instanceof Error ? err.message : String(err) });
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
});

const $ = (/** @type {string} */ id) => /** @type {any} */ (document.getElementById(id));

/** @param {string} url @param {object} body */
async function post(url, body) {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(json.message || res.statusText);
  return json;
}

// Default start: the next full hour.
const next = new Date(Date.now() + 3600_000);
next.setMinutes(0, 0, 0);
$("s-start").value = new Date(next.getTime() - next.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);

/** @type {string} */
let scheduledRoom = "";

$("schedule").addEventListener("submit", async (/** @type {Event} */ e) => {
  e.preventDefault();
  const button = $("s-btn");
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  $("s-status").textContent = t("sched.creating");
  try {
    const startsAt = Math.floor(new Date($("s-start").value).getTime() / 1000);
    if (!Number.isFinite(startsAt)) throw new Error(t("sched.badDate"));
    const room = await post("/api/rooms", {
      name: $("s-title").value,
      settings: { waiting_room: $("s-waiting").checked, mute_on_entry: $("s-mute").checked, self_unmute: true },
      schedule: {
        title: $("s-title").value,
        description: $("s-description").value,
        starts_at: startsAt,
        duration_min: Number($("s-duration").value),
        opens_before_min: Number($("s-early").value),
      },
    });
    scheduledRoom = room.id;
    $("s-link").value = room.url ?? new URL(room.path, location.href).href;
    $("s-ics").href = `${room.path}/invite.ics`;
    $("s-open").href = room.path;
    $("s-result").hidden = false;
    $("s-status").textContent = "";
    $("s-link").focus();
    $("s-link").select();
  } catch (err) {
    $("s-status").textContent = t("home.createFailed", { message: err instanceof Error ? err.message : String(err) });
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
});

$("roster").addEventListener("submit", async (/** @type {Event} */ e) => {
  e.preventDefault();
  try {
    const inv = await post(`/api/rooms/${scheduledRoom}/invites`, { label: $("r-label").value });
    const li = document.createElement("li");
    const input = document.createElement("input");
    input.readOnly = true;
    input.value = inv.url ?? new URL(inv.path, location.href).href;
    input.setAttribute("aria-label", t("sched.personalLink", { name: inv.label }));
    li.append(`${inv.label} `, input);
    $("r-list").append(li);
    $("r-label").value = "";
  } catch (err) {
    $("s-status").textContent = t("home.createFailed", { message: err instanceof Error ? err.message : String(err) });
  }
});

$("roster-account").addEventListener("submit", async (/** @type {Event} */ e) => {
  e.preventDefault();
  try {
    const entry = await post(`/api/rooms/${scheduledRoom}/roster`, { username: $("ra-username").value.trim() });
    const li = document.createElement("li");
    li.textContent = t("sched.rosterAdded", { username: entry.username });
    $("r-list").append(li);
    $("ra-username").value = "";
  } catch (err) {
    $("s-status").textContent = t("home.createFailed", { message: err instanceof Error ? err.message : String(err) });
  }
});

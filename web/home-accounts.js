// @ts-check
/**
 * The accounts side of the home page: the account links, the friends'
 * rooms tray, the visibility choice when creating, "My rooms" (rename,
 * visibility, delete), and the notice when creating needs an account.
 */
import { t, onLangChange } from "./i18n.js";
import { api, session, messageOf } from "./api.js";
import { renderAccountBar } from "./accountbar.js";
import { startTray } from "./tray.js";
import { callFriends } from "./calls.js";

const visibility = /** @type {HTMLFieldSetElement} */ (document.getElementById("visibility"));
let signedIn = false;

/** Extra fields for `POST /api/rooms`. */
export function createExtras() {
  if (!signedIn) return {};
  const checked = /** @type {HTMLInputElement | null} */ (visibility.querySelector("input:checked"));
  return { visibility: checked?.value === "public" ? "public" : "private" };
}

async function init() {
  const s = await session().catch(() => ({ account: null, room_creation: "anyone" }));
  renderAccountBar(/** @type {HTMLElement} */ (document.getElementById("account-nav")), s.account);
  signedIn = !!s.account;
  if (s.account) {
    visibility.hidden = false;
    startTray(/** @type {HTMLElement} */ (document.getElementById("tray")));
    startMyRooms(/** @type {HTMLElement} */ (document.getElementById("my-rooms")));
    startCallCard(/** @type {HTMLElement} */ (document.getElementById("call-card")));
  } else if (s.room_creation === "accounts") {
    /** @type {HTMLElement} */ (document.getElementById("need-account")).hidden = false;
    /** @type {HTMLFormElement} */ (document.getElementById("create")).hidden = true;
    // Scheduling a session creates a room too.
    const schedule = document.getElementById("schedule-card");
    if (schedule) schedule.hidden = true;
  }
}

/** Each friend with a Call button (a friend's entry on the home page). @param {HTMLElement} section */
async function startCallCard(section) {
  section.hidden = false;
  const list = /** @type {HTMLUListElement} */ (section.querySelector("ul"));
  const empty = /** @type {HTMLElement} */ (section.querySelector(".empty"));
  const status = /** @type {HTMLElement} */ (section.querySelector("[role=status]"));
  /** @type {Array<{username: string, display_name: string, avatar: string | null}>} */
  let friends = [];
  const draw = () => {
    empty.hidden = friends.length > 0;
    list.replaceChildren(
      ...friends.map((f) => {
        const li = document.createElement("li");
        const name = document.createElement("span");
        name.textContent = f.display_name;
        const call = document.createElement("button");
        call.type = "button";
        call.className = "primary";
        call.textContent = t("call.call");
        call.setAttribute("aria-label", t("call.callLabel", { name: f.username }));
        call.addEventListener("click", () => callFriends([f.username]).catch((e) => (status.textContent = messageOf(e))));
        li.append(name, call);
        return li;
      }),
    );
  };
  friends = (await api("GET", "/api/friends").catch(() => ({ friends: [] }))).friends;
  draw();
  onLangChange(draw);
}

/** @param {HTMLElement} section */
async function startMyRooms(section) {
  section.hidden = false;
  const list = /** @type {HTMLUListElement} */ (section.querySelector("ul"));
  const empty = /** @type {HTMLElement} */ (section.querySelector(".empty"));
  const status = /** @type {HTMLElement} */ (section.querySelector("[role=status]"));
  /** @type {Array<{id: string, name: string, path: string, visibility: string, participants: number}>} */
  let rooms = [];
  const load = async () => {
    rooms = await api("GET", "/api/account/rooms").catch(() => rooms);
    draw();
  };
  const draw = () => {
    list.replaceChildren(...rooms.map((r) => row(r)));
    empty.hidden = rooms.length > 0;
  };
  /** @param {{id: string, name: string, path: string, visibility: string, participants: number}} r */
  const row = (r) => {
    const li = document.createElement("li");
    li.className = "my-room";
    const label = r.name || t("tray.untitled");
    const link = document.createElement("a");
    link.href = r.path;
    link.textContent = label;
    const count = document.createElement("span");
    count.className = "muted";
    count.textContent = t("rooms.participants", { count: r.participants });
    const vis = document.createElement("select");
    vis.setAttribute("aria-label", t("rooms.visibilityLabel", { room: label }));
    for (const v of ["private", "public"]) {
      const o = document.createElement("option");
      o.value = v;
      o.textContent = t(v === "public" ? "rooms.public" : "rooms.private");
      vis.append(o);
    }
    vis.value = r.visibility;
    vis.addEventListener("change", () => change(r, { visibility: vis.value }));
    const rename = document.createElement("button");
    rename.type = "button";
    rename.textContent = t("rooms.rename");
    rename.setAttribute("aria-label", t("rooms.renameLabel", { room: label }));
    rename.addEventListener("click", () => {
      const name = prompt(t("rooms.renameLabel", { room: label }), r.name);
      if (name !== null) change(r, { name });
    });
    const del = document.createElement("button");
    del.type = "button";
    del.textContent = t("rooms.delete");
    del.setAttribute("aria-label", t("rooms.deleteLabel", { room: label }));
    del.addEventListener("click", async () => {
      if (!confirm(t("rooms.deleteConfirm", { room: label }))) return;
      try {
        await api("DELETE", `/api/rooms/${r.id}`);
        await load();
      } catch (e) {
        status.textContent = messageOf(e);
      }
    });
    li.append(link, count, vis, rename, del);
    return li;
  };
  /** @param {{id: string}} r @param {object} patch */
  const change = async (r, patch) => {
    try {
      await api("PATCH", `/api/rooms/${r.id}`, patch);
      status.textContent = t("account.saved");
    } catch (e) {
      status.textContent = messageOf(e);
    }
    await load();
  };
  onLangChange(draw);
  await load();
}

init();

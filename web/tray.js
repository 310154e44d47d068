// @ts-check
/**
 * The rooms tray on the home page: friends' public rooms open right now.
 * It follows `/api/tray/events` (Server-Sent Events), which sends the whole
 * tray at once and again on every change; EventSource reconnects by itself.
 */
import { t, onLangChange } from "./i18n.js";
import { accountEvents } from "./events.js";

/**
 * @typedef {{id: string, name: string, path: string, host: {username: string, display_name: string, avatar: string | null}, friends_inside: string[], others: number}} TrayRoom
 */

/** @param {HTMLElement} section the tray's <section>; its list is `ul` inside */
export function startTray(section) {
  const list = /** @type {HTMLUListElement} */ (section.querySelector("ul"));
  const empty = /** @type {HTMLElement} */ (section.querySelector(".empty"));
  /** @type {TrayRoom[]} */
  let rooms = [];
  const draw = () => {
    list.replaceChildren(...rooms.map(item));
    empty.hidden = rooms.length > 0;
  };
  const source = accountEvents();
  source.addEventListener("tray", (e) => {
    rooms = JSON.parse(/** @type {MessageEvent} */ (e).data).rooms;
    draw();
  });
  section.hidden = false;
  draw();
  onLangChange(draw);
  return source;
}

/** @param {TrayRoom} r */
function item(r) {
  const li = document.createElement("li");
  li.className = "tray-room";
  li.dataset.room = r.id;
  if (r.host.avatar) {
    const img = document.createElement("img");
    img.src = r.host.avatar;
    img.alt = "";
    img.className = "avatar";
    li.append(img);
  }
  const text = document.createElement("div");
  const title = document.createElement("strong");
  const name = r.name || t("tray.untitled");
  title.textContent = name;
  const host = document.createElement("span");
  host.textContent = t("tray.host", { name: r.host.display_name });
  const who = document.createElement("span");
  who.className = "muted";
  const parts = [];
  if (r.friends_inside.length) parts.push(t("tray.inside", { names: r.friends_inside.join(", ") }));
  if (r.others) parts.push(t("tray.others", { count: r.others }));
  who.textContent = parts.join(" · ");
  text.append(title, host, who);
  const join = document.createElement("a");
  join.className = "button primary";
  join.href = r.path;
  join.textContent = t("tray.join");
  join.setAttribute("aria-label", t("tray.joinLabel", { room: name, name: r.host.display_name }));
  li.append(text, join);
  return li;
}

// @ts-check
/**
 * The friends page: send a request by username; incoming requests (accept,
 * decline), outgoing ones (cancel), friends (unfriend, block), blocked
 * people (unblock). Every row button names the person in its accessible name.
 */
import { t, translate, bindSwitcher, onLangChange } from "./i18n.js";
import { api, session, messageOf } from "./api.js";
import { renderAccountBar } from "./accountbar.js";
import { callFriends, notificationsButton } from "./calls.js";

translate();
bindSwitcher(/** @type {HTMLSelectElement} */ (document.getElementById("lang")));

/** @param {string} id */
const el = (id) => /** @type {any} */ (document.getElementById(id));
const status = /** @type {HTMLElement} */ (el("find-status"));

/** @type {{friends: any[], incoming: any[], outgoing: any[], blocked: any[]}} */
let view = { friends: [], incoming: [], outgoing: [], blocked: [] };

async function load() {
  view = await api("GET", "/api/friends");
  draw();
}

/**
 * @param {string} text @param {string} label accessible name
 * @param {() => Promise<unknown>} action
 */
function button(text, label, action) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.setAttribute("aria-label", label);
  b.addEventListener("click", async () => {
    try {
      await action();
    } catch (e) {
      status.textContent = messageOf(e);
    }
    await load();
  });
  return b;
}

/** @param {string} text @param {...HTMLElement} actions */
function row(text, ...actions) {
  const li = document.createElement("li");
  const span = document.createElement("span");
  span.textContent = text;
  li.append(span, ...actions);
  return li;
}

/** @param {HTMLUListElement} list @param {HTMLLIElement[]} rows */
function fill(list, rows) {
  if (rows.length === 0) {
    const li = document.createElement("li");
    li.className = "muted";
    li.textContent = t("friends.none");
    rows = [li];
  }
  list.replaceChildren(...rows);
}

/** Friends ticked for a group call (usernames). */
const picked = new Set();

/** @param {string[]} usernames */
async function startCall(usernames) {
  try {
    await callFriends(usernames);
  } catch (e) {
    el("call-status").textContent = messageOf(e);
  }
}

function drawCallButton() {
  for (const u of [...picked]) if (!view.friends.some((f) => f.username === u)) picked.delete(u);
  const b = el("call-selected");
  b.textContent = t("call.callSelected", { count: picked.size });
  b.disabled = picked.size === 0 || picked.size > 7;
  el("call-status").textContent = picked.size > 7 ? t("call.tooMany") : "";
}

function draw() {
  const enc = encodeURIComponent;
  fill(el("incoming"), view.incoming.map((p) => {
    const name = `${p.display_name} (@${p.username})`;
    return row(name,
      button(t("friends.accept"), t("friends.acceptLabel", { name: p.username }), () => api("POST", `/api/friends/requests/${enc(p.username)}/accept`)),
      button(t("friends.decline"), t("friends.declineLabel", { name: p.username }), () => api("POST", `/api/friends/requests/${enc(p.username)}/decline`)));
  }));
  fill(el("outgoing"), view.outgoing.map((p) => row(`@${p.username}`,
    button(t("friends.cancel"), t("friends.cancelLabel", { name: p.username }), () => api("DELETE", `/api/friends/requests/${enc(p.username)}`)))));
  fill(el("friends"), view.friends.map((p) => {
    const pick = document.createElement("input");
    pick.type = "checkbox";
    pick.checked = picked.has(p.username);
    pick.setAttribute("aria-label", t("call.pickLabel", { name: p.username }));
    pick.addEventListener("change", () => {
      if (pick.checked) picked.add(p.username);
      else picked.delete(p.username);
      drawCallButton();
    });
    const call = document.createElement("button");
    call.type = "button";
    call.className = "primary";
    call.textContent = t("call.call");
    call.setAttribute("aria-label", t("call.callLabel", { name: p.username }));
    call.addEventListener("click", () => startCall([p.username]));
    const li = row(`${p.display_name} (@${p.username})`,
      call,
      button(t("friends.unfriend"), t("friends.unfriendLabel", { name: p.username }), () => api("DELETE", `/api/friends/${enc(p.username)}`)),
      button(t("friends.block"), t("friends.blockLabel", { name: p.username }), async () => {
        if (confirm(t("friends.blockConfirm", { name: p.username }))) await api("POST", "/api/blocks", { username: p.username });
      }));
    if (p.avatar) {
      const img = document.createElement("img");
      img.src = p.avatar;
      img.alt = "";
      img.className = "avatar";
      li.prepend(img);
    }
    li.prepend(pick);
    return li;
  }));
  drawCallButton();
  fill(el("blocked"), view.blocked.map((p) => row(`@${p.username}`,
    button(t("friends.unblock"), t("friends.unblockLabel", { name: p.username }), () => api("DELETE", `/api/blocks/${enc(p.username)}`)))));
}

async function init() {
  const s = await session();
  renderAccountBar(el("account-nav"), s.account);
  if (!s.account) {
    el("need-signin").hidden = false;
    return;
  }
  el("friends-page").hidden = false;
  el("call-selected").addEventListener("click", () => startCall([...picked]));
  notificationsButton(el("call-selected").parentElement);
  el("find").addEventListener("submit", async (/** @type {Event} */ e) => {
    e.preventDefault();
    const username = el("find-username").value.trim();
    try {
      const p = await api("POST", "/api/friends/requests", { username });
      status.textContent = t(p.relation === "friend" ? "friends.nowFriends" : "friends.requestSent", { name: p.username });
      el("find-username").value = "";
    } catch (err) {
      const code = /** @type {any} */ (err).code;
      status.textContent = code === "user_not_found" ? t("friends.notFound") : messageOf(err);
    }
    await load();
  });
  onLangChange(draw);
  await load();
}

init();

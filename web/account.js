// @ts-check
/**
 * The account page: sign in or sign up when signed out; profile, avatar,
 * password and deletion when signed in.
 */
import { t, translate, bindSwitcher } from "./i18n.js";
import { api, session, messageOf } from "./api.js";
import { renderAccountBar } from "./accountbar.js";

translate();
bindSwitcher(/** @type {HTMLSelectElement} */ (document.getElementById("lang")));

/** @param {string} id */
const el = (id) => /** @type {any} */ (document.getElementById(id));

/**
 * Wires a form: runs `action` on submit and shows errors in its status line.
 * @param {string} id @param {() => Promise<string | void>} action resolves with a message to show
 */
function form(id, action) {
  const f = /** @type {HTMLFormElement} */ (el(id));
  const status = /** @type {HTMLElement} */ (f.querySelector("[role=status]"));
  const button = /** @type {HTMLButtonElement} */ (f.querySelector("button[type=submit]"));
  f.addEventListener("submit", async (e) => {
    e.preventDefault();
    button.disabled = true;
    status.textContent = "";
    try {
      const msg = await action();
      if (msg) status.textContent = msg;
    } catch (err) {
      status.textContent = messageOf(err);
    } finally {
      button.disabled = false;
    }
  });
}

/** @param {{avatar: string | null}} me */
function showAvatar(me) {
  const img = /** @type {HTMLImageElement} */ (el("avatar-img"));
  img.alt = t("account.avatarAlt");
  img.hidden = !me.avatar;
  if (me.avatar) img.src = me.avatar;
  el("avatar-remove").hidden = !me.avatar;
}

async function init() {
  const s = await session();
  renderAccountBar(el("account-nav"), s.account);
  const me = s.account;
  if (!me) {
    el("signed-out").hidden = false;
    form("signin", async () => {
      await api("POST", "/api/session", { username: el("in-username").value, password: el("in-password").value });
      location.assign("/");
    });
    form("signup", async () => {
      await api("POST", "/api/accounts", {
        username: el("up-username").value,
        display_name: el("up-display").value,
        password: el("up-password").value,
      });
      location.assign("/");
    });
    return;
  }
  el("signed-in").hidden = false;
  el("my-username").textContent = me.username;
  el("display").value = me.display_name;
  el("bio").value = me.bio;
  showAvatar(me);
  form("profile", async () => {
    await api("PATCH", "/api/account", { display_name: el("display").value, bio: el("bio").value });
    return t("account.saved");
  });
  el("avatar-file").addEventListener("change", async () => {
    const file = el("avatar-file").files?.[0];
    if (!file) return;
    try {
      showAvatar(await api("PUT", "/api/account/avatar", file));
      el("avatar-status").textContent = t("account.saved");
    } catch (err) {
      el("avatar-status").textContent = messageOf(err);
    }
  });
  el("avatar-remove").addEventListener("click", async () => {
    showAvatar(await api("DELETE", "/api/account/avatar"));
  });
  form("password", async () => {
    await api("PUT", "/api/account/password", { current_password: el("pw-current").value, new_password: el("pw-new").value });
    el("pw-current").value = el("pw-new").value = "";
    return t("account.passwordChanged");
  });
  form("delete", async () => {
    if (!confirm(t("account.deleteConfirm"))) return;
    await api("DELETE", "/api/account", { password: el("del-password").value });
    location.assign("/");
  });
}

init();

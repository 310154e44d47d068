// @ts-check
/** Home page: create a room and go to its link. */
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

// @ts-check
/**
 * The account links in the top bar of the home, account and friends pages:
 * "Sign in" when signed out; profile, friends and "Sign out" when signed in,
 * and the ringer for incoming calls (calls.js).
 */
import { t, onLangChange } from "./i18n.js";
import { api } from "./api.js";
import { startCalls } from "./calls.js";

/**
 * @param {HTMLElement} nav
 * @param {{username: string, display_name: string} | null} account
 */
export function renderAccountBar(nav, account) {
  const draw = () => {
    nav.replaceChildren();
    nav.setAttribute("aria-label", t("nav.account"));
    /** @param {string} href @param {string} text */
    const link = (href, text) => {
      const a = document.createElement("a");
      a.href = href;
      a.textContent = text;
      return a;
    };
    if (!account) {
      nav.append(link("/account", t("nav.signIn")));
      return;
    }
    const who = document.createElement("span");
    who.className = "muted";
    who.textContent = t("nav.signedInAs", { name: account.display_name });
    const out = document.createElement("button");
    out.type = "button";
    out.textContent = t("nav.signOut");
    out.addEventListener("click", async () => {
      await api("DELETE", "/api/session").catch(() => {});
      location.assign("/");
    });
    nav.append(who, link("/sessions", t("nav.sessions")), link("/account", t("nav.profile")), link("/friends", t("nav.friends")), out);
  };
  draw();
  onLangChange(draw);
  // Every signed-in page rings for incoming calls.
  if (account) startCalls();
}

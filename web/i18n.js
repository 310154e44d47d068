// @ts-check
/**
 * Languages: one string table per language (i18n/en.js, i18n/fr.js).
 * The language comes from a saved choice, else the browser's language.
 * Markup declares what to translate: data-i18n (text), data-i18n-label
 * (aria-label), data-i18n-placeholder; code calls t(key, params).
 */
import en from "./i18n/en.js";
import fr from "./i18n/fr.js";

/** @type {Record<string, Record<string, string>>} */
export const tables = { en, fr };
const STORAGE_KEY = "salon.lang";

/** @returns {"en" | "fr"} */
function initialLang() {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (saved === "en" || saved === "fr") return saved;
  return (navigator.language || "en").toLowerCase().startsWith("fr") ? "fr" : "en";
}

let lang = initialLang();
/** @type {Array<() => void>} */
const listeners = [];

export function currentLang() {
  return lang;
}

/**
 * @param {string} key
 * @param {Record<string, string | number>} [params]
 */
export function t(key, params = {}) {
  const s = tables[lang][key] ?? tables.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => String(params[k] ?? ""));
}

/** Translates every marked element under root. @param {ParentNode} root */
export function translate(root = document) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.getAttribute("data-i18n") || "");
  for (const el of root.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.getAttribute("data-i18n-label") || ""));
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    el.setAttribute("placeholder", t(el.getAttribute("data-i18n-placeholder") || ""));
  }
}

/** @param {"en" | "fr"} next */
export function setLang(next) {
  lang = next;
  localStorage.setItem(STORAGE_KEY, next);
  translate();
  for (const f of listeners) f();
}

/** Runs f now and whenever the language changes. @param {() => void} f */
export function onLangChange(f) {
  listeners.push(f);
}

/** Wires a <select> as the language switcher. @param {HTMLSelectElement} select */
export function bindSwitcher(select) {
  select.value = lang;
  select.addEventListener("change", () => setLang(select.value === "fr" ? "fr" : "en"));
}

// @ts-check
/**
 * Languages: one string table per language (i18n/en.js, i18n/fr.js).
 * The language comes from a saved choice, else the browser's language.
 * Markup declares what to translate: data-i18n (text), data-i18n-label
 * (aria-label), data-i18n-placeholder; code calls t(key, params).
 *
 * A page loads only its own language's table (top-level await below); the
 * other one comes when someone switches. Plurals go through
 * Intl.PluralRules: t("x", {count}) uses "x.one", "x.other" (or any other
 * category of the language) when the table has them. Dates and times are
 * formatted with the page's language (`currentLang()`), not the browser's.
 */
import { getItem, setItem } from "./storage.js";
/** @type {Record<string, Record<string, string>>} the tables loaded so far */
export const tables = {};
const STORAGE_KEY = "salon.lang";

/** @returns {"en" | "fr"} */
function initialLang() {
  const saved = getItem(STORAGE_KEY);
  if (saved === "en" || saved === "fr") return saved;
  return (navigator.language || "en").toLowerCase().startsWith("fr") ? "fr" : "en";
}

/** @param {string} l */
async function load(l) {
  tables[l] ??= (await import(`./i18n/${l}.js`)).default;
  return tables[l];
}

let lang = initialLang();
await load(lang);
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
  const table = tables[lang] ?? {};
  let s = table[key];
  if (s === undefined && typeof params.count === "number") {
    s = table[`${key}.${new Intl.PluralRules(lang).select(params.count)}`] ?? table[`${key}.other`];
  }
  s ??= key;
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
export async function setLang(next) {
  await load(next);
  lang = next;
  setItem(STORAGE_KEY, next);
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

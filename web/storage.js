// @ts-check
/**
 * localStorage that never throws: in another site's frame (embed.js) the
 * browser may deny storage to the page, and reading `localStorage` itself
 * throws there. Settings then last for the page's life only.
 */

/** @type {Map<string, string>} */
const memory = new Map();

/** @param {string} key @returns {string | null} */
export function getItem(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return memory.get(key) ?? null;
  }
}

/** @param {string} key @param {string} value */
export function setItem(key, value) {
  try {
    localStorage.setItem(key, value);
  } catch {
    memory.set(key, value);
  }
}

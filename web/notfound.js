// @ts-check
import { translate, bindSwitcher } from "./i18n.js";

translate();
bindSwitcher(/** @type {HTMLSelectElement} */ (document.getElementById("lang")));

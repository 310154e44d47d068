// @ts-check
/**
 * The effects panel: three labelled selects (background, lighting, face
 * effect), a file picker for a person's own background picture, and a status
 * line. Native controls, so keyboard and screen readers work as usual. One
 * panel moves between the pre-join screen and the room (`mount`).
 */
import { t, translate, onLangChange } from "../i18n.js";
import { PICTURES, PANORAMAS } from "./backgrounds.js";
import { GRADES } from "./renderer.js";
import { AR_EFFECTS } from "./ar.js";

const cap = (/** @type {string} */ s) => s[0].toUpperCase() + s.slice(1);

/** @param {import("./index.js").Effects} effects */
export function createPanel(effects) {
  const root = document.createElement("fieldset");
  root.className = "effects-panel";
  root.id = "effects-panel";
  root.innerHTML = `
    <legend data-i18n="fx.title"></legend>
    <label class="fx-field"><span data-i18n="fx.background"></span>
      <select id="fx-background">
        <option value="none" data-i18n="fx.none"></option>
        <optgroup data-group="fx.blurGroup">
          <option value="blur-light" data-i18n="fx.blurLight"></option>
          <option value="blur-strong" data-i18n="fx.blurStrong"></option>
        </optgroup>
        <optgroup data-group="fx.picturesGroup">
          ${PICTURES.map((id) => `<option value="picture:${id}" data-i18n="fx.picture${cap(id)}"></option>`).join("")}
          <option value="picture:own" data-i18n="fx.pictureOwn" disabled></option>
        </optgroup>
        <optgroup data-group="fx.panoramasGroup">
          ${PANORAMAS.map((id) => `<option value="panorama:${id}" data-i18n="fx.panorama${cap(id)}"></option>`).join("")}
        </optgroup>
      </select>
    </label>
    <label class="fx-field fx-file"><span data-i18n="fx.ownPicture"></span>
      <input id="fx-own" type="file" accept="image/*">
    </label>
    <label class="fx-field"><span data-i18n="fx.lighting"></span>
      <select id="fx-lighting">
        ${GRADES.map((id) => `<option value="${id}" data-i18n="fx.light${cap(id)}"></option>`).join("")}
      </select>
    </label>
    <label class="fx-field"><span data-i18n="fx.ar"></span>
      <select id="fx-ar">
        <option value="none" data-i18n="fx.none"></option>
        ${AR_EFFECTS.map((id) => `<option value="${id}" data-i18n="fx.ar${cap(id)}"></option>`).join("")}
      </select>
    </label>
    <p class="fx-status" role="status" aria-live="polite"></p>`;
  const q = (/** @type {string} */ sel) => /** @type {any} */ (root.querySelector(sel));
  const background = q("#fx-background");
  const lighting = q("#fx-lighting");
  const ar = q("#fx-ar");
  const own = q("#fx-own");
  const status = q(".fx-status");

  background.addEventListener("change", () => effects.set({ background: background.value }));
  lighting.addEventListener("change", () => effects.set({ lighting: lighting.value }));
  ar.addEventListener("change", () => effects.set({ ar: ar.value }));
  own.addEventListener("change", async () => {
    const file = own.files?.[0];
    if (!file) return;
    try {
      await effects.setOwnPicture(file);
      q('option[value="picture:own"]').disabled = false;
      background.value = "picture:own";
    } catch {
      status.textContent = t("fx.pictureFailed");
    }
  });

  const render = () => {
    translate(root);
    for (const g of root.querySelectorAll("optgroup")) g.setAttribute("label", t(g.getAttribute("data-group") || ""));
    background.value = effects.settings.background;
    lighting.value = effects.settings.lighting;
    ar.value = effects.settings.ar;
    const problem = effects.problem();
    status.textContent = problem ? t(problem) : "";
    const none = !effects.path;
    for (const el of [background, lighting, ar, own]) el.disabled = none;
    if (none) status.textContent = t("fx.unavailable");
  };
  effects.addEventListener("status", render);
  onLangChange(render);
  render();

  return {
    root,
    /** Moves the panel into a container. @param {HTMLElement} container */
    mount(container) {
      container.append(root);
    },
  };
}

// @ts-check
/**
 * What to draw, and drawing it: the effect settings, the latest mask and
 * where the person is, the pictures (painted here, on first use), and a
 * renderer (WebGL2 or Canvas 2D). Runs in the effects worker, or on the page
 * for the canvas path; it touches no DOM.
 */
import { Renderer } from "./renderer.js";
import { Renderer2D } from "./renderer2d.js";
import { picture, panorama, ownPicture } from "./backgrounds.js";
import { placeSprite } from "./ar.js";

/**
 * @typedef {import("./index.js").Settings} Settings
 * @typedef {import("./segmenter.js").Geometry} Geometry
 */

export class Compositor {
  /** @param {any} canvas where to draw @param {"webgl" | "2d"} kind */
  constructor(canvas, kind) {
    this.canvas = canvas;
    this.kind = kind;
    this.renderer = kind === "webgl" ? new Renderer(canvas) : new Renderer2D(canvas);
    /** @type {Settings} */
    this.settings = { background: "none", lighting: "none", ar: "none" };
    /** Whether segmentation works (false while it loads or when it failed). */
    this.masked = false;
    /** @type {ImageBitmap | null} */
    this.mask = null;
    this.maskVersion = 0;
    /** @type {Geometry} */
    this.geometry = { present: false, cx: 0.5, cy: 0.5, headX: 0.5, headTop: 0.2, headW: 0.2 };
    /** @type {any} */
    this.own = null;
    /** @type {Map<string, any>} */
    this.images = new Map();
  }

  /** @param {Settings} settings @param {boolean} masked */
  setSettings(settings, masked) {
    this.settings = { ...settings };
    this.masked = masked;
  }

  /** @param {ImageBitmap} mask @param {Geometry} geometry */
  setMask(mask, geometry) {
    this.mask?.close();
    this.mask = mask;
    this.maskVersion++;
    this.geometry = geometry;
  }

  /** @param {ImageBitmap} bitmap */
  setOwn(bitmap) {
    this.own = ownPicture(bitmap);
  }

  /** A bundled picture or panorama, painted once. @param {string} key */
  image(key) {
    let img = this.images.get(key);
    if (!img) {
      const [kind, id] = key.split(":");
      img = kind === "panorama" ? panorama(id) : picture(id);
      this.images.set(key, img);
    }
    return img;
  }

  /** What to draw now. @param {number} w @param {number} h @returns {import("./renderer.js").Scene} */
  scene(w, h) {
    const s = this.settings;
    const ready = this.masked && !!this.mask;
    let background = "none";
    let bgImage = null;
    if (ready && (s.background === "blur-light" || s.background === "blur-strong")) background = s.background;
    else if (ready && s.background.startsWith("picture:")) {
      bgImage = s.background === "picture:own" ? this.own : this.image(s.background);
      background = bgImage ? "picture" : "none";
    } else if (ready && s.background.startsWith("panorama:")) {
      bgImage = this.image(s.background);
      background = "panorama";
    }
    const geo = this.geometry;
    // The view into the panorama follows the person: moving right turns it left, like a window.
    const view = /** @type {[number, number]} */ (geo.present ? [-(geo.cx - 0.5) * 1.4, -(geo.cy - 0.55) * 0.6] : [0, 0]);
    const sprite = ready && s.ar !== "none" ? placeSprite(s.ar, geo, w, h) : null;
    return { background, bgImage, grade: s.lighting, sprite, view };
  }

  /** @param {any} frame a VideoFrame or video element @param {number} w @param {number} h */
  draw(frame, w, h) {
    const mask = { image: this.mask, version: this.maskVersion, has: this.masked && !!this.mask };
    this.renderer.draw(frame, w, h, this.scene(w, h), mask);
  }
}

/** Output size: the input scaled down to fit 640x360, even numbers. @param {number} w @param {number} h */
export function outputSize(w, h, maxW = 640, maxH = 360) {
  const k = Math.min(1, maxW / w, maxH / h);
  return [Math.max(2, Math.round((w * k) / 2) * 2), Math.max(2, Math.round((h * k) / 2) * 2)];
}

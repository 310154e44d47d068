// @ts-check
/**
 * The Canvas 2D renderer, for machines whose WebGL is software-emulated
 * (SwiftShader, llvmpipe: every upload and read-back of a WebGL frame goes
 * through the GPU process and costs 10-30 ms there) and for browsers without
 * WebGL2. Skia draws these few operations on the CPU in a few milliseconds:
 *   background: the frame shrunk to 1/4 or 1/8 with a blur filter and scaled
 *     back up (blur), a picture (cover), or a window into the 360° panorama
 *     (a cylindrical crop of the equirectangular picture, turned by the
 *     person's position; the WebGL renderer does the true projection);
 *   person: the frame kept where the mask's alpha says (destination-in);
 *   lighting: a CSS filter and, for warm and cool, a soft-light tint;
 *   AR: the sprite over the head.
 * Same inputs and outputs as the WebGL renderer (renderer.js).
 */
import { canvas } from "./backgrounds.js";

/** @type {Record<string, {filter: string, tint?: string}>} */
const GRADE_2D = {
  none: { filter: "none" },
  warm: { filter: "saturate(1.1) brightness(1.03)", tint: "rgba(255,150,40,0.35)" },
  cool: { filter: "saturate(0.95)", tint: "rgba(40,120,255,0.35)" },
  soft: { filter: "contrast(0.82) brightness(1.08) saturate(0.88)" },
  bw: { filter: "grayscale(1) contrast(1.15)" },
  lowlight: { filter: "brightness(1.55) contrast(0.9) saturate(1.15)" },
};

export class Renderer2D {
  /** @param {any} out an OffscreenCanvas or <canvas> */
  constructor(out) {
    this.canvas = out;
    this.g = /** @type {CanvasRenderingContext2D} */ (out.getContext("2d", { alpha: false, desynchronized: true }));
    this.person = canvas(16, 16);
    this.small = canvas(16, 16);
    this.composed = canvas(16, 16);
  }

  /**
   * @param {CanvasImageSource} frame @param {number} w @param {number} h
   * @param {import("./renderer.js").Scene} scene
   * @param {{image: CanvasImageSource | null, has: boolean}} mask
   */
  draw(frame, w, h, scene, mask) {
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
    }
    const grade = GRADE_2D[scene.grade] ?? GRADE_2D.none;
    const replaced = scene.background !== "none" && mask.has && mask.image;
    // With a grade, draw into a scratch canvas first, then once through the filter.
    const target = grade.filter !== "none" ? this.sized(this.composed, w, h) : this.g;
    if (replaced) {
      this.background(target, frame, w, h, scene);
      const p = this.sized(this.person, w, h);
      p.globalCompositeOperation = "copy";
      p.drawImage(frame, 0, 0, w, h);
      p.globalCompositeOperation = "destination-in";
      p.drawImage(/** @type {CanvasImageSource} */ (mask.image), 0, 0, w, h);
      p.globalCompositeOperation = "source-over";
      target.drawImage(p.canvas, 0, 0);
    } else {
      target.drawImage(frame, 0, 0, w, h);
    }
    if (grade.filter !== "none") {
      this.g.filter = grade.filter;
      this.g.drawImage(target.canvas, 0, 0);
      this.g.filter = "none";
    }
    if (grade.tint) {
      this.g.globalCompositeOperation = "soft-light";
      this.g.fillStyle = grade.tint;
      this.g.fillRect(0, 0, w, h);
      this.g.globalCompositeOperation = "source-over";
    }
    if (scene.sprite) {
      const [x, y, sw, sh] = scene.sprite.rect;
      this.g.drawImage(scene.sprite.image, x * w, y * h, sw * w, sh * h);
    }
  }

  /**
   * @param {CanvasRenderingContext2D} g @param {CanvasImageSource} frame
   * @param {number} w @param {number} h @param {import("./renderer.js").Scene} scene
   */
  background(g, frame, w, h, scene) {
    if (scene.background === "blur-light" || scene.background === "blur-strong") {
      const strong = scene.background === "blur-strong";
      const down = strong ? 8 : 4;
      const sw = Math.max(8, Math.round(w / down));
      const sh = Math.max(8, Math.round(h / down));
      const s = this.sized(this.small, sw, sh);
      s.filter = `blur(${strong ? 2.5 : 1.5}px)`;
      s.drawImage(frame, 0, 0, sw, sh);
      s.filter = "none";
      g.imageSmoothingQuality = "low";
      g.drawImage(s.canvas, 0, 0, w, h);
      return;
    }
    const img = scene.bgImage;
    if (!img) return g.drawImage(frame, 0, 0, w, h);
    if (scene.background === "picture") {
      // Cover: keep the picture's aspect, crop what overflows.
      const k = Math.max(w / img.width, h / img.height);
      const cw = w / k;
      const ch = h / k;
      g.drawImage(img, (img.width - cw) / 2, (img.height - ch) / 2, cw, ch, 0, 0, w, h);
      return;
    }
    // Panorama: a 75° wide window, turned by yaw and tilted by pitch, wrapping around.
    const [yaw, pitch] = scene.view;
    const cw = (img.width * 75) / 360;
    const ch = (cw * h) / w;
    let x = (((0.5 + yaw / (2 * Math.PI)) * img.width - cw / 2) % img.width + img.width) % img.width;
    const y = Math.min(img.height - ch, Math.max(0, img.height / 2 - ch / 2 - (pitch / Math.PI) * img.height));
    const first = Math.min(cw, img.width - x);
    g.drawImage(img, x, y, first, ch, 0, 0, (first / cw) * w, h);
    if (first < cw) g.drawImage(img, 0, y, cw - first, ch, (first / cw) * w, 0, ((cw - first) / cw) * w, h);
  }

  /** @param {{c: any, g: CanvasRenderingContext2D}} c @param {number} w @param {number} h */
  sized(c, w, h) {
    if (c.c.width !== w || c.c.height !== h) {
      c.c.width = w;
      c.c.height = h;
    }
    return c.g;
  }
}

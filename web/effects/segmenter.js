// @ts-check
/**
 * Person segmentation with MediaPipe selfie segmentation, served by Salon
 * itself from /vendor/selfie_segmentation/ (models, graph and wasm vendored
 * from npm; see web/vendor/update.sh). Nothing is fetched from other hosts.
 *
 * The vendored loader is a classic script that defines a global
 * `SelfieSegmentation`; it is added once as a same-origin <script>. It runs
 * on the page's thread (it needs the DOM to load and its own WebGL canvas).
 *
 * Each result is turned into an alpha mask (person = opaque, with a soft
 * edge) as an ImageBitmap for the renderers, and summarised into where the
 * person is (`Geometry`): the 360° view follows the body, AR follows the head.
 */

const BASE = "/vendor/selfie_segmentation/";
/**
 * The build's version, as this module was asked for (`?v=…`, from the
 * page's import map; http/assets.rs). The model's files are asked for with
 * it too, so the browser keeps them (5.7 MB of wasm) for as long as the
 * build lives, instead of fetching them again on every visit.
 */
const VERSION = new URL(import.meta.url).search;
/** Size of the picture given to the model: the landscape model's own input size. */
export const SEG_W = 256;
export const SEG_H = 144;

/** @type {Promise<any> | null} */
let loading = null;

function loadScript() {
  if (loading) return loading;
  loading = new Promise((resolve, reject) => {
    const g = /** @type {any} */ (globalThis);
    if (g.SelfieSegmentation) return resolve(g.SelfieSegmentation);
    const s = document.createElement("script");
    s.src = BASE + "selfie_segmentation.js" + VERSION;
    s.onload = () => (g.SelfieSegmentation ? resolve(g.SelfieSegmentation) : reject(new Error("segmentation loader missing")));
    s.onerror = () => reject(new Error("segmentation loader failed to load"));
    document.head.append(s);
  });
  loading.catch(() => (loading = null));
  return loading;
}

/**
 * Where the person is, all in 0..1 of the picture (x from the left, y from
 * the top); headW is a fraction of the picture's width.
 * @typedef {{present: boolean, cx: number, cy: number, headX: number, headTop: number, headW: number}} Geometry
 */

export class Segmenter {
  /**
   * @param {boolean} cpu run the model on the CPU (wasm SIMD) rather than
   * through WebGL: much faster where WebGL is emulated in software.
   */
  constructor(cpu) {
    this.cpu = cpu;
    /** @type {any} */
    this.model = null;
    this.work = Object.assign(document.createElement("canvas"), { width: SEG_W, height: SEG_H });
    this.ctx = /** @type {CanvasRenderingContext2D} */ (this.work.getContext("2d", { willReadFrequently: true }));
    /** The alpha mask, feathered: the model's mask is coarse, a hard edge would show its steps. */
    this.soft = Object.assign(document.createElement("canvas"), { width: SEG_W, height: SEG_H });
    this.softCtx = /** @type {CanvasRenderingContext2D} */ (this.soft.getContext("2d"));
    /** @type {ImageData | null} */
    this.last = null;
    /** @type {Geometry} */
    this.geometry = { present: false, cx: 0.5, cy: 0.5, headX: 0.5, headTop: 0.2, headW: 0.2 };
    /** Exponential moving average of one segmentation's duration, ms. */
    this.costMs = 0;
    this.count = 0;
  }

  /** Loads the model (once). Rejects when this browser cannot run it. */
  async init() {
    if (this.model) return;
    const Ctor = await loadScript();
    const model = new Ctor({ locateFile: (/** @type {string} */ f) => BASE + f + VERSION });
    // Landscape model: 256x144 input, faster than the square general one.
    model.setOptions({ modelSelection: 1, selfieMode: false, useCpuInference: this.cpu });
    model.onResults((/** @type {any} */ r) => this.take(r.segmentationMask));
    await model.initialize();
    this.model = model;
  }

  /**
   * Segments one small picture (SEG_W x SEG_H). Resolves with an alpha mask
   * and the geometry, or null. @param {ImageBitmap} bitmap
   * @returns {Promise<{mask: ImageBitmap, geometry: Geometry} | null>}
   */
  async segment(bitmap) {
    if (!this.model) return null;
    const t0 = performance.now();
    this.last = null;
    await this.model.send({ image: bitmap });
    if (!this.last) return null;
    this.ctx.putImageData(this.last, 0, 0);
    this.softCtx.clearRect(0, 0, SEG_W, SEG_H);
    this.softCtx.filter = "blur(1px)";
    this.softCtx.drawImage(this.work, 0, 0);
    this.softCtx.filter = "none";
    const mask = await createImageBitmap(this.soft);
    const ms = performance.now() - t0;
    this.costMs = this.count++ === 0 ? ms : this.costMs * 0.8 + ms * 0.2;
    return { mask, geometry: this.geometry };
  }

  /** @param {CanvasImageSource} m MediaPipe's mask (its buffer is reused: copy it now) */
  take(m) {
    if (!m) return;
    this.ctx.clearRect(0, 0, SEG_W, SEG_H);
    this.ctx.drawImage(m, 0, 0, SEG_W, SEG_H);
    const img = this.ctx.getImageData(0, 0, SEG_W, SEG_H);
    const px = img.data;
    // Confidence -> alpha with a soft edge (smoothstep 0.35..0.75); colour white.
    for (let i = 0; i < px.length; i += 4) {
      const c = Math.max(px[i], px[i + 3] === 255 ? 0 : px[i + 3]) / 255;
      const t = Math.min(1, Math.max(0, (c - 0.35) / 0.4));
      px[i] = px[i + 1] = px[i + 2] = 255;
      px[i + 3] = Math.round(t * t * (3 - 2 * t) * 255);
    }
    this.last = img;
    this.measure(px);
  }

  /** Where the person and their head are. @param {Uint8ClampedArray} px the alpha mask */
  measure(px) {
    const w = SEG_W;
    const h = SEG_H;
    const at = (/** @type {number} */ x, /** @type {number} */ y) => px[(y * w + x) * 4 + 3] / 255;
    let total = 0;
    let sx = 0;
    let sy = 0;
    let top = -1;
    for (let y = 0; y < h; y++) {
      let row = 0;
      for (let x = 0; x < w; x++) {
        const v = at(x, y);
        row += v;
        sx += v * x;
        sy += v * y;
      }
      total += row;
      if (top < 0 && row > w * 0.02) top = y;
    }
    if (total < w * h * 0.02 || top < 0) {
      this.geometry = { ...this.geometry, present: false };
      return;
    }
    // Head width: the extent of the person a little below the top of the head.
    const probe = Math.min(h - 1, top + Math.max(1, Math.round(h * 0.08)));
    let minX = w;
    let maxX = -1;
    for (let x = 0; x < w; x++) {
      if (at(x, probe) > 0.5) {
        minX = Math.min(minX, x);
        maxX = Math.max(maxX, x);
      }
    }
    if (maxX < minX) minX = maxX = Math.round(sx / total);
    const headW = Math.min(0.45, Math.max(0.06, (maxX - minX + 1) / w));
    const next = { cx: sx / total / w, cy: sy / total / h, headX: (minX + maxX + 1) / 2 / w, headTop: top / h, headW };
    // Smooth, so overlays and the 360° view do not jitter.
    const prev = this.geometry;
    const k = prev.present ? 0.5 : 1;
    /** @param {"cx" | "cy" | "headX" | "headTop" | "headW"} key */
    const mix = (key) => prev[key] + (next[key] - prev[key]) * k;
    this.geometry = { present: true, cx: mix("cx"), cy: mix("cy"), headX: mix("headX"), headTop: mix("headTop"), headW: mix("headW") };
  }

  close() {
    this.model?.close?.();
    this.model = null;
  }
}

// @ts-check
/**
 * The frame pipeline: camera track in, processed track out.
 *
 * Two paths, chosen by what the browser has:
 *   - insertable streams (Chromium): a MediaStreamTrackProcessor's frames
 *     go (as a transferred stream) to the effects worker, which draws each
 *     and writes it to a MediaStreamTrackGenerator: that track is sent.
 *     Drawing in the worker leaves this thread to segmentation, and does not
 *     depend on the page being rendered (it keeps going in a hidden tab).
 *   - canvas (Firefox, Safari): the camera plays in a detached <video>;
 *     each new video frame (requestVideoFrameCallback, else animation
 *     frames) is drawn on this thread, and canvas.captureStream() is sent.
 *
 * The output is at most 640x360 (aspect kept): the size the effects are
 * measured at (BENCHMARKS.md) and plenty for a tile; simulcast layers scale
 * from it. The browser scales our clone of the camera track to that size,
 * so no frame is bigger than needed.
 *
 * Adaptive: segmentation runs at most once per `segInterval` ms, never twice
 * at a time, and the picture is always drawn with the latest mask. Each
 * second the output rate is compared with the camera's: when frames are lost
 * the interval grows (segment less often), when all get through it shrinks.
 * Only when even rare segmentation cannot keep up are frames dropped (the
 * processor's small queue discards the oldest).
 */
import { getItem } from "../storage.js";
import { Compositor, outputSize } from "./compositor.js";
import { SEG_W, SEG_H } from "./segmenter.js";

const MAX_W = 640;
const MAX_H = 360;
const MIN_SEG_INTERVAL = 33;
const MAX_SEG_INTERVAL = 1000;

/**
 * Which path this browser can use: "insertable", "canvas" or null (no
 * effects). `localStorage["salon.fxPath"] = "canvas"` forces the canvas path
 * (to test, in Chromium, what Firefox and Safari run).
 */
/** @returns {"insertable" | "canvas" | null} */
export function supportedPath() {
  const g = /** @type {any} */ (globalThis);
  const forced = getItem("salon.fxPath") === "canvas";
  if (!forced && g.MediaStreamTrackProcessor && g.MediaStreamTrackGenerator && g.VideoFrame && g.OffscreenCanvas && g.Worker) return "insertable";
  const probe = document.createElement("canvas");
  if ("captureStream" in probe && probe.getContext("2d")) return "canvas";
  return null;
}

/**
 * Which renderer: WebGL2 where the GPU does the work; Canvas 2D where WebGL
 * is emulated in software (SwiftShader, llvmpipe) or missing, because there
 * every WebGL upload and read-back costs more than all of the 2D drawing.
 * `localStorage["salon.fxRenderer"]` = "webgl" | "2d" overrides (tests, benchmark).
 * @returns {"webgl" | "2d"}
 */
export function chooseRenderer() {
  const forced = getItem("salon.fxRenderer");
  if (forced === "webgl" || forced === "2d") return forced;
  const gl = /** @type {WebGL2RenderingContext | null} */ (document.createElement("canvas").getContext("webgl2"));
  if (!gl) return "2d";
  const info = gl.getExtension("WEBGL_debug_renderer_info");
  const name = String(info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER));
  gl.getExtension("WEBGL_lose_context")?.loseContext();
  return /swiftshader|llvmpipe|softpipe|software/i.test(name) ? "2d" : "webgl";
}

/**
 * Whether this page can open a WebGL context at all (WebGL2 or 1). The
 * vendored MediaPipe loader needs one, even for CPU inference, and without
 * one it stops the page with a blocking alert(): the segmenter is never
 * created then (headless Firefox, browsers with WebGL switched off).
 */
export function webglAvailable() {
  const canvas = document.createElement("canvas");
  const gl = /** @type {WebGLRenderingContext | null} */ (canvas.getContext("webgl2") || canvas.getContext("webgl"));
  if (!gl) return false;
  gl.getExtension("WEBGL_lose_context")?.loseContext();
  return true;
}

export class Pipeline {
  /**
   * @param {MediaStreamTrack} camera the camera track (not stopped here)
   * @param {"insertable" | "canvas"} path @param {"webgl" | "2d"} kind
   */
  constructor(camera, path, kind) {
    // Our own copy of the camera track, scaled by the browser to the output
    // size; the camera track itself keeps its size for when effects are off.
    this.source = camera.clone();
    const { width = MAX_W, height = MAX_H } = camera.getSettings();
    const [w, h] = outputSize(width, height, MAX_W, MAX_H);
    this.source.applyConstraints({ width: { ideal: w }, height: { ideal: h } }).catch(() => {});
    this.path = path;
    this.kind = kind;
    this.stopped = false;
    /** @type {import("./segmenter.js").Segmenter | null} */
    this.segmenter = null;
    this.wantsMask = false;
    this.segInterval = 100;
    this.segments = 0;
    /** lastOut: when the last frame was written, on the clock of the thread that draws. */
    this.stat = { framesIn: 0, framesOut: 0, fps: 0, draw: 0, grab: 0, lastOut: 0 };
    this.window = { at: performance.now(), out: 0 };
    /** @type {((bitmap: ImageBitmap | null) => void) | null} */
    this.frameWaiter = null;
    /** Called if the pipeline cannot run (e.g. no WebGL2 in the worker). @type {(message: string) => void} */
    this.onFailed = () => {};
    /** @type {MediaStreamTrack} */
    this.track = path === "insertable" ? this.startWorker() : this.startCanvas();
    this.adaptTimer = window.setInterval(() => this.adapt(), 1000);
    this.segLoop();
  }

  startWorker() {
    const g = /** @type {any} */ (globalThis);
    const processor = new g.MediaStreamTrackProcessor({ track: this.source, maxBufferSize: 2 });
    const generator = new g.MediaStreamTrackGenerator({ kind: "video" });
    const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module", name: "salon-effects" });
    this.worker = worker;
    worker.onmessage = (e) => {
      const m = e.data;
      if (m.type === "frame") {
        this.frameWaiter?.(m.bitmap);
        this.frameWaiter = null;
      } else if (m.type === "stats") {
        this.stat = { ...this.stat, framesIn: m.framesIn, framesOut: m.framesOut, draw: m.draw, grab: m.grab, lastOut: m.lastOut };
      } else if (m.type === "failed") {
        this.onFailed(m.message);
      }
    };
    worker.onerror = (e) => this.onFailed(e.message || "effects worker failed");
    worker.postMessage(
      { type: "start", readable: processor.readable, writable: generator.writable, kind: this.kind, maxW: MAX_W, maxH: MAX_H },
      [processor.readable, generator.writable],
    );
    return generator;
  }

  startCanvas() {
    const canvas = document.createElement("canvas");
    const compositor = new Compositor(canvas, this.kind);
    this.compositor = compositor;
    const video = document.createElement("video");
    video.muted = true;
    video.playsInline = true;
    video.srcObject = new MediaStream([this.source]);
    video.play().catch(() => {});
    this.video = video;
    const v = /** @type {any} */ (video);
    const next = () => (v.requestVideoFrameCallback ? v.requestVideoFrameCallback(tick) : requestAnimationFrame(tick));
    const tick = () => {
      if (this.stopped) return;
      if (video.videoWidth > 0) {
        this.stat.framesIn++;
        const [w, h] = outputSize(video.videoWidth, video.videoHeight, MAX_W, MAX_H);
        try {
          const t0 = performance.now();
          compositor.draw(video, w, h);
          this.stat.draw = this.stat.draw * 0.9 + (performance.now() - t0) * 0.1;
          this.stat.framesOut++;
          this.stat.lastOut = performance.now();
        } catch (e) {
          console.warn("effects: frame failed", e);
        }
      }
      next();
    };
    next();
    const { width = MAX_W, height = MAX_H } = this.source.getSettings();
    [canvas.width, canvas.height] = outputSize(width, height, MAX_W, MAX_H);
    return /** @type {any} */ (canvas).captureStream(30).getVideoTracks()[0];
  }

  /** @param {import("./index.js").Settings} settings @param {boolean} masked whether segmentation is ready */
  setSettings(settings, masked) {
    this.wantsMask = masked && (settings.background !== "none" || settings.ar !== "none");
    if (this.worker) this.worker.postMessage({ type: "settings", settings, masked });
    else this.compositor?.setSettings(settings, masked);
  }

  /** @param {ImageBitmap} bitmap a person's own background picture */
  setOwn(bitmap) {
    if (this.worker) this.worker.postMessage({ type: "own", bitmap }, [bitmap]);
    else this.compositor?.setOwn(bitmap);
  }

  /** A small copy of the next camera frame, for segmentation. @returns {Promise<ImageBitmap | null>} */
  nextSmallFrame() {
    if (this.worker) {
      return new Promise((resolve) => {
        this.frameWaiter = resolve;
        this.worker?.postMessage({ type: "want-frame", w: SEG_W, h: SEG_H });
      });
    }
    if (!this.video || this.video.videoWidth === 0) return Promise.resolve(null);
    return createImageBitmap(this.video, { resizeWidth: SEG_W, resizeHeight: SEG_H, resizeQuality: "low" }).catch(() => null);
  }

  /** Segments now and then, as often as the adaptation allows. */
  async segLoop() {
    let last = 0;
    while (!this.stopped) {
      const wait = Math.max(10, last + this.segInterval - performance.now());
      await new Promise((r) => setTimeout(r, wait));
      if (this.stopped || !this.wantsMask || !this.segmenter?.model) continue;
      last = performance.now();
      const bitmap = await this.nextSmallFrame();
      if (!bitmap || this.stopped) {
        bitmap?.close();
        continue;
      }
      try {
        const result = await this.segmenter.segment(bitmap);
        this.segments++;
        if (result && !this.stopped) {
          if (this.worker) this.worker.postMessage({ type: "mask", bitmap: result.mask, geometry: result.geometry }, [result.mask]);
          else this.compositor?.setMask(result.mask, result.geometry);
        } else result?.mask.close();
      } catch (e) {
        console.warn("effects: segmentation failed", e);
      } finally {
        bitmap.close();
      }
    }
  }

  /** Once a second: segment less often when frames are lost, more often when all get through. */
  adapt() {
    const now = performance.now();
    const secs = (now - this.window.at) / 1000;
    const out = this.stat.framesOut;
    this.stat.fps = (out - this.window.out) / secs;
    this.window = { at: now, out };
    if (!this.wantsMask) return;
    // The processor silently drops frames we are too slow to take, so compare
    // with the camera's nominal rate rather than with the frames we got.
    const target = Math.min(30, this.source.getSettings().frameRate || 30);
    if (this.stat.fps < target * 0.85) this.segInterval = Math.min(MAX_SEG_INTERVAL, this.segInterval * 1.4);
    else if (this.stat.fps >= target * 0.93) this.segInterval = Math.max(MIN_SEG_INTERVAL, this.segInterval * 0.85);
  }

  stats() {
    const { width, height } = this.track.getSettings();
    return {
      path: this.path,
      renderer: this.kind,
      framesIn: this.stat.framesIn,
      framesOut: this.stat.framesOut,
      lastOutMs: this.stat.lastOut,
      fps: Math.round(this.stat.fps * 10) / 10,
      drawMs: Math.round(this.stat.draw * 10) / 10,
      grabMs: Math.round(this.stat.grab * 10) / 10,
      segments: this.segments,
      segIntervalMs: Math.round(this.segInterval),
      segCostMs: Math.round((this.segmenter?.costMs ?? 0) * 10) / 10,
      width,
      height,
    };
  }

  stop() {
    this.stopped = true;
    window.clearInterval(this.adaptTimer);
    this.worker?.postMessage({ type: "stop" });
    this.worker?.terminate();
    this.frameWaiter?.(null);
    if (this.video) this.video.srcObject = null;
    this.track.stop();
    this.source.stop();
  }
}

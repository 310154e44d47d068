// @ts-check
/**
 * Video effects: the one object room.js talks to.
 *
 *   const effects = new Effects();
 *   effects.onTrack = (track) => ...;     // the track to show and send changed
 *   const shown = await effects.use(cameraTrack);   // raw or processed
 *
 * With every effect off, the camera track itself is shown and sent (no cost).
 * Switching an effect on starts the pipeline and hands out its processed
 * track once (room.js swaps it into the sender with replaceTrack, no
 * renegotiation); further changes only change what the pipeline draws.
 * Segmentation (MediaPipe) loads on first use of an effect that needs it,
 * and never where the page has no WebGL (its loader would block the page
 * with an alert): backgrounds and AR then say they are not available, and
 * lighting still works.
 */
import { Pipeline, supportedPath, chooseRenderer, webglAvailable } from "./pipeline.js";
import { Segmenter } from "./segmenter.js";

/**
 * background: "none" | "blur-light" | "blur-strong" | "picture:<id>" |
 * "picture:own" | "panorama:<id>"; lighting: "none" | a grade name;
 * ar: "none" | an AR effect id.
 * @typedef {{background: string, lighting: string, ar: string}} Settings
 */

export class Effects extends EventTarget {
  constructor() {
    super();
    /** @type {Settings} */
    this.settings = { background: "none", lighting: "none", ar: "none" };
    /** @type {MediaStreamTrack | null} */
    this.source = null;
    /** @type {Pipeline | null} */
    this.pipeline = null;
    this.path = supportedPath();
    /** Chosen on first use (it opens a WebGL context to look at the GPU). @type {"webgl" | "2d" | null} */
    this.renderer = null;
    /** @type {Segmenter | null} */
    this.segmenter = null;
    /** "idle" | "loading" | "ready" | "failed" */
    this.segState = "idle";
    /** Whether WebGL exists here, probed on first need of segmentation. @type {boolean | null} */
    this.webgl = null;
    /** A person's own picture, kept to give to each new pipeline. @type {Blob | null} */
    this.own = null;
    /** Called when the track to show and send changes. @type {(track: MediaStreamTrack | null) => void} */
    this.onTrack = () => {};
    // Diagnostics for devtools, the browser tests and the benchmark.
    /** @type {any} */ (globalThis).salonEffects = this;
  }

  /** The track to show and send: processed when an effect is on, else the camera's. */
  get track() {
    return this.pipeline?.track ?? this.source;
  }

  /** Whether any effect is chosen. */
  get active() {
    const s = this.settings;
    return s.background !== "none" || s.lighting !== "none" || s.ar !== "none";
  }

  /** Effects need a person mask for backgrounds and AR, not for lighting. */
  wantsMask() {
    return this.settings.background !== "none" || this.settings.ar !== "none";
  }

  /**
   * Sets the camera track (null: camera off) and returns the track to show
   * and send. @param {MediaStreamTrack | null} source
   */
  async use(source) {
    if (source !== this.source) {
      this.pipeline?.stop();
      this.pipeline = null;
      this.source = source;
    }
    this.sync();
    return this.track;
  }

  /** Changes some settings live. @param {Partial<Settings>} change */
  set(change) {
    const before = this.track;
    Object.assign(this.settings, change);
    this.sync();
    if (this.track !== before) this.onTrack(this.track);
    this.status();
  }

  /** Keeps a person's picture (in this page only) and switches to it. @param {Blob} file */
  async setOwnPicture(file) {
    await createImageBitmap(file).then((b) => b.close()); // rejects if it is not a picture
    this.own = file;
    if (this.pipeline) this.pipeline.setOwn(await createImageBitmap(file));
    this.set({ background: "picture:own" });
  }

  sync() {
    const run = !!this.source && this.source.readyState === "live" && this.active && !!this.path;
    if (!run) {
      this.pipeline?.stop();
      this.pipeline = null;
      return;
    }
    this.renderer ??= chooseRenderer();
    if (this.wantsMask()) this.loadSegmenter();
    if (!this.pipeline && this.source && this.path) {
      try {
        const pipeline = new Pipeline(this.source, this.path, this.renderer);
        pipeline.onFailed = (message) => this.failed(pipeline, message);
        if (this.own) createImageBitmap(this.own).then((b) => pipeline.setOwn(b), () => {});
        this.pipeline = pipeline;
      } catch (e) {
        this.failed(null, String(e));
        return;
      }
    }
    if (this.pipeline) {
      this.pipeline.segmenter = this.segmenter;
      this.pipeline.setSettings(this.settings, this.segState === "ready");
    }
  }

  /**
   * The pipeline cannot run here (e.g. no WebGL2 in a worker): fall back to
   * the simpler renderer, else say effects are not available and send the
   * camera as it is. @param {Pipeline | null} pipeline @param {string} message
   */
  failed(pipeline, message) {
    console.warn("effects: pipeline failed", message);
    if (pipeline && pipeline !== this.pipeline) return;
    const before = this.track;
    this.pipeline?.stop();
    this.pipeline = null;
    if (this.renderer === "webgl") this.renderer = "2d";
    else this.path = null;
    this.sync();
    if (this.track !== before) this.onTrack(this.track);
    this.status();
  }

  loadSegmenter() {
    if (this.segState !== "idle") return;
    this.webgl ??= webglAvailable();
    if (!this.webgl) {
      console.warn("effects: no WebGL here, so no segmentation (backgrounds and AR)");
      this.segState = "failed";
      this.status();
      return;
    }
    this.segState = "loading";
    // Software WebGL (the 2D renderer was chosen for it): the model runs faster on the CPU.
    this.segmenter = new Segmenter(this.renderer === "2d");
    if (this.pipeline) this.pipeline.segmenter = this.segmenter;
    this.segmenter
      .init()
      .then(() => {
        this.segState = "ready";
        this.sync();
      })
      .catch((e) => {
        console.warn("effects: segmentation unavailable", e);
        this.segState = "failed";
      })
      .finally(() => this.status());
    this.status();
  }

  /**
   * The state the panel shows: null (fine), "fx.loading", "fx.unavailable"
   * (no effects at all here) or "fx.noSegmentation" (only lighting works).
   */
  problem() {
    if (!this.path) return this.active ? "fx.unavailable" : null;
    if (this.wantsMask() && this.segState === "loading") return "fx.loading";
    if (this.wantsMask() && this.segState === "failed") return "fx.noSegmentation";
    return null;
  }

  status() {
    this.dispatchEvent(new Event("status"));
  }

  stats() {
    return { settings: { ...this.settings }, segmentation: this.segState, ...(this.pipeline?.stats() ?? { path: "off" }) };
  }

  close() {
    this.pipeline?.stop();
    this.pipeline = null;
    this.source = null;
  }
}

// @ts-check
/**
 * The effects worker (insertable-streams path): reads camera VideoFrames
 * from a transferred MediaStreamTrackProcessor stream, draws each with the
 * compositor on an OffscreenCanvas, and writes the result to a transferred
 * MediaStreamTrackGenerator stream. Drawing here keeps it off the page's
 * thread, where segmentation runs: on two cores both go at once.
 *
 * Messages in:  start {readable, writable, kind, maxW, maxH} | settings {settings, masked}
 *               | mask {bitmap, geometry} | own {bitmap} | want-frame {w, h}
 * Messages out: frame {bitmap} (a small copy for segmentation) | stats {...} | failed {message}
 */
import { Compositor, outputSize } from "./compositor.js";

/** @type {Compositor | null} */
let compositor = null;
/** @type {{w: number, h: number} | null} */
let wantFrame = null;
let stopped = false;
const counts = { framesIn: 0, framesOut: 0, draw: 0, grab: 0, lastOut: 0 };
/** @type {Settings} */
let pendingSettings = { background: "none", lighting: "none", ar: "none" };
let pendingMasked = false;

/** @typedef {import("./index.js").Settings} Settings */

const post = (/** @type {any} */ msg, /** @type {Transferable[]} */ transfer = []) => /** @type {any} */ (self).postMessage(msg, transfer);

self.onmessage = (e) => {
  const m = e.data;
  if (m.type === "start") start(m.readable, m.writable, m.kind, m.maxW, m.maxH);
  else if (m.type === "settings") {
    pendingSettings = m.settings;
    pendingMasked = m.masked;
    compositor?.setSettings(m.settings, m.masked);
  } else if (m.type === "mask") compositor?.setMask(m.bitmap, m.geometry);
  else if (m.type === "own") compositor?.setOwn(m.bitmap);
  else if (m.type === "want-frame") wantFrame = { w: m.w, h: m.h };
  else if (m.type === "stop") stopped = true;
};

/**
 * @param {ReadableStream<VideoFrame>} readable @param {WritableStream<VideoFrame>} writable
 * @param {"webgl" | "2d"} kind @param {number} maxW @param {number} maxH
 */
async function start(readable, writable, kind, maxW, maxH) {
  const canvas = new OffscreenCanvas(maxW, maxH);
  try {
    compositor = new Compositor(canvas, kind);
  } catch (err) {
    post({ type: "failed", message: String(err) });
    return;
  }
  compositor.setSettings(pendingSettings, pendingMasked);
  const reader = readable.getReader();
  const writer = writable.getWriter();
  const timer = setInterval(() => post({ type: "stats", ...counts, at: performance.now() }), 1000);
  while (!stopped) {
    const { value: frame, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
    if (done || !frame) break;
    counts.framesIn++;
    try {
      if (wantFrame) {
        const size = wantFrame;
        wantFrame = null;
        const copy = frame.clone();
        createImageBitmap(copy, { resizeWidth: size.w, resizeHeight: size.h, resizeQuality: "low" })
          .then((bitmap) => post({ type: "frame", bitmap }, [bitmap]))
          .catch(() => post({ type: "frame", bitmap: null }))
          .finally(() => copy.close());
      }
      const [w, h] = outputSize(frame.displayWidth, frame.displayHeight, maxW, maxH);
      const t0 = performance.now();
      compositor.draw(frame, w, h);
      const t1 = performance.now();
      const out = new VideoFrame(canvas, { timestamp: frame.timestamp ?? 0 });
      const t2 = performance.now();
      counts.draw = counts.draw * 0.9 + (t1 - t0) * 0.1;
      counts.grab = counts.grab * 0.9 + (t2 - t1) * 0.1;
      frame.close();
      await writer.write(out);
      counts.framesOut++;
      counts.lastOut = performance.now();
    } catch (err) {
      frame.close();
      post({ type: "error", message: String(err) });
    }
  }
  clearInterval(timer);
  reader.cancel().catch(() => {});
  writer.close().catch(() => {});
}

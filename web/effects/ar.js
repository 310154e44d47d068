// @ts-check
/**
 * AR effects anchored to the head: a sprite painted once in a canvas, placed
 * each frame from the head found in the segmentation mask (top of the
 * person, the width of the head just below it). Without a person in the
 * picture, nothing is drawn.
 */

export const AR_EFFECTS = ["crown", "glasses", "ears"];

import { canvas } from "./backgrounds.js";

/** @type {Map<string, any>} */
const painted = new Map();

/** @param {string} id */
function paint(id) {
  const { c, g } = canvas(256, id === "glasses" ? 96 : 160);
  if (id === "crown") {
    const grad = g.createLinearGradient(0, 20, 0, 150);
    grad.addColorStop(0, "#ffe27a");
    grad.addColorStop(1, "#c8921c");
    g.fillStyle = grad;
    g.strokeStyle = "#7a5510";
    g.lineWidth = 5;
    g.beginPath();
    g.moveTo(16, 150);
    g.lineTo(8, 40);
    g.lineTo(70, 95);
    g.lineTo(128, 12);
    g.lineTo(186, 95);
    g.lineTo(248, 40);
    g.lineTo(240, 150);
    g.closePath();
    g.fill();
    g.stroke();
    for (const [x, y, colour] of /** @type {Array<[number, number, string]>} */ ([[128, 118, "#d23a4a"], [64, 128, "#2f7fd0"], [192, 128, "#2fa46a"]])) {
      g.fillStyle = colour;
      g.beginPath();
      g.arc(x, y, 12, 0, Math.PI * 2);
      g.fill();
    }
  } else if (id === "glasses") {
    g.fillStyle = "rgba(20,20,30,.85)";
    g.strokeStyle = "#111";
    g.lineWidth = 8;
    for (const x of [66, 190]) {
      g.beginPath();
      g.ellipse(x, 50, 54, 38, 0, 0, Math.PI * 2);
      g.fill();
      g.stroke();
    }
    g.beginPath();
    g.moveTo(118, 42);
    g.quadraticCurveTo(128, 30, 138, 42);
    g.stroke();
    g.fillStyle = "rgba(255,255,255,.35)";
    for (const x of [46, 170]) {
      g.beginPath();
      g.ellipse(x, 36, 14, 8, -0.5, 0, Math.PI * 2);
      g.fill();
    }
  } else {
    // Cat ears.
    for (const [x, dir] of [[60, -1], [196, 1]]) {
      g.fillStyle = "#3b3030";
      g.beginPath();
      g.moveTo(x - 52, 158);
      g.lineTo(x + dir * 18, 8);
      g.lineTo(x + 52, 158);
      g.closePath();
      g.fill();
      g.fillStyle = "#f2a6b8";
      g.beginPath();
      g.moveTo(x - 28, 150);
      g.lineTo(x + dir * 12, 48);
      g.lineTo(x + 28, 150);
      g.closePath();
      g.fill();
    }
  }
  return c;
}

/**
 * The sprite and where it goes (x, y, w, h in 0..1 of the picture, y down).
 * @param {string} id @param {import("./segmenter.js").Geometry} head
 * @param {number} w @param {number} h picture size in pixels
 * @returns {{image: any, rect: [number, number, number, number]} | null}
 */
export function placeSprite(id, head, w, h) {
  if (!AR_EFFECTS.includes(id) || !head.present) return null;
  let image = painted.get(id);
  if (!image) painted.set(id, (image = paint(id)));
  const headWpx = head.headW * w;
  const headHpx = headWpx * 1.3;
  const topPx = head.headTop * h;
  const cx = head.headX * w;
  let sw;
  let bottomPx;
  if (id === "crown") {
    sw = headWpx * 1.0;
    bottomPx = topPx + headHpx * 0.12;
  } else if (id === "ears") {
    sw = headWpx * 1.25;
    bottomPx = topPx + headHpx * 0.2;
  } else {
    sw = headWpx * 0.95;
    const sh = (sw * image.height) / image.width;
    bottomPx = topPx + headHpx * 0.42 + sh / 2;
  }
  const sh = (sw * image.height) / image.width;
  return { image, rect: [(cx - sw / 2) / w, (bottomPx - sh) / h, sw / w, sh / h] };
}

// @ts-check
/**
 * The bundled backgrounds, painted in a canvas at run time: no image files
 * to ship, nothing downloaded, a few milliseconds each. Pictures are 16:9;
 * panoramas are equirectangular (2:1, longitude across, latitude down) and
 * seamless: every shape is a function of longitude with whole periods.
 */

/** Picture ids and panorama ids, in panel order. */
export const PICTURES = ["study", "dunes", "bokeh"];
export const PANORAMAS = ["lake", "aurora", "sunset"];

/** A small seeded random generator (mulberry32), so each background is always the same. @param {number} seed */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A canvas to paint in: an OffscreenCanvas where there is one (this module
 * also runs in the effects worker), else a detached <canvas>.
 * @param {number} w @param {number} h
 * @returns {{c: any, g: CanvasRenderingContext2D}}
 */
export function canvas(w, h) {
  const c = typeof OffscreenCanvas !== "undefined" ? new OffscreenCanvas(w, h) : Object.assign(document.createElement("canvas"), { width: w, height: h });
  return { c, g: /** @type {CanvasRenderingContext2D} */ (c.getContext("2d")) };
}

/** @param {CanvasRenderingContext2D} g @param {number} h @param {Array<[number, string]>} stops @param {number} [w] */
function verticalGradient(g, h, stops, w = g.canvas.width) {
  const grad = g.createLinearGradient(0, 0, 0, h);
  for (const [at, colour] of stops) grad.addColorStop(at, colour);
  g.fillStyle = grad;
  g.fillRect(0, 0, w, h);
}

/** A still picture. @param {string} id @returns {any} a canvas */
export function picture(id) {
  const W = 960;
  const H = 540;
  const { c, g } = canvas(W, H);
  const rnd = random(id.length * 7919 + id.charCodeAt(0));
  if (id === "study") {
    // A calm study: warm wall, a bookshelf, a lamp's glow.
    verticalGradient(g, H, [[0, "#d9c9b0"], [1, "#b59c7c"]]);
    const glow = g.createRadialGradient(W * 0.8, H * 0.25, 10, W * 0.8, H * 0.25, W * 0.45);
    glow.addColorStop(0, "rgba(255,230,170,.6)");
    glow.addColorStop(1, "rgba(255,230,170,0)");
    g.fillStyle = glow;
    g.fillRect(0, 0, W, H);
    g.fillStyle = "#6b4a2f";
    g.fillRect(W * 0.05, H * 0.12, W * 0.42, H * 0.8);
    for (let shelf = 0; shelf < 4; shelf++) {
      const y = H * (0.16 + shelf * 0.19);
      let x = W * 0.07;
      while (x < W * 0.45) {
        const bw = 10 + rnd() * 18;
        const bh = H * (0.1 + rnd() * 0.05);
        g.fillStyle = `hsl(${Math.floor(rnd() * 360)},${30 + rnd() * 30}%,${30 + rnd() * 25}%)`;
        g.fillRect(x, y + H * 0.16 - bh, bw, bh);
        x += bw + 2;
      }
      g.fillStyle = "#4e3521";
      g.fillRect(W * 0.05, y + H * 0.16, W * 0.42, 8);
    }
    g.fillStyle = "#3f6f62";
    for (let i = 0; i < 7; i++) {
      g.beginPath();
      g.ellipse(W * 0.7 + Math.cos(i) * 40, H * 0.62 - i * 14, 18, 60, i * 0.5 - 1.5, 0, Math.PI * 2);
      g.fill();
    }
    g.fillStyle = "#8a5a3c";
    g.fillRect(W * 0.66, H * 0.68, W * 0.09, H * 0.2);
  } else if (id === "dunes") {
    // Sand dunes under a late sun.
    verticalGradient(g, H, [[0, "#f6c58f"], [0.55, "#fbe3c0"], [1, "#f1b27a"]]);
    g.fillStyle = "rgba(255,250,230,.9)";
    g.beginPath();
    g.arc(W * 0.7, H * 0.35, 46, 0, Math.PI * 2);
    g.fill();
    const layers = ["#e0a060", "#d08a4c", "#b8703a", "#9a5a2c"];
    layers.forEach((colour, i) => {
      g.fillStyle = colour;
      g.beginPath();
      g.moveTo(0, H);
      for (let x = 0; x <= W; x += 8) {
        const y = H * (0.5 + i * 0.12) + Math.sin(x / (140 + i * 40) + i * 2) * 30 + Math.sin(x / 53 + i) * 6;
        g.lineTo(x, y);
      }
      g.lineTo(W, H);
      g.fill();
    });
  } else {
    // Soft out-of-focus lights.
    verticalGradient(g, H, [[0, "#1d2b3a"], [1, "#3a2438"]]);
    for (let i = 0; i < 60; i++) {
      const x = rnd() * W;
      const y = rnd() * H;
      const r = 15 + rnd() * 55;
      const hue = [40, 200, 330, 160][i % 4];
      const grad = g.createRadialGradient(x, y, 0, x, y, r);
      grad.addColorStop(0, `hsla(${hue},80%,70%,.45)`);
      grad.addColorStop(1, `hsla(${hue},80%,70%,0)`);
      g.fillStyle = grad;
      g.fillRect(x - r, y - r, r * 2, r * 2);
    }
  }
  return c;
}

/**
 * An equirectangular panorama. @param {string} id @returns {any} a canvas
 */
export function panorama(id) {
  const W = 2048;
  const H = 1024;
  const { c, g } = canvas(W, H);
  const rnd = random(id.length * 104729 + id.charCodeAt(1));
  const horizon = H * 0.5;
  /** Seamless ridge height at column x (whole periods over the width). @param {number} x @param {number[]} k @param {number} seed */
  const ridge = (x, k, seed) => {
    const lon = (x / W) * Math.PI * 2;
    return k.reduce((s, f, i) => s + Math.sin(lon * f + seed * (i + 1)) / (i + 1), 0);
  };
  /** @param {string} colour @param {number} base @param {number} amp @param {number[]} k @param {number} seed */
  const mountains = (colour, base, amp, k, seed) => {
    g.fillStyle = colour;
    g.beginPath();
    g.moveTo(0, horizon);
    for (let x = 0; x <= W; x += 4) g.lineTo(x, base - Math.abs(ridge(x, k, seed)) * amp);
    g.lineTo(W, horizon);
    g.closePath();
    g.fill();
  };
  if (id === "lake") {
    // Mountains around a still lake, morning sky.
    verticalGradient(g, horizon, [[0, "#3c78b8"], [0.7, "#a9cde8"], [1, "#e8f0ea"]]);
    for (let i = 0; i < 25; i++) {
      g.fillStyle = "rgba(255,255,255,.55)";
      const x = rnd() * W;
      const y = H * (0.15 + rnd() * 0.2);
      for (let j = 0; j < 5; j++) {
        g.beginPath();
        g.ellipse((x + j * 22) % W, y + Math.sin(j) * 6, 40, 14, 0, 0, Math.PI * 2);
        g.fill();
      }
    }
    mountains("#6d8298", horizon - 10, 150, [3, 7, 13], 1);
    mountains("#3f5a4c", horizon, 70, [5, 11, 23], 2);
    // The lake mirrors the sky and the hills.
    g.save();
    g.translate(0, horizon * 2);
    g.scale(1, -1);
    g.globalAlpha = 0.55;
    g.drawImage(c, 0, 0, W, horizon, 0, 0, W, horizon);
    g.restore();
    g.fillStyle = "rgba(40,80,110,.45)";
    g.fillRect(0, horizon, W, H - horizon);
    g.fillStyle = "#2d3b2e";
    g.fillRect(0, H * 0.82, W, H * 0.18);
  } else if (id === "aurora") {
    // A night with stars and northern lights over dark hills.
    verticalGradient(g, H, [[0, "#02040c"], [0.5, "#0b1c2e"], [1, "#040608"]]);
    for (let i = 0; i < 900; i++) {
      const y = rnd() * horizon;
      g.fillStyle = `rgba(255,255,255,${0.3 + rnd() * 0.7})`;
      g.fillRect(rnd() * W, y, rnd() < 0.1 ? 2 : 1, rnd() < 0.1 ? 2 : 1);
    }
    for (const [hue, base, seed] of [[150, 0.28, 1], [120, 0.33, 3], [280, 0.22, 5]]) {
      for (let x = 0; x < W; x += 3) {
        const y = H * base + ridge(x, [2, 5], seed) * 40;
        const grad = g.createLinearGradient(0, y - 120, 0, y + 20);
        grad.addColorStop(0, `hsla(${hue},90%,60%,0)`);
        grad.addColorStop(0.8, `hsla(${hue},90%,60%,.35)`);
        grad.addColorStop(1, `hsla(${hue},90%,60%,0)`);
        g.fillStyle = grad;
        g.fillRect(x, y - 120, 3, 140);
      }
    }
    mountains("#05080a", horizon + 10, 90, [4, 9, 17], 3);
    g.fillStyle = "#05080a";
    g.fillRect(0, horizon, W, H - horizon);
  } else {
    // A beach at sunset: the sun on one side, the sea all around.
    // The sea (whole canvas), then the sky with the sun above the horizon.
    verticalGradient(g, H, [[0.5, "#3b3f6e"], [0.62, "#5a4a6a"], [0.7, "#c99a6a"], [1, "#e6c48e"]]);
    const sx = W * 0.5;
    const { c: sky, g: sg } = canvas(W, horizon);
    verticalGradient(sg, horizon, [[0, "#2b2d5c"], [0.5, "#b45a6e"], [0.85, "#f29f58"], [1, "#ffd07a"]]);
    const sun = sg.createRadialGradient(sx, horizon - 30, 5, sx, horizon - 30, 260);
    sun.addColorStop(0, "rgba(255,240,200,1)");
    sun.addColorStop(0.15, "rgba(255,210,130,.9)");
    sun.addColorStop(1, "rgba(255,180,100,0)");
    sg.fillStyle = sun;
    sg.fillRect(sx - 260, horizon - 290, 520, 290);
    g.drawImage(sky, 0, 0);
    for (let i = 0; i < 300; i++) {
      const y = horizon + rnd() * H * 0.18;
      const near = Math.abs((rnd() * W) - sx) < 200;
      g.fillStyle = near ? "rgba(255,220,150,.6)" : "rgba(255,255,255,.15)";
      g.fillRect(near ? sx - 200 + rnd() * 400 : rnd() * W, y, 10 + rnd() * 40, 2);
    }
    mountains("#2a2036", horizon + 2, 25, [6, 15], 4);
  }
  return c;
}

/**
 * A person's own picture, scaled down to at most 1280x720. It stays in this
 * page: nothing is uploaded. @param {ImageBitmap} bitmap (closed here)
 */
export function ownPicture(bitmap) {
  const scale = Math.min(1, 1280 / bitmap.width, 720 / bitmap.height);
  const { c, g } = canvas(Math.max(1, Math.round(bitmap.width * scale)), Math.max(1, Math.round(bitmap.height * scale)));
  g.drawImage(bitmap, 0, 0, c.width, c.height);
  bitmap.close();
  return c;
}

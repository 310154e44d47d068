// @ts-check
/**
 * The WebGL2 renderer: one camera frame in, one processed frame out, drawn
 * into `canvas`. Per frame:
 *   1. (blur only) the frame is shrunk into a small texture and blurred
 *      there (two separable Gaussian passes, twice for "strong"): blurring a
 *      160x90 or 80x45 picture costs almost nothing, even in software GL;
 *   2. one composite pass mixes the camera and the background (blurred frame,
 *      picture, or a view into a 360° panorama) through the person mask, then
 *      grades the colours (mood lighting);
 *   3. (AR only) a sprite is drawn over the head.
 * Orientation: `uv` follows GL (0 at the bottom). Pictures from outside
 * (frames, masks, backgrounds, sprites; often ImageBitmaps, for which
 * UNPACK_FLIP_Y is ignored) are uploaded as they are, top row first, and read
 * through ext(uv); the blur framebuffers are drawn and read in GL's own order.
 * The mask is the person's confidence in alpha (see segmenter.js).
 * It runs in the effects worker (OffscreenCanvas) or on the page.
 */

const VS = `#version 300 es
in vec2 p;
out vec2 uv;
void main() { uv = p * 0.5 + 0.5; gl_Position = vec4(p, 0.0, 1.0); }`;

const COPY_FS = `#version 300 es
precision mediump float;
in vec2 uv; out vec4 o;
uniform sampler2D uTex;
uniform bool uExt;
void main() { o = texture(uTex, uExt ? vec2(uv.x, 1.0 - uv.y) : uv); }`;

// 9 taps folded into 5 linear fetches (weights of a Gaussian with sigma ~ 2 texels).
const BLUR_FS = `#version 300 es
precision mediump float;
in vec2 uv; out vec4 o;
uniform sampler2D uTex;
uniform vec2 uStep;
void main() {
  vec4 c = texture(uTex, uv) * 0.227027;
  c += (texture(uTex, uv + uStep * 1.384615) + texture(uTex, uv - uStep * 1.384615)) * 0.316216;
  c += (texture(uTex, uv + uStep * 3.230769) + texture(uTex, uv - uStep * 3.230769)) * 0.070270;
  o = c;
}`;

const COMPOSITE_FS = `#version 300 es
precision highp float;
in vec2 uv; out vec4 o;
uniform sampler2D uFrame;
uniform sampler2D uMask;
uniform sampler2D uBg;
uniform int uMode;        // 0 none, 1 blur (uBg = blurred frame), 2 picture, 3 panorama
uniform int uGrade;       // 0 none, 1 warm, 2 cool, 3 soft, 4 black and white, 5 low-light boost
uniform bool uHasMask;
uniform vec2 uCover;      // picture: scale of uv so it covers the frame
uniform vec2 uView;       // panorama: yaw, pitch (radians)
uniform vec2 uTan;        // panorama: tan of half the field of view, x and y

const float PI = 3.14159265;

vec3 panorama(vec2 q) {
  vec2 n = q * 2.0 - 1.0;
  vec3 d = normalize(vec3(n.x * uTan.x, n.y * uTan.y, 1.0));
  float cp = cos(uView.y), sp = sin(uView.y);
  d = vec3(d.x, d.y * cp + d.z * sp, -d.y * sp + d.z * cp);
  float cy = cos(uView.x), sy = sin(uView.x);
  d = vec3(d.x * cy + d.z * sy, d.y, -d.x * sy + d.z * cy);
  float lon = atan(d.x, d.z);
  float lat = asin(clamp(d.y, -1.0, 1.0));
  return texture(uBg, vec2(lon / (2.0 * PI) + 0.5, 0.5 - lat / PI)).rgb;
}

vec3 grade(vec3 c) {
  float l = dot(c, vec3(0.2126, 0.7152, 0.0722));
  if (uGrade == 1) return clamp(c * vec3(1.10, 1.0, 0.82) + vec3(0.03, 0.01, 0.0), 0.0, 1.0);
  if (uGrade == 2) return clamp(c * vec3(0.86, 0.98, 1.12) + vec3(0.0, 0.01, 0.03), 0.0, 1.0);
  if (uGrade == 3) return clamp(mix(c, vec3(l), 0.15) * 0.85 + 0.10, 0.0, 1.0);
  if (uGrade == 4) { float g = clamp((l - 0.5) * 1.15 + 0.5, 0.0, 1.0); return vec3(g); }
  if (uGrade == 5) {
    vec3 lifted = pow(c, vec3(0.6)) * 1.05;
    float ll = dot(lifted, vec3(0.2126, 0.7152, 0.0722));
    return clamp(mix(vec3(ll), lifted, 1.15), 0.0, 1.0);
  }
  return c;
}

vec2 ext(vec2 q) { return vec2(q.x, 1.0 - q.y); }

void main() {
  vec3 cam = texture(uFrame, ext(uv)).rgb;
  vec3 c = cam;
  if (uMode != 0) {
    vec3 bg;
    if (uMode == 1) bg = texture(uBg, uv).rgb;
    else if (uMode == 2) bg = texture(uBg, ext((uv - 0.5) * uCover + 0.5)).rgb;
    else bg = panorama(uv);
    float person = uHasMask ? texture(uMask, ext(uv)).a : 1.0;
    c = mix(bg, cam, person);
  }
  o = vec4(grade(c), 1.0);
}`;

const SPRITE_VS = `#version 300 es
in vec2 p;
out vec2 uv;
uniform vec4 uRect; // x, y (top-left), w, h in 0..1 of the picture, y down
void main() {
  uv = p * 0.5 + 0.5;
  vec2 xy = vec2(uRect.x + uv.x * uRect.z, 1.0 - (uRect.y + (1.0 - uv.y) * uRect.w));
  gl_Position = vec4(xy * 2.0 - 1.0, 0.0, 1.0);
}`;

const SPRITE_FS = `#version 300 es
precision mediump float;
in vec2 uv; out vec4 o;
uniform sampler2D uTex;
void main() { o = texture(uTex, vec2(uv.x, 1.0 - uv.y)); }`;

export const GRADES = ["none", "warm", "cool", "soft", "bw", "lowlight"];

/**
 * What to draw. background: "none" | "blur-light" | "blur-strong" |
 * "picture" | "panorama"; bgImage: the picture or panorama canvas.
 * @typedef {{background: string, bgImage: any, grade: string,
 *   sprite: {image: any, rect: [number, number, number, number]} | null,
 *   view: [number, number]}} Scene
 */

export class Renderer {
  /** @param {any} canvas an OffscreenCanvas or <canvas> */
  constructor(canvas) {
    this.canvas = canvas;
    const gl = /** @type {WebGL2RenderingContext | null} */ (
      canvas.getContext("webgl2", { alpha: false, antialias: false, depth: false, premultipliedAlpha: false, preserveDrawingBuffer: false })
    );
    if (!gl) throw new Error("WebGL2 is not available");
    this.gl = gl;
    const quad = gl.createBuffer();
    gl.bindBuffer(gl.ARRAY_BUFFER, quad);
    gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1]), gl.STATIC_DRAW);
    this.copy = this.program(VS, COPY_FS);
    this.blur = this.program(VS, BLUR_FS);
    this.composite = this.program(VS, COMPOSITE_FS);
    this.spriteProg = this.program(SPRITE_VS, SPRITE_FS);
    this.frameTex = this.texture(gl.CLAMP_TO_EDGE);
    this.maskTex = this.texture(gl.CLAMP_TO_EDGE);
    this.bgTex = this.texture(gl.REPEAT);
    this.spriteTex = this.texture(gl.CLAMP_TO_EDGE);
    /** @type {any} */
    this.bgUploaded = null;
    /** @type {any} */
    this.spriteUploaded = null;
    this.maskVersion = -1;
    /** Two small framebuffers for the blur, sized on demand. */
    /** @type {Array<{fb: WebGLFramebuffer, tex: WebGLTexture}>} */
    this.small = [];
    this.smallSize = [0, 0];
  }

  /** @param {string} vs @param {string} fs */
  program(vs, fs) {
    const gl = this.gl;
    const p = /** @type {WebGLProgram} */ (gl.createProgram());
    for (const [type, src] of /** @type {Array<[number, string]>} */ ([[gl.VERTEX_SHADER, vs], [gl.FRAGMENT_SHADER, fs]])) {
      const s = /** @type {WebGLShader} */ (gl.createShader(type));
      gl.shaderSource(s, src);
      gl.compileShader(s);
      if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(`shader: ${gl.getShaderInfoLog(s)}`);
      gl.attachShader(p, s);
    }
    gl.bindAttribLocation(p, 0, "p");
    gl.linkProgram(p);
    if (!gl.getProgramParameter(p, gl.LINK_STATUS)) throw new Error(`program: ${gl.getProgramInfoLog(p)}`);
    /** @type {Map<string, WebGLUniformLocation | null>} */
    const locs = new Map();
    return { p, u: (/** @type {string} */ name) => (locs.has(name) ? locs.get(name) : locs.set(name, gl.getUniformLocation(p, name)).get(name)) ?? null };
  }

  /** @param {number} wrap */
  texture(wrap) {
    const gl = this.gl;
    const t = /** @type {WebGLTexture} */ (gl.createTexture());
    gl.bindTexture(gl.TEXTURE_2D, t);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.LINEAR);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.LINEAR);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, wrap);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
    return t;
  }

  /** @param {WebGLTexture} tex @param {TexImageSource} source */
  upload(tex, source) {
    const gl = this.gl;
    gl.bindTexture(gl.TEXTURE_2D, tex);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, gl.RGBA, gl.UNSIGNED_BYTE, source);
  }

  /** @param {number} w @param {number} h */
  ensureSmall(w, h) {
    if (this.smallSize[0] === w && this.smallSize[1] === h) return;
    const gl = this.gl;
    for (const s of this.small) {
      gl.deleteFramebuffer(s.fb);
      gl.deleteTexture(s.tex);
    }
    this.small = [0, 1].map(() => {
      const tex = this.texture(gl.CLAMP_TO_EDGE);
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, w, h, 0, gl.RGBA, gl.UNSIGNED_BYTE, null);
      const fb = /** @type {WebGLFramebuffer} */ (gl.createFramebuffer());
      gl.bindFramebuffer(gl.FRAMEBUFFER, fb);
      gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, tex, 0);
      return { fb, tex };
    });
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    this.smallSize = [w, h];
  }

  /** @param {WebGLFramebuffer | null} fb @param {number} w @param {number} h */
  target(fb, w, h) {
    const gl = this.gl;
    gl.bindFramebuffer(gl.FRAMEBUFFER, fb);
    gl.viewport(0, 0, w, h);
  }

  drawQuad() {
    const gl = this.gl;
    gl.enableVertexAttribArray(0);
    gl.vertexAttribPointer(0, 2, gl.FLOAT, false, 0, 0);
    gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
  }

  /**
   * Draws one frame. @param {TexImageSource} frame @param {number} w @param {number} h
   * @param {Scene} scene @param {{image: any, version: number, has: boolean}} mask
   */
  draw(frame, w, h, scene, mask) {
    const gl = this.gl;
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
    }
    gl.activeTexture(gl.TEXTURE0);
    this.upload(this.frameTex, frame);
    const mode = { none: 0, "blur-light": 1, "blur-strong": 1, picture: 2, panorama: 3 }[scene.background] ?? 0;
    const useMask = mode !== 0 && mask.has && !!mask.image;
    if (useMask && mask.version !== this.maskVersion) {
      this.upload(this.maskTex, mask.image);
      this.maskVersion = mask.version;
    }
    let bg = this.bgTex;
    if (mode === 1) bg = this.blurred(w, h, scene.background === "blur-strong");
    if ((mode === 2 || mode === 3) && scene.bgImage && scene.bgImage !== this.bgUploaded) {
      gl.activeTexture(gl.TEXTURE0);
      this.upload(this.bgTex, scene.bgImage);
      this.bgUploaded = scene.bgImage;
    }

    const c = this.composite;
    this.target(null, w, h);
    gl.useProgram(c.p);
    gl.activeTexture(gl.TEXTURE0);
    gl.bindTexture(gl.TEXTURE_2D, this.frameTex);
    gl.activeTexture(gl.TEXTURE1);
    gl.bindTexture(gl.TEXTURE_2D, this.maskTex);
    gl.activeTexture(gl.TEXTURE2);
    gl.bindTexture(gl.TEXTURE_2D, bg);
    gl.uniform1i(c.u("uFrame"), 0);
    gl.uniform1i(c.u("uMask"), 1);
    gl.uniform1i(c.u("uBg"), 2);
    gl.uniform1i(c.u("uMode"), mode);
    gl.uniform1i(c.u("uGrade"), Math.max(0, GRADES.indexOf(scene.grade)));
    gl.uniform1i(c.u("uHasMask"), useMask ? 1 : 0);
    if (mode === 2 && scene.bgImage) {
      // Cover: keep the picture's aspect, crop what overflows.
      const frameAspect = w / h;
      const imgAspect = scene.bgImage.width / scene.bgImage.height;
      gl.uniform2f(c.u("uCover"), frameAspect > imgAspect ? 1 : frameAspect / imgAspect, frameAspect > imgAspect ? imgAspect / frameAspect : 1);
    }
    if (mode === 3) {
      const tanX = Math.tan((75 * Math.PI) / 180 / 2);
      gl.uniform2f(c.u("uTan"), tanX, (tanX * h) / w);
      gl.uniform2f(c.u("uView"), scene.view[0], scene.view[1]);
    }
    this.drawQuad();

    if (scene.sprite) {
      const s = this.spriteProg;
      gl.useProgram(s.p);
      gl.activeTexture(gl.TEXTURE0);
      if (scene.sprite.image !== this.spriteUploaded) {
        this.upload(this.spriteTex, scene.sprite.image);
        this.spriteUploaded = scene.sprite.image;
      }
      gl.bindTexture(gl.TEXTURE_2D, this.spriteTex);
      gl.uniform1i(s.u("uTex"), 0);
      gl.uniform4f(s.u("uRect"), ...scene.sprite.rect);
      gl.enable(gl.BLEND);
      gl.blendFunc(gl.SRC_ALPHA, gl.ONE_MINUS_SRC_ALPHA);
      this.drawQuad();
      gl.disable(gl.BLEND);
    }
  }

  /** Shrinks and blurs the frame (already in frameTex). @param {number} w @param {number} h @param {boolean} strong */
  blurred(w, h, strong) {
    const gl = this.gl;
    const down = strong ? 8 : 4;
    const sw = Math.max(8, Math.round(w / down));
    const sh = Math.max(8, Math.round(h / down));
    this.ensureSmall(sw, sh);
    const [a, b] = this.small;
    this.target(a.fb, sw, sh);
    gl.useProgram(this.copy.p);
    gl.activeTexture(gl.TEXTURE0);
    gl.bindTexture(gl.TEXTURE_2D, this.frameTex);
    gl.uniform1i(this.copy.u("uTex"), 0);
    gl.uniform1i(this.copy.u("uExt"), 1);
    this.drawQuad();
    gl.useProgram(this.blur.p);
    gl.uniform1i(this.blur.u("uTex"), 0);
    for (let i = 0; i < (strong ? 2 : 1); i++) {
      this.target(b.fb, sw, sh);
      gl.bindTexture(gl.TEXTURE_2D, a.tex);
      gl.uniform2f(this.blur.u("uStep"), 1 / sw, 0);
      this.drawQuad();
      this.target(a.fb, sw, sh);
      gl.bindTexture(gl.TEXTURE_2D, b.tex);
      gl.uniform2f(this.blur.u("uStep"), 0, 1 / sh);
      this.drawQuad();
    }
    return a.tex;
  }
}

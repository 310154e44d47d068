// @ts-check
/**
 * The video grid: one tile per participant (video, or initials when the
 * camera is off), a name label, a microphone-off mark and a speaking ring.
 * Tiles are keyed by participant id, which is also the stream id of that
 * person's tracks, so a track can arrive before or after its person.
 */
import { t } from "./i18n.js";
import { icon } from "./icons.js";

/** @typedef {import("./protocol.js").Participant} Participant */

/** RMS level (0..1) over a poll window above which someone is speaking. */
const SPEAKING_LEVEL = 0.02;
/** Tiles per page of the grid; the server sends video only for the page shown. */
export const PAGE_SIZE = 25;
/** Small tiles shown beside the featured one in speaker view. */
const STRIP_SIZE = 6;

/** A participant's shared screen is the tile `<id>-screen` (salon_sfu::SCREEN_SUFFIX). */
export const SCREEN_SUFFIX = "-screen";

export class Grid {
  /** @param {HTMLElement} root @param {HTMLElement} audioSink */
  constructor(root, audioSink) {
    this.root = root;
    this.audioSink = audioSink;
    /** @type {Map<string, {el: HTMLElement, video: HTMLVideoElement, audio: HTMLAudioElement | null, info: Participant, self: boolean, hasFrame: boolean}>} */
    this.tiles = new Map();
    /** @type {Map<string, MediaStream>} streams that arrived before their participant */
    this.orphans = new Map();
    /** @type {Map<string, string>} participant id -> their audio track id */
    this.audioTracks = new Map();
    /** @type {Map<string, {energy: number, duration: number}>} last audio energy seen per participant */
    this.energy = new Map();
    /** @type {string[]} display order: self first, then most recent speakers */
    this.order = [];
    this.page = 0;
    this.speakerView = false;
    /** The host's spotlight, for everyone (participant id or null). */
    this.spotlight = /** @type {string | null} */ (null);
    /** Our own pin, which wins over the spotlight. */
    this.pinned = /** @type {string | null} */ (null);
    /** Hide our own tile. */
    this.hideSelf = false;
    /** @type {() => void} called whenever what is on screen changes */
    this.onChange = () => {};
  }

  /** @param {Participant} info @param {boolean} [self] */
  add(info, self = false) {
    if (this.tiles.has(info.id)) return this.update(info);
    const el = document.createElement("figure");
    el.className = "tile";
    el.dataset.participant = info.id;
    const video = document.createElement("video");
    video.autoplay = true;
    video.playsInline = true;
    video.muted = true; // sound plays through the <audio> element
    const initials = document.createElement("div");
    initials.className = "initials";
    initials.setAttribute("aria-hidden", "true");
    // Until the first frame is decoded, the initials stay with "connecting…":
    // never a black box.
    const waiting = document.createElement("span");
    waiting.className = "connecting";
    video.addEventListener("loadeddata", () => {
      const tile = this.tiles.get(info.id);
      if (tile) {
        tile.hasFrame = true;
        this.update(tile.info);
      }
    });
    const caption = document.createElement("figcaption");
    const name = document.createElement("span");
    name.className = "name";
    const muted = document.createElement("span");
    muted.className = "muted-mark";
    muted.setAttribute("role", "img");
    // A microphone with a slash, drawn inline (no emoji font needed).
    muted.innerHTML =
      '<svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round">' +
      '<rect x="9" y="3" width="6" height="11" rx="3"/><path d="M5 11a7 7 0 0 0 14 0M12 18v3M4 4l16 16"/></svg>';
    // A raised hand shows on the tile too, not only in the people list.
    const hand = document.createElement("span");
    hand.className = "hand-mark";
    hand.setAttribute("role", "img");
    hand.innerHTML = icon("hand", 18);
    caption.append(hand, name, muted);
    el.append(video, initials, waiting, caption);
    this.root.append(el);
    this.tiles.set(info.id, { el, video, audio: null, info, self, hasFrame: self });
    if (self) this.order.unshift(info.id);
    else this.order.push(info.id);
    this.update(info);
    const orphan = this.orphans.get(info.id);
    if (orphan) {
      this.orphans.delete(info.id);
      for (const track of orphan.getTracks()) this.attach(info.id, track, orphan);
    }
    this.layout();
  }

  /** @param {Participant} info */
  update(info) {
    const tile = this.tiles.get(info.id);
    if (!tile) return;
    tile.info = info;
    const label = tile.self ? t("room.you", { name: info.name }) : info.name;
    /** @type {HTMLElement} */ (tile.el.querySelector(".name")).textContent = label;
    const initials = /** @type {HTMLElement} */ (tile.el.querySelector(".initials"));
    if (info.avatar) {
      // A signed-in person's avatar stands in for their initials (PROTOCOL.md).
      const img = document.createElement("img");
      img.src = info.avatar;
      img.alt = "";
      img.className = "avatar large";
      initials.replaceChildren(img);
    } else {
      initials.textContent = initialsOf(info.name);
    }
    const mark = /** @type {HTMLElement} */ (tile.el.querySelector(".muted-mark"));
    mark.hidden = info.audio;
    const hand = /** @type {HTMLElement} */ (tile.el.querySelector(".hand-mark"));
    hand.hidden = !info.hand;
    hand.setAttribute("aria-label", t("room.handUp"));
    tile.el.classList.toggle("hand-up", !!info.hand);
    mark.setAttribute("aria-label", t("room.muted"));
    tile.video.setAttribute("aria-label", t("room.videoFrom", { name: info.name }));
    tile.el.classList.toggle("video-off", !info.video);
    const noFrame = info.video && !tile.hasFrame;
    tile.el.classList.toggle("no-frame", noFrame);
    /** @type {HTMLElement} */ (tile.el.querySelector(".connecting")).textContent = info.reconnecting ? t("room.reconnectingTile") : noFrame ? t("room.connectingTile") : "";
    // Their connection dropped: the tile stays, dimmed, until they are back.
    tile.el.classList.toggle("reconnecting", !!info.reconnecting);
  }

  /** @param {string} id */
  remove(id) {
    const tile = this.tiles.get(id);
    if (!tile) return;
    tile.el.remove();
    tile.audio?.remove();
    this.tiles.delete(id);
    this.order = this.order.filter((x) => x !== id);
    this.orphans.delete(id);
    this.audioTracks.delete(id);
    this.energy.delete(id);
    this.layout();
  }

  /**
   * A remote track for participant `id`.
   * @param {string} id @param {MediaStreamTrack} track @param {MediaStream} stream
   */
  attach(id, track, stream) {
    const tile = this.tiles.get(id);
    if (!tile) {
      this.orphans.set(id, stream);
      return;
    }
    if (track.kind === "video") {
      tile.hasFrame = false;
      this.update(tile.info);
      tile.video.srcObject = new MediaStream([track]);
      tile.video.play().catch(() => {});
    } else {
      if (!tile.audio) {
        tile.audio = document.createElement("audio");
        tile.audio.autoplay = true;
        tile.audio.dataset.participant = id;
        this.audioSink.append(tile.audio);
      }
      tile.audio.srcObject = new MediaStream([track]);
      tile.audio.play().catch(() => {});
      this.audioTracks.set(id, track.id);
    }
  }

  /** Our own preview. @param {string} id @param {MediaStreamTrack | null} track */
  setSelfVideo(id, track) {
    const tile = this.tiles.get(id);
    if (!tile) return;
    tile.video.srcObject = track ? new MediaStream([track]) : null;
    tile.el.classList.add("self");
  }

  /**
   * Marks who is speaking. Remote levels are the RMS over the last poll
   * window, from the growth of each inbound audio stream's total energy
   * (getStats): a short word between two polls still counts, which sampling
   * the last packet's level would miss.
   * @param {string} selfId @param {number} selfLevel
   * @param {Map<string, {energy: number, duration: number}>} totals by audio track id
   */
  pollSpeaking(selfId, selfLevel, totals) {
    for (const [id, tile] of this.tiles) {
      let level = 0;
      if (id === selfId) level = selfLevel;
      else {
        const now = totals.get(this.audioTracks.get(id) ?? "");
        const before = this.energy.get(id);
        if (now) {
          if (before && now.duration > before.duration) {
            level = Math.sqrt(Math.max(0, now.energy - before.energy) / (now.duration - before.duration));
          }
          this.energy.set(id, now);
        }
      }
      const speaking = tile.info.audio && level > SPEAKING_LEVEL;
      tile.el.classList.toggle("speaking", speaking);
    }
  }

  /** The room's active speakers (loudest first): move them up the order. @param {string[]} ids */
  setSpeakers(ids) {
    const self = this.order.filter((id) => this.tiles.get(id)?.self);
    const front = ids.filter((id) => this.tiles.has(id) && !self.includes(id));
    this.order = [...self, ...front, ...this.order.filter((id) => !self.includes(id) && !front.includes(id))];
    for (const [id, tile] of this.tiles) tile.el.classList.toggle("active-speaker", ids[0] === id);
    this.layout();
  }

  pages() {
    return Math.max(1, Math.ceil(this.order.length / PAGE_SIZE));
  }

  /** @param {number} delta */
  turnPage(delta) {
    this.page = Math.min(this.pages() - 1, Math.max(0, this.page + delta));
    this.layout();
  }

  /** @param {boolean} on */
  setSpeakerView(on) {
    this.speakerView = on;
    this.layout();
  }

  /** The tile shown large: our pin, else the host's spotlight, else a shared screen. */
  focus() {
    const screen = this.order.find((id) => id.endsWith(SCREEN_SUFFIX) && !this.tiles.get(id)?.self);
    return [this.pinned, this.spotlight, screen].find((id) => id && this.tiles.has(id)) ?? null;
  }

  /** Spotlight, pin and hide-self all re-lay the grid. @param {{spotlight?: string | null, pinned?: string | null, hideSelf?: boolean}} o */
  setFocus(o) {
    if (o.spotlight !== undefined) this.spotlight = o.spotlight;
    if (o.pinned !== undefined) this.pinned = o.pinned;
    if (o.hideSelf !== undefined) this.hideSelf = o.hideSelf;
    this.layout();
  }

  /** Ids shown now, in display order. */
  shown() {
    const order = this.hideSelf ? this.order.filter((id) => !this.tiles.get(id)?.self) : this.order;
    const focus = this.focus();
    if (this.speakerView || focus) {
      const remote = order.filter((id) => !this.tiles.get(id)?.self);
      const featured = focus ?? remote[0] ?? order[0];
      return [featured, ...order.filter((id) => id !== featured).slice(0, STRIP_SIZE)].filter(Boolean);
    }
    this.page = Math.min(this.page, Math.max(0, Math.ceil(order.length / PAGE_SIZE) - 1));
    return order.slice(this.page * PAGE_SIZE, (this.page + 1) * PAGE_SIZE);
  }

  layout() {
    const shown = this.shown();
    const large = this.speakerView || !!this.focus();
    this.root.classList.toggle("speaker-view", large);
    for (const [id, tile] of this.tiles) {
      const i = shown.indexOf(id);
      tile.el.hidden = i < 0;
      tile.el.style.order = String(i);
      tile.el.classList.toggle("featured", large && i === 0);
    }
    const n = Math.max(1, large ? Math.min(shown.length - 1, STRIP_SIZE) : shown.length);
    const cols = large ? Math.max(1, n) : Math.ceil(Math.sqrt(n));
    this.root.style.setProperty("--cols", String(cols));
    this.root.style.setProperty("--rows", String(Math.ceil(n / cols)));
    this.onChange();
  }

  /** Remote tiles on screen with their height in device pixels (for the server's `view`). */
  visible() {
    const ratio = window.devicePixelRatio || 1;
    return this.shown()
      .map((id) => this.tiles.get(id))
      .filter((t) => t && !t.self && t.info.video)
      .map((t) => ({ id: /** @type {any} */ (t).info.id, height: Math.round(/** @type {any} */ (t).el.getBoundingClientRect().height * ratio) }));
  }

  relabel() {
    for (const tile of this.tiles.values()) this.update(tile.info);
  }
}

/** @param {string} name */
export function initialsOf(name) {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? [parts[0], parts[parts.length - 1]] : parts;
  return letters.map((p) => Array.from(p)[0]?.toUpperCase() ?? "").join("") || "?";
}

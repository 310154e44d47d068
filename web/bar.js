// @ts-check
/**
 * The room's control bar, its "More" menu, the side panels and the keyboard
 * shortcuts.
 *
 * - The bar is one row that never wraps or scrolls: `fit()` moves the
 *   buttons that do not fit into "More", least needed first (layout, react,
 *   share…), and back when there is room again. Microphone, camera, More and
 *   Leave always stay.
 * - One side panel at a time (people, chat or effects), each with a close
 *   button; Escape closes the menu, then the panel. On phones a panel covers
 *   the whole screen (style.css), so the tiles are never crushed.
 * - Shortcuts are single keys, ignored while typing in a field or with a
 *   modifier held, and listed by `?`.
 */
import { t } from "./i18n.js";
import { icon, setIconButton } from "./icons.js";

const $ = (/** @type {string} */ id) => /** @type {any} */ (document.getElementById(id));

/** Bar buttons, in their order on the bar (More and Leave follow). */
const BAR = ["mic-btn", "cam-btn", "share-btn", "hand-btn", "react-btn", "chat-btn", "people-btn", "view-btn"];
/** Which bar buttons go into "More" first when the bar is too narrow. */
const OVERFLOW = ["view-btn", "react-btn", "share-btn", "people-btn", "hand-btn", "chat-btn"];
/** Side panels and the button that opens each. */
const PANELS = /** @type {const} */ ({ people: "people-btn", chat: "chat-btn", "effects-room": "effects-btn" });

/** Key, the button it presses (or a special action), and its description. */
export const SHORTCUTS = [
  ["M", "mic-btn", "keys.mic"],
  ["V", "cam-btn", "keys.cam"],
  ["H", "hand-btn", "keys.hand"],
  ["C", "chat-btn", "keys.chat"],
  ["P", "people-btn", "keys.people"],
  ["L", "view-btn", "keys.layout"],
  ["?", "keys-btn", "keys.help"],
  ["Esc", "", "keys.escape"],
];

/**
 * @typedef {{
 *   micOn: boolean, camOn: boolean, sharing: boolean, canShare: boolean, hand: boolean,
 *   unread: number, hands: number, moderates: boolean, speakerView: boolean,
 *   music: boolean, hideSelf: boolean,
 * }} BarState
 */

export class Bar {
  /** @param {{onPanel: (name: string | null) => void}} opts */
  constructor({ onPanel }) {
    this.onPanel = onPanel;
    /** @type {string | null} the open side panel */
    this.panel = null;
    this.active = false;
    for (const [name, button] of Object.entries(PANELS)) {
      $(button).addEventListener("click", () => this.toggle(name));
    }
    for (const id of ["people-close", "chat-close"]) {
      $(id).insertAdjacentHTML("afterbegin", icon("close", 20));
      $(id).addEventListener("click", () => this.open(null));
    }
    $("more-btn").addEventListener("click", () => this.more());
    $("more-menu").addEventListener("click", (/** @type {Event} */ e) => {
      if (/** @type {HTMLElement} */ (e.target).closest("button")) this.more(false);
    });
    $("keys-btn").addEventListener("click", () => this.showKeys());
    $("keys-close").addEventListener("click", () => $("keys-dialog").close());
    document.addEventListener("keydown", (e) => this.key(e));
    new ResizeObserver(() => this.fit()).observe($("bar"));
  }

  /** Opens one side panel (closing the others), or none. @param {string | null} name */
  open(name) {
    const was = this.panel;
    this.panel = name;
    for (const [panel, button] of Object.entries(PANELS)) {
      $(panel).hidden = panel !== name;
      $(button).setAttribute("aria-expanded", String(panel === name));
    }
    $("in-room").classList.toggle("with-side", !!name);
    if (name) {
      // The close button first (the chat then puts the focus in its field).
      $(name).querySelector(".side-head button, select, button")?.focus();
    } else if (was) {
      const button = $(PANELS[/** @type {keyof typeof PANELS} */ (was)]);
      (button.closest("#more-menu") ? $("more-btn") : button).focus();
    }
    this.onPanel(name);
  }

  /** @param {string} name */
  toggle(name) {
    this.open(this.panel === name ? null : name);
  }

  /** @param {boolean} [open] */
  more(open = $("more-menu").hidden) {
    $("more-menu").hidden = !open;
    $("more-btn").setAttribute("aria-expanded", String(open));
    if (open) $("more-menu").querySelector("button:not([hidden])")?.focus();
  }

  /** Puts every button back on the bar, then moves what does not fit into "More". */
  fit() {
    const bar = $("bar");
    const menu = $("more-menu");
    for (const id of BAR) bar.insertBefore($(id), $("more-btn"));
    for (const id of OVERFLOW) {
      if (bar.scrollWidth <= bar.clientWidth + 1) break;
      if (!$(id).hidden) menu.prepend($(id));
    }
    bar.classList.toggle("overflowing", bar.scrollWidth > bar.clientWidth + 1);
  }

  showKeys() {
    this.more(false);
    $("keys-list").replaceChildren(
      ...SHORTCUTS.flatMap(([key, , desc]) => {
        const dt = document.createElement("dt");
        const kbd = document.createElement("kbd");
        kbd.textContent = key;
        dt.append(kbd);
        const dd = document.createElement("dd");
        dd.textContent = t(desc);
        return [dt, dd];
      }),
    );
    $("keys-dialog").showModal();
  }

  /** @param {KeyboardEvent} e */
  key(e) {
    if (!this.active) return;
    if (e.key === "Escape") {
      if (!$("more-menu").hidden) {
        this.more(false);
        $("more-btn").focus();
      } else if (this.panel && !document.querySelector("dialog[open]")) {
        this.open(null);
      }
      return;
    }
    const el = /** @type {HTMLElement} */ (e.target);
    if (e.ctrlKey || e.metaKey || e.altKey || el.closest("input, textarea, select, [contenteditable], dialog")) return;
    const hit = SHORTCUTS.find(([key]) => key.toLowerCase() === e.key.toLowerCase());
    const button = hit?.[1] && $(hit[1]);
    if (!button || button.hidden) return;
    e.preventDefault();
    button.click();
  }

  /** Icons, names and states of every control. @param {BarState} s */
  render(s) {
    /** @type {[string, string, string, string][]} id, icon, name, visible text */
    const items = [
      ["mic-btn", s.micOn ? "mic" : "micOff", t(s.micOn ? "room.micOn" : "room.micOff"), t(s.micOn ? "bar.micOn" : "bar.micOff")],
      ["cam-btn", s.camOn ? "cam" : "camOff", t(s.camOn ? "room.camOn" : "room.camOff"), t("bar.cam")],
      ["share-btn", "screen", t(s.sharing ? "room.shareStop" : "room.share"), t(s.sharing ? "bar.shareStop" : "bar.share")],
      ["hand-btn", "hand", t(s.hand ? "room.lowerHand" : "room.raiseHand"), t("bar.hand")],
      ["react-btn", "smile", t("react.title"), t("react.title")],
      ["chat-btn", "chat", s.unread ? t("chat.unread", { count: s.unread }) : t("chat.title"), t("chat.title")],
      [
        "people-btn",
        s.moderates ? "host" : "people",
        t(this.panel === "people" ? (s.moderates ? "room.hostHide" : "room.participantsHide") : s.moderates ? "room.hostShow" : "room.participantsShow") +
          (s.hands ? ` (${t("room.handsCount", { count: s.hands })})` : ""),
        t(s.moderates ? "bar.host" : "bar.people"),
      ],
      ["view-btn", s.speakerView ? "grid" : "speaker", t(s.speakerView ? "room.gridView" : "room.speakerView"), t(s.speakerView ? "bar.grid" : "bar.speaker")],
      ["more-btn", "more", t("room.more"), t("room.more")],
      ["leave-btn", "leave", t("room.leave"), t("room.leave")],
      ["effects-btn", "sparkle", t("fx.button"), t("fx.button")],
      ["music-btn", "music", t(s.music ? "room.musicOn" : "room.musicOff"), t(s.music ? "room.musicOn" : "room.musicOff")],
      ["selfview-btn", "eye", t(s.hideSelf ? "room.showSelf" : "room.hideSelf"), t(s.hideSelf ? "room.showSelf" : "room.hideSelf")],
      ["invite-btn", "share", t("share.button"), t("share.button")],
      ["report-btn", "flag", t("report.button"), t("report.button")],
      ["keys-btn", "keyboard", t("keys.button"), t("keys.button")],
    ];
    for (const [id, name, label, short] of items) setIconButton($(id), name, label, short);
    $("mic-btn").classList.toggle("off", !s.micOn);
    $("cam-btn").classList.toggle("off", !s.camOn);
    $("share-btn").hidden = !s.canShare;
    $("share-btn").setAttribute("aria-pressed", String(s.sharing));
    $("hand-btn").setAttribute("aria-pressed", String(s.hand));
    $("hand-btn").classList.toggle("on", s.hand);
    $("music-btn").setAttribute("aria-pressed", String(s.music));
    badge($("chat-btn"), s.unread);
    badge($("people-btn"), s.hands);
    this.fit();
  }
}

/** A small count on a button (aria-hidden: the name already says it). @param {HTMLElement} button @param {number} n */
function badge(button, n) {
  let b = /** @type {HTMLElement | null} */ (button.querySelector(".count"));
  if (!b) {
    b = document.createElement("span");
    b.className = "count";
    b.setAttribute("aria-hidden", "true");
    button.append(b);
  }
  b.textContent = n ? String(n) : "";
  b.hidden = !n;
}

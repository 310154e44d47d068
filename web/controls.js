// @ts-check
/**
 * Host controls and room life on the room page: the people list with the
 * host's actions, the waiting room (with a knock you can hear), hands,
 * chat, reactions, reports, spotlight and pins.
 *
 * Why the buttons are only shown to hosts but never trusted: every command
 * goes to the server as a signaling message and the server checks the
 * sender's role (rooms/control.rs). Hiding buttons is for calm, not for
 * security.
 */
import { t, currentLang } from "./i18n.js";
import { icon } from "./icons.js";

/** The reactions the server accepts (protocol::REACTIONS). */
export const REACTIONS = ["👏", "❤️", "😂", "😮", "🙏", "👍", "🌿", "✨"];

const $ = (/** @type {string} */ id) => /** @type {any} */ (document.getElementById(id));

/**
 * @typedef {{id: string, name: string, audio: boolean, video: boolean, role?: string, hand?: boolean}} Person
 * @typedef {{locked: boolean, waiting_room: boolean, mute_on_entry: boolean, self_unmute: boolean, spotlight: string | null}} Controls
 * @typedef {{
 *   send: (msg: object) => void,
 *   people: Map<string, Person>,
 *   selfId: () => string,
 *   grid: () => any,
 *   toast: (text: string) => void,
 *   relabel: () => void,
 *   forceMute: () => void,
 *   ended: (titleKey: string, detail: string) => void,
 * }} Context
 */

export class RoomLife {
  /** @param {Context} ctx */
  constructor(ctx) {
    this.ctx = ctx;
    /** @type {Controls} */
    this.controls = { locked: false, waiting_room: false, mute_on_entry: false, self_unmute: true, spotlight: null };
    /** @type {Array<{id: string, name: string}>} */
    this.lobby = [];
    /** @type {string[]} */
    this.hands = [];
    /** @type {string | null} */
    this.pinned = null;
    this.hideSelf = false;
    this.unread = 0;
    this.controlsSeen = false;
    /** Whose "…" menu is open in the people list. @type {string | null} */
    this.menuFor = null;
    this.search = "";
    this.wire();
  }

  me() {
    return this.ctx.people.get(this.ctx.selfId());
  }

  moderates() {
    const role = this.me()?.role;
    return role === "host" || role === "cohost";
  }

  wire() {
    $("mute-all-btn").addEventListener("click", () => this.ctx.send({ type: "mute_all" }));
    $("lock-btn").addEventListener("click", () => this.ctx.send({ type: "lock", locked: !this.controls.locked }));
    $("end-btn").addEventListener("click", () => {
      if (confirm(t("host.endConfirm"))) this.ctx.send({ type: "end_room" });
    });
    for (const id of ["pol-waiting", "pol-mute-entry", "pol-self-unmute"]) {
      $(id).addEventListener("change", () =>
        this.ctx.send({
          type: "policy",
          waiting_room: $("pol-waiting").checked,
          mute_on_entry: $("pol-mute-entry").checked,
          self_unmute: $("pol-self-unmute").checked,
        }),
      );
    }
    $("admit-all-btn").addEventListener("click", () => this.ctx.send({ type: "admit_all" }));
    $("lower-hands-btn").addEventListener("click", () => this.ctx.send({ type: "lower_all_hands" }));
    $("people-search").addEventListener("input", () => {
      this.search = $("people-search").value.trim().toLocaleLowerCase(currentLang());
      this.render();
    });
    $("hand-btn").addEventListener("click", () => this.ctx.send({ type: "hand", raised: !this.me()?.hand }));
    $("react-btn").addEventListener("click", () => {
      const bar = $("reaction-bar");
      bar.hidden = !bar.hidden;
      $("react-btn").setAttribute("aria-expanded", String(!bar.hidden));
      if (!bar.hidden) bar.querySelector("button")?.focus();
    });
    $("reaction-bar").replaceChildren(
      ...REACTIONS.map((emoji) => {
        const b = document.createElement("button");
        b.type = "button";
        b.textContent = emoji;
        b.setAttribute("aria-label", t("react.send", { emoji }));
        b.addEventListener("click", () => this.ctx.send({ type: "react", emoji }));
        return b;
      }),
    );
    $("chat-form").addEventListener("submit", (/** @type {Event} */ e) => {
      e.preventDefault();
      const text = $("chat-input").value.trim();
      if (!text) return;
      this.ctx.send({ type: "chat", text });
      $("chat-input").value = "";
    });
    $("selfview-btn").addEventListener("click", () => {
      this.hideSelf = !this.hideSelf;
      this.ctx.grid()?.setFocus({ hideSelf: this.hideSelf });
      this.render();
    });
    $("report-btn").addEventListener("click", () => this.openReport(null));
    $("report-form").addEventListener("submit", (/** @type {Event} */ e) => {
      e.preventDefault();
      const target = $("report-target").value || null;
      this.ctx.send({ type: "report", id: target, reason: $("report-reason").value });
      $("report-dialog").close();
    });
    $("report-cancel").addEventListener("click", () => $("report-dialog").close());
    $("notice-close").addEventListener("click", () => ($("notice").hidden = true));
  }

  /** A side panel opened or closed (bar.js). @param {string | null} name */
  panelChanged(name) {
    if (name === "chat") {
      this.unread = 0;
      $("chat-input").focus();
    }
    if (name !== "people") this.menuFor = null;
    this.render();
  }

  /** @param {string | null} target */
  openReport(target) {
    const select = $("report-target");
    select.replaceChildren(
      new Option(t("report.theRoom"), ""),
      ...[...this.ctx.people.values()].filter((p) => p.id !== this.ctx.selfId()).map((p) => new Option(p.name, p.id)),
    );
    select.value = target ?? "";
    $("report-reason").value = "";
    $("report-dialog").showModal();
  }

  /** What `joined` says about the room. @param {{controls: Controls, chat: any[]}} joined */
  start(joined) {
    // A `controls` message that came meanwhile is newer than the snapshot.
    if (!this.controlsSeen) this.controls = joined.controls;
    $("chat-log").replaceChildren();
    for (const line of joined.chat ?? []) this.addChat(line, false);
    this.ctx.grid()?.setFocus({ spotlight: this.controls.spotlight });
    this.render();
  }

  /** One host-control or room-life message from the server. @param {any} msg */
  handle(msg) {
    switch (msg.type) {
      case "controls": {
        this.controlsSeen = true;
        const before = this.controls;
        this.controls = msg.controls;
        if (before.spotlight !== msg.controls.spotlight) {
          const p = msg.controls.spotlight && this.ctx.people.get(msg.controls.spotlight);
          if (p) this.ctx.toast(t("room.spotlightOn", { name: p.name }));
        }
        if (before.locked !== msg.controls.locked) this.ctx.toast(t(msg.controls.locked ? "room.lockedToast" : "room.unlockedToast"));
        this.ctx.grid()?.setFocus({ spotlight: msg.controls.spotlight });
        break;
      }
      case "lobby": {
        const grew = msg.waiting.length > this.lobby.length;
        this.lobby = msg.waiting;
        if (grew && this.moderates()) this.knock(msg.waiting[msg.waiting.length - 1]);
        if (!this.lobby.length && $("notice").dataset.kind === "knock") $("notice").hidden = true;
        break;
      }
      case "hands":
        this.hands = msg.ids;
        break;
      case "muted":
        this.ctx.forceMute();
        this.notice(t(this.controls.self_unmute ? "room.mutedByHost" : "room.mutedByHostNoUnmute"), "muted");
        break;
      case "may_unmute":
        this.notice(t("room.mayUnmute"), "unmute");
        break;
      case "video_requested":
        this.notice(t("room.videoRequested"), "video");
        break;
      case "chat":
        this.addChat(msg.line, true);
        break;
      case "reaction":
        this.flyReaction(msg.id, msg.emoji);
        break;
      case "reported":
        this.ctx.toast(t("report.thanks"));
        break;
      case "removed":
        this.ctx.ended("room.removedTitle", t(msg.banned ? "room.bannedDetail" : "room.removedDetail"));
        return;
      case "ended":
        this.ctx.ended("room.endedTitle", t("room.endedDetail"));
        return;
      default:
        return;
    }
    this.render();
  }

  /** A visible and audible knock: someone waits to be let in. @param {{id: string, name: string}} who */
  knock(who) {
    this.notice(t("host.knock", { name: who.name }), "knock", t("host.admit"), () => this.ctx.send({ type: "admit", id: who.id }));
    try {
      const ctx = new AudioContext();
      for (const [i, f] of [660, 880].entries()) {
        const osc = ctx.createOscillator();
        const gain = ctx.createGain();
        gain.gain.setValueAtTime(0.0001, ctx.currentTime + i * 0.18);
        gain.gain.exponentialRampToValueAtTime(0.2, ctx.currentTime + i * 0.18 + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + i * 0.18 + 0.3);
        osc.frequency.value = f;
        osc.connect(gain).connect(ctx.destination);
        osc.start(ctx.currentTime + i * 0.18);
        osc.stop(ctx.currentTime + i * 0.18 + 0.32);
      }
      window.setTimeout(() => ctx.close(), 1000);
    } catch {
      // No audio output: the banner is still there.
    }
  }

  /**
   * @param {string} text @param {string} kind
   * @param {string} [action] @param {() => void} [onAction]
   */
  notice(text, kind, action, onAction) {
    $("notice").hidden = false;
    $("notice").dataset.kind = kind;
    $("notice-text").textContent = text;
    const button = $("notice-action");
    button.hidden = !action;
    button.textContent = action ?? "";
    button.onclick = () => {
      onAction?.();
      $("notice").hidden = true;
    };
  }

  /** @param {{from: string, name: string, text: string, at: number}} line @param {boolean} live */
  addChat(line, live) {
    const li = document.createElement("li");
    const who = document.createElement("strong");
    who.textContent = line.from === this.ctx.selfId() ? t("room.you", { name: line.name }) : line.name;
    const time = document.createElement("time");
    time.dateTime = new Date(line.at).toISOString();
    time.textContent = new Date(line.at).toLocaleTimeString(currentLang(), { hour: "2-digit", minute: "2-digit" });
    const text = document.createElement("p");
    text.textContent = line.text;
    li.append(who, " ", time, text);
    $("chat-log").append(li);
    li.scrollIntoView({ block: "end" });
    if (live && $("chat").hidden && line.from !== this.ctx.selfId()) {
      this.unread += 1;
      this.ctx.toast(`${line.name}: ${line.text}`);
    }
  }

  /** @param {string} id @param {string} emoji */
  flyReaction(id, emoji) {
    const el = document.createElement("span");
    el.className = "reaction";
    el.textContent = emoji;
    el.style.left = `${10 + Math.random() * 80}%`;
    $("reactions-fly").append(el);
    window.setTimeout(() => el.remove(), 3000);
    const p = this.ctx.people.get(id);
    if (p) $("reaction-live").textContent = t("react.from", { name: p.name, emoji });
  }

  /** @param {string} label @param {() => void} onClick @param {string} [cls] */
  static button(label, onClick, cls) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    if (cls) b.className = cls;
    b.addEventListener("click", onClick);
    return b;
  }

  /** The people list, host panel, lobby, hands and control labels. */
  render() {
    const mod = this.moderates();
    const me = this.me();
    const selfId = this.ctx.selfId();
    const B = RoomLife.button;
    $("host-panel").hidden = !mod;
    $("lock-btn").textContent = t(this.controls.locked ? "host.unlock" : "host.lock");
    $("end-btn").hidden = me?.role !== "host";
    $("pol-waiting").checked = this.controls.waiting_room;
    $("pol-mute-entry").checked = this.controls.mute_on_entry;
    $("pol-self-unmute").checked = this.controls.self_unmute;
    $("locked-badge").hidden = !this.controls.locked;
    $("lobby").hidden = !mod || !this.lobby.length;
    $("lobby-list").replaceChildren(
      ...this.lobby.map((w) => {
        const li = document.createElement("li");
        li.append(
          w.name,
          " ",
          B(t("host.admit"), () => this.ctx.send({ type: "admit", id: w.id })),
          B(t("host.deny"), () => this.ctx.send({ type: "deny", id: w.id })),
        );
        li.querySelectorAll("button").forEach((b, i) => b.setAttribute("aria-label", `${t(i ? "host.deny" : "host.admit")}: ${w.name}`));
        return li;
      }),
    );
    $("hands").hidden = !mod || !this.hands.length;
    $("lower-hands-btn").hidden = !this.hands.length;
    $("hands-list").replaceChildren(
      ...this.hands.map((id) => {
        const li = document.createElement("li");
        const p = this.ctx.people.get(id);
        li.append(p?.name ?? "?", " ");
        if (!this.controls.self_unmute) li.append(B(t("host.allowUnmute"), () => this.ctx.send({ type: "allow_unmute", id })));
        li.append(B(t("host.lowerHand"), () => this.ctx.send({ type: "lower_hand", id })));
        return li;
      }),
    );
    const shown = [...this.ctx.people.values()].filter((p) => !this.search || p.name.toLocaleLowerCase(currentLang()).includes(this.search));
    // Raised hands first (in the order they went up), then everyone else.
    const rank = (/** @type {Person} */ p) => (p.hand ? this.hands.indexOf(p.id) : this.hands.length + 1);
    shown.sort((a, b) => rank(a) - rank(b));
    // Re-rendering must not lose the focus inside an open "…" menu.
    const focused = /** @type {HTMLElement | null} */ (document.activeElement)?.closest?.("#people-list") ? document.activeElement?.getAttribute("aria-label") : null;
    $("people-list").replaceChildren(...shown.map((p) => this.personItem(p, mod, selfId)));
    if (focused) /** @type {HTMLElement | null} */ ([...$("people-list").querySelectorAll("button")].find((b) => b.getAttribute("aria-label") === focused))?.focus();
    $("alone").hidden = !this.ctx.grid() || this.ctx.people.size > 1;
    this.ctx.relabel();
  }

  /**
   * One person: name, role and state marks, and a "…" button that opens
   * their actions (the host's ones for moderators). One menu open at a time.
   * @param {Person} p @param {boolean} mod @param {string} selfId
   */
  personItem(p, mod, selfId) {
    const B = RoomLife.button;
    const li = document.createElement("li");
    li.className = "person";
    const marks = [
      p.role === "host" ? t("role.host") : p.role === "cohost" ? t("role.cohost") : "",
      p.hand ? t("room.handUp") : "",
      p.audio ? "" : t("room.muted"),
      p.video ? "" : t("room.cameraOff"),
      this.controls.spotlight === p.id ? t("room.spotlit") : "",
    ].filter(Boolean);
    const name = p.id === selfId ? t("room.you", { name: p.name }) : p.name;
    const label = document.createElement("span");
    label.className = "person-name";
    label.textContent = name;
    const state = document.createElement("span");
    state.className = "person-marks";
    state.textContent = marks.join(", ");
    const text = document.createElement("div");
    text.append(label, state);
    li.append(text);
    if (p.hand) li.insertAdjacentHTML("afterbegin", icon("hand", 18));
    const open = this.menuFor === p.id;
    const toggle = B("", () => {
      this.menuFor = open ? null : p.id;
      this.render();
      if (!open) /** @type {HTMLElement | null} */ ($("people-list").querySelector(".person-actions button"))?.focus();
    }, "icon-only");
    toggle.innerHTML = icon("more", 20);
    toggle.setAttribute("aria-label", t("people.actions", { name: p.name }));
    toggle.setAttribute("aria-expanded", String(open));
    li.append(toggle);
    if (!open) return li;
    const actions = document.createElement("div");
    actions.className = "person-actions";
    actions.setAttribute("role", "group");
    actions.setAttribute("aria-label", t("people.actions", { name: p.name }));
    /** @param {string} key @param {() => void} fn */
    const act = (key, fn) => {
      const b = B(t(key), () => {
        this.menuFor = null;
        fn();
        this.render();
      });
      b.setAttribute("aria-label", `${t(key)}: ${p.name}`);
      actions.append(b);
    };
    const pinned = this.pinned === p.id;
    act(pinned ? "room.unpin" : "room.pin", () => {
      this.pinned = pinned ? null : p.id;
      this.ctx.grid()?.setFocus({ pinned: this.pinned });
    });
    const me = this.me();
    const reachable = p.role !== "host" && (p.role !== "cohost" || me?.role === "host");
    if (mod) {
      const lit = this.controls.spotlight === p.id;
      act(lit ? "host.unspotlight" : "host.spotlight", () => this.ctx.send({ type: "spotlight", id: lit ? null : p.id }));
      if (p.hand) {
        if (!this.controls.self_unmute) act("host.allowUnmute", () => this.ctx.send({ type: "allow_unmute", id: p.id }));
        act("host.lowerHand", () => this.ctx.send({ type: "lower_hand", id: p.id }));
      }
    }
    if (mod && p.id !== selfId && reachable) {
      if (p.audio) act("host.mute", () => this.ctx.send({ type: "mute", id: p.id }));
      if (!p.video) act("host.askVideo", () => this.ctx.send({ type: "ask_video", id: p.id }));
      if (me?.role === "host") {
        const co = p.role === "cohost";
        act(co ? "host.uncohost" : "host.cohost", () => this.ctx.send({ type: "cohost", id: p.id, on: !co }));
      }
      act("host.remove", () => {
        if (confirm(t("host.removeConfirm", { name: p.name }))) this.ctx.send({ type: "remove", id: p.id, ban: false });
      });
      act("host.ban", () => {
        if (confirm(t("host.banConfirm", { name: p.name }))) this.ctx.send({ type: "remove", id: p.id, ban: true });
      });
    }
    if (p.id !== selfId) act("report.person", () => this.openReport(p.id));
    li.append(actions);
    return li;
  }
}

// @ts-check
/**
 * Calls on every signed-in page (issue 17): the incoming call (a ring made
 * with WebAudio, a Notification where allowed, accept or decline, who else
 * is called), missed calls, and `callFriends` to start a call.
 *
 * Rings come through the account's event stream (`events.js`, event
 * `calls`): the server sends the whole `CallsNow` at once and on each
 * change, and stops listing a ring after 30 s; this page also stops
 * ringing by itself after 30 s in case the stream is slow to say so.
 */
import { t, onLangChange, currentLang } from "./i18n.js";
import { api, messageOf } from "./api.js";
import { accountEvents } from "./events.js";

/** How long a ring lasts (the server's RING_MS). */
const RING_MS = 30000;

/**
 * @typedef {{username: string, display_name: string, avatar: string | null}} Person
 * @typedef {{id: string, path: string, caller: Person, others: string[]}} Ring
 * @typedef {{username: string, display_name: string, answer: "ringing"|"accepted"|"declined"|"busy"|"missed"}} Callee
 * @typedef {{id: string, path: string, caller: Person, callees: Callee[], ended: boolean}} CallView
 * @typedef {{id: string, caller: Person, at: number}} MissedCall
 * @typedef {{ringing: Ring[], mine: CallView[], missed: MissedCall[]}} CallsNow
 */

/**
 * Calls friends (1 to 7) and goes to the call's room, which joins at once.
 * @param {string[]} usernames
 */
export async function callFriends(usernames) {
  /** @type {CallView} */
  const call = await api("POST", "/api/calls", { usernames });
  location.assign(`${call.path}?call=1`);
}

/** @type {CallsNow} */
let now = { ringing: [], mine: [], missed: [] };
/** Rings dismissed here (declined, or timed out on this page). */
const dismissed = new Set();
/** @type {Map<string, number>} ring id -> local timeout */
const timers = new Map();
/** @type {((calls: CallsNow) => void)[]} */
const listeners = [];

/** Follows my calls: `fn` gets every new CallsNow. @param {(calls: CallsNow) => void} fn */
export function onCalls(fn) {
  listeners.push(fn);
  fn(now);
}

/** Starts the ringer and the missed-calls list on a signed-in page. */
export function startCalls() {
  accountEvents().addEventListener("calls", (e) => {
    now = JSON.parse(/** @type {MessageEvent} */ (e).data);
    // A ring that left the list and comes back (rung again) is a new ring.
    const live = new Set(now.ringing.map((r) => r.id));
    for (const id of [...dismissed]) if (!live.has(id)) dismissed.delete(id);
    for (const [id, timer] of timers) {
      if (!live.has(id)) {
        window.clearTimeout(timer);
        timers.delete(id);
      }
    }
    draw();
    for (const fn of listeners) fn(now);
  });
  onLangChange(draw);
}

function draw() {
  const ring = now.ringing.find((r) => !dismissed.has(r.id)) ?? null;
  showRing(ring);
  drawMissed();
}

/** The incoming call box, or none. @param {Ring | null} r */
function showRing(r) {
  let box = document.getElementById("incoming-call");
  if (!r) {
    box?.remove();
    ringer.stop();
    return;
  }
  if (!timers.has(r.id)) {
    warmRoomPage();
    timers.set(r.id, window.setTimeout(() => {
      dismissed.add(r.id);
      draw();
    }, RING_MS));
    notify(r);
  }
  if (!box) {
    box = document.createElement("section");
    box.id = "incoming-call";
    box.className = "incoming-call";
    box.setAttribute("role", "alertdialog");
    box.setAttribute("aria-labelledby", "incoming-call-title");
    document.body.append(box);
  }
  box.dataset.call = r.id;
  const title = document.createElement("h2");
  title.id = "incoming-call-title";
  title.textContent = t("call.incoming", { name: r.caller.display_name });
  const others = document.createElement("p");
  others.textContent = r.others.length ? t("call.alsoCalled", { names: r.others.join(", ") }) : "";
  others.hidden = !r.others.length;
  const status = document.createElement("p");
  status.setAttribute("role", "status");
  const accept = document.createElement("button");
  accept.type = "button";
  accept.className = "primary";
  accept.textContent = t("call.accept");
  accept.addEventListener("click", () => {
    ringer.stop();
    // The answer goes out while the room page loads (keepalive outlives
    // this page); being called is what admits, not the answer, so the
    // room does not wait for it.
    fetch(`/api/calls/${r.id}/accept`, { method: "POST", keepalive: true }).catch(() => {});
    location.assign(`${r.path}?call=1`);
  });
  const decline = document.createElement("button");
  decline.type = "button";
  decline.className = "danger";
  decline.textContent = t("call.decline");
  decline.addEventListener("click", async () => {
    dismissed.add(r.id);
    draw();
    await api("POST", `/api/calls/${r.id}/decline`).catch(() => {});
  });
  const row = document.createElement("div");
  row.className = "row";
  row.append(accept, decline);
  box.replaceChildren(title, others, row, status);
  ringer.start();
}

let warmed = false;
/**
 * While it rings, fetch the room page's modules and styles into the HTTP
 * cache (their URLs are versioned and immutable), so that Accept opens the
 * call without waiting for them: about a third of a second on this
 * machine's tests.
 */
function warmRoomPage() {
  if (warmed) return;
  warmed = true;
  const map = document.querySelector('script[type="importmap"]');
  /** @type {Record<string, string>} */
  let imports = {};
  try {
    imports = JSON.parse(map?.textContent ?? "{}").imports ?? {};
  } catch {
    return;
  }
  const urls = Object.values(imports);
  const version = urls[0]?.split("?v=")[1];
  if (version) urls.push(`/style.css?v=${version}`, `/effects/effects.css?v=${version}`);
  for (const url of urls) fetch(url).catch(() => {});
}

/** A system notification where the person allowed them. @param {Ring} r */
function notify(r) {
  if (typeof Notification === "undefined" || Notification.permission !== "granted") return;
  try {
    const n = new Notification(t("call.incoming", { name: r.caller.display_name }), {
      body: r.others.length ? t("call.alsoCalled", { names: r.others.join(", ") }) : t("call.notificationBody"),
      tag: `call-${r.id}`,
    });
    n.onclick = () => window.focus();
    window.setTimeout(() => n.close(), RING_MS);
  } catch {
    // Some browsers allow notifications only from a service worker.
  }
}

/** The ring tone: two tones together (440 + 480 Hz), 2 s on, 4 s off, made with WebAudio. */
const ringer = {
  /** @type {AudioContext | null} */ ctx: null,
  timer: 0,
  start() {
    if (this.ctx) return;
    try {
      this.ctx = new AudioContext();
    } catch {
      return;
    }
    const burst = () => {
      const ctx = this.ctx;
      if (!ctx) return;
      const gain = ctx.createGain();
      const at = ctx.currentTime + 0.05;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.2, at + 0.05);
      gain.gain.setValueAtTime(0.2, at + 1.9);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 2);
      gain.connect(ctx.destination);
      for (const f of [440, 480]) {
        const osc = ctx.createOscillator();
        osc.frequency.value = f;
        osc.connect(gain);
        osc.start(at);
        osc.stop(at + 2.05);
      }
    };
    burst();
    this.timer = window.setInterval(burst, 6000);
  },
  stop() {
    window.clearInterval(this.timer);
    this.ctx?.close().catch(() => {});
    this.ctx = null;
  },
};

/** Fills `#missed-calls` (a section with a `ul`) where the page has one. */
function drawMissed() {
  const section = document.getElementById("missed-calls");
  if (!section) return;
  const list = /** @type {HTMLUListElement} */ (section.querySelector("ul"));
  section.hidden = now.missed.length === 0;
  list.replaceChildren(
    ...now.missed.map((m) => {
      const li = document.createElement("li");
      li.className = "missed-call";
      const when = new Date(m.at).toLocaleString(currentLang(), { weekday: "short", hour: "2-digit", minute: "2-digit" });
      const text = document.createElement("span");
      text.textContent = t("call.missedFrom", { name: m.caller.display_name, when });
      const back = document.createElement("button");
      back.type = "button";
      back.textContent = t("call.callBack");
      back.setAttribute("aria-label", t("call.callBackLabel", { name: m.caller.display_name }));
      back.addEventListener("click", () => callFriends([m.caller.username]).catch((e) => (text.textContent = messageOf(e))));
      li.append(text, back);
      return li;
    }),
  );
}

/** A button that asks for notification permission, while it is undecided. @param {HTMLElement} where */
export function notificationsButton(where) {
  if (typeof Notification === "undefined" || Notification.permission !== "default") return;
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = t("call.allowNotifications");
  b.addEventListener("click", async () => {
    await Notification.requestPermission().catch(() => {});
    b.remove();
  });
  where.append(b);
}

// @ts-check
/**
 * My sessions (/sessions): the signed-in practitioner's scheduled sessions,
 * upcoming then past, with dates and times in the viewer's time zone and in
 * the page's language (Intl). For each: copy the link or an invitation
 * text, the `.ics`, edit or reschedule (the server counts a SEQUENCE, so
 * calendars replace the event), cancel, and the roster (personal links and
 * accounts that come straight in). Everything goes through the same REST
 * routes as the home page's scheduling form; the server checks ownership.
 */
import { t, translate, bindSwitcher, onLangChange, currentLang } from "./i18n.js";
import { api, session, messageOf } from "./api.js";
import { renderAccountBar } from "./accountbar.js";

/**
 * @typedef {{title: string, description: string, starts_at: number, duration_min: number, opens_before_min: number}} Schedule
 * @typedef {{id: string, name: string, path: string, schedule: Schedule | null}} MyRoom
 */

const $ = (/** @type {string} */ id) => /** @type {any} */ (document.getElementById(id));

translate();
bindSwitcher($("lang"));

/** @type {MyRoom[]} */
let rooms = [];

async function reload() {
  try {
    rooms = await api("GET", "/api/account/rooms");
  } catch (err) {
    $("sessions-status").textContent = messageOf(err);
  }
  draw();
}

/** @param {Schedule} s */
const endOf = (s) => s.starts_at + s.duration_min * 60;

function draw() {
  const now = Date.now() / 1000;
  const scheduled = rooms.filter((r) => r.schedule);
  const upcoming = scheduled.filter((r) => endOf(/** @type {Schedule} */ (r.schedule)) > now).sort((a, b) => (a.schedule?.starts_at ?? 0) - (b.schedule?.starts_at ?? 0));
  const past = scheduled.filter((r) => endOf(/** @type {Schedule} */ (r.schedule)) <= now).sort((a, b) => (b.schedule?.starts_at ?? 0) - (a.schedule?.starts_at ?? 0));
  $("upcoming").replaceChildren(...upcoming.map(item));
  $("past").replaceChildren(...past.map(item));
  $("upcoming-empty").hidden = upcoming.length > 0;
  $("past-empty").hidden = past.length > 0;
}

/** "Tuesday 2 December 2026, 18:30 – 19:15 (Europe/Paris)", in the page's language. @param {Schedule} s */
function when(s) {
  const lang = currentLang();
  const start = new Date(s.starts_at * 1000);
  const day = new Intl.DateTimeFormat(lang, { dateStyle: "full", timeStyle: "short" }).format(start);
  const end = new Intl.DateTimeFormat(lang, { timeStyle: "short" }).format(new Date(endOf(s) * 1000));
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return `${day} – ${end} (${zone})`;
}

/** A `datetime-local` value (local time) for unix seconds. @param {number} secs */
function localInput(secs) {
  const d = new Date(secs * 1000);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

/** @param {string} text @param {string} done */
async function copy(text, done) {
  try {
    await navigator.clipboard.writeText(text);
    $("sessions-status").textContent = done;
  } catch {
    $("sessions-status").textContent = t("sessions.copyFailed", { text });
  }
}

/** @param {string} label @param {() => void} onClick */
function button(label, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.addEventListener("click", onClick);
  return b;
}

/** @param {MyRoom} r */
function item(r) {
  const s = /** @type {Schedule} */ (r.schedule);
  const link = new URL(r.path, location.origin).href;
  const li = document.createElement("li");
  li.className = "session";
  li.dataset.room = r.id;
  const h = document.createElement("h3");
  h.textContent = s.title;
  const time = document.createElement("p");
  time.className = "session-when";
  const t0 = document.createElement("time");
  t0.dateTime = new Date(s.starts_at * 1000).toISOString();
  t0.textContent = when(s);
  time.append(t0);
  const linkBox = document.createElement("input");
  linkBox.readOnly = true;
  linkBox.value = link;
  linkBox.setAttribute("aria-label", t("sessions.linkOf", { title: s.title }));
  linkBox.className = "session-link";
  const actions = document.createElement("div");
  actions.className = "row wrap";
  const ics = document.createElement("a");
  ics.className = "button";
  ics.href = `${r.path}/invite.ics`;
  ics.textContent = t("sessions.ics");
  ics.setAttribute("aria-label", t("sessions.icsOf", { title: s.title }));
  actions.append(
    button(t("sessions.copyLink"), () => copy(link, t("sessions.linkCopied"))),
    button(t("sessions.copyInvitation"), () => copy(t("sessions.invitation", { title: s.title, when: when(s), link }), t("sessions.invitationCopied"))),
    ics,
  );
  for (const b of actions.querySelectorAll("button")) b.setAttribute("aria-label", `${b.textContent}: ${s.title}`);
  li.append(h, time, linkBox, actions, editor(r, s), roster(r, s));
  return li;
}

/** Edit or reschedule, and cancel. @param {MyRoom} r @param {Schedule} s */
function editor(r, s) {
  const box = document.createElement("details");
  const summary = document.createElement("summary");
  summary.textContent = t("sessions.edit");
  const form = document.createElement("form");
  form.className = "stack";
  /** @param {string} key @param {HTMLInputElement} input */
  const field = (key, input) => {
    const label = document.createElement("label");
    input.id = `${key.replace(".", "-")}-${r.id}`;
    label.htmlFor = input.id;
    label.textContent = t(key);
    form.append(label, input);
    return input;
  };
  const title = field("sched.sessionTitle", Object.assign(document.createElement("input"), { value: s.title, required: true, maxLength: 100 }));
  const start = field("sched.start", Object.assign(document.createElement("input"), { type: "datetime-local", value: localInput(s.starts_at), required: true }));
  const duration = field("sched.duration", Object.assign(document.createElement("input"), { type: "number", min: "5", max: "1440", value: String(s.duration_min), required: true }));
  const status = document.createElement("p");
  status.setAttribute("role", "status");
  const save = Object.assign(document.createElement("button"), { type: "submit", className: "primary", textContent: t("sessions.save") });
  const cancel = button(t("sessions.cancel"), async () => {
    if (!confirm(t("sessions.cancelConfirm", { title: s.title }))) return;
    try {
      await api("DELETE", `/api/rooms/${r.id}/schedule`);
      await reload();
      $("sessions-status").textContent = t("sessions.cancelled", { title: s.title });
    } catch (err) {
      status.textContent = messageOf(err);
    }
  });
  cancel.className = "danger";
  const row = document.createElement("div");
  row.className = "row wrap";
  row.append(save, cancel);
  form.append(row, status);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const startsAt = Math.floor(new Date(start.value).getTime() / 1000);
    if (!Number.isFinite(startsAt)) return void (status.textContent = t("sched.badDate"));
    try {
      await api("PUT", `/api/rooms/${r.id}/schedule`, { ...s, title: title.value, starts_at: startsAt, duration_min: Number(duration.value) });
      await reload();
      $("sessions-status").textContent = t("sessions.saved", { title: title.value });
    } catch (err) {
      status.textContent = messageOf(err);
    }
  });
  box.append(summary, form);
  return box;
}

/** The roster, loaded when opened. @param {MyRoom} r @param {Schedule} s */
function roster(r, s) {
  const box = document.createElement("details");
  const summary = document.createElement("summary");
  summary.textContent = t("sessions.roster");
  const list = document.createElement("ul");
  list.className = "roster";
  box.append(summary, list);
  box.addEventListener("toggle", async () => {
    if (!box.open) return;
    try {
      const [invites, accounts] = await Promise.all([api("GET", `/api/rooms/${r.id}/invites`), api("GET", `/api/rooms/${r.id}/roster`)]);
      const rows = [
        ...invites.map((/** @type {{label: string, url: string}} */ i) => {
          const li = document.createElement("li");
          const input = Object.assign(document.createElement("input"), { readOnly: true, value: i.url, className: "session-link" });
          input.setAttribute("aria-label", t("sched.personalLink", { name: i.label }));
          const copyIt = button(t("sessions.copyLink"), () => copy(i.url, t("sessions.linkCopied")));
          copyIt.setAttribute("aria-label", `${t("sessions.copyLink")}: ${i.label}`);
          li.append(i.label, " ", input, copyIt);
          return li;
        }),
        ...accounts.map((/** @type {{username: string}} */ a) => Object.assign(document.createElement("li"), { textContent: t("sched.rosterAdded", { username: a.username }) })),
      ];
      list.replaceChildren(...(rows.length ? rows : [Object.assign(document.createElement("li"), { className: "muted", textContent: t("sessions.rosterEmpty") })]));
    } catch (err) {
      list.replaceChildren(Object.assign(document.createElement("li"), { textContent: messageOf(err) }));
    }
  });
  return box;
}

// Last: the functions above must exist before the first draw.
const who = await session().catch(() => null);
renderAccountBar($("account-nav"), who?.account ?? null);
if (!who?.account) {
  $("sessions-signin").hidden = false;
} else {
  await reload();
  onLangChange(draw);
}

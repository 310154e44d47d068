// @ts-check
/**
 * The room page: pre-join (preview, devices, name) -> in the room (grid,
 * controls, participant list) -> ended (left or connection lost).
 * Transport is protocol.js; tiles are grid.js; devices are devices.js.
 */
import { getItem, setItem } from "./storage.js";
import { t, translate, bindSwitcher, onLangChange, currentLang } from "./i18n.js";
import { Bar } from "./bar.js";
import { setIconButton } from "./icons.js";
import { SalonClient } from "./protocol.js";
import { Grid, SCREEN_SUFFIX } from "./grid.js";
import { LocalMedia } from "./devices.js";
import { RoomLife } from "./controls.js";
import { Effects } from "./effects/index.js";
import { createPanel } from "./effects/panel.js";
import { openShare } from "./share.js";
import { setUpCall } from "./call-room.js";
import { emit, listen } from "./embed.js";

/** @typedef {import("./protocol.js").Participant} Participant */

const $ = (/** @type {string} */ id) => /** @type {any} */ (document.getElementById(id));
const roomId = decodeURIComponent(location.pathname.split("/").pop() || "");
const NAME_KEY = "salon.name";
/** A personal invite from the host's roster (skips the waiting room). */
const invite = new URLSearchParams(location.search).get("invite");
/** Music bitrate: stereo Opus that sounds like music. */
const MUSIC_BPS = 128_000;

const local = new LocalMedia();
// Video effects (web/effects/): the camera track goes through them; effects.track is what is shown and sent.
const effects = new Effects();
const effectsPanel = createPanel(effects);
effectsPanel.mount($("effects-prejoin"));
effects.onTrack = (track) => {
  if (!local.camOn) return;
  $("preview").srcObject = track ? new MediaStream([track]) : null;
  grid?.setSelfVideo(selfId, track);
  client?.setVideoTrack(track);
};
/** @type {SalonClient | null} */
let client = null;
/** @type {Grid | null} */
let grid = null;
/** @type {Map<string, Participant>} */
const people = new Map();
let selfId = "";
let speakingTimer = 0;
/** When a scheduled session opens (ms, local clock), if it is not open yet. */
let opensAt = 0;
let countdownTimer = 0;
/** The room's link as the server names it (`--public-url`); null until loaded. @type {string | null} */
let shareLink = null;
/** A host let us unmute although self-unmute is off. */
let mayUnmute = false;
/** Our screen share, while sharing. @type {MediaStream | null} */
let screen = null;
/** Remote screens' streams by tile id: the tracks come at join, the tile when sharing starts. */
const screenStreams = new Map();
/** Phones and some browsers cannot share a screen: no button there. */
const canShare = typeof navigator.mediaDevices?.getDisplayMedia === "function";
/** When the "you are muted" hint goes away again (ms). */
let mutedHintUntil = 0;
/** The room as GET /api/rooms/{id} described it. @type {any} */
let roomInfo = null;

const life = new RoomLife({
  send: (msg) => client?.command(msg),
  people,
  selfId: () => selfId,
  grid: () => grid,
  toast,
  relabel: () => renderBar(),
  forceMute: () => {
    mayUnmute = false;
    local.setMic(false);
    publishState();
  },
  ended: (titleKey, detail) => {
    client?.leave();
    end(titleKey, detail, true);
  },
});

// The control bar, "More", side panels and shortcuts (bar.js).
const bar = new Bar({
  onPanel: (name) => {
    life.panelChanged(name);
    renderBar();
  },
});

// Diagnostics: the peer connection, for getStats() in devtools and the browser tests.
Object.defineProperty(globalThis, "salonDebug", { value: { pc: () => client?.pc ?? null } });

translate();
bindSwitcher($("lang"));
onLangChange(renderLabels);
$("name").value = getItem(NAME_KEY) || "";
renderLabels();
loadRoomName();
/** The camera/microphone start in progress: Join waits for it. */
let previewing = startPreview();
// Inside another site's frame (embed.js): its commands, and our events to it.
listen(previewing, {
  join: (name) => {
    if (client) return;
    if (name) $("name").value = name;
    join();
  },
  leave: () => client?.leave(),
  // true: off. Toggle only what differs.
  mute: async (audio, video) => {
    if (audio !== undefined && audio === local.micOn) await toggleMic();
    if (video !== undefined && video === local.camOn) await toggleCam();
  },
});
// The pre-join microphone meter, while the pre-join screen shows.
const meterTimer = window.setInterval(() => {
  if ($("prejoin").hidden) return window.clearInterval(meterTimer);
  $("mic-meter").value = local.micOn ? Math.min(1, local.meterLevel() * 1.5) : 0;
}, 100);
$("speaker-test").addEventListener("click", testSpeakers);

$("pre-mic").addEventListener("click", () => {
  local.setMic(!local.micOn);
  if (local.micOn) previewing = startPreview();
  renderLabels();
});
$("pre-cam").addEventListener("click", async () => {
  local.camOn = !local.camOn;
  if (!local.camOn) local.stopVideo();
  await (previewing = startPreview());
});
$("camera-select").addEventListener("change", async () => {
  local.cameraId = $("camera-select").value || undefined;
  local.stopVideo();
  local.camOn = !!local.cameraId;
  await (previewing = startPreview());
});
$("mic-select").addEventListener("change", async () => {
  local.micId = $("mic-select").value || undefined;
  local.audio?.stop();
  local.audio = null;
  local.micOn = !!local.micId;
  await (previewing = startPreview());
});
$("join-form").addEventListener("submit", (/** @type {Event} */ e) => {
  e.preventDefault();
  join();
});
$("mic-btn").addEventListener("click", toggleMic);
$("cam-btn").addEventListener("click", toggleCam);
$("leave-btn").addEventListener("click", () => {
  client?.leave();
});
$("invite-btn").addEventListener("click", () =>
  openShare({ link: shareLink ?? location.href, roomId, title: roomInfo?.name ?? "", toast }),
);
$("rejoin-btn").addEventListener("click", () => location.reload());
// Closing the tab is leaving, not a dropped connection: nobody waits for us.
window.addEventListener("pagehide", () => client?.leave());
$("view-btn").addEventListener("click", () => {
  grid?.setSpeakerView(!grid.speakerView);
  renderLabels();
});
$("share-btn").addEventListener("click", () => (screen ? stopShare() : startShare()));
$("pre-music").addEventListener("change", () => setMusic($("pre-music").checked));
$("music-btn").addEventListener("click", () => setMusic(!local.music));
$("waiting-leave").addEventListener("click", () => location.reload());
$("page-prev").addEventListener("click", () => grid?.turnPage(-1));
$("page-next").addEventListener("click", () => grid?.turnPage(1));

let viewTimer = 0;
let lastView = "";
/** Tells the server which tiles are on screen, at most every 300 ms and only on change. */
function scheduleView() {
  window.clearTimeout(viewTimer);
  viewTimer = window.setTimeout(() => {
    renderPaging();
    const tiles = grid?.visible() ?? [];
    const json = JSON.stringify(tiles);
    if (json !== lastView) {
      lastView = json;
      client?.sendView(tiles);
    }
  }, 300);
}

function renderPaging() {
  const pages = grid && !grid.speakerView ? grid.pages() : 1;
  $("paging").hidden = pages <= 1;
  $("page-label").textContent = t("room.pageOf", { page: (grid?.page ?? 0) + 1, pages });
  $("page-prev").disabled = !grid || grid.page === 0;
  $("page-next").disabled = !grid || grid.page >= pages - 1;
}

async function loadRoomName() {
  const res = await fetch(`/api/rooms/${encodeURIComponent(roomId)}`).catch(() => null);
  const room = res && res.ok ? await res.json() : null;
  // The link to share, from the server: the public URL behind a proxy.
  if (room?.url) shareLink = room.url;
  roomInfo = room;
  // Signed in: the account's display name, unless this browser chose another.
  if (room?.your_name && !getItem(NAME_KEY)) $("name").value = room.your_name;
  if (room?.host) {
    $("host-note").hidden = false;
    $("host-note").textContent = t("prejoin.youHost");
  }
  if (room?.name) {
    $("room-title").textContent = room.name;
    document.title = `${room.name} · Salon`;
  }
  if (room?.call) setUpCall(room, { join, toast });
  if (room?.schedule) {
    // The server's clock decides; a wrong local clock only shifts the display.
    const skew = Date.now() - room.now * 1000;
    opensAt = room.host ? 0 : room.opens_at * 1000 + skew;
    const start = new Date(room.schedule.starts_at * 1000 + skew);
    $("schedule-note").dataset.title = room.schedule.title;
    $("schedule-note").dataset.start = start.toISOString();
    countdown();
  }
}

/** Before a scheduled session opens: a countdown, and Join waits. */
function countdown() {
  window.clearTimeout(countdownTimer);
  const note = $("schedule-note");
  const start = new Date(note.dataset.start);
  const when = start.toLocaleString(currentLang(), { weekday: "long", hour: "2-digit", minute: "2-digit" });
  note.hidden = false;
  const left = opensAt - Date.now();
  if (left > 0) {
    const s = Math.ceil(left / 1000);
    const clock = s >= 3600 ? `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}` : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
    note.textContent = t("schedule.countdown", { title: note.dataset.title, when, clock });
    $("join-btn").disabled = true;
    countdownTimer = window.setTimeout(countdown, 1000);
  } else {
    note.textContent = t("schedule.open", { title: note.dataset.title, when });
    opensAt = 0;
    if (!client) $("join-btn").disabled = false;
  }
}

/** The waiting room says which session this is: title, host, time. */
function waitingInfo() {
  const el = $("waiting-info");
  const title = roomInfo?.schedule?.title || roomInfo?.name || "";
  const parts = [];
  if (title) parts.push(title);
  if (roomInfo?.host_name) parts.push(t("waiting.host", { name: roomInfo.host_name }));
  if (roomInfo?.schedule) {
    const start = new Date(roomInfo.schedule.starts_at * 1000);
    parts.push(start.toLocaleString(currentLang(), { weekday: "long", day: "numeric", month: "long", hour: "2-digit", minute: "2-digit" }));
  }
  el.textContent = parts.join(" · ");
  el.hidden = !parts.length;
}

/** A short two-note chime through the speakers, to check they work. */
function testSpeakers() {
  try {
    const ctx = new AudioContext();
    for (const [i, f] of [523, 784].entries()) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      const at = ctx.currentTime + i * 0.25;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.25, at + 0.03);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.5);
      osc.frequency.value = f;
      osc.connect(gain).connect(ctx.destination);
      osc.start(at);
      osc.stop(at + 0.55);
    }
    window.setTimeout(() => ctx.close(), 1200);
    toast(t("prejoin.speakerPlaying"));
  } catch {
    toast(t("prejoin.speakerFailed"));
  }
}

async function startPreview() {
  $("prejoin-status").textContent = t("prejoin.loading");
  const problem = await local.open();
  const shown = await effects.use(local.video);
  $("preview").srcObject = shown ? new MediaStream([shown]) : null;
  $("prejoin-status").textContent = problem ? t(problem) : "";
  await fillDeviceLists();
  renderLabels();
}

async function fillDeviceLists() {
  const { cameras, mics } = await local.devices();
  /** @param {HTMLSelectElement} select @param {MediaDeviceInfo[]} list @param {MediaStreamTrack | null} track */
  const fill = (select, list, track) => {
    const current = track?.getSettings().deviceId ?? "";
    select.replaceChildren(new Option(t("prejoin.noDevice"), ""));
    list.forEach((d, i) => select.append(new Option(d.label || `${select.id} ${i + 1}`, d.deviceId)));
    select.value = current;
  };
  fill($("camera-select"), cameras, local.video);
  fill($("mic-select"), mics, local.audio);
}

/** Button texts that depend on state, in the current language. */
function renderLabels() {
  setIconButton($("pre-mic"), local.micOn ? "mic" : "micOff", t(local.micOn ? "room.micOn" : "room.micOff"));
  setIconButton($("pre-cam"), local.camOn ? "cam" : "camOff", t(local.camOn ? "room.camOn" : "room.camOff"));
  $("pre-mic").classList.toggle("off", !local.micOn);
  setIconButton($("speaker-test"), "volume", t("prejoin.speakerTest"));
  $("pre-cam").classList.toggle("off", !local.camOn);
  renderPaging();
  $("people-title").textContent = t("room.participants", { count: people.size });
  grid?.relabel();
  renderPeople();
}

async function join() {
  const name = $("name").value.trim();
  $("join-error").textContent = "";
  if (!name) {
    $("join-error").textContent = t("prejoin.needName");
    $("name").focus();
    return;
  }
  setItem(NAME_KEY, name);
  const button = $("join-btn");
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  button.textContent = t("prejoin.joining");
  client = new SalonClient();
  wireClient(client);
  try {
    // Joining while the camera is still starting would join without it.
    await previewing;
    await client.connect();
    const audioTrack = local.micOn ? local.audio : null;
    const joined = await client.join({ room: roomId, name, invite, audioTrack, videoTrack: local.camOn ? effects.track : null });
    if (local.music) await client.setAudioBitrate(MUSIC_BPS);
    enterRoom(joined);
  } catch (err) {
    const e = /** @type {any} */ (err);
    emit("error", { code: e.code ?? "internal", message: String(e.message ?? e) });
    $("join-error").textContent = errorText(e.code, e.message);
    client?.leave();
    client = null;
    $("waiting-note").hidden = true;
    $("waiting-leave").hidden = true;
    $("prejoin-title").textContent = t("prejoin.title");
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.textContent = t("prejoin.join");
  }
}

/** @param {any} joined */
function enterRoom(joined) {
  $("prejoin").hidden = true;
  $("in-room").hidden = false;
  grid = new Grid($("grid"), $("audio-sink"));
  grid.onChange = scheduleView;
  new ResizeObserver(scheduleView).observe($("grid"));
  selfId = joined.you.id;
  const me = { ...joined.you, audio: local.micOn && !!local.audio, video: local.camOn && !!local.video };
  emit("joined", { you: { id: me.id, name: me.name } });
  emit("mute", { audio: !me.audio, video: !me.video });
  people.set(me.id, me);
  grid.add(me, true);
  grid.setSelfVideo(me.id, local.camOn ? effects.track : null);
  effectsPanel.mount($("effects-room"));
  for (const p of joined.participants) {
    emit("participant_joined", { participant: { id: p.id, name: p.name } });
    people.set(p.id, p);
    grid.add(p);
    showScreen(p);
  }
  // Muted on entry: arrive with the microphone off (the server holds our audio anyway).
  if (joined.controls?.mute_on_entry && !["host", "cohost"].includes(me.role)) {
    local.setMic(false);
    me.audio = false;
    toast(t("room.mutedOnEntry"));
  }
  client?.sendState(me.audio, me.video);
  life.start(joined);
  speakingTimer = window.setInterval(pollSpeaking, 300);
  bar.active = true;
  $("room-heading").textContent = $("room-title").textContent || t("app.name");
  renderLabels();
  $("mic-btn").focus();
}

/** The control bar's icons, names and states (bar.js). */
function renderBar() {
  const me = people.get(selfId);
  bar.render({
    micOn: local.micOn,
    camOn: local.camOn,
    sharing: !!screen,
    canShare,
    hand: !!me?.hand,
    unread: life.unread,
    hands: life.moderates() ? life.hands.length : 0,
    moderates: life.moderates(),
    speakerView: !!grid?.speakerView,
    music: local.music,
    hideSelf: life.hideSelf,
  });
}

/** @param {SalonClient} c */
function wireClient(c) {
  c.addEventListener("participant-joined", (e) => {
    const p = /** @type {CustomEvent} */ (e).detail.participant;
    people.set(p.id, p);
    grid?.add(p);
    emit("participant_joined", { participant: { id: p.id, name: p.name } });
    toast(t("room.joinedToast", { name: p.name }));
    renderLabels();
  });
  c.addEventListener("participant-updated", (e) => {
    const p = /** @type {CustomEvent} */ (e).detail.participant;
    const before = people.get(p.id);
    if (p.hand && before && !before.hand && p.id !== selfId) toast(t("room.handRaisedToast", { name: p.name }));
    people.set(p.id, p);
    grid?.update(p);
    showScreen(p);
    renderPeople();
    scheduleView();
  });
  c.addEventListener("participant-left", (e) => {
    const id = /** @type {CustomEvent} */ (e).detail.id;
    const p = people.get(id);
    people.delete(id);
    grid?.remove(id);
    grid?.remove(id + SCREEN_SUFFIX);
    emit("participant_left", { id });
    if (p) toast(t("room.leftToast", { name: p.name }));
    renderLabels();
  });
  c.addEventListener("waiting", () => {
    $("prejoin-title").textContent = t("waiting.title");
    waitingInfo();
    $("waiting-note").hidden = false;
    $("waiting-note").textContent = t("waiting.note");
    $("waiting-leave").hidden = false;
    $("join-btn").textContent = t("waiting.button");
  });
  c.addEventListener("room-event", (e) => {
    const msg = /** @type {CustomEvent} */ (e).detail.msg;
    if (msg.type === "may_unmute") mayUnmute = true;
    if (msg.type === "publish_capped") toast(t("room.publishCapped", { kbps: msg.max_kbps }));
    life.handle(msg);
  });
  c.addEventListener("speakers", (e) => {
    grid?.setSpeakers(/** @type {CustomEvent} */ (e).detail.ids);
  });
  c.addEventListener("track", (e) => {
    const { participantId, track, stream } = /** @type {CustomEvent} */ (e).detail;
    if (participantId.endsWith(SCREEN_SUFFIX)) screenStreams.set(participantId, stream);
    grid?.attach(participantId, track, stream);
  });
  c.addEventListener("error", (e) => {
    const { code, message } = /** @type {CustomEvent} */ (e).detail;
    toast(errorText(code, message));
  });
  c.addEventListener("closed", (e) => {
    const reason = /** @type {CustomEvent} */ (e).detail.reason;
    if (!grid) return; // never entered: the join error is shown instead
    if (reason === "left") return end("room.left", "");
    if (reason === "connection_lost") return end("room.connectionLost", "");
    // Refused on the way back (removed, ended, locked…): say why.
    end("room.connectionLost", errorText(reason, ""), ["ended", "removed", "banned"].includes(reason));
  });
  // Staying connected (protocol.js): the page shows it and carries on.
  c.addEventListener("reconnecting", () => connStatus(true));
  c.addEventListener("resumed", (e) => {
    const msg = /** @type {CustomEvent} */ (e).detail.msg;
    reconcile(msg.participants);
    life.controlsSeen = false; // the snapshot is the newest word
    life.start(msg);
    // A host's mute made while we were away holds: follow the server.
    const me = people.get(selfId);
    if (me && !msg.you.audio && local.micOn) {
      local.setMic(false);
    }
    if (me) Object.assign(me, msg.you, { audio: local.micOn && !!local.audio, video: local.camOn && !!local.video });
    publishState();
    lastView = "";
    scheduleView();
    connStatus(false);
  });
  c.addEventListener("rejoined", (e) => {
    // The server restarted: a full join gave us a new id; rebuild the room.
    const joined = /** @type {CustomEvent} */ (e).detail.joined;
    const old = selfId;
    for (const id of [...people.keys()]) grid?.remove(id);
    grid?.remove(old + SCREEN_SUFFIX);
    people.clear();
    selfId = joined.you.id;
    const me = { ...joined.you, audio: local.micOn && !!local.audio, video: local.camOn && !!local.video };
    people.set(me.id, me);
    grid?.add(me, true);
    grid?.setSelfVideo(me.id, local.camOn ? effects.track : null);
    if (screen) {
      grid?.add({ id: selfId + SCREEN_SUFFIX, name: t("room.yourScreen"), audio: true, video: true }, true);
      grid?.setSelfVideo(selfId + SCREEN_SUFFIX, screen.getVideoTracks()[0] ?? null);
    }
    reconcile(joined.participants);
    life.controlsSeen = false;
    life.start(joined);
    publishState();
    lastView = "";
    scheduleView();
    connStatus(false);
    toast(t("room.rejoinedToast"));
  });
  c.addEventListener("resync", (e) => {
    const msg = /** @type {CustomEvent} */ (e).detail.msg;
    reconcile(msg.participants);
    life.controlsSeen = false; // the snapshot is the newest word
    life.start(msg);
  });
  c.addEventListener("republished", () => {
    lastView = "";
    scheduleView();
  });
}

/** Makes the people and tiles match a snapshot of the others (resume, resync). @param {Participant[]} others */
function reconcile(others) {
  const ids = new Set(others.map((p) => p.id));
  for (const id of [...people.keys()]) {
    if (id === selfId || ids.has(id)) continue;
    people.delete(id);
    grid?.remove(id);
    grid?.remove(id + SCREEN_SUFFIX);
  }
  for (const p of others) {
    people.set(p.id, p);
    grid?.add(p);
    showScreen(p);
  }
  renderLabels();
}

/** The "Reconnecting…" state: announced, visible, and the grid dimmed. @param {boolean} on */
function connStatus(on) {
  const el = $("conn-status");
  $("in-room").classList.toggle("reconnecting", on);
  if (on) {
    el.textContent = t("room.reconnecting");
    el.hidden = false;
  } else if (!el.hidden) {
    el.textContent = t("room.reconnected");
    window.setTimeout(() => {
      if (!$("in-room").classList.contains("reconnecting")) el.hidden = true;
    }, 2000);
  }
}

/** Feeds the speaking rings: inbound audio energy totals, by track id. */
async function pollSpeaking() {
  const pc = client?.pc;
  if (!pc || !grid) return;
  /** @type {Map<string, {energy: number, duration: number}>} */
  const totals = new Map();
  const stats = await pc.getStats().catch(() => null);
  stats?.forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "audio" && s.trackIdentifier) {
      totals.set(s.trackIdentifier, { energy: s.totalAudioEnergy ?? 0, duration: s.totalSamplesDuration ?? 0 });
    }
  });
  grid?.pollSpeaking(selfId, local.level(), totals);
  mutedHint();
}

/** "You are muted": shown while our muted microphone hears us speak. */
function mutedHint() {
  const hint = $("muted-hint");
  const speaking = !local.micOn && local.meterLevel() > 0.08;
  const now = Date.now();
  if (speaking) {
    if (hint.hidden) hint.textContent = t("room.mutedHint");
    hint.hidden = false;
    mutedHintUntil = now + 3000;
  } else if (!hint.hidden && now > mutedHintUntil) {
    hint.hidden = true;
  }
}

/**
 * The end card. Rejoin is offered only when coming back makes sense: not
 * after the host ended the session or removed us.
 * @param {string} titleKey @param {string} detail @param {boolean} [final] no way back
 */
function end(titleKey, detail, final = false) {
  emit("left");
  window.clearInterval(speakingTimer);
  bar.active = false;
  bar.open(null);
  // Stale notices would cover the end card.
  $("notice").hidden = true;
  $("muted-hint").hidden = true;
  $("toast").classList.remove("show");
  for (const d of document.querySelectorAll("dialog[open]")) /** @type {HTMLDialogElement} */ (d).close();
  effects.close();
  local.close();
  for (const id of [...people.keys()]) grid?.remove(id);
  people.clear();
  grid = null;
  $("in-room").hidden = true;
  $("prejoin").hidden = true;
  $("ended").hidden = false;
  $("ended-title").textContent = t(titleKey);
  $("ended-detail").textContent = detail;
  $("rejoin-btn").hidden = final;
  $("home-link").classList.toggle("primary", final);
  (final ? $("home-link") : $("rejoin-btn")).focus();
}

async function toggleMic() {
  const on = !local.micOn;
  const me = people.get(selfId);
  if (on && me && !life.controls.self_unmute && !mayUnmute && !life.moderates() && !me.audio) {
    toast(t("room.cannotUnmute"));
    return;
  }
  if (on && !local.audio) {
    local.micOn = true;
    await local.open();
    await client?.setAudioTrack(local.audio);
  }
  local.setMic(on && !!local.audio);
  publishState();
}

async function toggleCam() {
  if (local.camOn) {
    local.camOn = false;
    await client?.setVideoTrack(null);
    local.stopVideo();
    await effects.use(null);
  } else {
    local.camOn = true;
    await local.open();
    await client?.setVideoTrack(await effects.use(local.video));
  }
  grid?.setSelfVideo(selfId, effects.track);
  publishState();
}

function publishState() {
  const me = people.get(selfId);
  if (me) {
    me.audio = local.micOn && !!local.audio;
    me.video = local.camOn && !!local.video;
    grid?.update(me);
    client?.sendState(me.audio, me.video, !!screen);
    emit("mute", { audio: !me.audio, video: !me.video });
  }
  renderLabels();
}

/** A participant's screen tile appears while they share. @param {Participant & {screen?: boolean}} p */
function showScreen(p) {
  if (!grid) return;
  const id = p.id + SCREEN_SUFFIX;
  if (!p.screen) return grid.remove(id);
  grid.add({ id, name: t("room.screenOf", { name: p.name }), audio: true, video: true });
  const stream = screenStreams.get(id);
  for (const track of stream?.getTracks() ?? []) grid.attach(id, track, stream);
}

/** Shares a screen, window or tab (with its sound when the browser offers it). */
async function startShare() {
  try {
    screen = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: 15 }, audio: true });
  } catch {
    return toast(t("room.shareFailed"));
  }
  const video = screen.getVideoTracks()[0] ?? null;
  video?.addEventListener("ended", stopShare);
  await client?.setScreen(video, screen.getAudioTracks()[0] ?? null);
  const id = selfId + SCREEN_SUFFIX;
  grid?.add({ id, name: t("room.yourScreen"), audio: true, video: true }, true);
  grid?.setSelfVideo(id, video);
  publishState();
}

async function stopShare() {
  if (!screen) return;
  for (const track of screen.getTracks()) track.stop();
  screen = null;
  await client?.setScreen(null, null);
  grid?.remove(selfId + SCREEN_SUFFIX);
  publishState();
}

function renderPeople() {
  life.render();
}

/**
 * Music mode: the microphone without voice processing, in stereo, at a
 * music bitrate. Swapped live with replaceTrack (no renegotiation).
 * @param {boolean} on
 */
async function setMusic(on) {
  const problem = await local.setMusic(on);
  $("pre-music").checked = on;
  if (client?.pc) {
    await client.setAudioTrack(local.audio);
    await client.setAudioBitrate(on ? MUSIC_BPS : null);
    toast(t(on ? "room.musicOnToast" : "room.musicOffToast"));
  }
  if (problem) toast(t(problem));
  renderLabels();
}

/** @param {string} code @param {string} message */
function errorText(code, message) {
  const key = `error.${code}`;
  const s = t(key, { message });
  return s === key ? t("error.generic", { message }) : s;
}

let toastTimer = 0;
/** @param {string} text */
function toast(text) {
  $("toast").textContent = text;
  $("toast").classList.add("show");
  window.clearTimeout(toastTimer);
  toastTimer = window.setTimeout(() => $("toast").classList.remove("show"), 4000);
}

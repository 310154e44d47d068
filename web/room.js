// @ts-check
/**
 * The room page: pre-join (preview, devices, name) -> in the room (grid,
 * controls, participant list) -> ended (left or connection lost).
 * Transport is protocol.js; tiles are grid.js; devices are devices.js.
 */
import { t, translate, bindSwitcher, onLangChange } from "./i18n.js";
import { SalonClient } from "./protocol.js";
import { Grid } from "./grid.js";
import { LocalMedia } from "./devices.js";
import { Effects } from "./effects/index.js";
import { createPanel } from "./effects/panel.js";

/** @typedef {import("./protocol.js").Participant} Participant */

const $ = (/** @type {string} */ id) => /** @type {any} */ (document.getElementById(id));
const roomId = decodeURIComponent(location.pathname.split("/").pop() || "");
const NAME_KEY = "salon.name";

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

// Diagnostics: the peer connection, for getStats() in devtools and the browser tests.
Object.defineProperty(globalThis, "salonDebug", { value: { pc: () => client?.pc ?? null } });

translate();
bindSwitcher($("lang"));
onLangChange(renderLabels);
$("name").value = localStorage.getItem(NAME_KEY) || "";
renderLabels();
loadRoomName();
/** The camera/microphone start in progress: Join waits for it. */
let previewing = startPreview();

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
$("copy-btn").addEventListener("click", copyLink);
$("people-btn").addEventListener("click", () => {
  const open = $("people").hidden;
  $("people").hidden = !open;
  $("people-btn").setAttribute("aria-expanded", String(open));
  renderLabels();
});
$("rejoin-btn").addEventListener("click", () => location.reload());
$("view-btn").addEventListener("click", () => {
  grid?.setSpeakerView(!grid.speakerView);
  renderLabels();
});
$("effects-btn").addEventListener("click", () => {
  const open = $("effects-room").hidden;
  $("effects-room").hidden = !open;
  $("effects-btn").setAttribute("aria-expanded", String(open));
  if (open) $("effects-room").querySelector("select")?.focus();
});
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
  if (room?.name) {
    $("room-title").textContent = room.name;
    document.title = `${room.name} · Salon`;
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
  const micKey = local.micOn ? "room.micOn" : "room.micOff";
  const camKey = local.camOn ? "room.camOn" : "room.camOff";
  for (const [id, key, on] of [["pre-mic", micKey, local.micOn], ["mic-btn", micKey, local.micOn], ["pre-cam", camKey, local.camOn], ["cam-btn", camKey, local.camOn]]) {
    $(id).textContent = t(/** @type {string} */ (key));
    $(id).classList.toggle("off", !on);
  }
  $("people-btn").textContent = t($("people").hidden ? "room.participantsShow" : "room.participantsHide");
  $("view-btn").textContent = t(grid?.speakerView ? "room.gridView" : "room.speakerView");
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
  localStorage.setItem(NAME_KEY, name);
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
    const joined = await client.join({ room: roomId, name, audioTrack, videoTrack: local.camOn ? effects.track : null });
    enterRoom(joined);
  } catch (err) {
    const e = /** @type {any} */ (err);
    $("join-error").textContent = errorText(e.code, e.message);
    client.leave();
    client = null;
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.textContent = t("prejoin.join");
  }
}

/** @param {{you: Participant, participants: Participant[], room: {name: string}}} joined */
function enterRoom(joined) {
  $("prejoin").hidden = true;
  $("in-room").hidden = false;
  grid = new Grid($("grid"), $("audio-sink"));
  grid.onChange = scheduleView;
  new ResizeObserver(scheduleView).observe($("grid"));
  selfId = joined.you.id;
  const me = { ...joined.you, audio: local.micOn && !!local.audio, video: local.camOn && !!local.video };
  people.set(me.id, me);
  grid.add(me, true);
  grid.setSelfVideo(me.id, local.camOn ? effects.track : null);
  effectsPanel.mount($("effects-room"));
  for (const p of joined.participants) {
    people.set(p.id, p);
    grid.add(p);
  }
  client?.sendState(me.audio, me.video);
  speakingTimer = window.setInterval(pollSpeaking, 300);
  renderLabels();
  $("mic-btn").focus();
}

/** @param {SalonClient} c */
function wireClient(c) {
  c.addEventListener("participant-joined", (e) => {
    const p = /** @type {CustomEvent} */ (e).detail.participant;
    people.set(p.id, p);
    grid?.add(p);
    toast(t("room.joinedToast", { name: p.name }));
    renderLabels();
  });
  c.addEventListener("participant-updated", (e) => {
    const p = /** @type {CustomEvent} */ (e).detail.participant;
    people.set(p.id, p);
    grid?.update(p);
    renderPeople();
    scheduleView();
  });
  c.addEventListener("participant-left", (e) => {
    const id = /** @type {CustomEvent} */ (e).detail.id;
    const p = people.get(id);
    people.delete(id);
    grid?.remove(id);
    if (p) toast(t("room.leftToast", { name: p.name }));
    renderLabels();
  });
  c.addEventListener("speakers", (e) => {
    grid?.setSpeakers(/** @type {CustomEvent} */ (e).detail.ids);
  });
  c.addEventListener("track", (e) => {
    const { participantId, track, stream } = /** @type {CustomEvent} */ (e).detail;
    grid?.attach(participantId, track, stream);
  });
  c.addEventListener("error", (e) => {
    const { code, message } = /** @type {CustomEvent} */ (e).detail;
    if (code === "media_failed") return end("room.connectionLost", errorText(code, message));
    toast(errorText(code, message));
  });
  c.addEventListener("closed", (e) => {
    const reason = /** @type {CustomEvent} */ (e).detail.reason;
    if (!grid) return; // never entered: the join error is shown instead
    end(reason === "left" ? "room.left" : "room.connectionLost", "");
  });
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
}

/** @param {string} titleKey @param {string} detail */
function end(titleKey, detail) {
  window.clearInterval(speakingTimer);
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
  $("rejoin-btn").focus();
}

async function toggleMic() {
  const on = !local.micOn;
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
    client?.sendState(me.audio, me.video);
  }
  renderLabels();
}

async function copyLink() {
  const link = location.href;
  try {
    await navigator.clipboard.writeText(link);
    toast(t("room.linkCopied"));
  } catch {
    toast(t("room.linkCopyFailed", { link }));
  }
}

function renderPeople() {
  const list = $("people-list");
  list.replaceChildren(
    ...[...people.values()].map((p) => {
      const li = document.createElement("li");
      const marks = [p.audio ? "" : t("room.muted"), p.video ? "" : t("room.cameraOff")].filter(Boolean);
      const name = p.id === selfId ? t("room.you", { name: p.name }) : p.name;
      li.textContent = marks.length ? `${name} · ${marks.join(", ")}` : name;
      return li;
    }),
  );
  $("alone").hidden = !grid || people.size > 1;
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

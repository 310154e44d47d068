// @ts-check
/**
 * Salon's transport: one WebSocket for signaling (see PROTOCOL.md) and one
 * RTCPeerConnection for all media. No DOM, no UI: usable on its own (the
 * browser tests drive pages, but a bot or another client could use this).
 *
 * Negotiation: we offer once, at join, with send-only audio and video
 * transceivers (tracks may be null: camera off). From then on the server is
 * the only offerer: it adds a receive m-line per remote track and stops
 * them when people leave; we answer. Messages are handled one at a time, in
 * order, so an offer never races the join answer.
 *
 * Staying connected (PROTOCOL.md, "Resume, resync and reconnect"): when
 * the socket drops or goes silent, or the server says `reconnect`, the
 * client reconnects by itself with backoff and jitter (at once when the
 * browser comes back `online`), and `resume`s its participant with the
 * token `joined` gave it: same id, role, hand and mutes. If the server
 * no longer knows it (a restart), it joins afresh. When only media broke
 * (ICE failed, a network change, `media_failed`), it `republish`es: a new
 * RTCPeerConnection for the same participant.
 *
 * Events (CustomEvent, detail shown):
 *  joined {you, room, participants} · participant-joined {participant}
 *  reconnecting {} · resumed {msg} (the room as it is now) · rejoined {joined}
 *  (a full join after a server restart: a new id) · resync {msg}
 *  participant-updated {participant} · participant-left {id}
 *  track {participantId, track, stream} · speakers {ids}
 *  error {code, message} · closed {reason} · waiting {room}
 *  room-event {msg}: host controls and room life (lobby, controls, muted,
 *  may_unmute, video_requested, hands, chat, reaction, removed, ended,
 *  reported); see PROTOCOL.md
 *
 * Simulcast: the camera is published in three encodings (rids q, h, f: a
 * quarter, half and full resolution). The server says which ones anybody
 * watches (`layers`); the others are switched off here, saving CPU and
 * uplink. `sendView` tells the server which tiles are on screen and how tall.
 */

export const PROTOCOL_VERSION = 1;

/** Simulcast encodings, lowest first (rids as the server expects them). */
export const SIMULCAST = [
  { rid: "q", scaleResolutionDownBy: 4, maxBitrate: 150_000, maxFramerate: 15 },
  { rid: "h", scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: "f", maxBitrate: 1_500_000 },
];
/** Keepalive period; a socket silent for `DEAD_MS` is given up. */
const PING_MS = 2000;
const DEAD_MS = 8000;
/** Opening a socket that takes longer is abandoned and retried. */
const OPEN_TIMEOUT_MS = 2500;
/** Reconnect delays grow from this to `BACKOFF_MAX_MS` (±20% jitter). */
const BACKOFF_MS = 150;
const BACKOFF_MAX_MS = 1000;
/** Stop trying after this long (the page offers Rejoin). */
const GIVE_UP_MS = 5 * 60_000;
/** A media connection "disconnected" this long is replaced. */
const MEDIA_GRACE_MS = 2000;
/** Join refusals that no retry will change. */
const FATAL = ["banned", "room_not_found", "room_locked", "room_full", "denied", "blocked", "removed", "ended", "not_open", "unsupported_version"];

/**
 * @typedef {{id: string, name: string, audio: boolean, video: boolean, avatar?: string, username?: string, role?: string, hand?: boolean, reconnecting?: boolean, screen?: boolean}} Participant
 * @typedef {{id: string, name: string, max_participants: number}} RoomInfo
 */

/**
 * The ICE servers a server `hello` carries (Salon's own TURN relay, with
 * credentials for this session); none from older servers.
 * @param {any} hello
 * @returns {RTCIceServer[]}
 */
export function iceServersOf(hello) {
  const list = Array.isArray(hello?.ice_servers) ? hello.ice_servers : [];
  return list
    .filter((s) => Array.isArray(s?.urls) && typeof s.username === "string" && typeof s.credential === "string")
    .map((s) => ({ urls: s.urls.map(String), username: s.username, credential: s.credential }));
}

/**
 * The RTCPeerConnection configuration: one bundled transport, and the
 * server's TURN relay for networks where UDP and ICE-TCP cannot get through.
 * @param {RTCIceServer[]} iceServers
 * @returns {RTCConfiguration}
 */
export function rtcConfig(iceServers) {
  return { iceServers, bundlePolicy: "max-bundle", rtcpMuxPolicy: "require" };
}

export class SalonClient extends EventTarget {
  /** @param {string} [wsUrl] defaults to this page's server */
  constructor(wsUrl) {
    super();
    this.wsUrl = wsUrl ?? `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
    /** @type {WebSocket | null} */
    this.ws = null;
    /** @type {RTCPeerConnection | null} */
    this.pc = null;
    /** @type {RTCRtpTransceiver | null} */
    this.audio = null;
    /** @type {RTCRtpTransceiver | null} */
    this.video = null;
    /** @type {RTCRtpTransceiver | null} */
    this.screenVideo = null;
    /** @type {RTCRtpTransceiver | null} */
    this.screenAudio = null;
    /** What we publish, so a new media connection publishes it again. */
    this.tracks = { audio: /** @type {MediaStreamTrack | null} */ (null), video: /** @type {MediaStreamTrack | null} */ (null), screenVideo: /** @type {MediaStreamTrack | null} */ (null), screenAudio: /** @type {MediaStreamTrack | null} */ (null) };
    /** @type {Promise<void>} messages are handled in order on this chain */
    this.chain = Promise.resolve();
    /** @type {{accept: (msg: any) => boolean, reject: (e: Error) => void} | null} */
    this.waiter = null;
    this.pinger = 0;
    this.closedByUs = false;
    /** @type {{room: string, name: string, invite?: string | null} | null} */
    this.joinOpts = null;
    this.resumeToken = "";
    this.inRoom = false;
    this.reconnecting = false;
    this.republishing = false;
    this.lastMessageAt = 0;
    this.lastPingAt = 0;
    /** The last offer handled on this socket: an exact repeat is ignored. */
    this.lastOffer = "";
    this.mediaTimer = 0;
    /** @type {(() => void) | null} wakes a reconnect backoff early */
    this.wake = null;
    this.onOnline = () => {
      this.wake?.();
      // A network change: the socket may be dead without knowing it yet.
      if (this.inRoom && !this.reconnecting) this.ping();
    };
    window.addEventListener("online", this.onOnline);
    /** @type {any} */ (navigator).connection?.addEventListener?.("change", this.onOnline);
    /** @type {RTCIceServer[]} from the server's `hello` */
    this.iceServers = [];
  }

  /** Opens the socket and completes the version handshake. */
  async connect() {
    return this.openSocket();
  }

  /** One socket: open (with a timeout), hello. Rejects if either fails. */
  async openSocket() {
    const ws = new WebSocket(this.wsUrl);
    this.ws = ws;
    this.lastOffer = "";
    await new Promise((resolve, reject) => {
      const timer = window.setTimeout(() => {
        ws.onopen = ws.onerror = ws.onclose = null;
        ws.close();
        reject(new Error("cannot reach the server"));
      }, OPEN_TIMEOUT_MS);
      ws.onopen = () => {
        window.clearTimeout(timer);
        resolve(undefined);
      };
      ws.onerror = ws.onclose = () => {
        window.clearTimeout(timer);
        reject(new Error("cannot reach the server"));
      };
    });
    this.lastMessageAt = this.lastPingAt = Date.now();
    ws.onmessage = (e) => {
      if (this.ws !== ws) return;
      this.lastMessageAt = Date.now();
      let msg;
      try {
        msg = JSON.parse(e.data);
      } catch {
        return;
      }
      this.chain = this.chain.then(() => this.handle(msg)).catch((err) => this.emit("error", { code: "client", message: String(err) }));
    };
    ws.onclose = () => {
      if (this.ws === ws) this.socketLost();
    };
    ws.onerror = null;
    window.clearInterval(this.pinger);
    this.pinger = window.setInterval(() => this.ping(), PING_MS);
    this.send({ type: "hello", version: PROTOCOL_VERSION });
    const hello = await this.expect("hello");
    this.iceServers = iceServersOf(hello);
    return hello;
  }

  /** Keepalive, and our check that the server still answers. */
  ping() {
    const now = Date.now();
    // Our own timer was held up (a long task: a 50-person offer, a busy
    // phone): messages may be queued unread behind it, so this is no proof
    // of silence. Judge at the next, punctual, tick.
    const late = now - this.lastPingAt > PING_MS * 2;
    this.lastPingAt = now;
    if (this.ws && !late && now - this.lastMessageAt > DEAD_MS) {
      this.dropSocket();
      return;
    }
    this.send({ type: "ping" });
  }

  /** Gives up the current socket without waiting for it to close. */
  dropSocket() {
    const ws = this.ws;
    if (!ws) return;
    ws.onmessage = ws.onclose = ws.onerror = null;
    ws.close();
    this.socketLost();
  }

  socketLost() {
    this.ws = null;
    window.clearInterval(this.pinger);
    this.waiter?.reject(Object.assign(new Error("connection lost"), { code: "connection_lost" }));
    this.waiter = null;
    if (this.closedByUs) return this.shutdown("left");
    if (this.inRoom) return void this.reconnect();
    this.shutdown("connection_lost");
  }

  /** Reconnects until it works, a refusal says it never will, or we give up. */
  async reconnect() {
    if (this.reconnecting) return;
    this.reconnecting = true;
    this.emit("reconnecting", {});
    const started = Date.now();
    for (let attempt = 0; !this.closedByUs; attempt++) {
      try {
        await this.openSocket();
        await this.resumeOrRejoin();
        this.reconnecting = false;
        return;
      } catch (err) {
        const code = /** @type {any} */ (err).code;
        if (FATAL.includes(code)) {
          this.reconnecting = false;
          this.inRoom = false;
          return this.shutdown(code);
        }
        const ws = this.ws;
        if (ws) {
          ws.onmessage = ws.onclose = ws.onerror = null;
          ws.close();
          this.ws = null;
        }
      }
      if (Date.now() - started > GIVE_UP_MS) break;
      const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MS * 2 ** attempt) * (0.8 + 0.4 * Math.random());
      await new Promise((resolve) => {
        const timer = window.setTimeout(resolve, delay);
        this.wake = () => {
          window.clearTimeout(timer);
          resolve(undefined);
        };
      });
      this.wake = null;
    }
    this.reconnecting = false;
    this.inRoom = false;
    this.shutdown("connection_lost");
  }

  /** On a new socket: our participant back, or (after a restart) a new join. */
  async resumeOrRejoin() {
    if (this.resumeToken) {
      this.send({ type: "resume", token: this.resumeToken });
      try {
        const msg = await this.expect("resumed");
        // The snapshot is told before anything is awaited: messages after it
        // (someone joining) are handled next, and must apply on top of it.
        this.emit("resumed", { msg });
        const state = this.pc?.connectionState;
        if (!msg.media || !this.pc || state === "failed" || state === "closed" || state === "disconnected") await this.republish();
        return;
      } catch (err) {
        if (/** @type {any} */ (err).code !== "resume_failed") throw err;
      }
    }
    if (!this.joinOpts) throw Object.assign(new Error("not in a room"), { code: "ended" });
    this.pc?.close();
    await this.joinOnce(this.joinOpts, "rejoined");
  }

  /**
   * Joins a room, publishing the given tracks (either may be null).
   * With a waiting room, emits `waiting` and resolves only once a host lets
   * us in; rejects with code `denied` if they turn us away.
   * @param {{room: string, name: string, invite?: string | null, audioTrack: MediaStreamTrack | null, videoTrack: MediaStreamTrack | null}} opts
   */
  async join({ room, name, invite, audioTrack, videoTrack }) {
    this.tracks.audio = audioTrack;
    this.tracks.video = videoTrack;
    this.joinOpts = { room, name, invite };
    const joined = await this.joinOnce(this.joinOpts);
    this.sendState(!!audioTrack?.enabled, !!videoTrack);
    return joined;
  }

  /** A new RTCPeerConnection publishing `this.tracks`, and its first offer. */
  async newPeerConnection() {
    const pc = new RTCPeerConnection(rtcConfig(this.iceServers));
    this.pc = pc;
    this.audio = pc.addTransceiver(this.tracks.audio ?? "audio", { direction: "sendonly" });
    this.video = pc.addTransceiver(this.tracks.video ?? "video", { direction: "sendonly", sendEncodings: SIMULCAST });
    // A shared screen and its sound: offered now, idle until used, so
    // sharing needs no renegotiation. The server tells them apart by order.
    this.screenVideo = pc.addTransceiver(this.tracks.screenVideo ?? "video", { direction: "sendonly", sendEncodings: [{ maxBitrate: 2_500_000, maxFramerate: 15 }] });
    this.screenAudio = pc.addTransceiver(this.tracks.screenAudio ?? "audio", { direction: "sendonly" });
    pc.ontrack = (e) => {
      const stream = e.streams[0];
      if (stream && this.pc === pc) this.emit("track", { participantId: stream.id, track: e.track, stream });
    };
    pc.onconnectionstatechange = () => {
      if (this.pc !== pc) return;
      window.clearTimeout(this.mediaTimer);
      if (pc.connectionState === "failed") this.mediaBroke();
      // "disconnected" may heal by itself; give it a moment.
      else if (pc.connectionState === "disconnected") this.mediaTimer = window.setTimeout(() => this.pc === pc && pc.connectionState !== "connected" && this.mediaBroke(), MEDIA_GRACE_MS);
    };
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    return pc;
  }

  /** The media connection failed while signaling works: replace it. */
  mediaBroke() {
    if (!this.inRoom || this.reconnecting || this.republishing) return;
    this.republish().catch(() => {
      // The socket will tell (close): the reconnect path takes over.
    });
  }

  /**
   * Joins, and emits `event` ({joined}) as soon as `joined` arrives, before
   * the answer is applied: the messages after it (someone else joining) are
   * handled next, on top of that snapshot.
   * @param {{room: string, name: string, invite?: string | null}} opts @param {string} [event]
   */
  async joinOnce({ room, name, invite }, event = "") {
    const pc = await this.newPeerConnection();
    const join = { type: "join", room, name, offer: pc.localDescription?.sdp ?? "", invite: invite || null };
    this.send(join);
    let joined = await this.expect(["joined", "waiting"]);
    while (joined.type === "waiting") {
      this.emit("waiting", { room: joined.room });
      await this.expect(["admitted"], ["denied", "ended", "removed"]);
      // Admitted: the same offer, again (no answer was applied to it yet).
      this.send(join);
      joined = await this.expect(["joined", "waiting"]);
    }
    this.resumeToken = joined.resume ?? "";
    this.inRoom = true;
    this.emit("joined", joined);
    if (event) this.emit(event, { joined });
    await pc.setRemoteDescription({ type: "answer", sdp: joined.answer });
    return joined;
  }

  /** A new media connection for the same participant (`republish`). */
  async republish() {
    this.republishing = true;
    try {
      const old = this.pc;
      const pc = await this.newPeerConnection();
      old?.close();
      this.send({ type: "republish", offer: pc.localDescription?.sdp ?? "" });
      const msg = await this.expect("republished");
      await pc.setRemoteDescription({ type: "answer", sdp: msg.answer });
      this.emit("republished", {});
    } finally {
      this.republishing = false;
    }
  }

  /** Swaps the microphone track (null sends nothing). @param {MediaStreamTrack | null} track */
  async setAudioTrack(track) {
    this.tracks.audio = track;
    await this.audio?.sender.replaceTrack(track);
  }

  /** Starts (tracks) or stops (nulls) sharing a screen. @param {MediaStreamTrack | null} video @param {MediaStreamTrack | null} audio */
  async setScreen(video, audio) {
    if (video) video.contentHint = "detail";
    this.tracks.screenVideo = video;
    this.tracks.screenAudio = audio;
    await this.screenVideo?.sender.replaceTrack(video);
    await this.screenAudio?.sender.replaceTrack(audio);
  }

  /** Swaps the camera track (null: camera off). @param {MediaStreamTrack | null} track */
  async setVideoTrack(track) {
    this.tracks.video = track;
    await this.video?.sender.replaceTrack(track);
  }
  /**
   * Which tiles are on screen: [{id, height}] in device pixels.
   * @param {Array<{id: string, height: number}>} tiles
   */
  sendView(tiles) {
    this.send({ type: "view", tiles });
  }

  /** Switches our simulcast encodings on or off as the server asks. @param {string} mid @param {string[]} active */
  async setActiveLayers(mid, active) {
    const sender = this.video?.mid === mid ? this.video.sender : null;
    if (!sender) return;
    const params = sender.getParameters();
    if (!params.encodings?.length) return;
    for (const e of params.encodings) e.active = active.includes(e.rid ?? "");
    await sender.setParameters(params).catch(() => {});
  }

  /** Sends a room command (host controls, chat, hand, reaction, report). @param {object} msg */
  command(msg) {
    this.send(msg);
  }

  /** Caps the microphone's bitrate (music mode: 128 kb/s), or lifts the cap. @param {number | null} bps */
  async setAudioBitrate(bps) {
    const sender = this.audio?.sender;
    if (!sender) return;
    const params = sender.getParameters();
    if (!params.encodings?.length) params.encodings = [{}];
    for (const e of params.encodings) {
      if (bps) e.maxBitrate = bps;
      else delete e.maxBitrate;
    }
    await sender.setParameters(params).catch(() => {});
  }

  /** Tells others our microphone / camera / screen state. */
  sendState(audio = false, video = false, screen = false) {
    this.send({ type: "state", audio, video, screen });
  }

  leave() {
    this.closedByUs = true;
    this.inRoom = false;
    this.send({ type: "leave" });
    this.ws?.close();
    this.shutdown("left");
  }

  /** @param {object} msg */
  send(msg) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  /**
   * Resolves with the next message of one of `types`; rejects on an error
   * message or one of `failures` (its type becomes the error code).
   * @param {string | string[]} types @param {string[]} [failures]
   */
  expect(types, failures = []) {
    const want = Array.isArray(types) ? types : [types];
    return new Promise((resolve, reject) => {
      this.waiter = {
        reject,
        accept: (msg) => {
          if (want.includes(msg.type)) {
            this.waiter = null;
            resolve(msg);
          } else if (msg.type === "error" && !(msg.code === "rate_limited" || msg.code === "media_failed")) {
            this.waiter = null;
            reject(Object.assign(new Error(msg.message), { code: msg.code }));
          } else if (failures.includes(msg.type)) {
            this.waiter = null;
            reject(Object.assign(new Error(msg.type), { code: msg.type }));
          } else return false;
          return true;
        },
      };
    });
  }

  /** @param {any} msg */
  async handle(msg) {
    // From `republished` on, the server's offers are for the new connection
    // (it sends them after that reply), and they must not be dropped: the
    // answer to `republished` is applied first, in the connection's own queue.
    if (msg.type === "republished") this.republishing = false;
    if (this.waiter?.accept(msg) && ["hello", "joined", "waiting", "admitted", "denied", "error", "resumed", "republished"].includes(msg.type)) return;
    switch (msg.type) {
      case "offer": {
        const pc = this.pc;
        // Until `republished`, offers are for the connection being replaced, and
        // moot: the server offers the new one afresh. An exact repeat was answered already.
        if (!pc || this.republishing || msg.sdp === this.lastOffer) return;
        this.lastOffer = msg.sdp;
        await pc.setRemoteDescription({ type: "offer", sdp: msg.sdp });
        const answer = await pc.createAnswer();
        await pc.setLocalDescription(answer);
        this.send({ type: "answer", sdp: pc.localDescription?.sdp ?? "" });
        break;
      }
      case "participant_joined":
        this.emit("participant-joined", { participant: msg.participant });
        break;
      case "participant_updated":
        this.emit("participant-updated", { participant: msg.participant });
        break;
      case "participant_left":
        this.emit("participant-left", { id: msg.id });
        break;
      case "speakers":
        this.emit("speakers", { ids: msg.ids });
        break;
      case "layers":
        await this.setActiveLayers(msg.mid, msg.active);
        break;
      case "error":
        if (msg.code === "media_failed") {
          this.mediaBroke();
          break;
        }
        this.emit("error", { code: msg.code, message: msg.message });
        break;
      case "reconnect":
        // The server is going away: reconnect now rather than on a timeout.
        this.dropSocket();
        break;
      case "resync":
        this.emit("resync", { msg });
        break;
      case "pong":
        break;
      default:
        // Host controls and room life: the page decides what they mean.
        this.emit("room-event", { msg });
        break;
    }
  }

  /** @param {string} reason */
  shutdown(reason) {
    if (!this.ws && !this.pc) return;
    window.clearInterval(this.pinger);
    window.clearTimeout(this.mediaTimer);
    window.removeEventListener("online", this.onOnline);
    this.pc?.close();
    this.pc = null;
    const ws = this.ws;
    if (ws) ws.onmessage = ws.onclose = ws.onerror = null;
    this.ws = null;
    this.emit("closed", { reason });
  }

  /** @param {string} name @param {object} detail */
  emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }
}

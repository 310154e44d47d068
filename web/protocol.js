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
 * Events (CustomEvent, detail shown):
 *  joined {you, room, participants} · participant-joined {participant}
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
const PING_MS = 5000;

/**
 * @typedef {{id: string, name: string, audio: boolean, video: boolean, avatar?: string, username?: string}} Participant
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
    /** @type {Promise<void>} messages are handled in order on this chain */
    this.chain = Promise.resolve();
    /** @type {((msg: any) => void) | null} */
    this.waiter = null;
    this.pinger = 0;
    this.closedByUs = false;
    /** @type {RTCIceServer[]} from the server's `hello` */
    this.iceServers = [];
  }

  /** Opens the socket and completes the version handshake. */
  async connect() {
    const ws = new WebSocket(this.wsUrl);
    this.ws = ws;
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error("cannot reach the server"));
    });
    ws.onmessage = (e) => {
      let msg;
      try {
        msg = JSON.parse(e.data);
      } catch {
        return;
      }
      this.chain = this.chain.then(() => this.handle(msg)).catch((err) => this.emit("error", { code: "client", message: String(err) }));
    };
    ws.onclose = () => this.shutdown(this.closedByUs ? "left" : "connection_lost");
    ws.onerror = null;
    this.pinger = window.setInterval(() => this.send({ type: "ping" }), PING_MS);
    this.send({ type: "hello", version: PROTOCOL_VERSION });
    const hello = await this.expect("hello");
    this.iceServers = iceServersOf(hello);
    return hello;
  }

  /**
   * Joins a room, publishing the given tracks (either may be null).
   * With a waiting room, emits `waiting` and resolves only once a host lets
   * us in; rejects with code `denied` if they turn us away.
   * @param {{room: string, name: string, invite?: string | null, audioTrack: MediaStreamTrack | null, videoTrack: MediaStreamTrack | null}} opts
   */
  async join({ room, name, invite, audioTrack, videoTrack }) {
    const pc = new RTCPeerConnection(rtcConfig(this.iceServers));
    this.pc = pc;
    this.audio = pc.addTransceiver(audioTrack ?? "audio", { direction: "sendonly" });
    this.video = pc.addTransceiver(videoTrack ?? "video", { direction: "sendonly", sendEncodings: SIMULCAST });
    // A shared screen and its sound: offered now, idle until used, so
    // sharing needs no renegotiation. The server tells them apart by order.
    this.screenVideo = pc.addTransceiver("video", { direction: "sendonly", sendEncodings: [{ maxBitrate: 2_500_000, maxFramerate: 15 }] });
    this.screenAudio = pc.addTransceiver("audio", { direction: "sendonly" });
    pc.ontrack = (e) => {
      const stream = e.streams[0];
      if (stream) this.emit("track", { participantId: stream.id, track: e.track, stream });
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "failed") this.emit("error", { code: "media_failed", message: "media connection failed" });
    };
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
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
    await pc.setRemoteDescription({ type: "answer", sdp: joined.answer });
    this.emit("joined", joined);
    this.sendState(!!audioTrack?.enabled, !!videoTrack);
    return joined;
  }

  /** Swaps the microphone track (null sends nothing). @param {MediaStreamTrack | null} track */
  async setAudioTrack(track) {
    await this.audio?.sender.replaceTrack(track);
  }

  /** Starts (tracks) or stops (nulls) sharing a screen. @param {MediaStreamTrack | null} video @param {MediaStreamTrack | null} audio */
  async setScreen(video, audio) {
    if (video) video.contentHint = "detail";
    await this.screenVideo?.sender.replaceTrack(video);
    await this.screenAudio?.sender.replaceTrack(audio);
  }

  /** Swaps the camera track (null: camera off). @param {MediaStreamTrack | null} track */
  async setVideoTrack(track) {
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
      this.waiter = (msg) => {
        if (want.includes(msg.type)) {
          this.waiter = null;
          resolve(msg);
        } else if (msg.type === "error") {
          this.waiter = null;
          reject(Object.assign(new Error(msg.message), { code: msg.code }));
        } else if (failures.includes(msg.type)) {
          this.waiter = null;
          reject(Object.assign(new Error(msg.type), { code: msg.type }));
        }
      };
    });
  }

  /** @param {any} msg */
  async handle(msg) {
    if (this.waiter) {
      this.waiter(msg);
      if (["hello", "joined", "waiting", "admitted", "denied", "error"].includes(msg.type)) return;
    }
    switch (msg.type) {
      case "offer": {
        const pc = this.pc;
        if (!pc) return;
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
        this.emit("error", { code: msg.code, message: msg.message });
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
    this.pc?.close();
    this.pc = null;
    this.ws = null;
    this.emit("closed", { reason });
  }

  /** @param {string} name @param {object} detail */
  emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }
}

// @ts-check
/**
 * Local camera and microphone: open them, list them, switch them, and
 * measure our own voice level (for the speaking indicator on our tile).
 * Failures never block joining: a person without a camera still joins.
 */

export class LocalMedia {
  constructor() {
    /** @type {MediaStreamTrack | null} */
    this.audio = null;
    /** @type {MediaStreamTrack | null} */
    this.video = null;
    this.micOn = true;
    this.camOn = true;
    /** @type {string | undefined} */
    this.cameraId = undefined;
    /** @type {string | undefined} */
    this.micId = undefined;
    /** @type {AnalyserNode | null} */
    this.analyser = null;
    /** Music mode: the microphone without voice processing. */
    this.music = false;
    /** @type {AudioContext | null} */
    this.ctx = null;
    /** The track the meter listens to, and which track it is a clone of. @type {MediaStreamTrack | null} */
    this.meterTrack = null;
    /** @type {MediaStreamTrack | null} */
    this.meterFor = null;
  }

  /** Opens what is switched on. Returns an error message key or null. */
  async open() {
    let failed = false;
    // Microphone and camera are asked for at once (a call joins as soon as
    // both are there); each may fail on its own.
    const mic = async () => {
      if (!this.micOn || this.audio) return;
      try {
        // Music mode ("original sound"): no echo cancellation, noise
        // suppression or gain control, which treat music as noise; stereo.
        const processing = this.music
          ? { echoCancellation: false, noiseSuppression: false, autoGainControl: false, channelCount: 2 }
          : {};
        const s = await navigator.mediaDevices.getUserMedia({
          audio: { ...(this.micId ? { deviceId: { exact: this.micId } } : {}), ...processing },
        });
        this.audio = s.getAudioTracks()[0] ?? null;
      } catch {
        failed = true;
        this.micOn = false;
      }
    };
    const cam = async () => {
      if (!this.camOn || this.video) return;
      try {
        const s = await navigator.mediaDevices.getUserMedia({
          video: { width: { ideal: 1280 }, height: { ideal: 720 }, ...(this.cameraId ? { deviceId: { exact: this.cameraId } } : {}) },
        });
        this.video = s.getVideoTracks()[0] ?? null;
      } catch {
        failed = true;
        this.camOn = false;
      }
    };
    await Promise.all([mic(), cam()]);
    return failed ? "prejoin.mediaDenied" : null;
  }

  /** Reopens the microphone with or without voice processing. @param {boolean} on */
  async setMusic(on) {
    this.music = on;
    if (!this.audio) return null;
    this.audio.stop();
    this.audio = null;
    this.analyser = null;
    this.ctx?.close().catch(() => {});
    this.ctx = null;
    const problem = await this.open();
    if (this.audio) /** @type {MediaStreamTrack} */ (this.audio).enabled = this.micOn;
    return problem;
  }

  /** Stops the camera (its light goes off). */
  stopVideo() {
    this.video?.stop();
    this.video = null;
  }

  /** Mutes or unmutes without releasing the device. @param {boolean} on */
  setMic(on) {
    this.micOn = on;
    if (this.audio) this.audio.enabled = on;
  }

  /** @returns {Promise<{cameras: MediaDeviceInfo[], mics: MediaDeviceInfo[]}>} */
  async devices() {
    const all = await navigator.mediaDevices.enumerateDevices().catch(() => []);
    return {
      cameras: all.filter((d) => d.kind === "videoinput"),
      mics: all.filter((d) => d.kind === "audioinput"),
    };
  }

  /** Our own microphone level, 0..1, for the speaking indicator (0 when muted). */
  level() {
    return this.micOn ? this.meterLevel() : 0;
  }

  /**
   * The microphone's level, 0..1, muted or not: the pre-join meter and the
   * "you are muted" hint. It listens to a clone of the track, which stays
   * enabled while the sent track is muted (a disabled track is silence).
   */
  meterLevel() {
    if (!this.audio) return 0;
    if (!this.analyser || this.meterFor !== this.audio) {
      try {
        this.meterTrack?.stop();
        this.ctx?.close().catch(() => {});
        this.meterFor = this.audio;
        this.meterTrack = this.audio.clone();
        this.meterTrack.enabled = true;
        this.ctx = new AudioContext();
        const src = this.ctx.createMediaStreamSource(new MediaStream([this.meterTrack]));
        this.analyser = this.ctx.createAnalyser();
        // About a third of a second at 48 kHz: longer than the 300 ms
        // between polls, so no syllable (or beep) falls between two looks.
        this.analyser.fftSize = 16384;
        src.connect(this.analyser);
      } catch {
        return 0;
      }
    }
    if (!this.analyser) return 0;
    const buf = new Uint8Array(this.analyser.fftSize);
    this.analyser.getByteTimeDomainData(buf);
    let peak = 0;
    for (const v of buf) peak = Math.max(peak, Math.abs(v - 128) / 128);
    return peak;
  }

  close() {
    this.meterTrack?.stop();
    this.meterTrack = null;
    this.audio?.stop();
    this.video?.stop();
    this.audio = null;
    this.video = null;
    this.ctx?.close().catch(() => {});
    this.ctx = null;
    this.analyser = null;
  }
}

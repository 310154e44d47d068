// @ts-check
/**
 * The room page inside another site's frame (`/embed/r/<id>`, allowed by
 * `--embed-origins`): a small postMessage API with the page around it.
 *
 * Events (Salon -> the site), each `{source: "salon", type, ...}`:
 * `ready`, `joined` `{you: {id, name}}`, `participant_joined`
 * `{participant: {id, name}}` (each one present when we join, then each
 * newcomer), `participant_left` `{id}`, `mute`
 * `{audio, video}` (our microphone and camera, on each change), `left`,
 * `error` `{code, message}` (joining failed: the signaling error code).
 * Commands (the site -> Salon), each `{salon: "command", command, ...}`:
 * `join` `{name?}`, `leave`, `mute` `{audio?, video?}` (true: off).
 *
 * Only the frame's parent is listened to, and the parent can only be one of
 * the allowed sites (`frame-ancestors`); events go to the parent's origin
 * where the browser says it (`location.ancestorOrigins`), else to any
 * origin, which `frame-ancestors` has already narrowed to the allowed ones.
 */

/**
 * @typedef {{ join: (name?: string) => void, leave: () => void, mute: (audio?: boolean, video?: boolean) => void }} EmbedHooks
 */

export const embedded = location.pathname.startsWith("/embed/") && window.parent !== window;

const target = /** @type {any} */ (location).ancestorOrigins?.[0] ?? "*";

/** Sends an event to the site around the frame (nothing when not embedded). @param {string} type @param {object} [data] */
export function emit(type, data = {}) {
  if (embedded) window.parent.postMessage({ source: "salon", type, ...data }, target);
}

/**
 * Listens to the site's commands, and says `ready` once the camera and
 * microphone are set up (a `join` sent earlier would wait for them anyway).
 * @param {Promise<unknown>} setUp @param {EmbedHooks} hooks
 */
export function listen(setUp, hooks) {
  if (!embedded) return;
  window.addEventListener("message", (e) => {
    if (e.source !== window.parent || (target !== "*" && e.origin !== target)) return;
    const m = e.data;
    if (!m || typeof m !== "object" || m.salon !== "command") return;
    if (m.command === "join") hooks.join(typeof m.name === "string" ? m.name.slice(0, 40) : undefined);
    else if (m.command === "leave") hooks.leave();
    else if (m.command === "mute") hooks.mute(typeof m.audio === "boolean" ? m.audio : undefined, typeof m.video === "boolean" ? m.video : undefined);
  });
  setUp.finally(() => emit("ready"));
}

// @ts-check
/**
 * The signed-in account's event stream (`/api/tray/events`): events `tray`
 * (friends' open rooms) and `calls` (rings, my calls, missed calls). One
 * EventSource per page, shared by whoever listens; it reconnects by itself.
 */

/** @type {EventSource | null} */
let source = null;

export function accountEvents() {
  source ??= new EventSource("/api/tray/events");
  return source;
}

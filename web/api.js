// @ts-check
/**
 * JSON calls to Salon's REST API (`/api`), shared by the account pages.
 * Errors from the server are `{code, message}`; they are thrown as ApiError.
 * The session is an HttpOnly cookie the browser sends by itself.
 */

import { t } from "./i18n.js";

export class ApiError extends Error {
  /** @param {number} status @param {string} code @param {string} message */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body] JSON body, or a Blob sent as is
 * @returns {Promise<any>}
 */
export async function api(method, path, body) {
  /** @type {RequestInit} */
  const init = { method, headers: {} };
  if (body instanceof Blob) {
    init.body = body;
    /** @type {Record<string,string>} */ (init.headers)["content-type"] = body.type || "application/octet-stream";
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    /** @type {Record<string,string>} */ (init.headers)["content-type"] = "application/json";
  }
  const res = await fetch(path, init);
  if (res.status === 204) return null;
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, data.code || "error", data.message || res.statusText);
  return data;
}

/**
 * Who is signed in, and who may create rooms.
 * @returns {Promise<{account: null | {username: string, display_name: string, bio: string, avatar: string | null}, room_creation: "accounts" | "anyone"}>}
 */
export function session() {
  return api("GET", "/api/session");
}

/**
 * Text to show for an error: the page's own translation of the server's
 * stable code when there is one (`apiError.<code>`), else the server's message.
 * @param {unknown} err
 */
export function messageOf(err) {
  if (err instanceof ApiError) {
    const key = `apiError.${err.code}`;
    const text = t(key);
    if (text !== key) return text;
  }
  return err instanceof Error ? err.message : String(err);
}

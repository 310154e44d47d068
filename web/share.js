// @ts-check
/**
 * The share panel of a room: the system share sheet where the browser has
 * one (the Web Share API, mostly phones), copy link, a QR code drawn by
 * Salon (`/r/<id>/qr.svg`, no other service), and plain share links for
 * e-mail and messaging apps (`mailto:`, `sms:`, WhatsApp's and Telegram's
 * public share URLs: links the person follows, no API, nothing loaded).
 *
 * Why a panel even where `navigator.share` exists: the QR code is for
 * showing the link to a phone across the table, which a share sheet
 * cannot do; the sheet is the panel's first button there.
 */
import { t } from "./i18n.js";

/** @param {string} id */
const $ = (id) => /** @type {any} */ (document.getElementById(id));

/**
 * Share links for e-mail and messaging apps.
 * @param {string} link @param {string} text
 * @returns {[string, string][]} [label key, href]
 */
export function shareLinks(link, text) {
  const u = encodeURIComponent(link);
  const body = encodeURIComponent(`${text} ${link}`);
  return [
    ["share.email", `mailto:?subject=${encodeURIComponent(text)}&body=${body}`],
    ["share.sms", `sms:?&body=${body}`],
    ["share.whatsapp", `https://wa.me/?text=${body}`],
    ["share.telegram", `https://t.me/share/url?url=${u}&text=${encodeURIComponent(text)}`],
  ];
}

/**
 * Opens the share panel (`#share-dialog` in room.html).
 * @param {{ link: string, roomId: string, title: string, toast: (s: string) => void }} o
 */
export function openShare(o) {
  const dialog = $("share-dialog");
  const text = o.title ? t("share.textNamed", { name: o.title }) : t("share.text");
  $("share-link").value = o.link;
  const native = $("share-native");
  native.hidden = typeof navigator.share !== "function";
  native.onclick = async () => {
    try {
      await navigator.share({ title: text, text, url: o.link });
    } catch {
      // Cancelled, or refused: the panel is still there.
    }
  };
  $("share-copy").onclick = async () => {
    try {
      await navigator.clipboard.writeText(o.link);
      o.toast(t("room.linkCopied"));
    } catch {
      $("share-link").select();
      o.toast(t("room.linkCopyFailed", { link: o.link }));
    }
  };
  const qr = $("share-qr");
  qr.src = `/r/${encodeURIComponent(o.roomId)}/qr.svg`;
  qr.alt = t("share.qrAlt");
  const list = $("share-apps");
  list.replaceChildren(
    ...shareLinks(o.link, text).map(([key, href]) => {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = href;
      a.className = "button";
      a.textContent = t(key);
      if (href.startsWith("https:")) {
        a.target = "_blank";
        a.rel = "noopener noreferrer";
      }
      li.append(a);
      return li;
    }),
  );
  $("share-close").onclick = () => dialog.close();
  dialog.showModal();
}

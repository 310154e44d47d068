// @ts-check
/**
 * The room page of a call (issue 17): the title says whose call it is; a
 * browser that was not called sees at once that it cannot come in (the
 * server refuses its `join` with `not_invited` anyway); someone arriving
 * from "Call" or "Accept" (`?call=1`) joins without the pre-join step; the
 * caller sees how each person answered (ringing, accepted, declined, busy,
 * missed) and can add friends, up to 8 people.
 */
import { t, onLangChange } from "./i18n.js";
import { api, messageOf } from "./api.js";
import { onCalls, startCalls } from "./calls.js";

/** @param {string} id */
const $ = (id) => /** @type {any} */ (document.getElementById(id));

/**
 * @param {any} room the RoomView
 * @param {{ join: () => void, toast: (s: string) => void }} o
 */
export function setUpCall(room, o) {
  const title = room.host_name ? t("call.titleOf", { name: room.host_name }) : t("call.title");
  $("room-title").textContent = title;
  document.title = `${title} · Salon`;
  if (!room.may_enter) {
    $("join-error").textContent = t("error.not_invited");
    $("join-btn").disabled = true;
    return;
  }
  const params = new URLSearchParams(location.search);
  if (params.get("call") === "1") {
    history.replaceState(null, "", location.pathname);
    o.join();
  }
  if (room.host) followAnswers(room.id, o.toast);
}

/** The caller's view of the answers, and "Add people". @param {string} id @param {(s: string) => void} toast */
function followAnswers(id, toast) {
  const box = $("call-panel");
  box.hidden = false;
  /** @type {Map<string, string>} */
  const seen = new Map();
  /** @type {import("./calls.js").CallView | null} */
  let call = null;
  const draw = () => {
    if (!call) return;
    $("call-people").replaceChildren(
      ...call.callees.map((c) => {
        const li = document.createElement("li");
        li.dataset.answer = c.answer;
        li.textContent = t(`call.answer.${c.answer}`, { name: c.display_name });
        return li;
      }),
    );
    $("call-add").disabled = call.callees.filter((c) => c.answer !== "declined" && c.answer !== "missed").length >= 7;
  };
  startCalls();
  onCalls((now) => {
    const c = now.mine.find((m) => m.id === id);
    if (!c) return;
    for (const p of c.callees) {
      const before = seen.get(p.username);
      if (before && before !== p.answer && (p.answer === "declined" || p.answer === "busy" || p.answer === "missed")) {
        toast(t(`call.answer.${p.answer}`, { name: p.display_name }));
      }
      seen.set(p.username, p.answer);
    }
    call = c;
    draw();
  });
  onLangChange(draw);
  $("call-add").addEventListener("click", async () => {
    const { friends } = await api("GET", "/api/friends").catch(() => ({ friends: [] }));
    const taken = new Set((call?.callees ?? []).filter((c) => c.answer !== "declined" && c.answer !== "missed").map((c) => c.username));
    const list = $("call-add-list");
    list.replaceChildren(
      ...friends
        .filter((/** @type {any} */ f) => !taken.has(f.username))
        .map((/** @type {any} */ f) => {
          const label = document.createElement("label");
          label.className = "check";
          const box = document.createElement("input");
          box.type = "checkbox";
          box.value = f.username;
          label.append(box, ` ${f.display_name} (@${f.username})`);
          const li = document.createElement("li");
          li.append(label);
          return li;
        }),
    );
    $("call-add-status").textContent = friends.length ? "" : t("call.noFriends");
    $("call-add-dialog").showModal();
  });
  $("call-add-cancel").addEventListener("click", () => $("call-add-dialog").close());
  $("call-add-form").addEventListener("submit", async (/** @type {Event} */ e) => {
    e.preventDefault();
    const usernames = [...$("call-add-list").querySelectorAll("input:checked")].map((i) => i.value);
    if (!usernames.length) return $("call-add-dialog").close();
    try {
      call = await api("POST", `/api/calls/${id}/people`, { usernames });
      draw();
      $("call-add-dialog").close();
    } catch (err) {
      $("call-add-status").textContent = messageOf(err);
    }
  });
}

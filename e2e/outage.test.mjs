// Never drop out (issue 12) on a real network path, in namespaces
// (e2e/netns.mjs): Ana's page sits in namespace a, Ben and Chloé in b.
// - A 15 s outage of all of a's traffic: Ana comes back by herself when the
//   network returns, and Ben and Chloé never see her leave.
// - Only media breaks (UDP and the TCP media port dropped, the WebSocket
//   kept) for 6 s: Ana's page replaces its media connection and video
//   flows again.
// Times are printed; RELIABILITY.md records them.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { launchChromium, eventually, joinRoom, decoding } from "./helpers.mjs";
import { Netns, netnsUnavailable, at, SERVER_A, SERVER_B, PORTS } from "./netns.mjs";

const TARGET = join(process.env.CARGO_TARGET_DIR || "target", "debug");
const BIN = process.env.SALON_BIN || join(TARGET, "salon");
const skip = netnsUnavailable();

let net;
let salon;
const browsers = {};

before(async () => {
  if (skip) return;
  net = new Netns();
  process.on("exit", () => net?.cleanup());
  net.setup();
  salon = await net.startSalon(BIN);
  const secure = `--unsafely-treat-insecure-origin-as-secure=http://${SERVER_A}:${PORTS.http},http://${SERVER_B}:${PORTS.http}`;
  for (const n of ["a", "b"]) browsers[n] = await launchChromium({ executablePath: net.chromium(n), args: [secure] });
});

after(async () => {
  for (const b of Object.values(browsers)) await b?.close().catch(() => {});
  await salon?.stop();
  net?.cleanup();
});

test("a 15 s outage and a media-only break: Ana comes back by herself, nobody sees her leave", { skip: skip ?? false }, async () => {
  const ana = await (await browsers.a.newContext({ locale: "en-US" })).newPage();
  const ben = await (await browsers.b.newContext({ locale: "en-US" })).newPage();
  const chloe = await (await browsers.b.newContext({ locale: "en-US" })).newPage();
  await ben.goto(`http://${SERVER_B}:${PORTS.http}/`);
  await ben.getByRole("button", { name: "Create a room" }).click();
  await ben.waitForURL(/\/r\/[A-Za-z0-9_-]{22}$/);
  const path = new URL(ben.url()).pathname;
  await joinRoom(ben, at(SERVER_B, path), "Ben");
  await joinRoom(chloe, at(SERVER_B, path), "Chloé");
  await joinRoom(ana, at(SERVER_A, path), "Ana");
  for (const p of [ana, ben, chloe]) await decoding(p, 2, { timeout: 45000, what: "everyone decodes everyone" });

  // Watch Ben's and Chloé's grids: Ana's tile must never go.
  let left = false;
  const watching = setInterval(async () => {
    for (const p of [ben, chloe]) {
      const n = await p.locator(".tile").count().catch(() => 3);
      if (n < 3) left = true;
    }
  }, 200);
  watching.unref();
  try {

  // 1. All of a's traffic dropped for 15 s.
  net.rule("a", "out", "drop");
  net.rule("a", "in", "drop");
  await eventually(async () => ana.locator("#conn-status").isVisible(), { timeout: 15000, what: "Ana's page says Reconnecting…" });
  await new Promise((r) => setTimeout(r, 15000 - 0));
  net.flush();
  const restored = Date.now();
  await eventually(async () => !(await ana.locator(".in-room.reconnecting").count()), { timeout: 20000, interval: 100, what: "Ana reconnected" });
  const signaling = Date.now() - restored;
  await decoding(ana, 2, { timeout: 20000, what: "Ana decodes the others again" });
  const anaVideo = Date.now() - restored;
  for (const p of [ben, chloe]) await decoding(p, 2, { timeout: 20000, what: "the others decode Ana again" });
  const allVideo = Date.now() - restored;
  console.log(`# outage 15 s: signaling back ${signaling} ms, Ana's video ${anaVideo} ms, everyone's ${allVideo} ms after the network returned`);
  assert.equal(left, false, "Ben and Chloé never saw Ana leave");
  assert.ok(allVideo < 15000, `back within 15 s (${allVideo} ms)`);

  // 2. Only media breaks: UDP and the TCP media port, the WebSocket stays.
  net.rule("a", "out", "meta l4proto udp drop");
  net.rule("a", "out", `tcp dport ${PORTS.media} drop`);
  net.rule("a", "in", "meta l4proto udp drop");
  await new Promise((r) => setTimeout(r, 6000));
  net.flush();
  const mediaBack = Date.now();
  await decoding(ana, 2, { timeout: 20000, what: "Ana's media back" });
  for (const p of [ben, chloe]) await decoding(p, 2, { timeout: 20000, what: "the others see Ana again" });
  const media = Date.now() - mediaBack;
  console.log(`# media-only break 6 s: video flowing both ways ${media} ms after the path returned`);
  assert.equal(await ana.locator("#ended").isVisible(), false, "no end screen");
  assert.equal(left, false, "nobody saw Ana leave");
  } finally {
    clearInterval(watching);
  }
});

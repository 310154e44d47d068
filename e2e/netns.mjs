// Network namespaces for the "every network" tests: Salon in one namespace,
// browsers in others, joined by veth pairs, with nftables rules that drop
// UDP, allow only some ports, or lose packets at random. Nothing leaves the
// machine. Needs root, iproute2 and nftables (./test.sh installs them).
//
//   client ns "a"  198.51.100.2 ──veth── 198.51.100.1  server ns "s"
//   client ns "b"  203.0.113.2  ──veth── 203.0.113.1   (Salon on both)
//
// Chromium gathers no candidates from loopback alone, hence the veths (this
// kernel has no dummy module), and it runs inside its namespace through a
// tiny wrapper script so Playwright's pipe to it is kept.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, chmodSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const SERVER_A = "198.51.100.1";
export const CLIENT_A = "198.51.100.2";
export const SERVER_B = "203.0.113.1";
export const CLIENT_B = "203.0.113.2";
/** Fixed ports: the namespace is ours alone, so nothing clashes. */
export const PORTS = { http: 8080, media: 40000, turn: 3478, turns: 5349 };

/** The address of `path` on the server as seen at `host` (SERVER_A or SERVER_B). */
export const at = (host, path) => `http://${host}:${PORTS.http}${path}`;

function run(cmd, args) {
  return execFileSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"] }).toString();
}

/** Why these tests cannot run here, or null when they can. */
export function netnsUnavailable() {
  if (process.getuid?.() !== 0) return "needs root (ip netns)";
  for (const tool of ["/usr/sbin/ip", "/usr/sbin/nft"]) if (!existsSync(tool)) return `needs ${tool}`;
  return null;
}

export class Netns {
  constructor() {
    const tag = `salon${process.pid}`;
    this.ns = { s: `${tag}s`, a: `${tag}a`, b: `${tag}b` };
    this.dir = mkdtempSync(join(tmpdir(), "salon-netns-"));
    this.procs = [];
  }

  /** Creates the namespaces, links and (empty) nftables chains. */
  setup() {
    const { s, a, b } = this.ns;
    for (const n of [s, a, b]) {
      run("ip", ["netns", "add", n]);
      run("ip", ["-n", n, "link", "set", "lo", "up"]);
    }
    const link = (client, serverIp, clientIp) => {
      // Created inside the server namespace: names never clash with the host's.
      run("ip", ["-n", s, "link", "add", `to${client}`, "type", "veth", "peer", "name", "up0", "netns", this.ns[client]]);
      run("ip", ["-n", s, "addr", "add", `${serverIp}/24`, "dev", `to${client}`]);
      run("ip", ["-n", s, "link", "set", `to${client}`, "up"]);
      run("ip", ["-n", this.ns[client], "addr", "add", `${clientIp}/24`, "dev", "up0"]);
      run("ip", ["-n", this.ns[client], "link", "set", "up0", "up"]);
    };
    link("a", SERVER_A, CLIENT_A);
    link("b", SERVER_B, CLIENT_B);
    for (const n of [s, a, b]) {
      this.nft(n, "add table inet salon");
      this.nft(n, "add chain inet salon out { type filter hook output priority 0; }");
      this.nft(n, "add chain inet salon in { type filter hook input priority 0; }");
    }
  }

  /** Runs one nft command in namespace `n` (a key of this.ns or a name). */
  nft(n, command) {
    run("ip", ["netns", "exec", this.ns[n] ?? n, "nft", command]);
  }

  /** Adds a rule to namespace n's `out` or `in` chain. */
  rule(n, chain, rule) {
    this.nft(n, `add rule inet salon ${chain} ${rule}`);
  }

  /** Packets matched by the counters of namespace n's chain. */
  dropped(n, chain) {
    const out = run("ip", ["netns", "exec", this.ns[n] ?? n, "nft", "list", "chain", "inet", "salon", chain]);
    return [...out.matchAll(/packets (\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
  }

  /** Removes every rule (back to an open network). */
  flush() {
    for (const n of Object.values(this.ns)) {
      this.nft(n, "flush chain inet salon out");
      this.nft(n, "flush chain inet salon in");
    }
  }

  /** A Chromium executable that runs inside namespace n. */
  chromium(n) {
    const path = join(this.dir, `chromium-${n}`);
    writeFileSync(path, `#!/bin/sh\nexec /usr/sbin/ip netns exec ${this.ns[n]} ${process.env.CHROMIUM || "/usr/bin/chromium"} "$@"\n`);
    chmodSync(path, 0o755);
    return path;
  }

  /** Starts Salon inside the server namespace; resolves with {url, stop, log}. */
  async startSalon(bin, extraArgs = []) {
    const data = mkdtempSync(join(this.dir, "data-"));
    const args = [
      "netns", "exec", this.ns.s, bin,
      "--listen", `0.0.0.0:${PORTS.http}`, "--media-port", String(PORTS.media), "--media-loops", "1",
      "--turn-port", String(PORTS.turn), "--turn-tls-port", String(PORTS.turns),
      "--data-dir", data, "--room-creation", "anyone", ...extraArgs,
    ];
    const proc = spawn("ip", args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, RUST_LOG: "salon=info,warn" } });
    this.procs.push(proc);
    let log = "";
    proc.stderr.on("data", (d) => (log += d));
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`salon did not start:\n${log}`)), 20000);
      proc.on("exit", (code) => reject(new Error(`salon exited with ${code}:\n${log}`)));
      let out = "";
      proc.stdout.on("data", (d) => {
        out += d;
        if (/listening on/.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    return {
      log: () => log,
      async stop() {
        if (proc.exitCode === null) {
          proc.kill("SIGINT");
          await new Promise((r) => proc.once("exit", r));
        }
      },
    };
  }

  /** Deletes everything; safe to call twice and after a failed setup. */
  cleanup() {
    for (const p of this.procs) if (p.exitCode === null) p.kill("SIGKILL");
    for (const n of Object.values(this.ns)) {
      try {
        run("ip", ["netns", "del", n]);
      } catch {
        // Not created (setup failed early) or already gone.
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

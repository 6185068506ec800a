// The relay that delays a link (runner/network/relay.pl, issue 22): two real network namespaces,
// the relay's TUN devices between them, real UDP datagrams and a real tcpdump on each end.
// Timing bounds are wide (a shared two-core machine); the lower bounds are the point: the relay
// never delivers a packet before its delay.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { holdNamespace, ROOTLESS, type Holder } from "../runner/execute/holder.ts";
import { startRelay, type InNet, type Relay, type RelayOptions } from "../runner/network/relay.ts";
import { gone, hostPids } from "./helpers.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SCRIPT = join(ROOT, "runner", "network", "relay.pl");

/** Why these tests cannot run here, or null: they need /dev/net/tun and network namespaces. */
function unavailable(): string | null {
  try {
    accessSync("/dev/net/tun", constants.R_OK | constants.W_OK);
  } catch (err) {
    return `/dev/net/tun cannot be opened for reading and writing by this user (${(err as Error).message})`;
  }
  try {
    execFileSync("unshare", ROOTLESS ? ["--user", "--map-root-user", "--net", "true"] : ["--net", "true"], { stdio: "pipe" });
  } catch (err) {
    return `no network namespace can be made here: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`;
  }
  return null;
}
const UNAVAILABLE = unavailable();
// On CI (.ci/run sets CI) they run all the same, and fail with the reason: CI runs as root.
const SKIP = UNAVAILABLE !== null && !process.env.CI;
if (SKIP) console.warn(`relay tests skipped: ${UNAVAILABLE}`);

/** The command line that runs a program in the holder's namespace (as execute/sandbox.ts enters one). */
const inNetOf =
  (holder: Holder): InNet =>
  (command, args) => {
    const user = ROOTLESS ? [`--user=/proc/${holder.pid}/ns/user`, "--preserve-credentials"] : [];
    return { command: "nsenter", args: [...user, `--net=/proc/${holder.pid}/ns/net`, "--", command, ...args] };
  };

/** `device family address` of each address in the holder's namespace (`-4` or `-6`). */
function links(holder: Holder, family = "-4"): string[] {
  const { command, args } = inNetOf(holder)("ip", ["-o", family, "addr", "show"]);
  return execFileSync(command, args, { encoding: "utf8" }).split("\n").filter(Boolean).map((line) => line.split(/\s+/).slice(1, 4).join(" "));
}

// Everything a test started, ended after it whatever happened (vitest's workers run no exit handlers).
const started: { holders: Holder[]; relays: Relay[]; children: ChildProcess[] } = { holders: [], relays: [], children: [] };
afterEach(async () => {
  for (const relay of started.relays.splice(0)) relay.stop();
  for (const child of started.children.splice(0)) child.kill("SIGKILL");
  for (const holder of started.holders.splice(0)) holder.kill();
  // No relay of this checkout's is left behind by any test.
  for (const pid of hostPids(SCRIPT)) expect(await gone(pid)).toBe(true);
});

interface Link {
  one: Holder;
  two: Holder;
  relay: Relay;
  /** Milliseconds from starting the relay to both ends addressed and up. */
  startMs: number;
}

/**
 * Two hosts, 10.0.9.1 (device ra, namespace one) and 10.0.9.2 (rb, namespace two), joined by a
 * relay: rb made in namespace two and both ends set up by the relay, as Lectern's links are.
 */
async function link(delayMs: number): Promise<Link> {
  const [one, two] = await Promise.all([holdNamespace(), holdNamespace()]);
  for (const h of [one, two]) if (h) started.holders.push(h);
  if (!one || !two) throw new Error("could not hold two network namespaces");
  const begin = performance.now();
  const options: RelayOptions = { peerNet: `/proc/${two.pid}/ns/net`, addresses: ["10.0.9.1/24", "10.0.9.2/24"] };
  const relay = await startRelay(inNetOf(one), delayMs, "ra", "rb", options);
  started.relays.push(relay);
  return { one, two, relay, startMs: performance.now() - begin };
}

/** Runs `code` with node in the holder's namespace; resolves when it prints `line` (its first line). */
function nodeIn(holder: Holder, code: string): { child: ChildProcess; first: Promise<string>; all: Promise<string> } {
  const { command, args } = inNetOf(holder)(process.execPath, ["-e", code]);
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
  started.children.push(child);
  let out = "";
  let err = "";
  child.stdout!.setEncoding("utf8");
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d));
  const first = new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", (d: string) => (out += d).includes("\n") && resolve(out.split("\n")[0]!));
    child.on("close", () => reject(new Error(`node ended before a line: ${err}`)));
  });
  const all = new Promise<string>((resolve, reject) => child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`node exited ${code}: ${err}`)))));
  // Awaited where they matter; a test that fails first must not leave them unhandled.
  for (const p of [first, all]) p.catch(() => {});
  return { child, first, all };
}

// A UDP echo on 10.0.9.2:9000 that answers `count` datagrams and ends (or gives up after 20 s).
const ECHO = (count: number) => `
const s = require("dgram").createSocket("udp4");
let n = 0;
s.on("message", (m, r) => s.send(m, r.port, r.address, () => ++n === ${count} && process.exit(0)));
s.bind(9000, "10.0.9.2", () => console.log("ready"));
setTimeout(() => process.exit(3), 20000);`;

// Sends `count` datagrams one after another, datagram i of i + 1 bytes, each after the echo of the
// one before; prints the round trips in milliseconds as JSON.
const PINGS = (count: number) => `
const s = require("dgram").createSocket("udp4");
const rtts = [];
let sent = 0n;
const next = () => {
  if (rtts.length === ${count}) { console.log(JSON.stringify(rtts)); process.exit(0); }
  sent = process.hrtime.bigint();
  s.send(Buffer.alloc(rtts.length + 1, 120), 9000, "10.0.9.2");
};
s.on("message", () => { rtts.push(Number(process.hrtime.bigint() - sent) / 1e6); setTimeout(next, 20); });
setTimeout(() => process.exit(3), 20000);
next();`;

async function roundTrips(l: Link, count: number): Promise<number[]> {
  const echo = nodeIn(l.two, ECHO(count));
  expect(await echo.first).toBe("ready");
  const pings = nodeIn(l.one, PINGS(count));
  const rtts = JSON.parse(await pings.all) as number[];
  await echo.all;
  return rtts;
}

/** tcpdump of the UDP on `dev` in the holder's namespace, one line per packet, ended after `count`. */
async function tcpdump(holder: Holder, dev: string, count: number): Promise<{ lines: Promise<string> }> {
  const { command, args } = inNetOf(holder)("tcpdump", ["-i", dev, "-n", "-tt", "-l", "--immediate-mode", "-c", String(count), "udp"]);
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
  started.children.push(child);
  let out = "";
  let err = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
  await new Promise<void>((resolve, reject) => {
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d).includes("listening on") && resolve());
    child.on("close", () => reject(new Error(`tcpdump on ${dev} ended: ${err}`)));
  });
  return { lines: new Promise((resolve) => child.on("close", () => resolve(out + err))) };
}

/** Each packet tcpdump printed, by `source > destination length`: its time in milliseconds. */
function packets(text: string): Map<string, number> {
  const seen = new Map<string, number>();
  for (const m of text.matchAll(/^(\d+\.\d+) IP (\S+) > (\S+): UDP, length (\d+)$/gm)) seen.set(`${m[2]} > ${m[3]} ${m[4]}`, Number(m[1]) * 1000);
  return seen;
}

// Each test starts a dozen processes (namespaces, node, tcpdump): generous on a loaded machine.
describe.skipIf(SKIP)("the relay that delays a link", { timeout: 30_000 }, () => {
  it("has what it needs here: /dev/net/tun and network namespaces", () => {
    expect(UNAVAILABLE).toBeNull();
  });

  it("delays each datagram 50 ms each way: a round trip between the two hosts takes at least 100 ms", async () => {
    const l = await link(50);
    console.info(`relay started and link up in ${l.startMs.toFixed(1)} ms`);
    // Made in place by the relay: each end in its namespace, addressed, up, and without IPv6.
    expect(links(l.one)).toEqual(["lo inet 127.0.0.1/8", "ra inet 10.0.9.1/24"]);
    expect(links(l.two)).toEqual(["lo inet 127.0.0.1/8", "rb inet 10.0.9.2/24"]);
    expect([...links(l.one, "-6"), ...links(l.two, "-6")]).toEqual(["lo inet6 ::1/128", "lo inet6 ::1/128"]);
    const rtts = await roundTrips(l, 5);
    console.info(`round trips over a 50 ms link: ${rtts.map((r) => r.toFixed(2)).join(" ")} ms`);
    expect(rtts).toHaveLength(5);
    for (const rtt of rtts) expect(rtt).toBeGreaterThanOrEqual(100);
    expect(Math.min(...rtts)).toBeLessThan(100 + 100);
    expect(await l.relay.counts()).toEqual({ relayed: { ab: 5, ba: 5 }, dropped: { ab: 0, ba: 0 } });
  });

  it("a capture on B's end sees each packet 50 ms after it left A's end, and each answer 50 ms after it left B's", async () => {
    const l = await link(50);
    const count = 4;
    const [onA, onB] = await Promise.all([tcpdump(l.one, "ra", 2 * count), tcpdump(l.two, "rb", 2 * count)]);
    await roundTrips(l, count);
    const [a, b] = [packets(await onA.lines), packets(await onB.lines)];
    expect(a.size).toBe(2 * count);
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    const lags: number[] = [];
    for (const [key, atA] of a) {
      // Requests go from .1 (A's end) to .2; answers the other way.
      const lag = key.startsWith("10.0.9.1.") ? b.get(key)! - atA : atA - b.get(key)!;
      lags.push(lag);
      expect(lag).toBeGreaterThanOrEqual(50);
    }
    // Never early; late only by what a busy machine adds (a millisecond when it is idle).
    expect(lags.sort((x, y) => x - y)[lags.length >> 1]).toBeLessThan(50 + 50);
    console.info(`a packet's time from one end's capture to the other's, 50 ms link: ${lags.map((x) => x.toFixed(3)).join(" ")} ms`);
  });

  it("holds at most 1000 packets in a direction: a flood beyond that is dropped and counted", async () => {
    const l = await link(2000);
    // 3000 datagrams to a port nobody serves, 50 every 10 ms (a relay that the machine keeps
    // waiting a moment loses none to the device's own queue of 500), all within the delay.
    const flood = nodeIn(l.one, `
const s = require("dgram").createSocket("udp4");
let queued = 0;
let sent = 0;
const burst = () => {
  for (let i = 0; i < 50; i++, queued++) s.send("x", 9, "10.0.9.2", () => ++sent === 3000 && process.exit(0));
  if (queued < 3000) setTimeout(burst, 10);
};
burst();`);
    await flood.all;
    let counts = await l.relay.counts();
    for (let i = 0; i < 50 && counts.relayed.ab < 1000; i++) {
      await new Promise((r) => setTimeout(r, 100));
      counts = await l.relay.counts();
    }
    expect(counts.relayed.ab).toBe(1000);
    expect(counts.dropped.ab).toBeGreaterThan(0);
    expect(counts.relayed.ab + counts.dropped.ab).toBeLessThanOrEqual(3000);
  });

  it("stops: stop() ends the relay and its devices go with it", async () => {
    const l = await link(50);
    expect(hostPids(SCRIPT)).toContain(l.relay.pid);
    l.relay.stop();
    await l.relay.exited;
    expect(await gone(l.relay.pid)).toBe(true);
    await expect(l.relay.counts()).rejects.toThrow("the relay has ended");
    // The TUN device in the other namespace was the relay's: it is gone too.
    const { command, args } = inNetOf(l.two)("ip", ["-o", "link", "show"]);
    expect(execFileSync(command, args, { encoding: "utf8" })).not.toContain("rb");
  });

  it("ends when its input ends (Lectern gone)", async () => {
    const one = await holdNamespace();
    if (one) started.holders.push(one);
    const { command, args } = inNetOf(one!)("perl", [SCRIPT, "0", "ea", "eb"]);
    const relay = spawn(command, args, { stdio: ["pipe", "pipe", "inherit"] });
    started.children.push(relay);
    const up = await new Promise<string>((resolve) => relay.stdout!.setEncoding("utf8").once("data", resolve));
    expect(up).toBe("up\n");
    relay.stdin!.end();
    expect(await new Promise((resolve) => relay.on("exit", resolve))).toBe(0);
  });

  it("dies with its parent even while its input stays open (the parent-death signal)", async () => {
    const one = await holdNamespace();
    if (one) started.holders.push(one);
    // The relay's parent is this shell; its input comes from a sleep that outlives the shell.
    const { command, args } = inNetOf(one!)("perl", [SCRIPT, "0", "pa", "pb"]);
    const quoted = [command, ...args].map((a) => `'${a}'`).join(" ");
    const shell = spawn("sh", ["-c", `sleep 30.4217 | ${quoted}`], { stdio: ["ignore", "pipe", "inherit"] });
    started.children.push(shell);
    expect(await new Promise<string>((resolve) => shell.stdout!.setEncoding("utf8").once("data", resolve))).toBe("up\n");
    const [relay] = hostPids(SCRIPT).filter((pid) => pid !== shell.pid);
    try {
      shell.kill("SIGKILL");
      expect(await gone(relay!)).toBe(true);
    } finally {
      // Whatever is left of this test's processes (all of them, when the relay outlived its parent).
      for (const pid of [...hostPids(SCRIPT), ...hostPids("sleep 30.4217")]) process.kill(pid, "SIGKILL");
    }
  });

  it("ends when Lectern is killed with SIGKILL", async () => {
    const one = await holdNamespace();
    if (one) started.holders.push(one);
    // A Lectern of its own, killed once its relay is up; the relay is started the way ours is.
    const wrap = inNetOf(one!)("COMMAND", []);
    const code = `import(${JSON.stringify(join(ROOT, "runner", "network", "relay.ts"))}).then(async ({ startRelay }) => {
      const w = ${JSON.stringify(wrap)};
      const relay = await startRelay((c, a) => ({ command: w.command, args: [...w.args.slice(0, -1), c, ...a] }), 10, "ka", "kb");
      console.log(relay.pid);
      setInterval(() => {}, 1000);
    });`;
    const lectern = spawn(process.execPath, ["--import", "tsx", "-e", code], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
    started.children.push(lectern);
    const pid = await new Promise<number>((resolve) => lectern.stdout!.setEncoding("utf8").on("data", (d: string) => resolve(Number(d.trim()))));
    expect(hostPids(SCRIPT)).toContain(pid);
    lectern.kill("SIGKILL");
    expect(await gone(pid)).toBe(true);
  });

  it("refuses with the reason: a name taken or not a name, a namespace or an address wrong, no /dev/net/tun, no perl", async () => {
    const l = await link(50);
    await expect(startRelay(inNetOf(l.one), 50, "ra", "rc")).rejects.toThrow("cannot delay the link between ra and rc: cannot create TUN device ra (TUNSETIFF): Device or resource busy");
    await expect(startRelay(inNetOf(l.one), 50, "a-name-far-too-long", "rc")).rejects.toThrow(
      "cannot delay the link between a-name-far-too-long and rc: 'a-name-far-too-long' is not an interface name (1 to 15 letters, digits, '_', '.', '-')",
    );
    await expect(startRelay(inNetOf(l.one), -1, "rd", "re")).rejects.toThrow("cannot delay the link between rd and re: the delay must be a number of milliseconds, not -1");
    await expect(startRelay(inNetOf(l.one), 50, "rd", "re", { peerNet: "/proc/0/ns/net" })).rejects.toThrow(
      "cannot delay the link between rd and re: cannot open /proc/0/ns/net: No such file or directory",
    );
    await expect(startRelay(inNetOf(l.one), 50, "rd", "re", { peerNet: `/proc/${l.two.pid}/ns/net`, addresses: ["10.0.9.300/24", "10.0.9.4/24"] })).rejects.toThrow(
      "cannot delay the link between rd and re: '10.0.9.300/24' is not an address/prefix",
    );
    await expect(startRelay(inNetOf(l.one), 50, "rd", "re", { addresses: ["10.0.9.3/24", "10.0.9.4/24"] })).rejects.toThrow(
      "cannot delay the link between rd and re: addresses are given only with the other end's namespace (peerNet)",
    );
    // A machine without /dev/net/tun: an empty /dev/net, in a mount namespace of the relay's own.
    const noTun: InNet = (command, args) => inNetOf(l.one)("unshare", ["--mount", "--", "sh", "-c", 'mount -t tmpfs none /dev/net && exec "$@"', "sh", command, ...args]);
    await expect(startRelay(noTun, 50, "rd", "re")).rejects.toThrow("cannot delay the link between rd and re: cannot open /dev/net/tun: No such file or directory");
    // No perl on PATH.
    const path = process.env.PATH;
    process.env.PATH = "/nonexistent";
    try {
      await expect(startRelay(inNetOf(l.one), 50, "rd", "re")).rejects.toThrow("cannot delay the link between rd and re: perl is not installed (apt-get install perl-base)");
    } finally {
      process.env.PATH = path;
    }
    // The first relay is still there, and nothing else of ours.
    expect(hostPids(SCRIPT)).toEqual([l.relay.pid]);
  });
});

// Starts and stops relay.pl, the packet relay that delays one link of a page's network (the
// kernel here has no netem to do it). The relay runs in one host's namespace and creates the
// link's two TUN devices: B there too (the caller moves it to the other host and sets both ends
// up with `ip`), or, given the other host's namespace and the two addresses, B in that namespace
// and both ends addressed and up, so that the link is ready when the relay is. It dies with
// Lectern: its stdin ends when Lectern does, a parent-death signal covers a SIGKILL, and an exit
// handler here kills it.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { RUNNER_DIR } from "../paths.ts";
import { findTool } from "../execute/tools.ts";

/** The command line that runs a helper of Lectern's inside one host's network namespace. */
export type InNet = (command: string, args: string[]) => { command: string; args: string[] };

export interface RelayCounts {
  /** Packets written to the other end, from A to B and from B to A. */
  relayed: { ab: number; ba: number };
  /** Packets lost in the relay: more than QUEUE waiting, or the other end down when they were due. */
  dropped: { ab: number; ba: number };
}

export interface RelayOptions {
  /** The other host's network namespace (`/proc/PID/ns/net`): B is made there, not in the relay's. */
  peerNet?: string;
  /** With peerNet: each end's IPv4 `address/prefix` (A's, B's), set with IPv6 off and the device up. */
  addresses?: [string, string];
}

export interface Relay {
  readonly pid: number;
  /** What the relay has done so far; rejects once it has ended. */
  counts(): Promise<RelayCounts>;
  /** Kills the relay at once; its TUN devices go with it. */
  stop(): void;
  /** Settles when the relay has ended (stopped, or its devices went with their namespaces). */
  readonly exited: Promise<void>;
}

const SCRIPT = join(RUNNER_DIR, "network", "relay.pl");
/** Interface names the kernel takes: IFNAMSIZ is 16 with the final NUL. */
const NAME = /^[A-Za-z0-9_.-]{1,15}$/;
/** The relay is up in milliseconds; past this something is wrong (a machine thrashing), not slow. */
const START_TIMEOUT_MS = 10_000;

// Tracked from the moment they are spawned, so an exit in the middle of a start takes them too.
const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const relay of live) relay.kill("SIGKILL");
});

/**
 * Starts the relay in the namespace `inNet` enters, creating TUN devices `nameA` there and `nameB`
 * there or in `options.peerNet`, each packet from one written to the other `delayMs` later;
 * resolves once both devices exist (and, with `options.addresses`, are addressed and up).
 * Rejects with the reason in words when it cannot (no perl, no /dev/net/tun, a name taken).
 */
export function startRelay(inNet: InNet, delayMs: number, nameA: string, nameB: string, options: RelayOptions = {}): Promise<Relay> {
  const fail = (why: string) => Promise.reject(new Error(`cannot delay the link between ${nameA} and ${nameB}: ${why}`));
  for (const name of [nameA, nameB]) {
    if (!NAME.test(name)) return fail(`'${name}' is not an interface name (1 to 15 letters, digits, '_', '.', '-')`);
  }
  if (nameA === nameB) return fail("the two ends need different names");
  if (!(Number.isFinite(delayMs) && delayMs >= 0)) return fail(`the delay must be a number of milliseconds, not ${delayMs}`);
  if (options.addresses && !options.peerNet) return fail("addresses are given only with the other end's namespace (peerNet)");
  const perl = findTool("perl", process.env.PATH, false);
  if (!perl) return fail("perl is not installed (apt-get install perl-base)");
  // The relay asks for its parent-death signal itself (prctl), once inside the namespace:
  // joining a user namespace changes credentials, which would clear one set before.
  const peer = options.peerNet ? [options.peerNet, ...(options.addresses ?? [])] : [];
  const wrapped = inNet(perl.path, [SCRIPT, String(delayMs), nameA, nameB, ...peer]);
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(wrapped.command, wrapped.args, { stdio: ["pipe", "pipe", "pipe"] });
    } catch (err) {
      reject(new Error(`cannot delay the link between ${nameA} and ${nameB}: cannot start ${wrapped.command} (${(err as Error).message})`));
      return;
    }
    live.add(child);
    let stderr = "";
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const answers: ((line: string | null) => void)[] = [];
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => answers.shift()?.(line));
    const exited = new Promise<void>((done) => child.on("close", () => {
      live.delete(child);
      for (const answer of answers.splice(0)) answer(null);
      done();
    }));
    let late = false;
    const timer = setTimeout(() => ((late = true), child.kill("SIGKILL")), START_TIMEOUT_MS);
    const refuse = (why: string) => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`cannot delay the link between ${nameA} and ${nameB}: ${why}`));
    };
    child.on("error", (err) => refuse(`cannot start ${wrapped.command} (${err.message})`));
    child.stdin!.on("error", () => {}); // a relay that died: exited says so
    answers.push((line) => {
      if (line !== "up") {
        const said = late ? `the relay did not start within ${START_TIMEOUT_MS / 1000} s` : stderr.trim().split("\n").pop();
        return refuse(said || (child.signalCode ? `the relay was killed (${child.signalCode})` : `the relay ended (exit ${child.exitCode})`));
      }
      clearTimeout(timer);
      idle(child, true);
      resolve(relayOf(child, answers, exited));
    });
  });
}

/** The started relay's handle; `answers` are the callers waiting for its next line. */
function relayOf(child: ChildProcess, answers: ((line: string | null) => void)[], exited: Promise<void>): Relay {
  const counts = () =>
    new Promise<RelayCounts>((resolve, reject) => {
      if (child.exitCode !== null || child.signalCode !== null) return reject(new Error("the relay has ended"));
      idle(child, false);
      answers.push((line) => {
        if (answers.length === 0) idle(child, true);
        const n = line?.match(/^count (\d+) (\d+) (\d+) (\d+)$/)?.slice(1).map(Number);
        if (!n) return reject(new Error(line === null ? "the relay has ended" : `the relay answered '${line}'`));
        resolve({ relayed: { ab: n[0]!, ba: n[1]! }, dropped: { ab: n[2]!, ba: n[3]! } });
      });
      child.stdin!.write("count\n");
    });
  const stop = () => {
    child.kill("SIGKILL");
    live.delete(child);
  };
  return {
    pid: child.pid!,
    counts,
    stop,
    // Whoever waits for the end keeps Lectern alive until then; nobody else does.
    get exited() {
      if (child.exitCode === null && child.signalCode === null) idle(child, false);
      return exited;
    },
  };
}

/**
 * Unreferenced while nobody waits for an answer, so that a relay never keeps Lectern alive;
 * its stdin stays open all the same, which is what keeps the relay alive.
 */
function idle(child: ChildProcess, on: boolean): void {
  const handles = [child, child.stdin, child.stdout, child.stderr] as unknown as { ref(): void; unref(): void }[];
  for (const h of handles) on ? h.unref() : h.ref();
}

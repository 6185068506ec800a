// tcpdump on the loopback of a network namespace, writing a classic pcap file. Started with the
// namespace itself (execute/sandbox.ts starts the next page's while a page runs), so that a page
// does not wait the tens of milliseconds tcpdump takes to open its capture; the page's capture
// (capture.ts) takes it over, stops it after its last cell and keeps the file.
import { closeSync, existsSync, openSync, rmSync, statSync } from "node:fs";
import { ownTempDir } from "../tempdir.ts";
import { dirname, join } from "node:path";
import { enterCommand } from "../execute/enter.ts";
import { spawnChild, type Child } from "../execute/spawner.ts";

/** The most packets a capture keeps: past this tcpdump stops (a flood), and the page says so. */
export const MAX_PACKETS = 100_000;
/** How much of each packet is kept: headers and the head of the payload (an HTTP header, say). */
const SNAPLEN = 1024;
/** tcpdump's ring in the kernel, KiB: a flood waits there while tcpdump is not scheduled. */
const BUFFER_KIB = 8192;
const START_TIMEOUT_MS = 5000;

let tcpdump: string | null | undefined;
/** Where tcpdump is, looked up once. */
export function findTcpdump(): string | null {
  if (tcpdump !== undefined) return tcpdump;
  for (const dir of ["/usr/bin", "/usr/sbin", "/bin", "/sbin"]) {
    try {
      if (statSync(join(dir, "tcpdump")).isFile()) return (tcpdump = join(dir, "tcpdump"));
    } catch {
      // Not here.
    }
  }
  return (tcpdump = null);
}

export interface Tcpdump {
  /** Its process: there once `ready` has resolved true. */
  readonly proc: Child;
  /** The pcap file it writes, in a folder of its own (removed by discard()). */
  readonly file: string;
  /** True once it captures; false if it could not start (stderr() says why). */
  readonly ready: Promise<boolean>;
  stderr(): string;
  /** Stops it at once and removes its file: a capture nobody took. */
  discard(): void;
  /**
   * The page took this capture over: stopping it and its file are the page's now, and Lectern
   * waits for it (a spare's process and pipe are unreferenced, so as not to keep Lectern alive).
   */
  adopt(): void;
}

/**
 * Starts tcpdump with `inNet`, the command line that runs a helper in the namespace, on its
 * loopback (or, a host of a page's network, on every device: "any"); null without tcpdump.
 */
export function startTcpdump(inNet: (command: string, args: string[]) => { command: string; args: string[] }, device: "lo" | "any" = "lo"): Tcpdump | null {
  const bin = findTcpdump();
  if (!bin) return null;
  let file: string;
  let fd: number;
  try {
    file = join(ownTempDir("lectern-capture"), "run.pcap");
    fd = openSync(file, "w", 0o644);
  } catch {
    return null;
  }
  // Immediate mode: without it, packets wait in the kernel's ring for a block to fill, and a
  // stop loses them. -w - into our own file: tcpdump drops its privileges before it opens one.
  // setpriv: tcpdump dies with Lectern even if Lectern is SIGKILLed (-Z root keeps that: a
  // change of user would clear it).
  const argv = ["-i", device, "-Z", "root", "-n", "-U", "--immediate-mode", "-s", String(SNAPLEN), "-B", String(BUFFER_KIB), "-c", String(MAX_PACKETS), "-w", "-"];
  // In the page's namespace, outside bubblewrap: it is Lectern's helper, not a cell. Through
  // Lectern's enter helper where there is one: it enters and sets the death signal in one exec.
  const wrapped = enterCommand([], false, inNet(bin, argv), true) ?? (existsSync("/usr/bin/setpriv") ? inNet("/usr/bin/setpriv", ["--pdeathsig", "KILL", "--", bin, ...argv]) : inNet(bin, argv));
  // Through the spawner (spawner.ts): no fork of Lectern, whose event loop a page run needs. It
  // opens the pcap file by our descriptor, which stays open until it has.
  const spawned = spawnChild(wrapped.command, wrapped.args, { cwd: process.cwd(), env: process.env as Record<string, string>, stdio: ["ignore", fd, "pipe"], detached: false });
  void spawned.finally(() => closeSync(fd)).catch(() => {});
  let proc: Child | null = null;
  let discarded = false;
  let taken = false;
  let stderr = "";
  const dir = dirname(file);
  const discard = () => {
    discarded = true;
    proc?.kill("SIGKILL");
    if (proc) live.delete(proc);
    rmSync(dir, { recursive: true, force: true });
  };
  const ready = spawned.then(
    (child) => {
      proc = child;
      if (discarded) return child.kill("SIGKILL"), false;
      child.stderr!.on("data", (d: Buffer) => (stderr += d));
      // A spare is not waited for; one a page took is.
      if (!taken) {
        live.set(child, dir);
        child.unref();
        (child.stderr as unknown as { unref(): void }).unref();
      }
      return new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), START_TIMEOUT_MS);
        timer.unref();
        const done = (ok: boolean) => (clearTimeout(timer), resolve(ok));
        child.stderr!.on("data", () => /listening on/.test(stderr) && done(true));
        child.on("error", () => done(false));
        child.on("exit", () => done(false));
      });
    },
    () => false,
  );
  const adopt = () => {
    taken = true;
    if (!proc) return;
    live.delete(proc);
    proc.ref();
    (proc.stderr as unknown as { ref(): void }).ref();
  };
  return {
    get proc() {
      return proc!;
    },
    file,
    ready,
    stderr: () => stderr,
    discard,
    adopt,
  };
}

// A spare capture nobody took dies with Lectern (setpriv says so too, where there is setpriv),
// and its file goes. One that a page took is the page's to stop (capture.ts).
const live = new Map<Child, string>();
process.on("exit", () => {
  for (const [proc, dir] of live) {
    proc.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});

// The process that holds a page's network namespace open, and the page's named ports inside it.
// Cells join the namespace (nsenter) while the holder lives; it dies with Lectern (setpriv
// --pdeathsig), even when Lectern is SIGKILLed. With perl (holder.pl) it also reserves the
// ports: a port is bound in the namespace from before the first cell starts until its server is
// about to start, so no cell of the page can take it first. Without perl it only holds the
// namespace, and the ports are reserved in Lectern's own (plan/ports.ts), as outside a namespace.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import type { Reservations } from "../plan/ports.ts";
import { RUNNER_DIR } from "../paths.ts";
import { spawnChild, type Child } from "./spawner.ts";
import { findTool } from "./tools.ts";

// Not root: the namespace is made inside a user namespace of our own, which joining it enters too.
export const ROOTLESS = process.getuid?.() !== 0;

const PERL = findTool("perl", process.env.PATH, false);
const SCRIPT = join(RUNNER_DIR, "execute", "holder.pl");
/** Where holder.pl knows the numbers of the unshare and prctl system calls. */
const OWN_ARCH = process.arch === "x64" || process.arch === "arm64";

export interface Holder {
  readonly pid: number;
  alive(): boolean;
  /** Reserves a number for every name inside the namespace; null when this holder cannot (no perl). */
  reserve(names: string[], served: Set<string>): Promise<Reservations> | null;
  /** Holds these numbers here too, until handOver: another host of the page's network. */
  take(numbers: number[]): Promise<void>;
  /** Lets go of a number taken or reserved. */
  free(port: number): Promise<void>;
  /**
   * One request of holder.pl's own (a host's links and addresses, programs run in the namespace:
   * network/build.ts), answered by one line; requests asked at once are answered in order.
   */
  ask(request: string): Promise<string>;
  kill(): void;
}

// Tracked from the moment they are spawned, so an exit in the middle of a start takes them too.
const live = new Set<Child>();
process.on("exit", () => {
  for (const h of live) h.kill("SIGKILL");
});

/** The command line that runs `command` inside the holder's namespace (and user namespace, rootless). */
export function enter(holder: Holder) {
  return (command: string, args: string[]) => {
    const user = ROOTLESS ? [`--user=/proc/${holder.pid}/ns/user`, "--preserve-credentials"] : [];
    return { command: "nsenter", args: [...user, `--net=/proc/${holder.pid}/ns/net`, "--", command, ...args] };
  };
}

/**
 * Starts a holder of a fresh network namespace with loopback up; null if not allowed here. When
 * not root, the namespace is made in a user namespace of its own, or in `owner`'s: the hosts of a
 * page's network share one, so that a link can join two of them.
 */
export async function holdNamespace(owner?: Holder): Promise<Holder | null> {
  const own = ROOTLESS ? (owner ? ["nsenter", `--user=/proc/${owner.pid}/ns/user`, "--preserve-credentials", "unshare", "--net"] : ["unshare", "--user", "--map-root-user", "--net"]) : ["unshare", "--net"];
  const deathsig = existsSync("/usr/bin/setpriv") ? ["setpriv", "--pdeathsig", "KILL", "--"] : [];
  const program = PERL ? [PERL.path, SCRIPT] : ["sh", "-c", "ip link set lo up && echo up && exec sleep 2147483647"];
  // Root on x86_64 or arm64: perl makes the namespace itself (holder.pl --own).
  const argv = PERL && !ROOTLESS && OWN_ARCH ? [PERL.path, SCRIPT, "--own", process.arch] : [...own, "--", ...deathsig, ...program];
  let child: Child;
  try {
    // Through the spawner (spawner.ts): no fork of Lectern, whose event loop a page run needs.
    child = await spawnChild(argv[0]!, argv.slice(1), { cwd: process.cwd(), env: process.env as Record<string, string>, stdio: ["pipe", "pipe", "ignore"], detached: true });
  } catch {
    return null;
  }
  live.add(child);
  const lines = new Lines(child.stdout!, child.stdin!);
  return new Promise((resolve) => {
    const fail = () => {
      live.delete(child);
      resolve(null);
    };
    child.on("error", fail);
    child.on("exit", fail);
    lines.next().then((line) => {
      if (line !== "up") return fail();
      child.unref();
      lines.idle();
      const kill = () => {
        child.kill("SIGKILL");
        live.delete(child);
      };
      const alive = () => child.exitCode === null && child.signalCode === null;
      const take = async (numbers: number[]) => {
        const answer = numbers.length > 0 ? await lines.ask(`take ${numbers.join(" ")}`) : `took`;
        if (answer !== `took ${numbers.join(" ")}`.trim()) throw new Error(`could not hold ports ${numbers.join(", ")} on another host of the page's network (the holder said '${answer}')`);
      };
      const free = async (port: number) => void (await lines.ask(`free ${port}`));
      const ask = (request: string) => (PERL ? lines.ask(request) : Promise.reject(new Error("perl is not installed")));
      resolve({ pid: child.pid!, alive, reserve: (names, served) => (PERL ? reserveIn(lines, names, served) : null), take, free, ask, kill });
    }, fail);
  });
}

/**
 * The holder's answers, one line per request. Its pipes are unreferenced between requests, so a
 * spare holder never keeps Lectern alive; referenced while Lectern waits for an answer.
 */
class Lines {
  private buffer = "";
  private waiting: { resolve: (line: string) => void; reject: (err: Error) => void }[] = [];

  constructor(
    private readonly from: Readable,
    private readonly to: Writable,
  ) {
    from.setEncoding("utf8");
    from.on("data", (d: string) => {
      this.buffer += d;
      for (let i = this.buffer.indexOf("\n"); i >= 0; i = this.buffer.indexOf("\n")) {
        const line = this.buffer.slice(0, i);
        this.buffer = this.buffer.slice(i + 1);
        this.waiting.shift()?.resolve(line);
      }
    });
    from.on("close", () => {
      for (const w of this.waiting.splice(0)) w.reject(new Error("the namespace holder ended"));
    });
    to.on("error", () => {}); // a holder that died: its answer's reject says so
  }

  next(): Promise<string> {
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  async ask(request: string): Promise<string> {
    this.ref(true);
    try {
      const answer = this.next();
      this.to.write(request + "\n");
      return await answer;
    } finally {
      if (this.waiting.length === 0) this.idle();
    }
  }

  idle(): void {
    this.ref(false);
  }

  private ref(on: boolean): void {
    for (const s of [this.from, this.to] as unknown as { ref(): void; unref(): void }[]) on ? s.ref() : s.unref();
  }
}

async function reserveIn(lines: Lines, names: string[], served: Set<string>): Promise<Reservations> {
  const answer = names.length > 0 ? await lines.ask(`hold ${names.length}`) : "held";
  const numbers = answer.split(" ").slice(1).map(Number);
  if (!answer.startsWith("held") || numbers.length !== names.length || numbers.some((n) => !(n > 0))) {
    throw new Error(`could not reserve ${names.length} ports in the page's network namespace (the holder said '${answer}')`);
  }
  const ports = new Map(names.map((name, i) => [name, numbers[i]!]));
  const held = new Set(names);
  const handOver = async (name: string) => {
    if (!held.delete(name)) return;
    await lines.ask(`free ${ports.get(name)}`);
  };
  // A port that no cell serves is let go of at once: connecting to it is refused. All are held
  // first, so that a let-go number is not drawn again for another name.
  for (const name of names) if (!served.has(name)) await handOver(name);
  return {
    numbers: () => Object.fromEntries(ports),
    handOver,
    // The namespace goes with the holder: nothing to undo.
    close: async () => held.clear(),
  };
}

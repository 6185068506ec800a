// Which cell owns which socket, found the way `ss -p` finds it: the socket descriptors
// (/proc/PID/fd -> socket:[INODE]) of every process of every running cell (its pids cgroup and the
// process tree under them, by host PIDs), and, for an inode not seen before, the namespace's
// socket tables (/proc/PID/net/{udp,tcp}{,6}: address, state, inode). This is how shell cells (nc,
// curl) and the programs a cell starts get their sockets named; TypeScript cells report their own
// as well.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { formatV6 } from "./pcap.ts";

/** A socket seen in the namespace's tables and the cell whose process held it. */
export interface Owner {
  proto: "tcp" | "udp";
  /** Its local address, as the trace names addresses (IPv4-mapped IPv6 as plain IPv4). */
  local: string;
  /** A listening TCP socket (the welcome socket). */
  listening: boolean;
  cell: string;
  /** When it was first seen, in clockMs() (the trace's clock). */
  at: number;
}

interface Entry {
  proto: "tcp" | "udp";
  local: string;
  listening: boolean;
  inode: string;
}

/** A hex address of /proc/net/*: each 32-bit word in the machine's (little-endian) order. */
export function procAddress(hex: string): string {
  const [ip, port] = hex.split(":") as [string, string];
  const words = ip.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((w) => [w.slice(6, 8), w.slice(4, 6), w.slice(2, 4), w.slice(0, 2)].map((b) => parseInt(b, 16)));
  const p = parseInt(port, 16);
  if (bytes.length === 4) return `${bytes.join(".")}:${p}`;
  const groups = Array.from({ length: 8 }, (_, i) => (bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return `${bytes.slice(12).join(".")}:${p}`;
  return `[${formatV6(groups)}]:${p}`;
}

/** One socket table of the namespace that `pid` is in (inode 0, a socket in TIME_WAIT, is left out). */
function readTable(pid: number, file: string, proto: "tcp" | "udp"): Entry[] {
  const out: Entry[] = [];
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/net/${file}`, "latin1");
  } catch {
    return out;
  }
  const lines = text.split("\n");
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i]!.trim().split(/\s+/);
    if (f.length < 10 || f[9] === "0") continue;
    // State 0A is LISTEN (include/net/tcp_states.h).
    out.push({ proto, local: procAddress(f[1]!), listening: proto === "tcp" && f[3] === "0A", inode: f[9]! });
  }
  return out;
}

/** The inodes of the UNIX sockets of the namespace that `pid` is in (a cell's stdio is a socket pair). */
function unixInodes(pid: number | "self"): string[] {
  try {
    return readFileSync(`/proc/${pid}/net/unix`, "latin1").split("\n").slice(1).map((l) => l.trim().split(/\s+/)[6]!).filter(Boolean);
  } catch {
    return [];
  }
}

/**
 * Where sockets a cell holds are in the tables of the namespace that `nsPid` is in: by inode,
 * an IP socket's entry, "unix" for a UNIX socket (its stdio, made in Lectern's namespace; or its
 * own), absent for one not in any table yet (not bound). The TCP tables are read last and only
 * for what is still unfound: reading one walks the kernel's whole connection hash, over a
 * millisecond on a machine with much memory however few sockets there are; the others are cheap.
 */
export function locateSockets(nsPid: number, inodes: Iterable<string>): Map<string, Entry | "unix"> {
  const left = new Set(inodes);
  const found = new Map<string, Entry | "unix">();
  const take = (entries: Entry[]) => {
    for (const e of entries) if (left.delete(e.inode)) found.set(e.inode, e);
  };
  take(readTable(nsPid, "udp", "udp"));
  take(readTable(nsPid, "udp6", "udp"));
  for (const inode of [...unixInodes(nsPid), ...unixInodes("self")]) if (left.delete(inode)) found.set(inode, "unix");
  if (left.size > 0) take(readTable(nsPid, "tcp", "tcp"));
  if (left.size > 0) take(readTable(nsPid, "tcp6", "tcp"));
  return found;
}

/**
 * The processes of a running cell, by their host PIDs: those of its pids cgroup and every
 * descendant of them. The cgroup finds a process that left the process group (setsid), and
 * bubblewrap's processes too (a cell joins its group before bwrap forks); the process tree
 * (nsenter -> bwrap -> bwrap -> the cell -> what it started) is all there is without cgroups.
 */
function cellPids(pid: number): number[] {
  const roots = [pid];
  try {
    const line = readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n").find((l) => l.split(":")[1] === "pids");
    const path = line?.split(":")[2];
    if (path && path !== "/") roots.push(...readFileSync(`/sys/fs/cgroup/pids${path}/cgroup.procs`, "utf8").split("\n").filter(Boolean).map(Number));
  } catch {
    // No cgroup of its own: its process tree alone.
  }
  const out = new Set<number>();
  const walk = (p: number, depth: number) => {
    if (out.has(p)) return;
    out.add(p);
    if (depth > 16) return;
    try {
      for (const c of readFileSync(`/proc/${p}/task/${p}/children`, "utf8").split(" ").filter(Boolean)) walk(Number(c), depth + 1);
    } catch {
      // Gone already.
    }
  };
  for (const r of roots) walk(r, 0);
  return [...out];
}

/** Socket inodes every process of a running cell holds (cellPids, socketInodes). */
export function cellSockets(pid: number): string[] {
  return cellPids(pid).flatMap(socketInodes);
}

/** Socket inodes a process holds. */
function socketInodes(pid: number): string[] {
  const out: string[] = [];
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return out;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) out.push(m[1]!);
    } catch {
      // Closed meanwhile.
    }
  }
  return out;
}

/**
 * A socket a cell holds but no table shows yet (made, not yet bound or connected) is looked up at
 * each of its first looks, then at its 16th, 32nd, 64th...: a client that connects much later is
 * still named, and one that never does costs a few table reads, not one a look.
 */
const unplacedLookup = (looks: number) => looks < 16 || (looks & (looks - 1)) === 0;

/**
 * Watches the cells' sockets while they run. Each look reads the socket descriptors of the cells'
 * processes, which costs little; only a socket not seen before costs a read of the namespace's
 * tables (locateSockets), so a cell without sockets, or with the same ones, costs no table read.
 * A look that takes long (a cell with thousands of sockets) spaces the next ones out, so the
 * watch never takes more than about a fifth of a core from the cells it watches.
 */
export class SocketWatch {
  readonly owners: Owner[] = [];
  private readonly cells = new Map<string, number>();
  /** Inodes placed (an IP socket's owner named, or a UNIX socket): never looked up again. */
  private readonly known = new Set<string>();
  /** Inodes held but in no table yet, and how many looks saw them so. */
  private unplaced = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    /** A process in the namespace, whose /proc/PID/net is the namespace's. */
    private readonly nsPid: number,
    private readonly clock: () => number,
    private readonly everyMs = 10,
  ) {}

  /** `streams`: sockets it holds that are known already (its stdio, made by the spawner). */
  cellStarted(cell: string, pid: number, streams: string[] = []): void {
    for (const inode of streams) this.known.add(inode);
    this.cells.set(cell, pid);
    if (this.timer) this.look();
    else this.next();
  }

  /** A last look before the cell's processes are swept. */
  cellEnding(cell: string): void {
    this.look();
    this.cells.delete(cell);
    if (this.cells.size === 0) this.stop();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private next(): void {
    const t0 = performance.now();
    this.look();
    const took = performance.now() - t0;
    this.timer = setTimeout(() => this.next(), Math.max(this.everyMs, 4 * took)).unref();
  }

  look(): void {
    const held = new Map<string, string>();
    for (const [cell, pid] of this.cells) for (const inode of cellSockets(pid)) if (!this.known.has(inode)) held.set(inode, cell);
    // An unplaced socket no longer held is forgotten.
    this.unplaced = new Map([...this.unplaced].filter(([inode]) => held.has(inode)));
    const ask = [...held.keys()].filter((inode) => unplacedLookup(this.unplaced.get(inode) ?? 0));
    for (const inode of held.keys()) this.unplaced.set(inode, (this.unplaced.get(inode) ?? 0) + 1);
    if (ask.length === 0) return;
    const where = locateSockets(this.nsPid, ask);
    const at = this.clock();
    for (const inode of ask) {
      const e = where.get(inode);
      if (e === undefined) continue;
      this.known.add(inode);
      this.unplaced.delete(inode);
      if (e !== "unix") this.owners.push({ proto: e.proto, local: e.local, listening: e.listening, cell: held.get(inode)!, at });
    }
  }
}

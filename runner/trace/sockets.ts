// Which cell owns which socket, found the way `ss -p` finds it: the namespace's socket tables
// (/proc/PID/net/{tcp,udp}{,6}: address, state, inode) and, for an inode not yet known, the
// socket descriptors (/proc/PID/fd -> socket:[INODE]) of every process of every running cell (its
// pids cgroup and the process tree under them, by host PIDs). This is how shell cells (nc, curl) and the
// programs a cell starts get their sockets named; TypeScript cells report their own as well.
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

const TABLES = [
  ["tcp", "tcp"],
  ["tcp6", "tcp"],
  ["udp", "udp"],
  ["udp6", "udp"],
] as const;

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

/** The sockets of the namespace that `pid` is in (inode 0, a socket in TIME_WAIT, is left out). */
export function socketTable(pid: number): Entry[] {
  const out: Entry[] = [];
  for (const [file, proto] of TABLES) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${file}`, "latin1");
    } catch {
      continue;
    }
    const lines = text.split("\n");
    for (let i = 1; i < lines.length; i++) {
      const f = lines[i]!.trim().split(/\s+/);
      if (f.length < 10 || f[9] === "0") continue;
      // State 0A is LISTEN (include/net/tcp_states.h).
      out.push({ proto, local: procAddress(f[1]!), listening: proto === "tcp" && f[3] === "0A", inode: f[9]! });
    }
  }
  return out;
}

/**
 * The processes of a running cell, by their host PIDs: those of its pids cgroup and every
 * descendant of them. The cgroup finds a process that left the process group (setsid), and
 * bubblewrap's processes too (a cell joins its group before bwrap forks); the process tree
 * (nsenter -> bwrap -> bwrap -> the cell -> what it started) is all there is without cgroups.
 */
export function cellPids(pid: number): number[] {
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

/** Socket inodes a process holds. */
export function socketInodes(pid: number): string[] {
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

/** Looks (a second at least) at a socket nobody holds before it is left alone: the port holder's, or one in a backlog no cell accepts from. */
const UNOWNED_LOOKS = 100;

/**
 * Watches the socket tables while cells run. Each look reads the four tables; only when an
 * inode is new are the cells' descriptors read, so a steady flood costs four small reads a look.
 * A look that takes long (a cell with thousands of sockets) spaces the next ones out, so the
 * watch never takes more than about a fifth of a core from the cells it watches.
 */
export class SocketWatch {
  readonly owners: Owner[] = [];
  private readonly cells = new Map<string, number>();
  private readonly known = new Map<string, string | null>();
  /** Inodes seen in the tables but in no cell's descriptors yet, and how many looks saw them so. */
  private readonly unowned = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    /** A process in the namespace, whose /proc/PID/net is the namespace's. */
    private readonly nsPid: number,
    private readonly clock: () => number,
    private readonly everyMs = 10,
  ) {}

  cellStarted(cell: string, pid: number): void {
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
    if (this.cells.size === 0) return;
    const fresh = socketTable(this.nsPid).filter((e) => !this.known.has(e.inode));
    if (fresh.length === 0) return;
    const holder = new Map<string, string>();
    for (const [cell, pid] of this.cells) for (const p of cellPids(pid)) for (const inode of socketInodes(p)) holder.set(inode, cell);
    const at = this.clock();
    for (const e of fresh) {
      const cell = holder.get(e.inode) ?? null;
      if (cell === null) {
        // Nobody holds it yet (mid-accept): looked at again next time, a few times.
        const looks = (this.unowned.get(e.inode) ?? 0) + 1;
        if (looks < UNOWNED_LOOKS) this.unowned.set(e.inode, looks);
        else this.known.set(e.inode, null), this.unowned.delete(e.inode);
        continue;
      }
      this.known.set(e.inode, cell);
      this.unowned.delete(e.inode);
      this.owners.push({ proto: e.proto, local: e.local, listening: e.listening, cell, at });
    }
  }
}

// Named ports for a run outside a network namespace of its own: numbers the operating system
// picks on 127.0.0.1, free for TCP and UDP alike, held until the server cell that uses them
// starts, and fenced off from other Lectern processes by a lock file per number. (In a page's
// namespace, the namespace's holder reserves them there instead: execute/holder.ts.)
import dgram from "node:dgram";
import { mkdirSync, openSync, readdirSync, readFileSync, closeSync, unlinkSync, writeSync } from "node:fs";
import net from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { alive } from "../tempdir.ts";

export const LOOPBACK = "127.0.0.1";

interface Held {
  port: number;
  tcp: net.Server | null;
  udp: dgram.Socket | null;
  lock: string | null;
}

export interface PortOptions {
  /** --port NAME=N: used as given, not reserved. */
  pinned?: Record<string, number>;
  /** Where the lock files live; one folder for every Lectern process of this user. */
  lockDir?: string;
}

export function defaultLockDir(): string {
  return join(tmpdir(), `lectern-ports-${userInfo().uid}`);
}

function listenTcp(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once("error", reject);
    server.listen({ host: LOOPBACK, port, exclusive: true }, () => resolve(server));
  });
}

function bindUdp(port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket("udp4");
    socket.unref();
    socket.once("error", (err) => {
      socket.close();
      reject(err);
    });
    socket.bind({ address: LOOPBACK, port, exclusive: true }, () => resolve(socket));
  });
}

const closeTcp = (s: net.Server) => new Promise<void>((resolve) => s.close(() => resolve()));
const closeUdp = (s: dgram.Socket) => new Promise<void>((resolve) => s.close(() => resolve()));

/** Claims a port number among Lectern processes; a lock left by a dead process is taken over. */
export function claim(dir: string, port: number): string | null {
  const file = join(dir, String(port));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return file;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      let owner = NaN;
      try {
        owner = Number(readFileSync(file, "utf8"));
      } catch {
        continue;
      }
      // An empty file is a claim being written right now: treat it as taken.
      if (!Number.isInteger(owner) || owner <= 0 || alive(owner)) return null;
      try {
        unlinkSync(file);
      } catch {
        return null;
      }
    }
  }
  return null;
}

const swept = new Set<string>();

/**
 * Removes the lock files of Lecterns that are gone (killed with SIGKILL, they never cleaned up),
 * once per folder and process: claim() only ever takes over the one number it happens to draw.
 */
export function sweepStaleLocks(dir: string): number {
  if (swept.has(dir)) return 0;
  swept.add(dir);
  let removed = 0;
  for (const name of readdirSync(dir)) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const owner = Number(readFileSync(join(dir, name), "utf8"));
      // An empty file is a claim being written: not stale.
      if (!Number.isInteger(owner) || owner <= 0 || alive(owner)) continue;
      unlinkSync(join(dir, name));
      removed++;
    } catch {
      // Gone already, or taken over by another Lectern meanwhile.
    }
  }
  return removed;
}

/** The numbers of a run's named ports, each held until the server that names it starts. */
export interface Reservations {
  numbers(): Record<string, number>;
  /** Lets go of the port just before the cell that serves it starts. */
  handOver(name: string): Promise<void>;
  close(): Promise<void>;
}

export class PortSet implements Reservations {
  private held = new Map<string, Held>();

  private constructor(private readonly lockDir: string) {}

  /**
   * Reserves a number for every name. `served` names keep their sockets bound until
   * handOver(); the others are released at once, so connecting to them is refused.
   */
  static async allocate(names: string[], served: Set<string>, options: PortOptions = {}): Promise<PortSet> {
    const set = new PortSet(options.lockDir ?? defaultLockDir());
    mkdirSync(set.lockDir, { recursive: true });
    sweepStaleLocks(set.lockDir);
    try {
      for (const name of names) {
        const pinned = options.pinned?.[name];
        if (pinned !== undefined) {
          set.held.set(name, { port: pinned, tcp: null, udp: null, lock: null });
          continue;
        }
        const held = await set.reserve();
        set.held.set(name, held);
        if (!served.has(name)) await set.handOver(name);
      }
    } catch (err) {
      await set.close();
      throw err;
    }
    return set;
  }

  private async reserve(): Promise<Held> {
    for (let attempt = 0; attempt < 100; attempt++) {
      const tcp = await listenTcp(0);
      const port = (tcp.address() as net.AddressInfo).port;
      let udp: dgram.Socket | null = null;
      try {
        udp = await bindUdp(port);
      } catch {
        await closeTcp(tcp);
        continue;
      }
      const lock = claim(this.lockDir, port);
      if (lock === null) {
        await closeTcp(tcp);
        await closeUdp(udp);
        continue;
      }
      return { port, tcp, udp, lock };
    }
    throw new Error("could not find a port free for both TCP and UDP on 127.0.0.1 after 100 tries");
  }

  numbers(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, held] of this.held) out[name] = held.port;
    return out;
  }

  /** Lets go of the sockets (not the lock) just before the cell that serves the port starts. */
  async handOver(name: string): Promise<void> {
    const held = this.held.get(name);
    if (!held) return;
    const { tcp, udp } = held;
    held.tcp = null;
    held.udp = null;
    if (tcp) await closeTcp(tcp);
    if (udp) await closeUdp(udp);
  }

  async close(): Promise<void> {
    for (const [name, held] of this.held) {
      await this.handOver(name);
      if (held.lock) {
        try {
          unlinkSync(held.lock);
        } catch {
          // Already gone: another process took over a lock it thought stale; nothing to undo.
        }
        held.lock = null;
      }
    }
  }
}

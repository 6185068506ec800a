// Cells' processes started by a small process of Lectern's (spawner.c) instead of Node's spawn():
// Node forks its whole self for each child, which costs 12 to 16 ms of Lectern's time here (more
// as Lectern grows), its event loop stopped meanwhile; the spawner forks in under a millisecond.
// A child's stdin, stdout, stderr and side channel are Unix sockets the spawner connects back to
// a server of Lectern's, each announced by a hello (the request's number and the descriptor's);
// what Lectern gets is shaped as the ChildProcess it replaces. Without cc (the spawner is compiled
// once, as the enter helper is) or where it cannot start, Node's spawn() it is.
import { spawn, type ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";
import { readFileSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { constants } from "node:os";
import { getSystemErrorName } from "node:util";
import type { Readable, Writable } from "node:stream";
import { buildHelper, enterHelper } from "./enter.ts";
import { ownTempDir } from "../tempdir.ts";

/** What process.ts uses of a child, whichever way it was started: a ChildProcess is one. */
export interface Child {
  readonly pid?: number | undefined;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  readonly stdio: readonly (Readable | Writable | null | undefined)[];
  readonly exitCode: number | null;
  readonly signalCode: NodeJS.Signals | null;
  /**
   * The inodes of the child's ends of its "pipe" streams, where the spawner made them (UNIX
   * sockets, in Lectern's namespace): the socket watch (trace/sockets.ts) knows them for what
   * they are without a read of the UNIX socket table. Absent for Node's spawn().
   */
  readonly streamInodes?: string[];
  kill(signal?: NodeJS.Signals): boolean;
  ref(): void;
  unref(): void;
  on(event: string, listener: (...args: any[]) => void): unknown;
  once(event: string, listener: (...args: any[]) => void): unknown;
}

export interface SpawnOptions {
  cwd: string;
  env: Record<string, string>;
  /**
   * As Node's: each of the child's first descriptors a stream to Lectern ("pipe"), /dev/null
   * ("ignore"), or a descriptor of Lectern's (a file: a cell's trace, tcpdump's pcap).
   */
  stdio: ("pipe" | "ignore" | number)[];
  /** Leads a session of its own (a cell: its group is what Lectern kills). */
  detached: boolean;
}

const HELLO = 16;

/** A signal's name from its number (a status's 128+N, the spawner's report), or null if it has none. */
export function signalName(n: number): NodeJS.Signals | null {
  return (Object.entries(constants.signals).find(([, x]) => x === n)?.[0] as NodeJS.Signals | undefined) ?? null;
}

/** A child of the spawner's: its streams as they connect, then its end as the spawner reports it. */
class SpawnedChild extends EventEmitter {
  pid: number | undefined = undefined;
  streamInodes: string[] = [];
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  /** Whether Lectern waits for it (ref) or not (unref: a spare, a holder between requests). */
  referenced = true;
  private open: number;

  constructor(readonly stdio: (Socket | null)[]) {
    super();
    // Its stdin is only written to: whatever the child writes back into it is let go.
    stdio[0]?.resume();
    // As Node's ChildProcess: "close" once it exited and its output streams have closed. One that
    // said hello long ago may be closed already (the child wrote nothing there and ended).
    const outputs = stdio.slice(1).filter((s): s is Socket => s !== null && !s.closed);
    this.open = outputs.length + 1;
    for (const s of outputs) s.once("close", () => this.closedOne());
  }

  get stdin() {
    return this.stdio[0] ?? null;
  }
  get stdout() {
    return this.stdio[1] ?? null;
  }
  get stderr() {
    return this.stdio[2] ?? null;
  }

  kill(signal: NodeJS.Signals = "SIGTERM"): boolean {
    if (this.pid === undefined || this.exitCode !== null || this.signalCode !== null) return false;
    try {
      process.kill(this.pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  ref(): void {
    this.referenced = true;
    this.emit("hold");
  }
  unref(): void {
    this.referenced = false;
    this.emit("hold");
  }

  exited(code: number | null, signal: NodeJS.Signals | null): void {
    // Not before whoever awaited the child has had its turn to listen.
    setImmediate(() => {
      this.exitCode = code;
      this.signalCode = signal;
      this.emit("exit", code, signal);
      this.closedOne();
    });
  }

  private closedOne(): void {
    if (--this.open === 0) this.emit("close", this.exitCode, this.signalCode);
  }

  failed(err: Error): void {
    setImmediate(() => {
      this.emit("error", err);
      this.emit("close", null, null);
    });
  }
}

interface Pending {
  streams: (Socket | null)[];
  /** Its end, when the spawner reported it before all its streams had connected. */
  ended?: [number | null, NodeJS.Signals | null];
  want: number;
  pid: number | null;
  inodes: string[];
  done: (child: SpawnedChild | Error) => void;
}

class Spawner {
  private next = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly running = new Map<number, SpawnedChild>();
  private buffered = "";
  private alive = true;

  private constructor(
    private readonly proc: ChildProcess,
    private readonly server: Server,
    private readonly socketPath: string,
  ) {
    proc.stdout!.setEncoding("latin1");
    proc.stdout!.on("data", (text: string) => this.answers(text));
    proc.stdin!.on("error", () => {});
    proc.once("exit", () => this.died());
    proc.once("error", () => this.died());
    server.on("connection", (socket) => this.connected(socket));
    for (const handle of [proc, proc.stdin, proc.stdout, server] as { unref(): void }[]) handle.unref();
  }

  /** Lectern stays up while a start or an end is awaited from the spawner, not because it is there. */
  private hold(): void {
    const busy = this.pending.size > 0 || [...this.running.values()].some((c) => c.referenced);
    const handle = this.proc.stdout as unknown as { ref(): void; unref(): void };
    if (busy) handle.ref();
    else handle.unref();
  }

  /** The spawner, started; null where it cannot be (no cc, a path too long for a socket). */
  static async start(): Promise<Spawner | null> {
    const file = await buildHelper("spawner");
    if (!file) return null;
    const dir = ownTempDir("lectern-spawn");
    const socketPath = join(dir, "s");
    if (Buffer.byteLength(socketPath) > 100) return null;
    const server = createServer({ allowHalfOpen: false });
    const listening = await new Promise<boolean>((done) => {
      server.once("error", () => done(false));
      server.listen(socketPath, () => done(true));
    });
    if (!listening) return null;
    const proc = spawn(file, [], { stdio: ["pipe", "pipe", "inherit"] });
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    return new Spawner(proc, server, socketPath);
  }

  spawn(command: string, args: string[], options: SpawnOptions): Promise<SpawnedChild | Error> {
    if (!this.alive) return Promise.resolve(new Error("the spawner is gone"));
    const id = ++this.next;
    const layout = options.stdio.map((s) => (s === "pipe" ? "s" : s === "ignore" ? "n" : "f")).join("");
    const files = options.stdio.filter((s): s is number => typeof s === "number").map((fd) => `/proc/${process.pid}/fd/${fd}`);
    const env = Object.entries(options.env).map(([k, v]) => `${k}=${v}`);
    const fields = [String(id), this.socketPath, options.cwd, layout, String((options.detached ? 1 : 0) | (command === enterHelper() ? 2 : 0)), String(files.length), ...files, String(args.length + 1), command, ...args, String(env.length), ...env];
    const body = Buffer.from(fields.join("\0") + "\0");
    return new Promise((done) => {
      this.pending.set(id, { streams: options.stdio.map(() => null), want: layout.split("s").length - 1, pid: null, inodes: [], done });
      this.hold();
      // One write: each costs a wake-up of the spawner.
      this.proc.stdin!.write(Buffer.concat([Buffer.from(`${body.length}\n`), body]));
    });
  }

  private connected(socket: Socket): void {
    const onReadable = () => {
      const hello = socket.read(HELLO) as Buffer | null;
      if (hello === null) return;
      socket.off("readable", onReadable);
      const id = Number(hello.toString("latin1", 0, 14));
      const fd = hello[14]! - 48;
      const p = this.pending.get(id);
      if (!p || !(fd >= 0 && fd < p.streams.length) || p.streams[fd]) return void socket.destroy();
      p.streams[fd] = socket;
      this.settle(id, p);
    };
    socket.on("readable", onReadable);
    socket.on("error", () => {});
  }

  private answers(text: string): void {
    this.buffered += text;
    let nl: number;
    while ((nl = this.buffered.indexOf("\n")) >= 0) {
      const [what, idText, a, b] = this.buffered.slice(0, nl).split(" ");
      this.buffered = this.buffered.slice(nl + 1);
      const id = Number(idText);
      if (what === "spawned") {
        const p = this.pending.get(id);
        if (p) (p.pid = Number(a)), (p.inodes = b && b !== "-" ? b.split(",") : []), this.settle(id, p);
      } else if (what === "failed") {
        const p = this.pending.get(id);
        this.pending.delete(id);
        for (const s of p?.streams ?? []) s?.destroy();
        const code = getSystemErrorName(-Number(a));
        p?.done(Object.assign(new Error(`spawn ${code}`), { code }));
      } else if (what === "exit") {
        const signal = Number(b) > 0 ? signalName(Number(b)) : null;
        const code = signal ? null : Number(a);
        const child = this.running.get(id);
        this.running.delete(id);
        if (child) child.exited(code, signal);
        else if (this.pending.has(id)) this.pending.get(id)!.ended = [code, signal];
      }
    }
    this.hold();
  }

  /** A child is there once it has run and all its streams have said hello. */
  private settle(id: number, p: Pending): void {
    if (p.pid === null || p.streams.filter(Boolean).length < p.want) return;
    this.pending.delete(id);
    const child = new SpawnedChild(p.streams);
    child.pid = p.pid;
    child.streamInodes = p.inodes;
    child.on("hold", () => this.hold());
    if (p.ended) child.exited(...p.ended);
    else this.running.set(id, child);
    // Its last stream may say hello after its end was told: nothing is awaited of the spawner then.
    this.hold();
    p.done(child);
  }

  /** Killed or crashed: its children's ends will never be told, so each is watched until it is gone. */
  private died(): void {
    if (!this.alive) return;
    this.alive = false;
    this.server.close();
    for (const p of this.pending.values()) p.done(new Error("the spawner is gone"));
    this.pending.clear();
    for (const child of this.running.values()) {
      const timer = setInterval(() => {
        // Gone, or a zombie that whoever inherited it has not reaped yet.
        let state = "";
        try {
          state = readFileSync(`/proc/${child.pid}/stat`, "latin1").replace(/^.*\) /s, "")[0]!;
        } catch {
          // No such process.
        }
        if (state !== "" && state !== "Z") return;
        clearInterval(timer);
        child.exited(null, "SIGKILL");
      }, 50);
    }
    this.running.clear();
    current = null;
  }
}

/** The spawner of this process, started on first use; null while none is started (or after it died). */
let current: Promise<Spawner | null> | null = null;

/** Starts the spawner now, if it is not yet: a page's first cell need not wait for it. */
export function warmSpawner(): void {
  current ??= Spawner.start().catch(() => null);
}

/**
 * Starts `command args` as Node's spawn() would, with streams for the descriptors that are
 * "pipe": through the spawner where there is one, else with Node's spawn().
 */
export async function spawnChild(command: string, args: string[], options: SpawnOptions): Promise<Child> {
  // LECTERN_SPAWNER=off: Node's spawn() for every cell (a comparison for the bench, a way around a fault).
  const spawner = process.env.LECTERN_SPAWNER === "off" ? null : (warmSpawner(), await current);
  if (spawner) {
    const child = await spawner.spawn(command, args, options);
    if (!(child instanceof Error)) return child;
    if (child.message !== "the spawner is gone") {
      const failed = new SpawnedChild([]);
      failed.failed(Object.assign(new Error(`spawn ${command} ${(child as NodeJS.ErrnoException).code}`), { code: (child as NodeJS.ErrnoException).code }));
      return failed;
    }
  }
  return spawn(command, args, { cwd: options.cwd, env: options.env, detached: options.detached, stdio: options.stdio });
}

// One cell's process, from spawn to its last byte: its own process group, stdin written and
// closed, stdout/stderr into a Transcript, side-channel messages, and an end that is
// SIGTERM to the whole group, then SIGKILL after a grace period.
import { signalName, spawnChild, type Child } from "./spawner.ts";
import { Transcript } from "./transcript.ts";

export type StopReason = "timeout" | "stopped" | "interrupted" | "output-cap" | "channel-cap";

export interface ProcessSpec {
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  stdin: string | null;
  timeoutMs: number | null;
  maxOutput: number;
  graceMs: number;
  /** The cell's trace file (tracefile.ts), handed to it as fd 4 and named in LECTERN_TRACE. */
  traceFd: number | null;
  /**
   * Started through bwrap, which exits with 128+N when the cell was killed by signal N (as a
   * shell reports it): read back as that signal.
   */
  wrapped?: boolean;
}

export interface ProcessHooks {
  onListen?: (proto: "tcp" | "udp", port: number) => void;
  /** A Python or C cell's runtime names a socket it opened (its local address), for the trace. */
  onSocket?: (proto: "tcp" | "udp", local: string) => void;
  /** After each piece of output, with the piece itself. */
  onOutput?: (transcript: Transcript, stream: "stdout" | "stderr", data: Buffer) => void;
  /** Scripted input (stdin=) the cell has just read, as it echoes it (the transcript places it). */
  onInput?: (text: string) => void;
}

export interface ProcessEnd {
  exitCode: number | null;
  signal: string | null;
  /** Why Lectern ended it, if Lectern did; the first reason wins. */
  stopReason: StopReason | null;
  durationMs: number;
  /** Error codes seen by the preload: socket errors and uncaught exceptions. */
  errors: string[];
  transcript: Transcript;
  spawnError: Error | null;
  /** How the cell abused the side channel, when that is why Lectern stopped it. */
  channelAbuse?: string | null;
}

/** How long a traced cell has to write out its trace before it is stopped anyway. */
const FLUSH_WAIT_MS = 100;
/**
 * What the side channel may carry: the preload's messages are small (a listening port, an error
 * code, a line of typed input), so a longer message or more in all is a cell writing on fd 3
 * itself. Typed input is counted with room for JSON's escapes.
 */
export const CHANNEL_MESSAGE_MAX = 64 * 1024;
export const CHANNEL_TOTAL_MAX = 4 * 1024 * 1024;
const inputRoom = (stdin: string | null) => 6 * Buffer.byteLength(stdin ?? "");

/** bwrap's 128+N back to signal N. */
function unwrapStatus(code: number | null, signal: NodeJS.Signals | null): [number | null, NodeJS.Signals | null] {
  if (signal !== null || code === null || code <= 128) return [code, signal];
  const name = signalName(code - 128);
  return name ? [null, name] : [code, signal];
}

// Every group still alive, so that Lectern exiting for any reason takes them along.
const liveGroups = new Set<number>();
process.on("exit", () => {
  for (const pgid of liveGroups) killGroup(pgid, "SIGKILL");
});

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is already empty.
  }
}

/** Starts a cell's process (through the spawner: spawner.ts) and follows it to its end. */
export async function startProcess(spec: ProcessSpec, hooks: ProcessHooks = {}): Promise<CellProcess> {
  const started = performance.now();
  const child = await spawnChild(spec.command, spec.args, {
    cwd: spec.cwd,
    env: spec.traceFd === null ? spec.env : { ...spec.env, LECTERN_TRACE: "4" },
    detached: true,
    stdio: spec.traceFd === null ? ["pipe", "pipe", "pipe", "pipe"] : ["pipe", "pipe", "pipe", "pipe", spec.traceFd],
  });
  return new CellProcess(child, started, spec, hooks);
}

export class CellProcess {
  readonly done: Promise<ProcessEnd>;
  private child: Child;
  private stopReason: StopReason | null = null;
  private timers: NodeJS.Timeout[] = [];
  private errors: string[] = [];
  readonly transcript: Transcript;

  constructor(child: Child, started: number, spec: ProcessSpec, hooks: ProcessHooks = {}) {
    this.transcript = new Transcript(spec.maxOutput);
    this.traced = spec.traceFd !== null;
    this.child = child;
    const pgid = child.pid;
    if (pgid !== undefined) liveGroups.add(pgid);

    child.stdin!.on("error", () => {
      // EPIPE: the cell ended or closed its input before reading all of it; that is its choice.
    });
    if (spec.stdin !== null && spec.stdin !== "") child.stdin!.write(spec.stdin.endsWith("\n") ? spec.stdin : spec.stdin + "\n");
    child.stdin!.end();

    for (const stream of ["stdout", "stderr"] as const) {
      child[stream]!.on("data", (buf: Buffer) => {
        this.transcript.data(stream, buf);
        if (this.transcript.full) this.stop("output-cap");
        hooks.onOutput?.(this.transcript, stream, buf);
      });
    }
    this.readChannel(child, hooks, CHANNEL_MESSAGE_MAX + inputRoom(spec.stdin), CHANNEL_TOTAL_MAX + inputRoom(spec.stdin));

    if (spec.timeoutMs !== null) this.timeout = setTimeout(() => this.stop("timeout"), spec.timeoutMs);
    this.graceMs = spec.graceMs;

    this.done = new Promise<ProcessEnd>((resolve) => {
      let spawnError: Error | null = null;
      child.once("error", (err) => {
        spawnError = err;
      });
      child.once("exit", () => {
        // Whatever the cell left running in its group goes with it.
        if (pgid !== undefined) killGroup(pgid, "SIGKILL");
        // A descendant that left the group may hold the pipes open: once they have been quiet
        // for a second, stop waiting for it. Output still draining keeps them open.
        const streams = [child.stdout, child.stderr, child.stdio[3]];
        let idle: NodeJS.Timeout;
        const arm = () => {
          clearTimeout(idle);
          idle = setTimeout(() => streams.forEach((s) => s?.destroy()), 1000);
        };
        arm();
        for (const s of streams) s?.on("data", arm);
        child.once("close", () => clearTimeout(idle));
      });
      child.once("close", (rawCode, rawSignal) => {
        const [code, signal] = spec.wrapped ? unwrapStatus(rawCode, rawSignal) : [rawCode, rawSignal];
        this.clearTimeout();
        for (const t of this.timers) clearTimeout(t);
        if (pgid !== undefined) liveGroups.delete(pgid);
        const durationMs = Math.round(performance.now() - started);
        this.transcript.finish();
        resolve({
          exitCode: code,
          signal,
          stopReason: this.stopReason,
          channelAbuse: this.channelAbuse,
          durationMs,
          errors: this.errors,
          transcript: this.transcript,
          spawnError,
        });
      });
    });
  }

  private graceMs: number;
  private timeout: NodeJS.Timeout | null = null;

  /** A server that listens has no time limit any more. */
  clearTimeout(): void {
    if (this.timeout !== null) clearTimeout(this.timeout);
    this.timeout = null;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Its stdio sockets' inodes, where the spawner made them (spawner.ts). */
  get streamInodes(): string[] {
    return this.child.streamInodes ?? [];
  }

  /** SIGTERM to the group now, SIGKILL after the grace period; the first reason is the one kept. */
  stop(reason: StopReason): void {
    const pgid = this.child.pid;
    if (this.stopReason !== null || pgid === undefined || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.stopReason = reason;
    const term = () => {
      if (this.flushed === null) return;
      this.flushed = null;
      killGroup(pgid, "SIGTERM");
      this.timers.push(setTimeout(() => killGroup(pgid, "SIGKILL"), this.graceMs));
    };
    this.flushed = term;
    // A traced cell holds its latest events in memory: it is asked to write them out first. One
    // too busy to answer (a loop that never yields) is stopped all the same, a moment later.
    const channel = this.child.stdio[3] as NodeJS.WritableStream | null;
    if (this.traced && channel?.writable) {
      channel.write("flush\n");
      this.timers.push(setTimeout(term, FLUSH_WAIT_MS));
    } else {
      term();
    }
  }

  /** What stop() does once the cell has written out its trace; null once done. */
  private flushed: (() => void) | null = null;
  private traced = false;

  /** What the cell sent on its side channel beyond its bounds, for the reason it was stopped. */
  channelAbuse: string | null = null;

  private readChannel(child: Child, hooks: ProcessHooks, messageMax: number, totalMax: number): void {
    const channel = child.stdio[3];
    if (!channel) return;
    let pending = "";
    let total = 0;
    (channel as NodeJS.ReadableStream).setEncoding("utf8");
    channel.on("error", () => {});
    const abuse = (what: string) => {
      this.channelAbuse ??= what;
      pending = "";
      (channel as NodeJS.ReadableStream).pause();
      this.stop("channel-cap");
    };
    channel.on("data", (data: string) => {
      if (this.channelAbuse !== null) return;
      total += data.length;
      pending += data;
      if (total > totalMax) return abuse(`sent more than ${totalMax} bytes on Lectern's side channel (fd 3)`);
      // No message of the preload's is this long: something else writes on fd 3.
      if (pending.length > messageMax && pending.lastIndexOf("\n", messageMax) < 0) return abuse(`sent a message longer than ${messageMax} bytes on Lectern's side channel (fd 3)`);
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (line.length > messageMax) return abuse(`sent a message longer than ${messageMax} bytes on Lectern's side channel (fd 3)`);
        let msg: { type?: string; [k: string]: unknown };
        try {
          msg = JSON.parse(line);
        } catch {
          continue;
        }
        if (msg.type === "listen" && (msg.proto === "tcp" || msg.proto === "udp") && typeof msg.port === "number") {
          hooks.onListen?.(msg.proto, msg.port);
        } else if (msg.type === "socket" && (msg.proto === "tcp" || msg.proto === "udp") && typeof msg.local === "string" && msg.local.length < 64) {
          hooks.onSocket?.(msg.proto, msg.local);
        } else if ((msg.type === "error" || msg.type === "uncaught") && typeof msg.code === "string") {
          if (!this.errors.includes(msg.code)) this.errors.push(msg.code);
        } else if (msg.type === "flushed") {
          this.flushed?.();
        } else if (msg.type === "input" && typeof msg.text === "string") {
          this.transcript.echo(msg.text, Number(msg.stdout) || 0, Number(msg.stderr) || 0);
          hooks.onInput?.(msg.text);
        }
      }
    });
  }
}


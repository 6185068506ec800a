// How a cell's run ended -> its status and the reason in words: the one place this is decided.
import { readFileSync } from "node:fs";
import type { ProcessEnd } from "./process.ts";
import { MEMORY_LIMIT_MIB } from "./cgroups.ts";
import type { CellResult, PlannedCell, Status, TraceEvent } from "../types.ts";

// What V8 prints to stderr right before it aborts on a full heap.
const HEAP_FULL = "JavaScript heap out of memory";

/**
 * The one place a cell's status is decided, from how its process ended and what the page expects.
 * `killedForMemory`: the kernel ended the cell at its memory cgroup's limit.
 */
export function verdict(
  cell: PlannedCell,
  end: ProcessEnd,
  wasReady: boolean,
  timeoutS: number,
  killedForMemory: boolean,
): { status: Status; reason: string | null } {
  if (end.spawnError) return { status: "failed", reason: `could not start: ${end.spawnError.message}` };
  // Either limit can come first: node sizes its heap from the cgroup when it starts inside one,
  // and the cell joins it just after spawn, so which one stops a runaway allocation is a race.
  const heapFull = end.signal === "SIGABRT" && end.stopReason === null && end.transcript.text().includes(HEAP_FULL);
  if (killedForMemory || heapFull) return { status: "failed", reason: `stopped: ran out of memory (a cell may use ${MEMORY_LIMIT_MIB} MiB)` };
  if (end.stopReason === "timeout") {
    return { status: "timeout", reason: cell.attrs.server ? `did not listen within ${timeoutS} s` : `still running after ${timeoutS} s` };
  }
  if (end.stopReason === "output-cap") return { status: "failed", reason: "stopped: printed more than the output cap" };
  if (end.stopReason === "channel-cap") return { status: "failed", reason: `stopped: ${end.channelAbuse ?? "abused Lectern's side channel"}` };
  if (cell.attrs.server && wasReady && (end.stopReason === "stopped" || end.stopReason === "interrupted")) {
    return { status: "passed", reason: null };
  }
  if (end.stopReason === "interrupted") return { status: "failed", reason: "interrupted" };
  const how = end.signal ? `was killed by ${end.signal}` : `exited with status ${end.exitCode}`;
  const failed = end.signal !== null || end.exitCode !== 0;
  const { expect, exit } = cell.attrs;
  if (exit !== null) {
    return end.exitCode === exit ? { status: "passed", reason: null } : { status: "failed", reason: `expected exit status ${exit}, but it ${how}` };
  }
  if (expect === "error") {
    return failed ? { status: "passed", reason: null } : { status: "failed", reason: "expected an error, but it exited with status 0" };
  }
  if (expect !== null) {
    if (!failed) return { status: "failed", reason: `expected ${expect}, but it exited with status 0` };
    if (!end.errors.includes(expect)) {
      const seen = end.errors.length > 0 ? `it raised ${end.errors.join(", ")}` : "it raised no socket error";
      return { status: "failed", reason: `expected ${expect}, but ${seen} and ${how}` };
    }
    return { status: "passed", reason: null };
  }
  if (cell.attrs.server && !wasReady && !failed) return { status: "failed", reason: "exited before it listened" };
  return failed ? { status: "failed", reason: `it ${how}` } : { status: "passed", reason: null };
}

/**
 * A pass as expect=ECONNREFUSED on the process's own word, with what the page's capture showed of
 * it (refusal.ts): no refusal on the wire, no pass.
 */
export function confirmRefusal(decided: { status: Status; reason: string | null }, onWire: boolean): { status: Status; reason: string | null } {
  if (onWire) return decided;
  return { status: "failed", reason: "expected ECONNREFUSED: the process reported it, but the capture shows no refusal of its sockets (no RST answering its SYN, no port unreachable)" };
}

// How a process dies at the memory limit: the kernel's OOM killer (SIGKILL), or its own crash
// when an allocation at the limit fails (awk and other C programs: SIGSEGV, SIGBUS; V8: SIGABRT).
const MEMORY_DEATHS = new Map([["SIGKILL", 9], ["SIGSEGV", 11], ["SIGBUS", 7], ["SIGABRT", 6]]);

/**
 * Whether to ask the memory cgroup if a cell was killed for memory: it died one of those ways,
 * or it is a shell cell whose command did (the shell then exits with 128 + the signal).
 */
export function mayBeOutOfMemory(cell: PlannedCell, end: ProcessEnd): boolean {
  if (end.stopReason !== null) return false;
  if (end.signal !== null && MEMORY_DEATHS.has(end.signal)) return true;
  return cell.lang !== "ts" && end.exitCode !== null && [...MEMORY_DEATHS.values()].some((n) => end.exitCode === 128 + n);
}

export function notRun(cell: PlannedCell, status: Status, reason: string | null): CellResult {
  return { name: cell.name, line: cell.line, status, exitCode: null, signal: null, durationMs: 0, output: "", chunks: [], reason, errors: [], cached: false };
}

// ---- Why, in words a student can act on: what a timed-out cell still had open, which port a
// server could not take, where a server listened instead of its own port. ----

const portOf = (address: string | null) => Number(address?.slice(address.lastIndexOf(":") + 1));

/** The sockets a cell still had open at its end, from its trace (opened and never closed). */
export function openSockets(events: TraceEvent[]): string[] {
  const udp = new Map<string, string | null>();
  const tcp = new Map<string, string>();
  for (const e of events) {
    if (e.proto === "udp") {
      if (e.kind === "bind" && e.local) udp.set(e.local, null);
      else if (e.kind === "send" && e.local && udp.has(e.local)) udp.set(e.local, e.remote);
      else if (e.kind === "recv" && e.local && udp.has(e.local)) udp.set(e.local, null);
      else if (e.kind === "close" && e.local) udp.delete(e.local);
    } else {
      const key = `${e.local}>${e.remote}`;
      if ((e.kind === "connect" || e.kind === "accept") && e.local && e.remote) tcp.set(key, e.kind === "connect" ? `a TCP connection from ${e.local} to ${e.remote}` : `a TCP connection from ${e.remote} to ${e.local}`);
      else if (e.kind === "close") tcp.delete(key);
    }
  }
  const sockets = [...udp].map(([local, unanswered]) => `a UDP socket on ${local}${unanswered ? ` (its last datagram went to ${unanswered} and no reply came)` : ""}`);
  return [...sockets, ...tcp.values()];
}

/** A timeout, with what the cell still had open: the usual reason a client never ends. */
export function explainTimeout(reason: string | null, events: TraceEvent[]): string | null {
  const open = openSockets(events);
  if (open.length === 0) return reason;
  const shown = open.slice(0, 3).join("; ") + (open.length > 3 ? `; and ${open.length - 3} more` : "");
  return `${reason}: ${shown} ${open.length === 1 ? "is" : "are"} still open; did the cell close ${open.length === 1 ? "it" : "them"}?`;
}

/** A failure to bind, said with the port's name: `EADDRINUSE: port tcp=34921 is taken`. */
export function explainBind(reason: string | null, errors: string[], events: TraceEvent[], ports: Record<string, number>): string | null {
  const code = errors.find((c) => c === "EADDRINUSE" || c === "EACCES");
  if (code === undefined || reason === null) return reason;
  const tried = events.find((e) => e.kind === "error" && e.code === code);
  // A failed bind names the cell's own address (`local`); traces from before that, `remote`.
  const number = tried ? portOf(tried.local ?? tried.remote) : Object.values(ports).length === 1 ? Object.values(ports)[0]! : NaN;
  const name = Object.keys(ports).find((n) => ports[n] === number);
  const what = Number.isNaN(number) ? "its port" : name ? `port ${name}=${number}` : `port ${number}`;
  return `${code}: ${what} ${code === "EADDRINUSE" ? "is taken" : "may not be used by this user"}; ${reason}`;
}

/** The operating system's range of ports for port 0: a bind there is a socket's own, not a mistake. */
function ephemeral(port: number): boolean {
  let [low, high] = [32768, 60999];
  try {
    [low, high] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number) as [number, number];
  } catch {
    // Not Linux: the usual range.
  }
  return port >= low && port <= high;
}

/**
 * A server that listens on a fixed number instead of its named port: said as soon as it
 * listens there (null when this listen is not such a mistake).
 */
export function listenedElsewhere(cell: PlannedCell, port: number, ports: Record<string, number>): string | null {
  const mine = cell.ports.map((n) => ports[n]).filter((p) => p !== undefined);
  if (!cell.attrs.server || cell.attrs.ready || mine.length === 0 || mine.includes(port) || ephemeral(port)) return null;
  const named = cell.ports.map((n) => `${n}=${ports[n]}`).join(", ");
  return `it listened on ${port}, not on its port${cell.ports.length > 1 ? "s" : ""} ${named}: listen on port("${cell.ports[0]}") so its clients find it`;
}

/** The verdict with its reason made specific: the one call execute makes once a cell has ended. */
export function explain(
  cell: PlannedCell,
  decided: { status: Status; reason: string | null },
  facts: { events: TraceEvent[]; errors: string[]; ports: Record<string, number>; misplaced: string | null },
): { status: Status; reason: string | null } {
  if (facts.misplaced !== null) return { status: "failed", reason: facts.misplaced };
  if (decided.status === "passed") return decided;
  let reason = decided.reason;
  if (decided.status === "timeout" && !cell.attrs.server) reason = explainTimeout(reason, facts.events);
  return { status: decided.status, reason: explainBind(reason, facts.errors, facts.events, facts.ports) };
}

// The network trace of a run: socket events from the preload, cleaned and put in time order,
// then matched into messages (which datagram or segment went from which socket to which) and
// printed as a timeline.
import { decodeRecords } from "./tracefile.ts";
import type { CellResult, PageResult, TraceEvent } from "../types.ts";

// Events decoded once per result, and only when something reads them: most runs never do
// (`lectern run` stores a cell's records as they are and prints no events).
const decoded = new WeakMap<object, TraceEvent[]>();

/** A cell's socket events: those it was given, else decoded from its records (once), else none. */
export function traceOf(result: CellResult): TraceEvent[] {
  if (result.trace) return result.trace;
  const records = result.traceRecords;
  if (!records || records.bytes.length === 0) return [];
  let events = decoded.get(result);
  if (!events) decoded.set(result, (events = decodeRecords(result.name, records)));
  return events;
}

/** A page's socket events, every cell's, in time order (once per page result). */
export function pageTrace(page: PageResult): TraceEvent[] {
  if (page.trace) return page.trace;
  let events = decoded.get(page);
  if (!events) decoded.set(page, (events = mergeTraces(page.cells)));
  return events;
}

/** The events of all cells of a page, in time order (each cell's are in order already). */
export function mergeTraces(results: CellResult[]): TraceEvent[] {
  const traces = results.map(traceOf).filter((t) => t.length > 0);
  if (traces.length === 1) return [...traces[0]!];
  return traces.flat().sort((a, b) => a.t - b.t);
}

/** Two ip:port names of one socket: a socket bound to every address (0.0.0.0, ::) is the same port anywhere. */
export function sameSocket(a: string, b: string): boolean {
  const split = (s: string) => {
    const i = s.lastIndexOf(":");
    return [s.slice(0, i).replace(/^\[|\]$/g, ""), s.slice(i + 1)] as const;
  };
  const [ha, pa] = split(a);
  const [hb, pb] = split(b);
  const any = (h: string) => h === "0.0.0.0" || h === "::";
  return pa === pb && (ha === hb || any(ha) || any(hb));
}

/** A datagram or segment, matched from its send to its receive where both were seen. */
export interface Message {
  proto: "udp" | "tcp";
  from: string;
  to: string;
  send: TraceEvent | null;
  recv: TraceEvent | null;
}

/**
 * Pairs each send with the receive of the same bytes at the other end, in order per direction.
 * TCP may split or merge segments, so a TCP send is paired with the next receive on that
 * connection whatever its size; UDP keeps datagram boundaries, so sizes must agree.
 */
export function matchMessages(events: TraceEvent[]): Message[] {
  const waiting: TraceEvent[] = [];
  const messages: Message[] = [];
  for (const e of events) {
    if (e.kind === "send" && e.local && e.remote) {
      messages.push({ proto: e.proto, from: e.local, to: e.remote, send: e, recv: null });
      waiting.push(e);
    } else if (e.kind === "recv" && e.local && e.remote) {
      const i = waiting.findIndex(
        (s) => s.proto === e.proto && sameSocket(s.local!, e.remote!) && sameSocket(s.remote!, e.local!) && (e.proto === "tcp" || s.bytes === e.bytes),
      );
      if (i >= 0) {
        const send = waiting.splice(i, 1)[0]!;
        messages.find((m) => m.send === send)!.recv = e;
      } else {
        // Sent by a program Lectern did not trace (or merged by TCP into an earlier receive).
        messages.push({ proto: e.proto, from: e.remote, to: e.local, send: null, recv: e });
      }
    }
  }
  return messages;
}

function describe(e: TraceEvent): string {
  const data = e.bytes !== undefined ? ` ${e.bytes} B${e.preview !== undefined ? ` "${e.preview}"` : ""}` : "";
  switch (e.kind) {
    case "bind":
    case "listen":
      return `${e.kind} ${e.local}`;
    case "connect":
    case "accept":
      return `${e.kind} ${e.local} ↔ ${e.remote}`;
    case "send":
      return `send ${e.local} → ${e.remote}${data}`;
    case "recv":
      return `recv ${e.local} ← ${e.remote}${data}`;
    case "error":
      return `error ${e.code ?? ""}${e.remote ? ` (${e.remote})` : ""}`;
    default:
      return `${e.kind}${e.local ? ` ${e.local}` : ""}${e.remote ? ` ↔ ${e.remote}` : ""}`;
  }
}

/** The timeline as text, one event a line: time, cell, protocol, what happened. */
export function textTimeline(events: TraceEvent[]): string {
  const width = Math.max(4, ...events.map((e) => e.cell.length));
  return events.map((e) => `${e.t.toFixed(1).padStart(8)} ms  ${e.cell.padEnd(width)}  ${e.proto}  ${describe(e)}\n`).join("");
}

/**
 * Cells that talked to each other, in groups: a datagram or segment seen at both ends, or a
 * connection seen from both sides, puts two cells in one group. Each group is in `order`.
 */
export function traceGroups(events: TraceEvent[], order: string[]): string[][] {
  const parent = new Map<string, string>();
  const root = (c: string): string => {
    const p = parent.get(c) ?? c;
    return p === c ? c : root(p);
  };
  const join = (a: string, b: string) => parent.set(root(a), root(b));
  for (const e of events) if (!parent.has(e.cell)) parent.set(e.cell, e.cell);
  for (const m of matchMessages(events)) if (m.send && m.recv) join(m.send.cell, m.recv.cell);
  for (const c of events.filter((e) => e.kind === "connect" && e.local && e.remote)) {
    const a = events.find((e) => e.kind === "accept" && e.local && e.remote && sameSocket(e.local, c.remote!) && sameSocket(e.remote, c.local!));
    if (a) join(a.cell, c.cell);
  }
  const groups = new Map<string, string[]>();
  for (const cell of order) if (parent.has(cell)) groups.set(root(cell), [...(groups.get(root(cell)) ?? []), cell]);
  return [...groups.values()];
}

/**
 * The events of these cells, less their traffic with cells that are not among them: a
 * diagram of a server and one client leaves out the server's other clients.
 */
export function eventsOf(events: TraceEvent[], cells: string[]): TraceEvent[] {
  const others = events.filter((e) => !cells.includes(e.cell) && e.local).map((e) => e.local!);
  return events.filter((e) => cells.includes(e.cell) && !(e.remote && others.some((o) => sameSocket(o, e.remote!))));
}

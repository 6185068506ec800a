// The network trace of a run: socket events from the preload, cleaned and put in time order,
// then matched into messages (which datagram or segment went from which socket to which) and
// printed as a timeline.
import { decodeRecords } from "./tracefile.ts";
import { wireEvents, type WireTrace } from "./wiretrace.ts";
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

/**
 * A page's events, every cell's, in time order (once per page result): where its run was
 * captured (`wire`), the packets on the wire with the socket events no packet shows.
 */
export function pageTrace(page: PageResult): TraceEvent[] {
  if (page.trace) return page.trace;
  if (page.wire) return wireOf(page).events;
  let events = decoded.get(page);
  if (!events) decoded.set(page, (events = mergeTraces(page.cells)));
  return events;
}

const wires = new WeakMap<object, WireTrace>();
function wireOf(page: PageResult): WireTrace {
  let made = wires.get(page);
  if (!made) wires.set(page, (made = wireEvents(mergeTraces(page.cells), page.wire!)));
  return made;
}

/** Why a page has no capture, or what its capture left out (read once its events are made): `run --json`'s captureSkipped. */
export function captureNote(page: PageResult): string | null {
  if (!page.wire) return page.captureSkipped ?? null;
  return wireOf(page).notes.join("; ") || null;
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

/** A packet's receiving cell, or who sent it when no cell did. */
function wireEnds(e: TraceEvent): string {
  if (e.from === "") return ` (from no cell's socket${e.to ? ` to ${e.to}` : ""})`;
  return e.to ? (e.to === e.from ? "" : ` (to ${e.to})`) : " (to no cell's socket)";
}

/** What became of a packet on the page's network: sent again, lost, or how long it took. */
function fateOf(e: TraceEvent): string {
  return `${e.retransmit ? " (retransmission)" : ""}${e.lost ? ` (lost on ${e.lost})` : e.delay ? ` (arrived after ${e.delay} ms)` : ""}`;
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
      return `send ${e.local} → ${e.remote}${data}${e.wire ? wireEnds(e) : ""}${e.unread ? " (never read)" : ""}${fateOf(e)}`;
    case "recv":
      return `recv ${e.local} ← ${e.remote}${data}`;
    case "error":
      return `error ${e.code ?? ""}${e.remote ? ` (${e.remote})` : e.local ? ` (${e.local})` : ""}`;
    case "syn":
    case "syn-ack":
    case "ack":
    case "fin":
    case "rst":
      return `${e.kind.toUpperCase()} ${e.local} → ${e.remote}${wireEnds(e)}${fateOf(e)}`;
    case "unreachable":
      return `ICMP port unreachable ${e.local} → ${e.remote}${wireEnds(e)}`;
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
  // A packet joins the cells at its two ends.
  for (const e of events) if (e.wire && e.from && e.to && parent.has(e.from) && parent.has(e.to)) join(e.from, e.to);
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
  const others: string[] = [];
  for (const e of events) {
    if (!e.wire && !cells.includes(e.cell) && e.local) others.push(e.local);
    // On the wire, the client ends of other cells' connections: a server's accepts of them are left out too.
    if (e.wire && e.from && !cells.includes(e.from) && e.local) others.push(e.local);
  }
  // A packet is drawn if each of its ends is one of these cells or no cell at all.
  const mine = (c: string | undefined) => !c || cells.includes(c);
  return events.filter((e) => (e.wire ? mine(e.from) && mine(e.to) && cells.includes(e.cell) : cells.includes(e.cell) && !(e.remote && others.some((o) => sameSocket(o, e.remote!)))));
}

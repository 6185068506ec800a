// Trace events -> a sequence diagram's layout, without coordinates: the order events are drawn
// in, a row per event (the first MAX_ROWS), the lifelines (lifelines.ts) in page order, and the
// arrows and marks between them. A diagram with more than MAX_LINES lifelines is split into
// groups of conversations (a TCP connection, a UDP pair of ports). diagram.ts draws the result.
import { matchMessages, sameSocket } from "./trace.ts";
import { lifelines, portOf, wireEnds, type Lifeline } from "./lifelines.ts";
import type { TraceEvent } from "../types.ts";

const MAX_ROWS = 60;
/** More lifelines than this are hard to follow: such a diagram is split into conversations. */
export const MAX_LINES = 6;
/** Bind failures: the address is the cell's own, not one it tried to reach. */
const BIND_ERRORS = new Set(["EADDRINUSE", "EADDRNOTAVAIL", "EACCES"]);

export type ArrowKind = "udp" | "tcp" | "control" | "error" | "lost";
export type Shape =
  /** `half`: lost on a link of the page's network, so drawn to the middle only. */
  | { type: "arrow"; from: Lifeline; to: Lifeline; y1: number; y2: number; label: string; kind: ArrowKind; half?: boolean }
  | { type: "mark"; at: Lifeline; y: number; label: string; kind: "bind" | "close" | "error" };

/** How far back a connect's accept is looked for: the two are reported within moments. */
const ACCEPT_WINDOW = 64;

/**
 * The events in the order they are drawn: time order, except that a connection's connect comes
 * before its accept (socket traces only: the two are reported by different processes once the
 * handshake is over, in either order). The accept is the latest one before the connect with the
 * same two ends (a client may connect again from the same port).
 */
export function drawingOrder(events: TraceEvent[]): TraceEvent[] {
  const before = new Map<number, TraceEvent[]>();
  const moved = new Set<number>();
  events.forEach((c, i) => {
    if (c.kind !== "connect" || c.proto !== "tcp" || !c.local || !c.remote) return;
    for (let j = i - 1; j >= Math.max(0, i - ACCEPT_WINDOW); j--) {
      const a = events[j]!;
      if (a.kind === "accept" && a.local && a.remote && sameSocket(a.local, c.remote) && sameSocket(a.remote, c.local)) {
        before.set(j, [...(before.get(j) ?? []), c]);
        moved.add(i);
        return;
      }
    }
  });
  return events.flatMap((e, i) => (moved.has(i) ? [] : [...(before.get(i) ?? []), e]));
}

const dataLabel = (e: TraceEvent) => `${e.preview !== undefined ? `"${e.preview}" ` : ""}${e.bytes ?? 0} B`;

export interface Layout {
  lines: Lifeline[];
  shapes: Shape[];
  shown: TraceEvent[];
  more: number;
}

const WIRE_LABEL: Record<string, string> = { syn: "SYN", "syn-ack": "SYN-ACK", ack: "ACK", fin: "FIN", rst: "RST", unreachable: "ICMP port unreachable" };

/** The last row at or before time `t` (at least `row`): where a packet sent at `row` arrived. */
function arrivalRow(shown: TraceEvent[], row: number, t: number): number {
  let at = row;
  while (at + 1 < shown.length && shown[at + 1]!.t <= t) at++;
  return at;
}

/** Lifelines and shapes for these events (in drawing order), the first MAX_ROWS of them. */
export function layout(drawn: TraceEvent[], cellOrder: string[]): Layout {
  const kit = lifelines();
  const { lines, find, line, touch, socketOf, welcomeOf, peer } = kit;
  const { tcpEnd, udpEnd } = wireEnds(kit);

  const messages = matchMessages(drawn.filter((e) => !e.wire));
  const rowOf = new Map<TraceEvent, number>();
  const shown = drawn.slice(0, MAX_ROWS);
  shown.forEach((e, i) => rowOf.set(e, i));
  // Every reported socket's lifeline first: a client may send before the server accepts (the kernel
  // has the connection already), and its data goes to the connection socket, not the welcome socket.
  for (const [row, e] of shown.entries()) if (!e.wire) socketOf(e, row);
  const shapes: Shape[] = [];
  for (const [row, e] of shown.entries()) {
    if (e.wire && e.local && e.remote) {
      const end = e.proto === "udp" ? udpEnd : tcpEnd;
      const from = end(e, e.local, row);
      const to = end(e, e.remote, row);
      const control = WIRE_LABEL[e.kind];
      const kind: ArrowKind = e.lost ? "lost" : e.kind === "rst" || e.kind === "unreachable" ? "error" : control ? "control" : e.unread ? "lost" : e.proto;
      const fate = `${e.retransmit ? ", again" : ""}${e.lost ? `, lost on ${e.lost}` : e.unread ? ", never read" : e.delay ? `, ${e.delay} ms` : ""}`;
      // A packet that took time on a link arrives on the row of what happened by then.
      const arrives = e.delay ? arrivalRow(shown, row, e.t + e.delay) : row;
      shapes.push({ type: "arrow", from, to, y1: row, y2: arrives, label: `${control ?? dataLabel(e)}${fate}`, kind, half: e.lost !== undefined });
      continue;
    }
    if (e.kind === "error" && e.code && BIND_ERRORS.has(e.code)) {
      // Old traces put the address of a failed bind in `remote`.
      const addr = e.local ?? e.remote ?? "?";
      const at = find((l) => l.cell === e.cell && l.label === addr) ?? line(`fail|${e.cell}|${addr}`, e.cell, addr, `${e.proto.toUpperCase()} socket`, row);
      shapes.push({ type: "mark", at: touch(at, row), y: row, label: `bind failed: ${e.code}`, kind: "error" });
      continue;
    }
    const self = e.kind === "accept" ? null : socketOf(e, row);
    if (e.kind === "bind" || e.kind === "listen") {
      shapes.push({ type: "mark", at: self!, y: row, label: e.kind, kind: "bind" });
    } else if (e.kind === "connect" && e.proto === "tcp" && e.remote) {
      shapes.push({ type: "arrow", from: self!, to: peer("tcp", e.remote, null, row), y1: row, y2: row, label: "connect: SYN, SYN-ACK, ACK", kind: "control" });
    } else if (e.kind === "accept" && e.local) {
      const welcome = welcomeOf(e.local);
      const conn = socketOf(e, row)!;
      if (welcome) shapes.push({ type: "arrow", from: touch(welcome, row), to: conn, y1: row, y2: row, label: `accept: new socket, port ${portOf(e.local)}`, kind: "control" });
    } else if (e.kind === "send" && self && e.remote) {
      const m = messages.find((x) => x.send === e);
      const recvRow = m?.recv ? rowOf.get(m.recv) : undefined;
      const to = peer(e.proto, e.remote, e.local, recvRow ?? row);
      shapes.push({ type: "arrow", from: self, to, y1: row, y2: recvRow ?? row, label: dataLabel(e), kind: m?.recv || to.key.startsWith("ext|") ? e.proto : "lost" });
    } else if (e.kind === "recv" && self && e.remote && !messages.some((m) => m.recv === e && m.send)) {
      shapes.push({ type: "arrow", from: peer(e.proto, e.remote, e.local, row), to: self, y1: row, y2: row, label: `${e.bytes ?? 0} B`, kind: e.proto });
    } else if (e.kind === "end" && self && e.remote) {
      shapes.push({ type: "arrow", from: self, to: peer("tcp", e.remote, e.local, row), y1: row, y2: row, label: "FIN", kind: "control" });
    } else if (e.kind === "close" && self) {
      self.closed = true;
      shapes.push({ type: "mark", at: self, y: row, label: "close", kind: "close" });
    } else if (e.kind === "error") {
      const from = self ?? line(`fail|${e.cell}|${row}`, e.cell, "TCP socket", "new socket", row);
      if (e.remote) shapes.push({ type: "arrow", from, to: line(`ext|${e.proto}|${e.remote}`, "", e.remote, "nobody listening", row), y1: row, y2: row, label: e.code ?? "error", kind: "error" });
      else shapes.push({ type: "mark", at: from, y: row, label: e.code ?? "error", kind: "error" });
    }
  }
  // Columns: cells in page order, each cell's sockets in the order they appeared; untraced peers last.
  const order = (cell: string) => (cellOrder.indexOf(cell) + 1 || cellOrder.length + 1) * 1000;
  lines.sort((a, b) => order(a.cell) - order(b.cell) || a.first - b.first);
  return { lines, shapes, shown, more: drawn.length - shown.length };
}

/** A conversation an event belongs to: a TCP connection or a UDP pair of ports; null for a socket's own events (bind, listen). */
function conversation(e: TraceEvent): string | null {
  if (!e.local || !e.remote || e.kind === "error") return null;
  return `${e.proto}|${[portOf(e.local), portOf(e.remote)].sort().join("|")}`;
}

/** The events split into groups of conversations, each with at most MAX_LINES lifelines where one conversation allows. */
export function conversations(drawn: TraceEvent[], cellOrder: string[]): TraceEvent[][] {
  const byKey = new Map<string, TraceEvent[]>();
  const own: TraceEvent[] = [];
  for (const e of drawn) {
    const key = conversation(e);
    if (key === null) own.push(e);
    else byKey.set(key, [...(byKey.get(key) ?? []), e]);
  }
  // A socket's own events go with each conversation on its port.
  const withOwn = (events: TraceEvent[]) => {
    const ports = new Set(events.flatMap((e) => [e.local, e.remote]).filter((a): a is string => a !== null).map(portOf));
    const mine = own.filter((e) => [e.local, e.remote].some((a) => a !== null && ports.has(portOf(a))));
    return [...mine, ...events].sort((a, b) => a.t - b.t);
  };
  const chunks: TraceEvent[][] = [];
  let current: TraceEvent[] = [];
  for (const events of byKey.values()) {
    const next = [...current, ...events];
    if (current.length === 0 || layout(drawingOrder(withOwn(next)), cellOrder).lines.length <= MAX_LINES) current = next;
    else chunks.push(current), (current = events);
  }
  if (current.length > 0) chunks.push(current);
  const grouped = chunks.map(withOwn);
  const placed = new Set(grouped.flat());
  const alone = own.filter((e) => !placed.has(e));
  if (alone.length > 0) grouped.push(alone);
  return grouped;
}

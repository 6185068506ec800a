// Trace events -> an inline SVG sequence diagram: a lifeline per socket (grouped by cell), an
// arrow per datagram or segment from sender to receiver, connection set-up and teardown, refused
// connections; no script, colours from the page's stylesheet, and a text version beside it.
import { escapeHtml } from "../render/html.ts";
import { matchMessages, sameSocket, textTimeline } from "./trace.ts";
import type { TraceEvent } from "../types.ts";

const COL = 170;
const ROW = 30;
const TOP = 64;
const LEFT = 20;
const MAX_ROWS = 60;

interface Lifeline {
  key: string;
  cell: string;
  label: string;
  note: string;
  x: number;
  first: number;
  last: number;
  closed: boolean;
}

type Shape =
  | { type: "arrow"; from: Lifeline; to: Lifeline; y1: number; y2: number; label: string; kind: "udp" | "tcp" | "control" | "error" | "lost" }
  | { type: "mark"; at: Lifeline; y: number; label: string; kind: "bind" | "close" | "error" };

const esc = escapeHtml;
const clip = (s: string, n: number) => (s.length > n ? s.slice(0, n - 1) + "…" : s);

/** How far back a connect's accept is looked for: the two are reported within moments. */
const ACCEPT_WINDOW = 64;

/**
 * The events in the order they are drawn: time order, except that a connection's connect comes
 * before its accept. The two are reported by different processes once the handshake is over,
 * in either order, but the handshake the connect arrow stands for comes first. The accept is
 * the latest one before the connect with the same two ends (a client may connect again from
 * the same port).
 */
function drawingOrder(events: TraceEvent[]): TraceEvent[] {
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

/** The diagram for these events (already filtered to the cells it shows), or "" when there are none. */
export function traceDiagram(events: TraceEvent[], id: string, cellOrder: string[]): string {
  const drawn = drawingOrder(events.filter((e) => e.kind !== "close" || e.proto === "tcp"));
  if (drawn.length === 0) return "";
  const order = (cell: string) => (cellOrder.indexOf(cell) + 1 || cellOrder.length + 1) * 1000;
  const { lines, find, line, socketOf, peer } = lifelines();

  const messages = matchMessages(drawn);
  const rowOf = new Map<TraceEvent, number>();
  const shown = drawn.slice(0, MAX_ROWS);
  shown.forEach((e, i) => rowOf.set(e, i));
  // Every socket's lifeline first: a client may send before the server accepts (the kernel has
  // the connection already), and its data goes to the connection socket, not the welcome socket.
  for (const [row, e] of shown.entries()) socketOf(e, row);
  const shapes: Shape[] = [];
  for (const [row, e] of shown.entries()) {
    const self = socketOf(e, row);
    if (e.kind === "bind" || e.kind === "listen") {
      shapes.push({ type: "mark", at: self!, y: row, label: e.kind === "bind" ? "bind" : "listen", kind: "bind" });
    } else if (e.kind === "connect" && e.proto === "tcp" && e.remote) {
      shapes.push({ type: "arrow", from: self!, to: peer("tcp", e.remote, null, row), y1: row, y2: row, label: "connect: SYN, SYN-ACK, ACK", kind: "control" });
    } else if (e.kind === "accept" && e.local) {
      const welcome = find((l) => l.key === `tcp-l|${e.local}`);
      if (welcome) shapes.push({ type: "arrow", from: welcome, to: self!, y1: row, y2: row, label: `accept: new socket, port ${e.local.split(":").pop()}`, kind: "control" });
    } else if (e.kind === "send" && self && e.remote) {
      const m = messages.find((x) => x.send === e);
      const recvRow = m?.recv ? rowOf.get(m.recv) : undefined;
      const to = peer(e.proto, e.remote, e.local, recvRow ?? row);
      const label = `${e.preview !== undefined ? `"${clip(e.preview, 22)}" ` : ""}${e.bytes ?? 0} B`;
      shapes.push({ type: "arrow", from: self, to, y1: row, y2: recvRow ?? row, label, kind: m?.recv || to.key.startsWith("ext|") ? e.proto : "lost" });
    } else if (e.kind === "recv" && self && e.remote && !messages.some((m) => m.recv === e && m.send)) {
      const from = peer(e.proto, e.remote, e.local, row);
      shapes.push({ type: "arrow", from, to: self, y1: row, y2: row, label: `${e.bytes ?? 0} B`, kind: e.proto });
    } else if (e.kind === "end" && self && e.remote) {
      shapes.push({ type: "arrow", from: self, to: peer("tcp", e.remote, e.local, row), y1: row, y2: row, label: "FIN", kind: "control" });
    } else if (e.kind === "close" && self) {
      self.closed = true;
      shapes.push({ type: "mark", at: self, y: row, label: "close", kind: "close" });
    } else if (e.kind === "error") {
      const from = self ?? line(`fail|${e.cell}|${row}`, e.cell, "TCP socket", "new socket", row);
      if (e.remote) {
        shapes.push({ type: "arrow", from, to: line(`ext|${e.proto}|${e.remote}`, "", e.remote, "nobody listening", row), y1: row, y2: row, label: e.code ?? "error", kind: "error" });
      } else {
        shapes.push({ type: "mark", at: from, y: row, label: e.code ?? "error", kind: "error" });
      }
    }
  }

  const more = drawn.length - shown.length;
  const title = `Network trace: ${[...new Set(events.map((e) => e.cell))].join(", ")}`;
  const svg = drawSvg(lines, shapes, shown.length, more, { id, title, order });
  const text = textTimeline([...shown].sort((a, b) => a.t - b.t)) + (more > 0 ? `… ${more} more events\n` : "");
  return (
    `<figure class="trace" id="${id}">\n<div class="trace-scroll">${svg}</div>\n` +
    `<figcaption><details><summary>${esc(title)}: text version</summary><pre class="trace-text">${esc(text)}</pre></details></figcaption>\n</figure>\n`
  );
}

/** The lifelines and shapes of a diagram as inline SVG: columns in page order, a row per event. */
function drawSvg(lines: Lifeline[], shapes: Shape[], rows: number, more: number, { id, title, order }: { id: string; title: string; order: (cell: string) => number }): string {
  // Columns: cells in page order, each cell's sockets in the order they appeared; untraced peers last.
  lines.sort((a, b) => order(a.cell) - order(b.cell) || a.first - b.first);
  lines.forEach((l, i) => (l.x = LEFT + COL / 2 + i * COL));
  const y = (row: number) => TOP + 24 + row * ROW;
  const width = LEFT * 2 + lines.length * COL;
  const height = y(rows) + 20;

  const parts: string[] = [];
  // Cell names over their groups of lifelines.
  for (const cell of [...new Set(lines.map((l) => l.cell))]) {
    const mine = lines.filter((l) => l.cell === cell);
    const x1 = mine[0]!.x - COL / 2 + 6;
    const x2 = mine[mine.length - 1]!.x + COL / 2 - 6;
    parts.push(`<rect class="trace-cell" x="${x1}" y="4" width="${x2 - x1}" height="${height - 8}" rx="6"/>`);
    parts.push(`<text class="trace-cell-name" x="${(x1 + x2) / 2}" y="20">${esc(cell || "outside Lectern")}</text>`);
  }
  for (const l of lines) {
    parts.push(`<text class="trace-socket" x="${l.x}" y="40">${esc(l.label)}</text>`);
    parts.push(`<text class="trace-note" x="${l.x}" y="54">${esc(clip(l.note, 26))}</text>`);
    parts.push(`<line class="trace-life" x1="${l.x}" y1="${TOP}" x2="${l.x}" y2="${l.closed ? y(l.last) : height - 12}"/>`);
  }
  for (const s of shapes) {
    if (s.type === "mark") {
      const cls = `trace-mark trace-${s.kind}`;
      if (s.kind === "close") parts.push(`<path class="${cls}" d="M${s.at.x - 5} ${y(s.y) - 5}l10 10m0 -10l-10 10"/>`);
      else parts.push(`<circle class="${cls}" cx="${s.at.x}" cy="${y(s.y)}" r="4"/>`);
      parts.push(`<text class="trace-label" x="${s.at.x + 8}" y="${y(s.y) - 6}" text-anchor="start">${esc(s.label)}</text>`);
      continue;
    }
    const [x1, x2] = [s.from.x, s.to.x];
    const [y1, y2] = [y(s.y1), y(s.y2)];
    const dir = x2 >= x1 ? 1 : -1;
    const end = x1 === x2 ? x2 : x2 - dir * 4;
    parts.push(`<line class="trace-msg trace-${s.kind}" x1="${x1}" y1="${y1}" x2="${end}" y2="${y2}" marker-end="url(#${id}-${s.kind === "error" || s.kind === "lost" ? "x" : "a"})"/>`);
    parts.push(`<text class="trace-label trace-${s.kind}" x="${(x1 + x2) / 2}" y="${Math.min(y1, y2) - 5}">${esc(s.label)}</text>`);
  }
  if (more > 0) parts.push(`<text class="trace-note" x="${LEFT}" y="${height - 4}" text-anchor="start">… ${more} more events not drawn</text>`);

  return (
    `<svg class="trace-svg" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-labelledby="${id}-t">` +
    `<title id="${id}-t">${esc(title)}</title>` +
    `<defs><marker id="${id}-a" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="context-stroke"/></marker>` +
    `<marker id="${id}-x" viewBox="0 0 10 10" refX="5" refY="5" markerWidth="9" markerHeight="9"><path d="M1 1L9 9M9 1L1 9" stroke="context-stroke" stroke-width="2"/></marker></defs>` +
    parts.join("") +
    `</svg>`
  );
}

/** A diagram's lifelines, made as events name their sockets: a socket's own, or the one at the other end. */
function lifelines() {
  const lines: Lifeline[] = [];
  const find = (pred: (l: Lifeline) => boolean) => lines.find(pred) ?? null;
  const line = (key: string, cell: string, label: string, note: string, row: number): Lifeline => {
    let l = find((x) => x.key === key);
    if (!l) {
      l = { key, cell, label, note, x: 0, first: row, last: row, closed: false };
      lines.push(l);
    }
    l.last = Math.max(l.last, row);
    return l;
  };
  // A socket's lifeline: TCP connections by both ends, UDP and listening sockets by their port.
  const socketOf = (e: TraceEvent, row: number): Lifeline | null => {
    if (!e.local) return null;
    if (e.proto === "udp") {
      const found = find((l) => l.key.startsWith("udp|") && l.cell === e.cell && sameSocket(l.label, e.local!));
      if (found) return (found.last = Math.max(found.last, row)), found;
      return line(`udp|${e.cell}|${e.local}`, e.cell, e.local, "UDP socket", row);
    }
    if (e.kind === "listen") return line(`tcp-l|${e.local}`, e.cell, e.local, "welcome socket", row);
    return line(`tcp|${e.local}|${e.remote}`, e.cell, e.local, e.kind === "accept" ? `↔ ${e.remote}` : "TCP socket", row);
  };
  // The socket at the other end: for a connection attempt (other = null) the welcome socket.
  const peer = (proto: "udp" | "tcp", addr: string, other: string | null, row: number): Lifeline => {
    const found =
      proto === "udp"
        ? find((l) => l.key.startsWith("udp|") && sameSocket(l.label, addr))
        : other === null
          ? find((l) => l.key === `tcp-l|${addr}`)
          : find((l) => l.key.startsWith("tcp|") && sameSocket(l.label, addr) && l.key.endsWith(`|${other}`)) ?? find((l) => l.key === `tcp-l|${addr}`);
    if (found) return (found.last = Math.max(found.last, row)), found;
    return line(`ext|${proto}|${addr}`, "", addr, "not traced", row);
  };
  return { lines, find, line, socketOf, peer };
}

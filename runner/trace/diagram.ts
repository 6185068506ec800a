// Trace events -> inline SVG sequence diagrams: a lifeline per socket (grouped by cell), an arrow
// per packet from the wire (the handshake's three, data, FIN, RST, datagrams) or, without a
// capture, per datagram or segment the cells reported; a legend; a text version beside it that
// screen readers are pointed to. More than MAX_LINES lifelines are split into conversations.
import { escapeHtml } from "../render/html.ts";
import { captureNote, matchMessages, sameSocket, textTimeline } from "./trace.ts";
import type { PageResult, TraceEvent } from "../types.ts";

const ROW = 30;
const TOP = 64;
const LEFT = 20;
const MAX_ROWS = 60;
/** More lifelines than this are hard to follow: such a diagram is split into conversations. */
export const MAX_LINES = 6;
const MAX_FIGURES = 12;
/** Bind failures: the address is the cell's own, not one it tried to reach. */
const BIND_ERRORS = new Set(["EADDRINUSE", "EADDRNOTAVAIL", "EACCES"]);

interface Lifeline {
  key: string;
  cell: string;
  label: string;
  note: string;
  x: number;
  first: number;
  last: number;
  /** Drawn from its first row, not from the top: a connection socket exists from its accept. */
  late: boolean;
  closed: boolean;
}

type ArrowKind = "udp" | "tcp" | "control" | "error" | "lost";
type Shape =
  /** `half`: lost on a link of the page's network, so drawn to the middle only. */
  | { type: "arrow"; from: Lifeline; to: Lifeline; y1: number; y2: number; label: string; kind: ArrowKind; half?: boolean }
  | { type: "mark"; at: Lifeline; y: number; label: string; kind: "bind" | "close" | "error" };

/** Which trace a diagram shows, for its caption. */
export interface TraceSource {
  /** "wire": packets captured by tcpdump; "sockets": what the cells' Node.js sockets reported. */
  kind: "wire" | "sockets";
  /** Why there is no capture, or what it left out. */
  note: string | null;
  /** The capture file, relative to the page. */
  href: string | null;
  /** A page with a network: the host each cell ran on, named over its group of lifelines. */
  hosts?: Record<string, { name: string; address: string }>;
}

const esc = escapeHtml;

/** How far back a connect's accept is looked for: the two are reported within moments. */
const ACCEPT_WINDOW = 64;

/**
 * The events in the order they are drawn: time order, except that a connection's connect comes
 * before its accept (socket traces only: the two are reported by different processes once the
 * handshake is over, in either order). The accept is the latest one before the connect with the
 * same two ends (a client may connect again from the same port).
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

const portOf = (a: string) => a.slice(a.lastIndexOf(":") + 1);
const dataLabel = (e: TraceEvent) => `${e.preview !== undefined ? `"${e.preview}" ` : ""}${e.bytes ?? 0} B`;

interface Layout {
  lines: Lifeline[];
  shapes: Shape[];
  shown: TraceEvent[];
  more: number;
}

/** A diagram's lifelines, made as events name their sockets: a socket's own, or the one at the other end. */
function lifelines() {
  const lines: Lifeline[] = [];
  const find = (pred: (l: Lifeline) => boolean) => lines.find(pred) ?? null;
  const line = (key: string, cell: string, label: string, note: string, row: number, late = false): Lifeline => {
    let l = find((x) => x.key === key);
    if (!l) {
      l = { key, cell, label, note, x: 0, first: row, last: row, late, closed: false };
      lines.push(l);
    }
    return touch(l, row);
  };
  // A connection socket's lifeline starts at its accept, or at data sent to it before (the kernel has it by then).
  const touch = (l: Lifeline, row: number) => ((l.first = Math.min(l.first, row)), (l.last = Math.max(l.last, row)), l);
  // A socket's lifeline: TCP connections by both ends, UDP and listening sockets by their port.
  const socketOf = (e: TraceEvent, row: number): Lifeline | null => {
    if (!e.local) return null;
    if (e.proto === "udp") {
      const found = find((l) => l.key.startsWith("udp|") && l.cell === e.cell && sameSocket(l.label, e.local!));
      return found ? touch(found, row) : line(`udp|${e.cell}|${e.local}`, e.cell, e.local, "UDP socket", row);
    }
    if (e.kind === "listen") return line(`tcp-l|${e.local}`, e.cell, e.local, "welcome socket", row);
    if (e.kind === "accept") return line(`tcp|${e.local}|${e.remote}`, e.cell, e.local, "connection socket", row, true);
    return line(`tcp|${e.local}|${e.remote}`, e.cell, e.local, "TCP socket", row);
  };
  const welcomeOf = (addr: string) => find((l) => l.key.startsWith("tcp-l|") && sameSocket(l.label, addr));
  // The socket at the other end (socket traces): for a connection attempt (other = null) the welcome socket.
  const peer = (proto: "udp" | "tcp", addr: string, other: string | null, row: number): Lifeline => {
    const found =
      proto === "udp"
        ? find((l) => l.key.startsWith("udp|") && sameSocket(l.label, addr))
        : other === null
          ? welcomeOf(addr)
          : find((l) => l.key.startsWith("tcp|") && sameSocket(l.label, addr) && l.key.endsWith(`|${other}`)) ?? welcomeOf(addr);
    return found ? touch(found, row) : line(`ext|${proto}|${addr}`, "", addr, "not traced", row);
  };
  return { lines, find, line, touch, socketOf, welcomeOf, peer };
}

type Lifelines = ReturnType<typeof lifelines>;

/** The lifelines at the two ends of a packet from the wire: TCP by its flow (who dialled whom), UDP by its port. */
function wireEnds({ find, line, touch, welcomeOf }: Lifelines) {
  const flows = new Map<string, { client: string; server: string }>();
  const flowOf = (e: TraceEvent) => {
    const key = [e.local!, e.remote!].sort().join("|");
    let f = flows.get(key);
    if (!f || e.kind === "syn") {
      const serverIsRemote = e.kind === "syn" || welcomeOf(e.remote!) !== null || (e.kind !== "syn-ack" && Number(portOf(e.local!)) > Number(portOf(e.remote!)));
      f = serverIsRemote ? { client: e.local!, server: e.remote! } : { client: e.remote!, server: e.local! };
      flows.set(key, f);
    }
    return f;
  };
  const cellAt = (e: TraceEvent, addr: string) => (addr === e.local ? e.from : e.to) ?? "";
  /** One end of a packet's flow: the client's socket, or on the server the connection socket (handshake: the welcome socket). */
  const tcpEnd = (e: TraceEvent, addr: string, row: number): Lifeline => {
    const f = flowOf(e);
    const cell = cellAt(e, addr);
    if (addr === f.client) return cell ? line(`tcp|${f.client}|${f.server}`, cell, f.client, "TCP socket", row) : line(`ext|tcp|${addr}`, "", addr, "no cell's socket", row);
    const conn = find((l) => l.key === `tcp|${f.server}|${f.client}`);
    const handshake = e.kind === "syn" || e.kind === "syn-ack" || e.kind === "ack";
    if (conn && !handshake) return touch(conn, row);
    const welcome = welcomeOf(f.server);
    if (!cell) return welcome ? touch(welcome, row) : line(`ext|tcp|${addr}`, "", addr, "nobody listening", row);
    if (handshake || e.kind === "rst") return welcome ? touch(welcome, row) : line(`tcp-l|${f.server}`, cell, f.server, "welcome socket", row);
    return line(`tcp|${f.server}|${f.client}`, cell, f.server, "connection socket", row, true);
  };
  const udpEnd = (e: TraceEvent, addr: string, row: number): Lifeline => {
    const cell = cellAt(e, addr);
    const found = find((l) => l.key.startsWith("udp|") && l.cell === cell && sameSocket(l.label, addr));
    if (found) return touch(found, row);
    return cell ? line(`udp|${cell}|${addr}`, cell, addr, "UDP socket", row) : line(`ext|udp|${addr}`, "", addr, "no cell's socket", row);
  };
  return { tcpEnd, udpEnd };
}

const WIRE_LABEL: Record<string, string> = { syn: "SYN", "syn-ack": "SYN-ACK", ack: "ACK", fin: "FIN", rst: "RST", unreachable: "ICMP port unreachable" };

/** The last row at or before time `t` (at least `row`): where a packet sent at `row` arrived. */
function arrivalRow(shown: TraceEvent[], row: number, t: number): number {
  let at = row;
  while (at + 1 < shown.length && shown[at + 1]!.t <= t) at++;
  return at;
}

/** Lifelines and shapes for these events (in drawing order), the first MAX_ROWS of them. */
function layout(drawn: TraceEvent[], cellOrder: string[]): Layout {
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
function conversations(drawn: TraceEvent[], cellOrder: string[]): TraceEvent[][] {
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

/**
 * The diagram for these events (already filtered to the cells it shows), or "" when there are
 * none; several figures, one per conversation group, when it would have more than MAX_LINES lifelines.
 */
export function traceDiagram(events: TraceEvent[], id: string, cellOrder: string[], source?: TraceSource): string {
  const drawn = drawingOrder(events.filter((e) => e.kind !== "close" || e.proto === "tcp"));
  if (drawn.length === 0) return "";
  const whole = layout(drawn, cellOrder);
  if (whole.lines.length <= MAX_LINES) return figure(whole, id, source);
  const parts = conversations(drawn, cellOrder);
  if (parts.length === 1) return figure(whole, id, source);
  const figures = parts.slice(0, MAX_FIGURES).map((p, i) => figure(layout(drawingOrder(p), cellOrder), i === 0 ? id : `${id}-${i + 1}`, source, `conversation ${i + 1} of ${parts.length}`));
  const left = parts.length - figures.length;
  return figures.join("") + (left > 0 ? `<p class="trace-empty">${left} more conversations are not drawn; the text version of <code>run --trace</code> has them all.</p>\n` : "");
}

function figure({ lines, shapes, shown, more }: Layout, id: string, source: TraceSource | undefined, part?: string): string {
  // Columns wide enough for the longest label between two of them (about 6.3 px a character).
  const widest = Math.max(0, ...shapes.map((s) => s.label.length), ...lines.map((l) => l.label.length + 2));
  const col = 2 * Math.ceil(Math.min(420, Math.max(170, widest * 6.3 + 24)) / 2);
  lines.forEach((l, i) => (l.x = LEFT + col / 2 + i * col));
  const y = (row: number) => TOP + 24 + row * ROW;
  const width = Math.max(LEFT * 2 + lines.length * col, legendX.at(-1)! + LEFT);
  const legendY = y(shown.length) + 10;
  const height = legendY + 30;

  const parts: string[] = [];
  // Cell names over their groups of lifelines.
  for (const cell of [...new Set(lines.map((l) => l.cell))]) {
    const mine = lines.filter((l) => l.cell === cell);
    const x1 = mine[0]!.x - col / 2 + 6;
    const x2 = mine[mine.length - 1]!.x + col / 2 - 6;
    parts.push(`<rect class="trace-cell" x="${x1}" y="4" width="${x2 - x1}" height="${legendY - 12}" rx="6"/>`);
    const host = source?.hosts?.[cell];
    parts.push(`<text class="trace-cell-name" x="${(x1 + x2) / 2}" y="20">${esc(cell || "no cell")}${host ? ` on ${esc(host.name)}${host.address ? ` ${esc(host.address)}` : ""}` : ""}</text>`);
  }
  for (const l of lines) {
    parts.push(`<text class="trace-socket" x="${l.x}" y="40">${esc(l.label)}</text>`);
    parts.push(`<text class="trace-note" x="${l.x}" y="54">${esc(l.note)}</text>`);
    parts.push(`<line class="trace-life" x1="${l.x}" y1="${l.late ? y(l.first) : TOP}" x2="${l.x}" y2="${l.closed ? y(l.last) : legendY - 16}"/>`);
  }
  for (const s of shapes) {
    const title = `<title>${esc(s.label)}</title>`;
    if (s.type === "mark") {
      const cls = `trace-mark trace-${s.kind}`;
      if (s.kind === "close") parts.push(`<path class="${cls}" d="M${s.at.x - 5} ${y(s.y) - 5}l10 10m0 -10l-10 10"/>`);
      else parts.push(`<circle class="${cls}" cx="${s.at.x}" cy="${y(s.y)}" r="4"/>`);
      parts.push(`<text class="trace-label${s.kind === "error" ? " trace-error" : ""}" x="${s.at.x + 8}" y="${y(s.y) - 6}" text-anchor="start">${title}${esc(s.label)}</text>`);
      continue;
    }
    const x1 = s.from.x;
    const x2 = s.half ? (s.from.x + s.to.x) / 2 : s.to.x;
    const [y1, y2] = [y(s.y1), y(s.y2)];
    const dir = x2 >= x1 ? 1 : -1;
    const end = x1 === x2 ? x2 : x2 - dir * 4;
    parts.push(`<line class="trace-msg trace-${s.kind}" x1="${x1}" y1="${y1}" x2="${end}" y2="${y2}" marker-end="url(#${id}-${s.kind === "error" || s.kind === "lost" ? "x" : "a"})"/>`);
    parts.push(`<text class="trace-label trace-${s.kind}" x="${(x1 + x2) / 2}" y="${Math.min(y1, y2) - 5}">${title}${esc(s.label)}</text>`);
  }
  if (more > 0) parts.push(`<text class="trace-note" x="${LEFT}" y="${legendY - 2}" text-anchor="start">… ${more} more events not drawn</text>`);
  parts.push(legend(id, legendY + 14));

  const cells = [...new Set(shown.map((e) => e.cell))].join(", ");
  const title = `Network trace: ${cells}${part ? ` (${part})` : ""}`;
  const svg =
    `<svg class="trace-svg" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-labelledby="${id}-t" aria-describedby="${id}-text">` +
    `<title id="${id}-t">${esc(title)}</title>` +
    `<defs><marker id="${id}-a" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="context-stroke"/></marker>` +
    `<marker id="${id}-x" viewBox="0 0 10 10" refX="5" refY="5" markerWidth="9" markerHeight="9"><path d="M1 1L9 9M9 1L1 9" stroke="context-stroke" stroke-width="2"/></marker></defs>` +
    parts.join("") +
    `</svg>`;
  const text = textTimeline([...shown].sort((a, b) => a.t - b.t)) + (more > 0 ? `… ${more} more events\n` : "");
  return (
    `<figure class="trace" id="${id}">\n<div class="trace-scroll">${svg}</div>\n` +
    `<figcaption>${sourceLine(source)}<details><summary>${esc(title)}: text version</summary><pre class="trace-text" id="${id}-text">${esc(text)}</pre></details></figcaption>\n</figure>\n`
  );
}

const LEGEND: [ArrowKind, string][] = [
  ["udp", "UDP datagram"],
  ["tcp", "TCP data"],
  ["control", "control: SYN, ACK, FIN"],
  ["error", "refused, reset, lost"],
];
/** Where each legend entry starts, and the legend's whole width. */
const legendX = LEGEND.reduce<number[]>((xs, [, label]) => [...xs, xs.at(-1)! + 44 + Math.ceil(label.length * 6.3)], [LEFT]);

/** What the arrows' colours and lines mean. */
function legend(id: string, at: number): string {
  return LEGEND.map(([kind, label], i) => {
    const x = legendX[i]!;
    return `<line class="trace-msg trace-${kind}" x1="${x}" y1="${at}" x2="${x + 24}" y2="${at}" marker-end="url(#${id}-${kind === "error" ? "x" : "a"})"/><text class="trace-legend" x="${x + 32}" y="${at + 4}" text-anchor="start">${label}</text>`;
  }).join("");
}

/** Which trace this is, and where its capture is. */
function sourceLine(source: TraceSource | undefined): string {
  if (!source) return "";
  const note = source.note ? ` ${esc(source.note[0]!.toUpperCase() + source.note.slice(1))}.` : "";
  if (source.kind === "wire") {
    const link = source.href ? ` <a class="trace-pcap" href="${esc(source.href)}" download>Download the capture (.pcap, opens in Wireshark)</a>` : "";
    return `<span class="trace-kind">Drawn from the packets on the wire, captured with tcpdump.${note}${link}</span>`;
  }
  return `<span class="trace-kind">Drawn from the socket events the cells' Node.js programs reported (no packet capture).${note}</span>`;
}

/** Which trace a page's result holds: from the wire where its run was captured. `href` is where the site put the capture. */
export function traceSourceOf(result: PageResult | null, href: string | null | undefined): TraceSource {
  const note = result ? captureNote(result) : null;
  const network = result?.wire?.network;
  const hosts: TraceSource["hosts"] = {};
  for (const c of network ? result!.wire!.cells : []) {
    const h = network!.hosts.find((x) => x.name === c.host);
    // A host on one link has one address, shown; a router's or a hub's are on its sockets.
    if (h) hosts[c.name] = { name: h.name, address: h.addresses.length === 1 ? h.addresses[0]! : "" };
  }
  return result?.capture ? { kind: "wire", note, href: href ?? null, ...(network ? { hosts } : {}) } : { kind: "sockets", note, href: null };
}

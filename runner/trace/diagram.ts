// Trace events -> inline SVG sequence diagrams: a lifeline per socket (grouped by cell), an arrow
// per packet from the wire (the handshake's three, data, FIN, RST, datagrams) or, without a
// capture, per datagram or segment the cells reported; a legend; a text version beside it that
// screen readers are pointed to. More than MAX_LINES lifelines are split into conversations.
import { escapeHtml } from "../render/html.ts";
import { captureNote, textTimeline } from "./trace.ts";
import { conversations, drawingOrder, layout, MAX_LINES, type ArrowKind, type Layout } from "./sequence.ts";
import type { PageResult, TraceEvent } from "../types.ts";

const ROW = 30;
const TOP = 64;
const LEFT = 20;
const MAX_FIGURES = 12;

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

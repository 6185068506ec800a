// A page run's trace from the wire: the captured packets (pcap.ts) as events, each endpoint named
// by the cell that owns it (the cells' own socket events, then the socket tables sockets.ts
// read, then the one program-running cell that was running), merged with the socket events that
// never reach the wire: bind, listen, accept, a bind that failed, a datagram never read.
import { readFileSync } from "node:fs";
import { PREVIEW } from "../../cells/wire.ts";
import { LANGUAGES } from "../execute/languages.ts";
import type { Lang, PageResult, TraceEvent } from "../types.ts";
import type { CaptureInfo } from "./capture.ts";
import { ACK, FIN, type Packet, type PcapRead, readPcap, RST, SYN, UNREACHABLE } from "./pcap.ts";
import { previewOf } from "./tracefile.ts";
import { followPackets, type Fate } from "./hops.ts";
import { storedCapture } from "./capture.ts";
import { MAX_PACKETS } from "./tcpdump.ts";

/** Socket events kept beside the wire's: what no packet shows. */
const SOCKET_ONLY = new Set(["bind", "listen", "accept"]);
/** Errors of a bind or listen: on the cell's own socket, no packet sent. */
export const BIND_ERRORS = new Set(["EADDRINUSE", "EADDRNOTAVAIL", "EACCES"]);

/** `[::ffff:1.2.3.4]:P` is `1.2.3.4:P`: a server on `::` and its IPv4 client name one socket alike. */
export function plainAddress(a: string | null): string | null {
  return a !== null && a.startsWith("[::ffff:") && a.includes(".") ? a.slice(8).replace("]", "") : a;
}

const portOf = (a: string) => a.slice(a.lastIndexOf(":") + 1);
const hostOf = (a: string) => a.slice(0, a.lastIndexOf(":")).replace(/^\[|\]$/g, "");
const anyHost = (h: string) => h === "0.0.0.0" || h === "::";

interface Claim {
  proto: string;
  local: string;
  cell: string;
  /** ms since the run began */
  at: number;
}

/** Who owns an address at a time: an exact claim or one on every address of its port; the latest before, else the first after. */
class Owners {
  private readonly byPort = new Map<string, Claim[]>();

  add(c: Claim): void {
    const key = `${c.proto}|${portOf(c.local)}`;
    let list = this.byPort.get(key);
    if (!list) this.byPort.set(key, (list = []));
    // A socket's every datagram claims its address again: the first claim of a run of them is enough.
    const last = list[list.length - 1];
    if (last && last.cell === c.cell && last.local === c.local && c.at >= last.at) return;
    list.push(c);
  }

  find(proto: string, addr: string, t: number): string {
    const list = this.byPort.get(`${proto}|${portOf(addr)}`);
    if (!list) return "";
    const host = hostOf(addr);
    let before: Claim | null = null;
    let after: Claim | null = null;
    for (const c of list) {
      const h = hostOf(c.local);
      if (h !== host && !anyHost(h)) continue;
      if (c.at <= t + 1) {
        if (!before || c.at >= before.at) before = c;
      } else if (!after || c.at < after.at) after = c;
    }
    return (before ?? after)?.cell ?? "";
  }

  private readonly dials = new Map<string, Claim[]>();

  /** A cell reported reaching `remote` (a connect, a send, a refusal): a flow to it then was that cell's. */
  dial(proto: string, remote: string, cell: string, at: number): void {
    const key = `${proto}|${remote}`;
    let list = this.dials.get(key);
    if (!list) this.dials.set(key, (list = []));
    // Of a run of sends by one cell, one a tenth of a second is near enough.
    const last = list[list.length - 1];
    if (last && last.cell === cell && at - last.at < 100) return;
    list.push({ proto, local: remote, cell, at });
  }

  /** The cell that reported reaching `remote` nearest to `t` (within a second). */
  dialer(proto: string, remote: string, t: number): string {
    let best: Claim | null = null;
    for (const c of this.dials.get(`${proto}|${remote}`) ?? []) if (Math.abs(c.at - t) < 1000 && (!best || Math.abs(c.at - t) < Math.abs(best.at - t))) best = c;
    return best?.cell ?? "";
  }
}

export interface WireTrace {
  events: TraceEvent[];
  /** What was left out or could not be read, for the page to say. */
  notes: string[];
}

/**
 * The page's events: its run's cells' socket events (`socket`, times from the run's start
 * `clock0`) replaced by the wire's where the capture is, and the rest kept as they are.
 */
export function wireTrace(socket: TraceEvent[], capture: CaptureInfo, file?: Uint8Array): WireTrace {
  const { clock0 } = capture;
  const notes: string[] = capture.skipped ? [capture.skipped] : [];
  let bytes = file;
  if (!bytes) {
    try {
      bytes = readFileSync(capture.path!);
    } catch (err) {
      return { events: socket.map(plainEvent), notes: [...notes, `the capture could not be read: ${(err as Error).message}`] };
    }
  }
  const read = readPcap(bytes, MAX_PACKETS);
  if (read.problem) notes.push(read.problem);
  if (read.overMax > 0) notes.push(`${read.overMax} packets past the first ${MAX_PACKETS} are not shown`);
  const ran = new Set(capture.cells.map((c) => c.name));
  const owners = new Owners();
  const kept: TraceEvent[] = [];
  const reads = new Map<string, number>();
  for (const raw of socket) {
    if (!ran.has(raw.cell)) {
      kept.push(plainEvent(raw)); // a cached cell of an earlier run: its own trace, as it was
      continue;
    }
    const e = plainEvent(raw);
    if (e.local && e.kind !== "error") owners.add({ proto: e.proto, local: e.local, cell: e.cell, at: e.t });
    if (e.remote && (e.kind === "connect" || e.kind === "error" || e.kind === "send")) owners.dial(e.proto, e.remote, e.cell, e.t);
    if (e.kind === "recv" && e.proto === "udp" && e.local) reads.set(`${e.cell}|${portOf(e.local)}`, (reads.get(`${e.cell}|${portOf(e.local)}`) ?? 0) + 1);
    if (SOCKET_ONLY.has(e.kind) || (e.kind === "error" && e.code && BIND_ERRORS.has(e.code))) kept.push(e);
  }
  for (const o of capture.owners) owners.add({ proto: o.proto, local: o.local, cell: o.cell, at: o.at - clock0 });
  const traced = new Set(capture.cells.filter((c) => c.lang in LANGUAGES && LANGUAGES[c.lang as Lang].reportsSockets).map((c) => c.name));
  const running = capture.cells.map((c) => ({ ...c, from: c.from - clock0, to: c.to - clock0 }));
  // An endpoint no socket table caught and no cell reported (a program that came and went
  // between two looks: a sandboxed shell's nc lives a few milliseconds): the one cell running at
  // that time besides the cell at the other end, or else the one such cell that does not report
  // its own sockets (a TypeScript cell would have reported this one).
  const guess = (t: number, other: string) => {
    const now = running.filter((c) => c.from <= t && t <= c.to + 5 && c.name !== other);
    if (now.length === 1) return now[0]!.name;
    const untraced = now.filter((c) => !traced.has(c.name));
    return untraced.length === 1 ? untraced[0]!.name : "";
  };
  // A network's capture has each packet at both ends of each link: once, as sent, with its fate.
  const followed = capture.network ? followPackets(read.packets, capture.network) : null;
  const wire = packetEvents(followed ? { ...read, packets: followed.sent } : read, capture.offset + clock0, owners, guess, followed?.fates);
  let outside = 0;
  const events: TraceEvent[] = [];
  for (const e of wire) {
    if (!e.from && !e.to) {
      outside++;
      continue;
    }
    if (e.proto === "udp" && e.kind === "send" && e.to && traced.has(e.to) && e.remote && !e.lost) {
      const key = `${e.to}|${portOf(e.remote)}`;
      const left = reads.get(key) ?? 0;
      if (left > 0) reads.set(key, left - 1);
      else e.unread = true;
    }
    events.push(e);
  }
  if (outside > 0) notes.push(`${outside} packets between programs no cell started are not shown`);
  return { events: placeAccepts([...kept, ...events].sort((a, b) => a.t - b.t)), notes };
}

function plainEvent(e: TraceEvent): TraceEvent {
  const local = plainAddress(e.local);
  const remote = plainAddress(e.remote);
  return local === e.local && remote === e.remote ? e : { ...e, local, remote };
}

/** One TCP connection (from its SYN) or UDP pair of sockets, and the cells at its two ends. */
interface Flow {
  opener: string;
  /** The cell at each address of the flow. */
  cells: Map<string, string>;
  handshaking: boolean;
}

/**
 * Packets as events: the handshake's three, data, FIN and RST for TCP (other bare ACKs left out);
 * for UDP each datagram, and the ICMP port unreachable that answers one sent where nobody listens.
 */
function packetEvents(read: PcapRead, zero: number, owners: Owners, guess: (t: number, other: string) => string, fates?: Map<Packet, Fate>): TraceEvent[] {
  const out: TraceEvent[] = [];
  // Flows by their two addresses, the lower first: nested maps, so that no key is made a packet.
  const flows = new Map<string, Map<string, Flow>>();
  const file = Buffer.from(read.file.buffer, read.file.byteOffset, read.file.byteLength);
  // One string of the whole file, sliced for each plain-ASCII preview (as decodeRecords does);
  // a file too large for that is decoded packet by packet.
  const latin1 = file.length <= 16 << 20 ? file.toString("latin1") : null;
  // TCP segments by sender and sequence number: one seen again is a retransmission.
  const segments = new Set<string>();
  for (const p of read.packets) {
    const t = Math.round((p.t - zero) * 1000) / 1000;
    const [a, b] = p.src < p.dst ? [p.src, p.dst] : [p.dst, p.src];
    let byB = flows.get(a);
    if (!byB) flows.set(a, (byB = new Map()));
    let flow = byB.get(b);
    const syn = p.proto === "tcp" && (p.flags & (SYN | ACK)) === SYN;
    if (!flow || syn) {
      // A cell is named once a flow: the owners at its start, else a guess for the end that
      // began it (the other end of a refused SYN is nobody).
      const src = owners.find(p.proto, p.src, t);
      const dst = owners.find(p.proto, p.dst, t);
      // (The sender last: a socket that sends to itself is one end, the sender's.)
      const cells = new Map([
        [p.dst, dst],
        [p.src, src || owners.dialer(p.proto, p.dst, t) || guess(t, dst)],
      ]);
      flow = { opener: p.src, cells, handshaking: false };
      byB.set(b, flow);
    }
    const from = flow.cells.get(p.src) ?? "";
    const to = flow.cells.get(p.dst) ?? "";
    let again = false;
    if (p.proto === "tcp" && (p.bytes > 0 || p.flags & (SYN | FIN))) {
      const segment = `${p.src}|${p.dst}|${p.ident % 2 ** 32}|${p.flags & (SYN | FIN)}`;
      again = segments.has(segment);
      segments.add(segment);
    }
    const fate = again ? { arrived: null, lost: null, ...fates?.get(p), again } : fates?.get(p);
    let kind: TraceEvent["kind"] | null = null;
    if (p.proto === "udp") kind = p.flags & UNREACHABLE ? "unreachable" : "send";
    else if (p.flags & SYN) {
      kind = p.flags & ACK ? "syn-ack" : "syn";
      flow.handshaking = (p.flags & ACK) !== 0;
    } else if (p.flags & RST) kind = "rst";
    else if (flow.handshaking && p.flags & ACK && p.bytes === 0 && !(p.flags & FIN)) {
      kind = "ack";
      flow.handshaking = false;
    } else {
      flow.handshaking = false;
      if (p.bytes > 0) out.push(wireEvent(t, "send", p, from, to, preview(p, file, latin1), fate));
      if (p.flags & FIN) kind = "fin";
    }
    if (kind === "send") out.push(wireEvent(t, kind, p, from, to, preview(p, file, latin1), fate));
    else if (kind !== null) out.push(wireEvent(t, kind, p, from, to, undefined, fate));
  }
  return out;
}

/** A packet's event; every one has the same fields, so that V8 gives them one shape. */
function wireEvent(t: number, kind: TraceEvent["kind"], p: Packet, from: string, to: string, preview: string | undefined, fate: (Fate & { again?: boolean }) | undefined): TraceEvent {
  // The time a packet took over the page's links, where that is a millisecond or more.
  const took = fate?.arrived != null ? Math.round(fate.arrived - p.t) : 0;
  return { t, cell: from || to, proto: p.proto, kind, local: p.src, remote: p.dst, bytes: preview === undefined ? undefined : p.bytes, preview, code: undefined, wire: true, from, to, unread: undefined, lost: fate?.lost ?? undefined, delay: took >= 1 ? took : undefined, retransmit: fate?.again ? true : undefined };
}

function preview(p: Packet, file: Buffer, latin1: string | null): string {
  const n = Math.min(PREVIEW, p.captured, p.bytes);
  if (latin1 !== null) return previewOf(file, latin1, p.data, p.data + n, p.bytes);
  const head = file.subarray(p.data, p.data + n);
  return previewOf(head, head.toString("latin1"), 0, n, p.bytes);
}

/**
 * An accept after the handshake it follows: the program reports it after the kernel has
 * finished the handshake, but the pcap's clock and the trace's are two clocks, a few
 * microseconds apart.
 */
function placeAccepts(events: TraceEvent[]): TraceEvent[] {
  const acks = new Map<string, number>();
  for (const e of events) if (e.kind === "ack" && e.local && e.remote) acks.set(`${e.remote}|${e.local}`, e.t);
  let moved = false;
  events.forEach((e, i) => {
    if (e.kind !== "accept" || !e.local || !e.remote) return;
    const ack = acks.get(`${e.local}|${e.remote}`);
    if (ack !== undefined && e.t <= ack) {
      events[i] = { ...e, t: Math.round((ack + 0.001) * 1000) / 1000 };
      moved = true;
    }
  });
  return moved ? events.sort((a, b) => a.t - b.t) : events;
}

/** What withCapture() gave a result (for the bench, which times wireTrace). */
export function captureOf(result: { wire?: CaptureInfo }): CaptureInfo | null {
  return result.wire ?? null;
}

/**
 * The result `to`, made of the run `from` and cached results, with the capture of `from`, or
 * (nothing ran) the stored capture of the page's last run if its cells are still those results.
 */
export function carryCapture<T extends PageResult>(from: PageResult | null, to: T, page: string, cacheDir: string): T {
  const c = from ? from.wire : storedCapture(cacheDir, page, to.cells);
  return c ? withCapture(to, c) : to;
}

/** Gives a page's result its capture: `capture` and `captureSkipped`, and what pageTrace() makes the wire's events of. */
export function withCapture<T extends PageResult>(result: T, capture: CaptureInfo): T {
  return { ...result, capture: capture.path, captureSkipped: capture.skipped, wire: capture };
}

/**
 * A page's events from its capture, made of its cells' socket events: the wire's where there is
 * a capture file; without one, the cells' own events, IPv4-mapped addresses made plain.
 */
export function wireEvents(socket: TraceEvent[], capture: CaptureInfo): WireTrace {
  return capture.path ? wireTrace(socket, capture) : { events: socket.map(plainEvent), notes: capture.skipped ? [capture.skipped] : [] };
}

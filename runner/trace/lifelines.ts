// Who is at each end of a trace diagram's arrow: a lifeline per socket, made as events name
// their sockets. From the cells' socket events: a socket's own, or the one at the other end; from
// packets on the wire: TCP by its flow (who dialled whom, so a connection socket is told from the
// welcome socket), UDP by its port, and "no cell's socket" for an end no cell owns.
import { sameSocket } from "./trace.ts";
import type { TraceEvent } from "../types.ts";

export interface Lifeline {
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

export const portOf = (a: string) => a.slice(a.lastIndexOf(":") + 1);

/** A diagram's lifelines, made as events name their sockets: a socket's own, or the one at the other end. */
export function lifelines() {
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
export function wireEnds({ find, line, touch, welcomeOf }: Lifelines) {
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

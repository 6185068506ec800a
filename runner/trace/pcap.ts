// A reader of the classic pcap format (what `tcpdump -w` writes), as far as a trace needs it:
// Ethernet (what Linux's loopback is captured as), Linux cooked (SLL, SLL2) and BSD loopback
// frames; IPv4 and IPv6; TCP with its flags and payload, UDP, and the ICMP "port unreachable"
// that answers a datagram sent where nobody listens. Anything else is skipped and counted; a
// file cut short ends at its last whole packet. No native code: plain DataView reads.

export interface Packet {
  /** Capture time, in ms since the Unix epoch (microsecond precision). */
  t: number;
  proto: "tcp" | "udp";
  /** Sender and receiver as `ip:port` (`[v6]:port`), as Node names socket addresses. */
  src: string;
  dst: string;
  /** TCP flags (FIN 1, SYN 2, RST 4, PSH 8, ACK 16); for UDP 0, or UNREACHABLE. */
  flags: number;
  /** Payload length as sent (from the IP header), not as captured. */
  bytes: number;
  /** Where the captured head of the payload is in the file, and how much of it was captured. */
  data: number;
  captured: number;
  /**
   * Linux cooked v2 captures (tcpdump -i any, a page's network): the device's index, and whether
   * the packet was on its way out (OUTGOING) or in; 0 and -1 otherwise.
   */
  dev: number;
  dir: number;
  /** What tells one sending of a packet from another: IPv4's identification, then TCP's sequence number. */
  ident: number;
}

/** Linux's packet types: the capture saw the packet leave through the device. */
export const OUTGOING = 4;

export const FIN = 1;
export const SYN = 2;
export const RST = 4;
export const ACK = 16;
/**
 * A UDP "packet" that is an ICMP (or ICMPv6) port unreachable: the kernel's answer to a datagram
 * sent to a port where no socket is bound. `src` is that port's address, `dst` the datagram's
 * sender, as the answer goes; it carries no payload.
 */
export const UNREACHABLE = 0x100;

export interface PcapRead {
  /** The file read: payloads are at their packets' `data`. */
  file: Uint8Array;
  packets: Packet[];
  /** Frames that were not TCP or UDP over IP (ARP, ICMP, ...). */
  other: number;
  /** Packets past `max`, not read. */
  overMax: number;
  /** Why reading stopped early: a file cut short, or not pcap at all. */
  problem: string | null;
}

const LINK_NULL = 0;
const LINK_ETHERNET = 1;
const LINK_RAW = 101;
const LINK_SLL = 113;
const LINK_SLL2 = 276;

/** Reads a classic pcap file (either byte order, micro- or nanosecond stamps) into its TCP and UDP packets. */
export function readPcap(file: Uint8Array, max = Infinity): PcapRead {
  const out: PcapRead = { file, packets: [], other: 0, overMax: 0, problem: null };
  if (file.length < 24) {
    out.problem = file.length === 0 ? "the capture is empty" : "the capture is cut short in its header";
    return out;
  }
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const magic = view.getUint32(0, true);
  const little = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!little && view.getUint32(0, false) !== 0xa1b2c3d4 && view.getUint32(0, false) !== 0xa1b23c4d) {
    out.problem = "not a pcap file";
    return out;
  }
  const nano = (little ? magic : view.getUint32(0, false)) === 0xa1b23c4d;
  const link = view.getUint32(20, little) & 0xffff;
  let p = 24;
  while (p < file.length) {
    if (p + 16 > file.length) {
      out.problem = "the capture is cut short (half a packet header at its end)";
      break;
    }
    const sec = view.getUint32(p, little);
    const frac = view.getUint32(p + 4, little);
    const caplen = view.getUint32(p + 8, little);
    const start = p + 16;
    if (start + caplen > file.length) {
      out.problem = "the capture is cut short (its last packet is incomplete)";
      break;
    }
    p = start + caplen;
    if (out.packets.length >= max) {
      out.overMax++;
      continue;
    }
    const t = sec * 1000 + (nano ? frac / 1e6 : frac / 1e3);
    const packet = frame(file, view, link, start, start + caplen, t);
    if (!packet) {
      out.other++;
      continue;
    }
    if (link === LINK_SLL2) {
      packet.dev = view.getUint32(start + 4);
      packet.dir = file[start + 10]!;
    }
    out.packets.push(packet);
  }
  return out;
}

/** The TCP or UDP packet in one captured frame, or null. */
function frame(file: Uint8Array, view: DataView, link: number, start: number, end: number, t: number): Packet | null {
  let ip = start;
  let type: number;
  switch (link) {
    case LINK_ETHERNET:
      if (end - start < 14) return null;
      type = view.getUint16(start + 12);
      ip = start + 14;
      break;
    case LINK_SLL:
      if (end - start < 16) return null;
      type = view.getUint16(start + 14);
      ip = start + 16;
      break;
    case LINK_SLL2:
      if (end - start < 20) return null;
      type = view.getUint16(start);
      ip = start + 20;
      break;
    case LINK_NULL: {
      if (end - start < 4) return null;
      // The address family, in the byte order of the machine that wrote it.
      const family = view.getUint32(start, true) <= 0xff ? view.getUint32(start, true) : view.getUint32(start, false);
      type = family === 2 ? 0x0800 : family === 10 || family === 24 || family === 28 || family === 30 ? 0x86dd : 0;
      ip = start + 4;
      break;
    }
    case LINK_RAW:
      type = end > start ? (file[start]! >> 4 === 6 ? 0x86dd : 0x0800) : 0;
      break;
    default:
      return null;
  }
  if (type === 0x0800) return ipv4(file, view, ip, end, t);
  if (type === 0x86dd) return ipv6(file, view, ip, end, t);
  return null;
}

function ipv4(file: Uint8Array, view: DataView, p: number, end: number, t: number): Packet | null {
  if (end - p < 20 || file[p]! >> 4 !== 4) return null;
  const header = (file[p]! & 15) * 4;
  const total = view.getUint16(p + 2);
  // A fragment after the first carries no transport header.
  if ((view.getUint16(p + 6) & 0x1fff) !== 0) return null;
  const packet = transport(file, view, file[p + 9]!, p + header, Math.min(end, p + total), p + total, view.getUint32(p + 12), view.getUint32(p + 16), null, null, t);
  if (packet) packet.ident += view.getUint16(p + 4) * 2 ** 32;
  return packet;
}

/**
 * `ip:port` names, made once each: a flood's every packet names the same two, and a string for
 * each would be most of the garbage a capture's reading makes.
 */
const names = new Map<number, string>();
function endpoint(v4: number, v6: string | null, port: number): string {
  return v6 === null ? v4Name(v4, port) : `[${v6}]:${port}`;
}

function v4Name(ip: number, port: number): string {
  const key = ip * 65536 + port;
  let name = names.get(key);
  if (name === undefined) {
    if (names.size > 65536) names.clear();
    names.set(key, (name = `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}:${port}`));
  }
  return name;
}

function ipv6(file: Uint8Array, view: DataView, p: number, end: number, t: number): Packet | null {
  if (end - p < 40 || file[p]! >> 4 !== 6) return null;
  const total = p + 40 + view.getUint16(p + 4);
  return transport(file, view, file[p + 6]!, p + 40, Math.min(end, total), total, 0, 0, v6(view, p + 8), v6(view, p + 24), t);
}

/**
 * `end` is where the capture stops, `sent` where the packet did (past `end` when cut by the snap
 * length). The hosts are IPv4 numbers, or (v4 null) IPv6 text.
 */
function transport(file: Uint8Array, view: DataView, proto: number, p: number, end: number, sent: number, src4: number, dst4: number, src6: string | null, dst6: string | null, t: number): Packet | null {
  if (proto === 6) {
    if (end - p < 20) return null;
    const data = Math.min(p + (file[p + 12]! >> 4) * 4, end);
    return { t, proto: "tcp", src: endpoint(src4, src6, view.getUint16(p)), dst: endpoint(dst4, dst6, view.getUint16(p + 2)), flags: file[p + 13]! & 0x3f, bytes: Math.max(0, sent - (p + (file[p + 12]! >> 4) * 4)), data, captured: end - data, dev: 0, dir: -1, ident: view.getUint32(p + 4) };
  }
  if (proto === 17) {
    if (end - p < 8) return null;
    return { t, proto: "udp", src: endpoint(src4, src6, view.getUint16(p)), dst: endpoint(dst4, dst6, view.getUint16(p + 2)), flags: 0, bytes: Math.max(0, view.getUint16(p + 4) - 8), data: p + 8, captured: end - (p + 8), dev: 0, dir: -1, ident: 0 };
  }
  // ICMP destination unreachable, code port unreachable (ICMPv6: type 1, code 4): the datagram
  // it answers follows its 8-byte header, its IP header and then its UDP ports.
  if ((proto === 1 && file[p] === 3 && file[p + 1] === 3) || (proto === 58 && file[p] === 1 && file[p + 1] === 4)) {
    const sent = proto === 1 ? ipv4(file, view, p + 8, end, t) : ipv6(file, view, p + 8, end, t);
    if (!sent || sent.proto !== "udp") return null;
    return { t, proto: "udp", src: sent.dst, dst: sent.src, flags: UNREACHABLE, bytes: 0, data: end, captured: 0, dev: 0, dir: -1, ident: 0 };
  }
  return null;
}

/** The IPv6 address at `p`. */
function v6(view: DataView, p: number): string {
  return formatV6(Array.from({ length: 8 }, (_, i) => view.getUint16(p + i * 2)));
}

/** Eight 16-bit groups as Node writes an IPv6 address (RFC 5952: lower case, the longest run of zero groups as ::, IPv4-mapped in dotted form). */
export function formatV6(g: number[]): string {
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return `::ffff:${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`;
  let best = -1;
  let len = 0;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > len && j - i > 1) [best, len] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + len).join(":")}`;
}

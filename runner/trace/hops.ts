// A page network's merged capture (merge.ts) -> each packet once, as its sender sent it, with
// what became of it: when it reached the host it was for (a link's delay shows there), or the
// link where it was lost. Every host captured every device, so a packet that crossed a link is
// in the file twice (leaving one host, entering the other), and once more at every router;
// a packet that a link's loss dropped is on that link's drop device instead (network/build.ts).
import type { CapturedNetwork } from "./capture.ts";
import { OUTGOING, type Packet } from "./pcap.ts";

export interface Fate {
  /** When it reached its host (capture time, ms since the epoch), if it did. */
  arrived: number | null;
  /** The link it was lost on ("client–server"), if it was. */
  lost: string | null;
}

const ipOf = (a: string) => a.slice(0, a.lastIndexOf(":")).replace(/^\[|\]$/g, "");
const keyOf = (p: Packet) => `${p.proto}|${p.src}|${p.dst}|${p.flags}|${p.bytes}|${p.ident}`;

/** The packets as sent, in capture order, and the fate of each that crossed a link. */
export function followPackets(packets: Packet[], network: CapturedNetwork): { sent: Packet[]; fates: Map<Packet, Fate> } {
  const devices = new Map(network.devices.map((d) => [d.index, d]));
  const own = new Map(network.hosts.map((h) => [h.name, new Set(h.addresses)]));
  const linkName = new Map(network.links.map((l) => [l.index, `${l.a}–${l.b}`]));
  const sent: Packet[] = [];
  const fates = new Map<Packet, Fate>();
  // Sent and not yet arrived nor lost, by what tells them apart (a retransmission is another).
  const pending = new Map<string, Packet[]>();
  const settle = (p: Packet): Packet | undefined => {
    const list = pending.get(keyOf(p));
    const first = list?.shift();
    if (list && list.length === 0) pending.delete(keyOf(p));
    return first;
  };
  for (const p of packets) {
    const device = devices.get(p.dev);
    if (!device) continue;
    const mine = own.get(device.host)!;
    if (device.dropped) {
      const link = linkName.get(device.link!) ?? "a link";
      // The loss took it on its way out of its sender, before the capture saw it leave: this
      // copy is its sending. A router's forwarding of it: its sender's copy is the packet.
      const original = mine.has(ipOf(p.src)) ? undefined : settle(p);
      if (original) fates.get(original)!.lost = link;
      else (sent.push(p), fates.set(p, { arrived: null, lost: link }));
      continue;
    }
    if (device.link === null) {
      // Loopback: within the host, seen leaving and entering; once is the packet.
      if (p.dir === OUTGOING) sent.push(p);
      continue;
    }
    if (p.dir === OUTGOING) {
      // Forwarded by a router: the same packet as its sender's, on its way.
      if (!mine.has(ipOf(p.src))) continue;
      sent.push(p);
      fates.set(p, { arrived: null, lost: null });
      const key = keyOf(p);
      const list = pending.get(key);
      if (list) list.push(p);
      else pending.set(key, [p]);
    } else if (mine.has(ipOf(p.dst))) {
      const original = settle(p);
      if (original) fates.get(original)!.arrived = p.t;
    }
  }
  return { sent, fates };
}

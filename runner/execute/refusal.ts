// expect=ECONNREFUSED held to the wire: a cell that does not trace itself (Python, C) says it was
// refused from inside its own process, which a program can forge (a line written on fd 3). Where
// the page's run is captured, the packets must show it too: an RST answering a SYN of one of the
// cell's own sockets, or an ICMP port unreachable answering one of its datagrams.
import { readFileSync } from "node:fs";
import { readPcap, RST, SYN, ACK, UNREACHABLE, type Packet } from "../trace/pcap.ts";
import type { PlannedCell, Status } from "../types.ts";
import { languageOf } from "./languages.ts";
import { confirmRefusal } from "./verdict.ts";

/** How long the capture may lag behind the cell's end: tcpdump writes a packet a moment after the kernel sent it. */
const WAIT_MS = 1000;
const EVERY_MS = 20;

/** A socket the cell named as its own (its runtime does, on the side channel). */
export interface Claimed {
  proto: "tcp" | "udp";
  local: string;
}

const portOf = (a: string) => a.slice(a.lastIndexOf(":") + 1);
const WILDCARD = new Set(["0.0.0.0", "[::]"]);

/**
 * Whether `address` (a packet's end) is one of the sockets of `mine`: the same address, or the
 * same port where the socket names every address (a connect that failed leaves 0.0.0.0:PORT).
 */
function ownedBy(mine: Claimed[], proto: "tcp" | "udp", address: string): boolean {
  return mine.some((c) => c.proto === proto && (c.local === address || (WILDCARD.has(c.local.slice(0, c.local.lastIndexOf(":"))) && portOf(c.local) === portOf(address))));
}

/** Whether these packets show a refusal of one of `mine`: SYN then RST with no SYN-ACK between, or a port unreachable. */
export function refusalIn(packets: Packet[], mine: Claimed[]): boolean {
  const dialing = new Set<string>();
  for (const p of packets) {
    if (p.proto === "udp") {
      if (p.flags & UNREACHABLE && ownedBy(mine, "udp", p.dst)) return true;
      continue;
    }
    if (p.flags & SYN && !(p.flags & ACK) && ownedBy(mine, "tcp", p.src)) dialing.add(`${p.src}>${p.dst}`);
    else if (p.flags & SYN && p.flags & ACK) dialing.delete(`${p.dst}>${p.src}`);
    else if (p.flags & RST && dialing.has(`${p.dst}>${p.src}`)) return true;
  }
  return false;
}

/** Reads the capture as it is now until it shows the refusal, for a second at most. */
async function refusedOnWire(file: string, mine: Claimed[]): Promise<boolean> {
  for (let waited = 0; ; waited += EVERY_MS) {
    let packets: Packet[] = [];
    try {
      packets = readPcap(readFileSync(file)).packets;
    } catch {
      // Not written yet, or gone: nothing shown.
    }
    if (refusalIn(packets, mine)) return true;
    if (waited >= WAIT_MS) return false;
    await new Promise((r) => setTimeout(r, EVERY_MS));
  }
}

/**
 * The verdict of a cell that passed as expect=ECONNREFUSED on its own word, held to the page's
 * capture (`file`, null without one: then its word is all there is, as before).
 */
export async function withWireRefusal(
  cell: PlannedCell,
  decided: { status: Status; reason: string | null },
  wire: { file: string | null; claimed: Claimed[] },
): Promise<{ status: Status; reason: string | null }> {
  if (cell.attrs.expect !== "ECONNREFUSED" || decided.status !== "passed" || wire.file === null || languageOf(cell.lang).reportsSockets) return decided;
  return confirmRefusal(decided, await refusedOnWire(wire.file, wire.claimed));
}

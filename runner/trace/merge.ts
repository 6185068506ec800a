// The captures of a page's network, one per host (tcpdump -i any in each host's namespace, Linux
// cooked v2 frames), merged into one classic pcap file in time order. A device's index is its
// namespace's own, so each frame's index becomes host * 1000 + index (hosts counted from 1), and
// the capture's description (CaptureInfo.network) says which device that is.
import { readFileSync } from "node:fs";
import { writeAtomic } from "../atomic.ts";

const HEADER = 24;
const RECORD = 16;
const LINK_SLL2 = 276;

/** The index a device of host `host` (0-based) has in the merged file. */
export const mergedIndex = (host: number, index: number) => (host + 1) * 1000 + index;

interface Frame {
  t: number;
  bytes: Uint8Array;
}

/** Whole records of one file, renumbered; a file cut short ends at its last whole record. */
function framesOf(file: Uint8Array, host: number): { frames: Frame[]; header: Uint8Array | null } {
  if (file.length < HEADER) return { frames: [], header: null };
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const little = view.getUint32(0, true) === 0xa1b2c3d4 || view.getUint32(0, true) === 0xa1b23c4d;
  const nano = (little ? view.getUint32(0, true) : view.getUint32(0, false)) === 0xa1b23c4d;
  if ((view.getUint32(20, little) & 0xffff) !== LINK_SLL2) return { frames: [], header: null };
  const frames: Frame[] = [];
  for (let p = HEADER; p + RECORD <= file.length; ) {
    const caplen = view.getUint32(p + 8, little);
    if (p + RECORD + caplen > file.length) break;
    const bytes = file.slice(p, p + RECORD + caplen);
    // A copy for another host (PACKET_OTHERHOST): the far end of a drop device seeing what the
    // loss copied to it. The near end has it already, where it was dropped.
    if (caplen >= 11 && file[p + RECORD + 10] === 3) {
      p += RECORD + caplen;
      continue;
    }
    if (caplen >= 8) {
      const frame = new DataView(bytes.buffer, bytes.byteOffset + RECORD);
      frame.setUint32(4, mergedIndex(host, frame.getUint32(4)));
    }
    frames.push({ t: view.getUint32(p, little) * 1e6 + view.getUint32(p + 4, little) / (nano ? 1000 : 1), bytes });
    p += RECORD + caplen;
  }
  return { frames, header: file.subarray(0, HEADER) };
}

/** Writes the hosts' captures (in host order) as one file at `to`; the number of packets written. */
export async function mergeCaptures(paths: string[], to: string): Promise<number> {
  const all: Frame[] = [];
  let header: Uint8Array | null = null;
  paths.forEach((path, host) => {
    let file: Uint8Array;
    try {
      file = readFileSync(path);
    } catch {
      return; // a host whose capture never started: the others still tell what they saw
    }
    const read = framesOf(file, host);
    header ??= read.header;
    for (const f of read.frames) all.push(f);
  });
  // Stable: frames of one host at one microsecond keep their order.
  all.sort((a, b) => a.t - b.t);
  const chunks: Uint8Array[] = [header ?? emptyHeader()];
  for (const f of all) chunks.push(f.bytes);
  await writeAtomic(to, Buffer.concat(chunks));
  return all.length;
}

/** A pcap header of Linux cooked v2 frames, for a network none of whose captures started. */
function emptyHeader(): Uint8Array {
  const b = Buffer.alloc(HEADER);
  b.writeUInt32LE(0xa1b2c3d4, 0);
  b.writeUInt16LE(2, 4);
  b.writeUInt16LE(4, 6);
  b.writeUInt32LE(1024, 16);
  b.writeUInt32LE(LINK_SLL2, 20);
  return b;
}

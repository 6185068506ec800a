// The cell's half of the network trace: each socket event as one binary record (wire.ts) in a
// buffer, written to the runner's trace file when the buffer is full, at exit, when Lectern asks
// before it stops the cell, and 100 ms after an event at the latest (what a kill without warning
// would lose). A write per turn of the event loop (a few hundred in a flood) cost about 3 ms of
// the 12 that tracing 10,000 datagrams cost. The file is a regular file, not a pipe: a write
// never waits for the runner.
import { writeSync } from "node:fs";
import { clockMs, EVENT_HEADER, type Kind, KINDS, MAX_TRACE, NO_BYTES, padded, PREVIEW, type Proto, PROTOS, STRING_HEADER, TAG_EVENT, TAG_STRING } from "./wire.ts";

const SIZE = 1 << 14;
const u8 = Buffer.alloc(SIZE);
const u32 = new Uint32Array(u8.buffer, u8.byteOffset, SIZE >> 2);
const f64 = new Float64Array(u8.buffer, u8.byteOffset, SIZE >> 3);
let pos = 0;
let fd: number | null = null;
let written = 0;
let scheduled = false;
const ids = new Map<string, number>();

/** The byte that says what an event is: EVENT["udp send"]. */
export const EVENT = Object.fromEntries(PROTOS.flatMap((p, i) => KINDS.map((k, j) => [`${p} ${k}`, i * 16 + j]))) as Record<`${Proto} ${Kind}`, number>;

/** Starts the trace into this descriptor (the preload's LECTERN_TRACE); without it nothing is recorded. */
export function traceTo(descriptor: number): void {
  fd = descriptor;
  process.on("exit", flush);
}

export const tracing = (): boolean => fd !== null;

/** Writes out what the buffer holds. */
export function flush(): void {
  scheduled = false;
  if (fd === null || pos === 0) return;
  if (written + pos > MAX_TRACE) {
    fd = null;
    return;
  }
  try {
    for (let off = 0; off < pos; ) off += writeSync(fd, u8, off, pos - off);
    written += pos;
  } catch {
    // The file is gone or full: the program goes on untraced, as it would without Lectern.
    fd = null;
  }
  pos = 0;
}

function room(n: number): void {
  if (pos + n > SIZE) flush();
  if (!scheduled) schedule();
}

function schedule(): void {
  scheduled = true;
  setTimeout(flush, 100).unref();
}

/** The id of an address or error code, written to the file the first time it is seen. */
export function idOf(s: string | null): number {
  if (s === null || fd === null) return 0;
  let n = ids.get(s);
  if (n === undefined) {
    n = ids.size + 1;
    ids.set(s, n);
    const text = s.slice(0, 200);
    room(STRING_HEADER + padded(text.length * 3));
    u8[pos] = TAG_STRING;
    u32[(pos >> 2) + 1] = n;
    const len = u8.write(text, pos + STRING_HEADER);
    u8.writeUInt16LE(len, pos + 2);
    pos += padded(STRING_HEADER + len);
  }
  return n;
}

/**
 * One event: `what` from EVENT, addresses and code as ids, and the payload (a string is read as
 * UTF-8), of which the first PREVIEW bytes are kept.
 */
export function record(what: number, local: number, remote: number, data: Buffer | string | null = null, code = 0): void {
  if (fd === null) return;
  // room(), written out: this runs for every datagram.
  if (pos + EVENT_HEADER + PREVIEW > SIZE) flush();
  if (!scheduled) schedule();
  const at = pos + EVENT_HEADER;
  let head = 0;
  let bytes = NO_BYTES;
  if (typeof data === "string") {
    // Plain ASCII, the usual case, is copied here; anything else is encoded by Buffer.
    const n = data.length < PREVIEW ? data.length : PREVIEW;
    while (head < n) {
      const c = data.charCodeAt(head);
      if (c > 0x7f) break;
      u8[at + head++] = c;
    }
    if (head < n) head = data.length === 0 ? 0 : u8.write(data, at, PREVIEW);
    bytes = head === data.length ? head : Buffer.byteLength(data);
  } else if (data !== null) {
    bytes = data.length;
    head = bytes < PREVIEW ? bytes : PREVIEW;
    u8.set(bytes > PREVIEW ? data.subarray(0, PREVIEW) : data, at);
  }
  const w = pos >> 2;
  u8[pos] = TAG_EVENT;
  u8[pos + 1] = what;
  u8[pos + 2] = head;
  u32[w + 1] = local;
  f64[(pos >> 3) + 1] = clockMs();
  u32[w + 4] = remote;
  u32[w + 5] = code;
  u32[w + 6] = bytes;
  pos = padded(at + head);
}

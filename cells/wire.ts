// The trace file's format: written by the cell (record.ts), read by the runner (runner/tracefile.ts).
// Binary, every field at its natural alignment (so both sides read and write it through typed
// arrays), and each address written once: a cell that sends ten thousand datagrams must spend
// well under a microsecond on each of them, and JSON cost ten times that.
//
//   string  u8 0, u8 -, u16 n, u32 id, n bytes of UTF-8          (id 0 stands for null)
//   event   u8 1, u8 proto * 16 + kind, u8 n, u8 -, u32 local id, f64 time (clockMs()),
//           u32 remote id, u32 code id, u32 bytes (NO_BYTES: none), n bytes: the payload's head
//
// Each record is padded to a multiple of 8 bytes; numbers are in the machine's byte order (the
// runner reads the file on the machine that wrote it). A file cut short (the cell killed
// mid-write, or stopped at MAX_TRACE) ends at its last whole record.

export const PROTOS = ["udp", "tcp"] as const;
export const KINDS = ["bind", "listen", "connect", "accept", "send", "recv", "end", "close", "error"] as const;
export type Proto = (typeof PROTOS)[number];
export type Kind = (typeof KINDS)[number];

export const TAG_STRING = 0;
export const TAG_EVENT = 1;
export const STRING_HEADER = 8;
export const EVENT_HEADER = 28;
export const NO_BYTES = 0xffffffff;

/** A record's length: padded to 8 bytes. */
export const padded = (n: number) => (n + 7) & ~7;

// The machine's monotonic clock, which every process reads alike: the runner's start of a run
// and its cells' events are on one time line. Cheaper, too, than performance.now(), which checks
// its receiver and reads the same clock.
const hrtime = process.hrtime;
export function clockMs(): number {
  const t = hrtime();
  return t[0] * 1e3 + t[1] / 1e6;
}

/** How much of a payload the trace keeps. */
export const PREVIEW = 40;
/** The most trace one cell may leave; later events are left out, as output past its cap is. */
export const MAX_TRACE = 32 << 20;

// A cell's trace file (cells/wire.ts): made here, handed to the cell as a descriptor, and read
// once, when the cell has ended, as the records the cell wrote. Events are decoded from them only
// when something reads them (`run --trace`, `--json`, a diagram): `lectern run` stores the
// records as they are and prints no events. Reading while the cell ran cost more than it saved:
// 10 ms polls slowed a cell sending 10,000 datagrams by 12 ms or more, on a machine of two cores.
import { createHash } from "node:crypto";
import { closeSync, fstatSync, openSync, readSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EVENT_HEADER, KINDS, MAX_TRACE, NO_BYTES, padded, PROTOS, STRING_HEADER, TAG_EVENT, TAG_STRING } from "../../cells/wire.ts";
import type { TraceEvent } from "../types.ts";

let files = 0;

/** A cell's trace as it wrote it (whole records) and the start of its run, in clockMs(). */
export class TraceRecords {
  constructor(
    readonly bytes: Buffer,
    readonly clock0: number,
  ) {}

  private sha: string | undefined;

  /** The records' SHA-256: what ties a cache entry to its records file (cache.ts). */
  digest(): string {
    return (this.sha ??= createHash("sha256").update(this.bytes).digest("hex"));
  }

  /** In JSON (a cache entry, the key of a published page): a digest, not a number for every byte. */
  toJSON(): { clock0: number; sha256: string } {
    return { clock0: this.clock0, sha256: this.digest() };
  }
}

export class TraceFile {
  /** The descriptor to hand to the cell. */
  readonly fd: number;

  constructor() {
    // A regular file, not a pipe: the cell's writes never wait for us. Unlinked at once, so
    // nothing is left in the temporary directory whatever becomes of either process.
    const path = join(tmpdir(), `lectern-trace-${process.pid}-${++files}`);
    this.fd = openSync(path, "wx+", 0o600);
    unlinkSync(path);
  }

  /** After the cell has ended: its whole records, timed from `clock0` (the run's start); the file is closed. */
  finish(clock0: number): TraceRecords {
    try {
      const size = Math.min(fstatSync(this.fd).size, MAX_TRACE);
      // A buffer of its own, so that the records are 8-byte aligned for decodeRecords' views.
      const bytes = Buffer.from(new ArrayBuffer(padded(size)), 0, size);
      let got = 0;
      for (let n = 1; got < size && n > 0; got += n) n = readSync(this.fd, bytes, got, size - got, got);
      return new TraceRecords(bytes.subarray(0, wholeRecords(bytes.subarray(0, got))), clock0);
    } finally {
      closeSync(this.fd);
    }
  }
}

/**
 * How many bytes at the start of `bytes` are whole records of the preload's. A cell killed
 * mid-write leaves half a record; one that writes into fd 4 itself leaves bytes that are no
 * record at all. The trace ends there.
 */
export function wholeRecords(bytes: Buffer): number {
  let p = 0;
  while (p < bytes.length) {
    let end: number;
    if (bytes[p] === TAG_STRING && p + STRING_HEADER <= bytes.length) end = p + STRING_HEADER + bytes.readUInt16LE(p + 2);
    else if (bytes[p] === TAG_EVENT && p + EVENT_HEADER <= bytes.length && PROTOS[bytes[p + 1]! >> 4] && KINDS[bytes[p + 1]! & 15]) end = p + EVENT_HEADER + bytes[p + 2]!;
    else break;
    if (padded(end) > bytes.length) break;
    p = padded(end);
  }
  return p;
}

/** The events of a cell's whole records (wholeRecords). */
export function decodeRecords(cell: string, records: TraceRecords): TraceEvent[] {
  let bytes = records.bytes;
  if (bytes.byteOffset % 8 !== 0) {
    // A file read from the cache: copied to where the typed-array views can read it.
    bytes = Buffer.from(new ArrayBuffer(padded(bytes.length)), 0, bytes.length);
    records.bytes.copy(bytes);
  }
  const u32 = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2);
  const f64 = new Float64Array(bytes.buffer, bytes.byteOffset, bytes.length >> 3);
  const { clock0 } = records;
  const strings: (string | null)[] = [null];
  const text = (id: number) => strings[id] ?? null;
  const events: TraceEvent[] = [];
  // One string of all the records, sliced for each preview of plain ASCII (most of them): a
  // call from Buffer into the runtime for each event cost more than the rest of the decode.
  const latin1 = bytes.toString("latin1");
  for (let p = 0; p < bytes.length; ) {
    if (bytes[p] === TAG_STRING) {
      const end = p + STRING_HEADER + bytes.readUInt16LE(p + 2);
      strings[u32[(p >> 2) + 1]!] = bytes.toString("utf8", p + STRING_HEADER, end);
      p = padded(end);
      continue;
    }
    const end = p + EVENT_HEADER + bytes[p + 2]!;
    const w = p >> 2;
    const size = u32[w + 6]!;
    // Every event has the same fields, so that V8 gives all of them one shape; a field that is
    // undefined is left out of JSON as one never set would be.
    events.push({
      t: Math.round((f64[(p >> 3) + 1]! - clock0) * 1000) / 1000,
      cell,
      proto: PROTOS[bytes[p + 1]! >> 4]!,
      kind: KINDS[bytes[p + 1]! & 15]!,
      local: text(u32[w + 1]!),
      remote: text(u32[w + 4]!),
      bytes: size === NO_BYTES ? undefined : size,
      preview: size === NO_BYTES ? undefined : previewOf(bytes, latin1, p + EVENT_HEADER, end, size),
      code: text(u32[w + 5]!) ?? undefined,
    });
    p = padded(end);
  }
  return events;
}

/** Whether these bytes are all printable ASCII, less the backslash: nothing to decode or escape. */
function plain(bytes: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = bytes[i]!;
    if (c < 0x20 || c > 0x7e || c === 0x5c) return false;
  }
  return true;
}

/**
 * The head of a payload as readable text: UTF-8 decoded, control characters escaped, an
 * ellipsis if cut. `latin1` is all of `bytes` as a string, to slice the usual plain ASCII from.
 */
export function previewOf(bytes: Buffer, latin1: string, start: number, end: number, total: number): string {
  const more = total > end - start ? "…" : "";
  if (plain(bytes, start, end)) return latin1.slice(start, end) + more;
  const text = bytes.toString("utf8", start, end).replace(/\uFFFD+$/, "");
  const escaped = text.replace(/[\x00-\x1f\x7f\\]/g, (c) => ({ "\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\" })[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
  return escaped + more;
}

// A cell's trace file (cells/wire.ts): made here, handed to the cell as a descriptor, and
// decoded into TraceEvents when the cell ends. A cell that runs for long is read every POLL_MS
// as well, so that little is left for its end. Not more often: reading while a cell floods the
// network slows the cell by more than the reading saves at its end (10,000 datagrams: 10 ms
// polls cost the cell 12 ms or more; one read at its end costs about 4).
import { closeSync, fstatSync, openSync, readSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EVENT_HEADER, KINDS, MAX_TRACE, NO_BYTES, padded, PROTOS, STRING_HEADER, TAG_EVENT, TAG_STRING } from "../cells/wire.ts";
import type { TraceEvent, TraceRecords } from "./types.ts";

const POLL_MS = 1000;
let files = 0;

/** Trace records (cells/wire.ts) into TraceEvents, a piece at a time: strings come before their use. */
export class TraceDecoder {
  readonly events: TraceEvent[] = [];
  private readonly strings: (string | null)[] = [null];
  /** Set by bytes that are no record of the preload's: the trace ends there. */
  broken = false;

  constructor(
    private readonly cell: string,
    /** When the run started, in clockMs(): event times are counted from it. */
    private readonly clock0: number,
  ) {}

  /**
   * Decodes the whole records at the start of `bytes` (which begins on a record and is aligned
   * to 8 bytes in its ArrayBuffer, for the typed-array views); returns how many bytes they took.
   */
  decode(bytes: Buffer): number {
    const u32 = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2);
    const f64 = new Float64Array(bytes.buffer, bytes.byteOffset, bytes.length >> 3);
    const { strings, events, cell, clock0 } = this;
    const text = (id: number) => strings[id] ?? null;
    // One string of all that was read, sliced for each preview of plain ASCII (most of them):
    // a call from Buffer into the runtime for each event cost more than the rest of the decode.
    const latin1 = bytes.toString("latin1");
    let p = 0;
    while (p < bytes.length) {
      const tag = bytes[p];
      if (tag === TAG_STRING) {
        if (p + STRING_HEADER > bytes.length) break;
        const end = p + STRING_HEADER + bytes.readUInt16LE(p + 2);
        if (end > bytes.length) break;
        strings[u32[(p >> 2) + 1]!] = bytes.toString("utf8", p + STRING_HEADER, end);
        p = padded(end);
      } else if (tag === TAG_EVENT) {
        if (p + EVENT_HEADER > bytes.length) break;
        const end = p + EVENT_HEADER + bytes[p + 2]!;
        if (end > bytes.length) break;
        const proto = PROTOS[bytes[p + 1]! >> 4];
        const kind = KINDS[bytes[p + 1]! & 15];
        if (!proto || !kind) {
          this.broken = true;
          break;
        }
        const w = p >> 2;
        const size = u32[w + 6]!;
        // Every event has the same fields, so that V8 gives all of them one shape; a field that
        // is undefined is left out of JSON as one never set would be.
        events.push({
          t: Math.round((f64[(p >> 3) + 1]! - clock0) * 1000) / 1000,
          cell,
          proto,
          kind,
          local: text(u32[w + 1]!),
          remote: text(u32[w + 4]!),
          bytes: size === NO_BYTES ? undefined : size,
          preview: size === NO_BYTES ? undefined : previewOf(bytes, latin1, p + EVENT_HEADER, end, size),
          code: text(u32[w + 5]!) ?? undefined,
        });
        p = padded(end);
      } else {
        this.broken = true;
        break;
      }
    }
    return p;
  }
}

/** The events of stored records (what the cache keeps); null unless they are whole records. */
export function decodeRecords(cell: string, records: TraceRecords): TraceEvent[] | null {
  const aligned = Buffer.from(new ArrayBuffer(padded(records.bytes.length)), 0, records.bytes.length);
  records.bytes.copy(aligned);
  const decoder = new TraceDecoder(cell, records.clock0);
  return decoder.decode(aligned) === aligned.length && !decoder.broken ? decoder.events : null;
}

export class TraceFile {
  /** The descriptor to hand to the cell. */
  readonly fd: number;
  private readonly decoder: TraceDecoder;
  /** The whole records read so far, kept for the cache. */
  private readonly pieces: Buffer[] = [];
  /** Bytes of whole records decoded so far: where the next read starts, a multiple of 8. */
  private consumed = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    cell: string,
    private readonly clock0: number,
  ) {
    this.decoder = new TraceDecoder(cell, clock0);
    // A regular file, not a pipe: the cell's writes never wait for us. Unlinked at once, so
    // nothing is left in the temporary directory whatever becomes of either process.
    const path = join(tmpdir(), `lectern-trace-${process.pid}-${++files}`);
    this.fd = openSync(path, "wx+", 0o600);
    unlinkSync(path);
    this.timer = setInterval(() => this.read(), POLL_MS).unref();
  }

  /** After the cell has ended: reads the rest, closes the file, and gives the events and the records. */
  finish(): { events: TraceEvent[]; records: TraceRecords } {
    clearInterval(this.timer);
    this.read();
    closeSync(this.fd);
    return { events: this.decoder.events, records: { bytes: Buffer.concat(this.pieces), clock0: this.clock0 } };
  }

  /** Decodes what has been written since. */
  private read(): void {
    if (this.decoder.broken) return;
    const size = Math.min(fstatSync(this.fd).size, MAX_TRACE);
    if (size <= this.consumed) return;
    // Read into a buffer of its own, from a record boundary: the typed-array views need the
    // 8-byte alignment the records keep.
    const length = size - this.consumed;
    const bytes = Buffer.from(new ArrayBuffer(padded(length)), 0, length);
    let got = 0;
    for (let n = 1; got < length && n > 0; got += n) n = readSync(this.fd, bytes, got, length - got, this.consumed + got);
    const whole = this.decoder.decode(bytes.subarray(0, got));
    this.pieces.push(bytes.subarray(0, whole));
    this.consumed += whole;
  }
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
function previewOf(bytes: Buffer, latin1: string, start: number, end: number, total: number): string {
  const more = total > end - start ? "…" : "";
  if (plain(bytes, start, end)) return latin1.slice(start, end) + more;
  const text = bytes.toString("utf8", start, end).replace(/\uFFFD+$/, "");
  const escaped = text.replace(/[\x00-\x1f\x7f\\]/g, (c) => ({ "\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\" })[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
  return escaped + more;
}

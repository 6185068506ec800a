// A cell's trace file (cells/wire.ts): made here, handed to the cell as a descriptor, and read
// while the cell runs: the records written since the last look are decoded into TraceEvents, so
// that little is left when the cell ends. While a cell floods the network the runner has a core
// to spare; at the end, everybody waits for it. It looks every POLL_MS while the file grows,
// and less often, down to IDLE_MS, while it does not (a server waiting for clients).
import { closeSync, fstatSync, openSync, readSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EVENT_HEADER, KINDS, MAX_TRACE, NO_BYTES, padded, PROTOS, STRING_HEADER, TAG_EVENT, TAG_STRING } from "../cells/wire.ts";
import type { TraceEvent } from "./types.ts";

const POLL_MS = 10;
const IDLE_MS = 200;
let files = 0;

export class TraceFile {
  /** The descriptor to hand to the cell. */
  readonly fd: number;
  private readonly events: TraceEvent[] = [];
  private readonly strings: (string | null)[] = [null];
  /** Bytes of whole records decoded so far: where the next read starts, a multiple of 8. */
  private consumed = 0;
  /** Set by bytes that are no record of the preload's: the trace ends there. */
  private broken = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly cell: string,
    private readonly epoch0: number,
  ) {
    // A regular file, not a pipe: the cell's writes never wait for us. Unlinked at once, so
    // nothing is left in the temporary directory whatever becomes of either process.
    const path = join(tmpdir(), `lectern-trace-${process.pid}-${++files}`);
    this.fd = openSync(path, "wx+", 0o600);
    unlinkSync(path);
    this.poll(POLL_MS);
  }

  private poll(wait: number): void {
    this.timer = setTimeout(() => this.poll(this.read() ? POLL_MS : Math.min(wait * 2, IDLE_MS)), wait).unref();
  }

  /** After the cell has ended: reads the rest, closes the file, and gives the events. */
  finish(): TraceEvent[] {
    clearTimeout(this.timer);
    this.read();
    closeSync(this.fd);
    return this.events;
  }

  /** Decodes what has been written since; false if there was nothing new. */
  private read(): boolean {
    if (this.broken) return false;
    const size = Math.min(fstatSync(this.fd).size, MAX_TRACE);
    if (size <= this.consumed) return false;
    // Read into a buffer of its own, from a record boundary: the typed-array views need the
    // 8-byte alignment the records keep.
    const length = size - this.consumed;
    const buffer = new ArrayBuffer(padded(length));
    const bytes = Buffer.from(buffer, 0, length);
    let got = 0;
    for (let n = 1; got < length && n > 0; got += n) n = readSync(this.fd, bytes, got, length - got, this.consumed + got);
    this.consumed += this.decode(bytes.subarray(0, got), new Uint32Array(buffer), new Float64Array(buffer));
    return true;
  }

  /** Decodes the whole records at the start of `bytes`; returns how many bytes they took. */
  private decode(bytes: Buffer, u32: Uint32Array, f64: Float64Array): number {
    const { strings, events, cell, epoch0 } = this;
    const text = (id: number) => strings[id] ?? null;
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
        const event: TraceEvent = {
          t: Math.round((f64[(p >> 3) + 1]! - epoch0) * 1000) / 1000,
          cell,
          proto,
          kind,
          local: text(u32[w + 1]!),
          remote: text(u32[w + 4]!),
        };
        const size = u32[w + 6]!;
        if (size !== NO_BYTES) {
          event.bytes = size;
          event.preview = previewOf(bytes, p + EVENT_HEADER, end, size);
        }
        const code = text(u32[w + 5]!);
        if (code !== null) event.code = code;
        events.push(event);
        p = padded(end);
      } else {
        this.broken = true;
        break;
      }
    }
    return p;
  }
}

const PLAIN = /^[\x20-\x5b\x5d-\x7e]*$/;

/**
 * The head of a payload as readable text: UTF-8 decoded, control characters escaped, an
 * ellipsis if cut.
 */
export function previewOf(bytes: Buffer, start: number, end: number, total: number): string {
  const more = total > end - start ? "…" : "";
  // Most payloads are plain printable ASCII: nothing to decode or escape.
  const latin1 = bytes.toString("latin1", start, end);
  if (PLAIN.test(latin1)) return more === "" ? latin1 : latin1 + more;
  const text = bytes.toString("utf8", start, end).replace(/\uFFFD+$/, "");
  const escaped = text.replace(/[\x00-\x1f\x7f\\]/g, (c) => ({ "\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\" })[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
  return escaped + more;
}

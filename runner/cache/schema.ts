// The shape of a cache entry, checked before anything reads it: a file that is valid JSON with a
// wrong type anywhere (`chunks: [null]`, `signal: 9`, `exitCode: "<b>1</b>"`) is a miss, so the
// renderer and the report only ever see values of the types they were written for.
import type { CellResult } from "../types.ts";
import type { CaptureInfo } from "../trace/capture.ts";

/** A schema is a check of one value; these build them. */
type Check = (v: unknown) => boolean;

const string: Check = (v) => typeof v === "string";
const integer: Check = (v) => Number.isSafeInteger(v);
const finite: Check = (v) => typeof v === "number" && Number.isFinite(v);
const nonNegative: Check = (v) => finite(v) && (v as number) >= 0;
const boolean: Check = (v) => typeof v === "boolean";
const oneOf = (...values: string[]): Check => (v) => typeof v === "string" && values.includes(v);
const nullable = (c: Check): Check => (v) => v === null || c(v);
const optional = (c: Check): Check => (v) => v === undefined || c(v);
const arrayOf = (c: Check): Check => (v) => Array.isArray(v) && v.every(c);
const recordOf = (c: Check): Check => (v) => isObject(v) && Object.values(v).every(c);
const matches = (re: RegExp): Check => (v) => typeof v === "string" && re.test(v);
// Only the fields a reader uses are checked; a field added later is no reason for a miss.
const object = (fields: Record<string, Check>): Check => (v) => isObject(v) && Object.entries(fields).every(([k, c]) => c(Object.hasOwn(v, k) ? v[k] : undefined));

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const chunk = object({ stream: oneOf("stdout", "stderr", "stdin"), text: string });

const traceEvent = object({
  t: finite,
  cell: optional(string),
  proto: oneOf("udp", "tcp"),
  // The last five are packets from the wire (trace/wiretrace.ts).
  kind: oneOf("bind", "listen", "connect", "accept", "send", "recv", "end", "close", "error", "syn", "syn-ack", "ack", "fin", "rst"),
  local: nullable(string),
  remote: nullable(string),
  bytes: optional(integer),
  preview: optional(string),
  code: optional(string),
  wire: optional((v) => v === true),
  from: optional(string),
  to: optional(string),
  unread: optional((v) => v === true),
});

const cellResult = object({
  name: string,
  line: integer,
  status: oneOf("passed", "failed", "timeout", "skipped"),
  exitCode: nullable(integer),
  signal: nullable(matches(/^SIG[A-Z0-9]+$/)),
  durationMs: nonNegative,
  output: string,
  chunks: arrayOf(chunk),
  reason: nullable(string),
  errors: arrayOf(string),
  cached: optional(boolean),
  trace: optional(arrayOf(traceEvent)),
  ports: optional(recordOf((v) => integer(v) && (v as number) > 0 && (v as number) < 65536)),
  ranAt: optional(string),
});

/** A stored result as its file holds it (cache/results.ts writes it). */
export interface StoredEntry {
  format: string;
  key: string;
  result: CellResult;
  /** Set when the trace is in `KEY.trace`, as the cell wrote it (TraceRecords.toJSON). */
  records?: { clock0: number; sha256: string };
}

const entry = object({
  format: string,
  key: string,
  result: cellResult,
  records: optional(object({ clock0: finite, sha256: matches(/^[0-9a-f]{64}$/) })),
});

/** The parsed entry if every field has its type, else null (a miss). */
export function validEntry(parsed: unknown): StoredEntry | null {
  return entry(parsed) ? (parsed as StoredEntry) : null;
}

/** What a page run's capture knows (trace/capture.ts writes it beside the pcap), as a later build reads it back. */
const captureInfo = object({
  path: nullable(string),
  skipped: nullable(string),
  offset: finite,
  clock0: finite,
  ranAt: string,
  owners: arrayOf(object({ proto: oneOf("udp", "tcp"), local: string, listening: boolean, cell: string, at: finite })),
  cells: arrayOf(object({ name: string, lang: string, from: finite, to: finite, host: optional(string) })),
  network: optional(
    object({
      hosts: arrayOf(object({ name: string, addresses: arrayOf(string) })),
      links: arrayOf(object({ index: integer, a: string, b: string, delayMs: nonNegative, lossPct: nonNegative })),
      devices: arrayOf(object({ index: integer, host: string, name: string, link: nullable(integer), dropped: boolean })),
    }),
  ),
});

/** The parsed capture description if every field has its type, else null (the page draws its socket trace). */
export function validCapture(parsed: unknown): CaptureInfo | null {
  return captureInfo(parsed) ? (parsed as CaptureInfo) : null;
}

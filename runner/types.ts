// The data that flows one way through the stages: Page -> Plan -> PageResult -> HTML.
import type { TraceRecords } from "./trace/tracefile.ts";
import type { CaptureInfo } from "./trace/capture.ts";
import type { Token } from "markdown-it";
import type { NetworkSpec } from "./network/spec.ts";

/** A cell's language: a row of runner/execute/languages.ts (TypeScript, a shell, Python, C). */
export type Lang = "ts" | "sh" | "bash" | "python" | "c";

/** A cell's attributes, parsed and validated from its fence info string. */
export interface CellAttrs {
  server: boolean;
  needs: string[];
  /** Cells that must run at the same time as this one (they wait for each other). */
  with: string[];
  stdin: string | null;
  /** "error", or an error code such as "ECONNREFUSED". */
  expect: string | null;
  exit: number | null;
  /** Seconds; null means the default. */
  timeout: number | null;
  skip: boolean;
  /** Not type-checked by `lectern check`. */
  nocheck: boolean;
  ready: RegExp | null;
  /** A starter the student completes: shown, not run; its `output` block is the check (implies skip). */
  exercise?: boolean;
  /** The name of the exercise this cell is the solution of. */
  solution?: string | null;
  /** The host of the page's network (a ```network block) that the cell runs on. */
  host?: string | null;
}

/** An `output` block written right after a cell: its expected transcript. */
export interface ExpectedOutput {
  text: string;
  line: number;
  token: number;
}

export interface Cell {
  name: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: Lang;
  info: string;
  attrs: CellAttrs;
  /** The fence's content: clean of list indentation and block-quote markers. */
  code: string;
  /** Index of the fence token in Page.tokens. */
  token: number;
  expected: ExpectedOutput | null;
}

/** A ```trace fence: where a network diagram goes, and of which cells (all when null). */
export interface TraceBlock {
  token: number;
  line: number;
  cells: string[] | null;
}

export interface Page {
  /** The path as the user gave it (relative paths stay relative, for messages). */
  path: string;
  source: string;
  tokens: Token[];
  cells: Cell[];
  traces: TraceBlock[];
  /** The page's ```network block: hosts and links its cells run on; null for loopback alone. */
  network: NetworkSpec | null;
}

export interface PlannedCell extends Cell {
  /** Explicit needs plus the servers whose ports this cell uses. */
  deps: string[];
  /** Servers of the same port earlier in the page: this server starts once they have ended. */
  after: string[];
  /** The other cells of its `with=` group (with= goes both ways, and a with b with c is one group), in page order. */
  together: string[];
  /** Port names the cell uses, in first-use order. */
  ports: string[];
}

export interface Plan {
  page: Page;
  cells: PlannedCell[];
  /** Every port name of the page, in first-use order. */
  ports: string[];
}

export type Status = "passed" | "failed" | "timeout" | "skipped";

export type Stream = "stdout" | "stderr" | "stdin";

/** One piece of a transcript, in the order it arrived. */
export interface Chunk {
  stream: Stream;
  text: string;
}

/** A socket event seen by the preload inside a cell (issue: network trace). */
export interface TraceEvent {
  t: number;
  cell: string;
  proto: "udp" | "tcp";
  /** syn, syn-ack, ack (the handshake's last), fin and rst are packets seen on the wire. */
  kind: "bind" | "listen" | "connect" | "accept" | "send" | "recv" | "end" | "close" | "error" | "syn" | "syn-ack" | "ack" | "fin" | "rst" | "unreachable";
  local: string | null;
  remote: string | null;
  bytes?: number;
  preview?: string;
  code?: string;
  /** A packet captured on the wire (then `cell` is its sender's cell, or its receiver's if no cell sent it). */
  wire?: true;
  /** Of a packet: the cells that sent and received it ("" for no cell of the page). */
  from?: string;
  to?: string;
  /** A datagram that reached its socket but that the program never read. */
  unread?: true;
  /** A page with a network: the link a packet was lost on ("client–server")... */
  lost?: string;
  /** ...or, when it took a millisecond or more, how long it took to reach its host (ms). */
  delay?: number;
  /** A TCP segment sent again: its first sending was lost, or its acknowledgement was. */
  retransmit?: true;
}

/** The one result type of a cell run, built in one place (execute.ts). */
export interface CellResult {
  name: string;
  line: number;
  status: Status;
  exitCode: number | null;
  signal: string | null;
  durationMs: number;
  /** The transcript as plain text: stdout, stderr and echoed input, interleaved. */
  output: string;
  chunks: Chunk[];
  /** Why the cell ended the way it did, in words, when that is not a plain exit. */
  reason: string | null;
  /** Error codes the cell's sockets or uncaught errors raised (e.g. ECONNREFUSED). */
  errors: string[];
  cached: boolean;
  /**
   * This cell's socket events, times in ms since its page's run began, when given as events;
   * a run gives `traceRecords` instead. Read either through traceOf() (trace/trace.ts).
   */
  trace?: TraceEvent[];
  /** The events as the cell wrote them: what the cache stores, decoded only when read. */
  traceRecords?: TraceRecords;
  /** The numbers of the ports this cell named, in the run that made this result. */
  ports?: Record<string, number>;
  /** When the page run that made this result began (ISO 8601). */
  ranAt?: string;
  /** The error behind a cell that failed without running (a compile error, an internal error); never stored. */
  cause?: Error;
}

export interface PageResult {
  path: string;
  ports: Record<string, number>;
  cells: CellResult[];
  /** The page's events when given as such; else its cells' or its capture's (read through pageTrace()). */
  trace?: TraceEvent[];
  /** The run's packet capture (a pcap file), or null; `captureSkipped` says why (captureNote() adds what it left out). */
  capture?: string | null;
  captureSkipped?: string | null;
  /** What the capture knows of the run (its clock, the cells' sockets): pageTrace() makes the wire's events of it. */
  wire?: CaptureInfo;
  startedAt: string;
  durationMs: number;
}

// One cell, from its plan to its result: compile it, wrap it in the run's sandbox, start its
// process, watch it become ready, and hold how it ended to its page (verdict.ts).
import { compileSupport } from "./compile.ts";
import { languageOf } from "./languages.ts";
import { watchListening } from "./listening.ts";
import { findTool, missingTool, type Tool } from "./tools.ts";
import { LecternError } from "../errors.ts";
import type { Reservations } from "../plan/ports.ts";
import { confineCell, type ConfineOptions } from "./confine.ts";
import { startProcess, type CellProcess, type ProcessEnd } from "./process.ts";
import { MEMORY_LIMIT_MIB } from "./cgroups.ts";
import type { Sandbox } from "./sandbox.ts";
import { decodeRecords, TraceFile } from "../trace/tracefile.ts";
import type { CellResult, PlannedCell } from "../types.ts";
import { explain, listenedElsewhere, mayBeOutOfMemory, notRun, verdict } from "./verdict.ts";
import { withWireRefusal, type Claimed } from "./refusal.ts";

/** What every cell of one page run shares. */
export interface RunContext {
  page: string;
  cwd: string;
  /** The environment of every cell, its ports included. */
  env: Record<string, string>;
  ports: Reservations;
  numbers: Record<string, number>;
  sandbox: Promise<Sandbox>;
  allowNet: string[];
  /** What the cells may see of the disk (--allow-read, --allow-write) besides their page's folder. */
  confine: ConfineOptions;
  cacheDir: string;
  /** Seconds, for cells without timeout=. */
  timeout: number;
  maxOutput: number;
  graceMs: number;
  trace: boolean;
  /** The run's start: clockMs() for trace times, and as ISO 8601 for the results. */
  clock0: number;
  ranAt: string;
}

/** What the executor learns of a cell while it runs. */
export interface LaunchHooks {
  /** Ctrl-C came: a cell not started yet is not started at all. */
  aborted(): boolean;
  started(proc: CellProcess): void;
  /** Its process ended; whatever it left behind is still there (about to be swept). */
  exited(): void;
  /** It listens on every port it serves (or printed its ready= line). */
  ready(): void;
  /** A cell that does not trace itself named one of its sockets (for the wire trace's owners). */
  socket?(proto: "tcp" | "udp", local: string): void;
  /** The page's capture file while it is being written, or null without one (refusal.ts reads it). */
  captureFile?(): string | null;
  /** What it prints, and the scripted input it reads (stdin), as they come. */
  output(stream: "stdout" | "stderr" | "stdin", data: Buffer): void;
}

/** Runs one cell to its end. A compile error is the cell's failure; anything else unexpected throws. */
export async function launchCell(cell: PlannedCell, run: RunContext, hooks: LaunchHooks): Promise<CellResult> {
  const interrupted = () => notRun(cell, "skipped", "interrupted before it started");
  // Every await below may span a Ctrl-C: look again before the process exists.
  if (hooks.aborted()) return interrupted();
  const language = languageOf(cell.lang);
  const prepared = await prepare(cell, run);
  if ("status" in prepared) return prepared;
  for (const name of cell.attrs.server ? cell.ports : []) await run.ports.handOver(name);
  const timeoutS = cell.attrs.timeout ?? run.timeout;
  const sandbox = await run.sandbox;
  if (hooks.aborted()) return interrupted();
  // Only TypeScript cells record their own socket events; the others are on the wire alone.
  const traceFile = language.reportsSockets && run.trace ? new TraceFile() : null;
  let ready = false;
  const wantPorts = new Set(cell.ports.map((p) => run.numbers[p]!));
  const listening = new Set<number>();
  let misplaced: string | null = null;
  const claimed: Claimed[] = [];
  // A server that does not report its own sockets is watched until it is ready.
  let unwatch: (() => void) | null = null;
  const becomeReady = () => {
    proc.clearTimeout();
    unwatch?.();
    if (ready) return;
    ready = true;
    hooks.ready();
  };
  const proc = await startProcess(
    {
      ...command(cell, run, sandbox, prepared, traceFile !== null),
      wrapped: sandbox.confined,
      cwd: run.cwd,
      stdin: cell.attrs.stdin,
      // A server has no time limit once it listens; until then, the timeout applies.
      timeoutMs: timeoutS * 1000,
      maxOutput: run.maxOutput,
      graceMs: run.graceMs,
      traceFd: traceFile?.fd ?? null,
    },
    {
      onListen: (_proto, port) => onListen(port),
      onSocket: (proto, local) => (claimed.push({ proto, local }), hooks.socket?.(proto, local)),
      onInput: (text) => hooks.output("stdin", Buffer.from(text)),
      onOutput: (transcript, stream, data) => {
        hooks.output(stream, data);
        if (cell.attrs.server && cell.attrs.ready && !ready && cell.attrs.ready.test(transcript.stdoutText())) becomeReady();
      },
    },
  );
  function onListen(port: number): void {
    listening.add(port);
    // A server on a fixed number instead of its named port is stopped at once, not at its timeout.
    if ((misplaced ??= listenedElsewhere(cell, port, run.numbers)) !== null) return proc.stop("stopped");
    if (!cell.attrs.server || cell.attrs.ready) return;
    if (wantPorts.size === 0 || [...wantPorts].every((p) => listening.has(p))) becomeReady();
  }
  // A server that does not report its own sockets is ready when the socket table shows them.
  if (!language.reportsSockets && cell.attrs.server && !cell.attrs.ready && proc.pid !== undefined) unwatch = watchListening(proc.pid, (_proto, port) => onListen(port));
  hooks.started(proc);
  // A Ctrl-C while the process was being started found no process to stop.
  if (hooks.aborted()) proc.stop("interrupted");
  const ended = await proc.done.finally(() => unwatch?.());
  hooks.exited();
  const oom = mayBeOutOfMemory(cell, ended) && sandbox.outOfMemory(cell.name);
  // Whatever left the process group (setsid, a daemon) is still in the cell's cgroup.
  sandbox.sweep(cell.name);
  const decided = await withWireRefusal(cell, verdict(cell, ended, ready, timeoutS, oom), { file: hooks.captureFile?.() ?? null, claimed });
  const elsewhere = [...listening].filter((p) => !wantPorts.has(p));
  if (decided.status === "timeout" && cell.attrs.server && elsewhere.length > 0) decided.reason = `${decided.reason}: ${timedOutElsewhere(cell, run, elsewhere)}`;
  const records = traceFile?.finish(run.clock0);
  const events = records && decided.status !== "passed" ? decodeRecords(cell.name, records) : [];
  return resultOf(cell, run, ended, explain(cell, decided, { events, errors: ended.errors, ports: run.numbers, misplaced }), records);
}

/** What a run of the cell comes to, as the page's result and the cache keep it. */
function resultOf(cell: PlannedCell, run: RunContext, ended: ProcessEnd, { status, reason }: Pick<CellResult, "status" | "reason">, records: CellResult["traceRecords"]): CellResult {
  return {
    name: cell.name,
    line: cell.line,
    status,
    exitCode: ended.exitCode,
    signal: ended.signal,
    durationMs: ended.durationMs,
    output: ended.transcript.text(),
    chunks: ended.transcript.chunks,
    reason,
    errors: ended.errors,
    cached: false,
    traceRecords: records,
    ports: Object.fromEntries(cell.ports.map((n) => [n, run.numbers[n]!])),
    ranAt: run.ranAt,
  };
}

/** The command line and environment of a cell's process, inside the run's sandbox: its language's row. */
function command(cell: PlannedCell, run: RunContext, sandbox: Sandbox, start: { file: string; support: string | null; tool: Tool | null }, traced: boolean) {
  // A memory cgroup caps the cell where there is one. A V8 flag would too, but any V8 flag
  // makes node compile its built-in modules from source: about 6 ms more for every cell.
  const heap = sandbox.memoryCapped ? [] : [`--max-old-space-size=${MEMORY_LIMIT_MIB}`];
  const how = languageOf(cell.lang).command({ cell, page: run.page, ...start, heap, confined: sandbox.confined });
  const guard = sandbox.net === "guard" && !run.allowNet.includes("*");
  const env = confineCell.env({ ...run.env, ...how.env, ...(guard ? { LECTERN_ALLOW_NET: ["loopback", ...run.allowNet].join(",") } : {}), ...(traced ? { LECTERN_TRACE: "4" } : {}) }, cell.ports);
  return { ...sandbox.wrap(cell.name, how.command, how.args, env, confineCell.view(run.confine, run.page, how.files), cell.attrs.host), env };
}

/**
 * What the cell runs: its file, compiled or found in the cache, its language's support file and
 * program. A compile error, or a missing python3 or cc, is this cell's failure: the page's other
 * cells run.
 */
async function prepare(cell: PlannedCell, run: RunContext): Promise<{ file: string; support: string | null; tool: Tool | null } | CellResult> {
  const language = languageOf(cell.lang);
  try {
    const tool = await toolFor(cell, run);
    const file = (await language.compile(cell, run.page, run.cacheDir, tool)).file;
    const support = language.support && (await compileSupport(language.support, run.cacheDir, tool));
    return { file, support, tool };
  } catch (err) {
    if (!(err instanceof LecternError)) throw err;
    // cc's whole message, under Lectern's one line: every error and warning, at its page line.
    const details = (err as { details?: string }).details ?? "";
    return { ...notRun(cell, "failed", err.report()), output: err.report() + "\n" + details, cause: err };
  }
}

/** The program the cell's language needs (python3, cc), or the cell's error: it is missing. */
async function toolFor(cell: PlannedCell, run: RunContext): Promise<Tool | null> {
  const need = languageOf(cell.lang).tool;
  if (need === null) return null;
  const confined = (await run.sandbox).confined;
  return findTool(need.name, run.env.PATH ?? process.env.PATH, confined) ?? throwMissing(missingTool(need.name, need.install, { file: run.page, line: cell.line }));
}

function throwMissing(err: Error): never {
  throw err;
}

/** The usual mistake behind a server's timeout: a fixed number instead of port("name"). */
function timedOutElsewhere(cell: PlannedCell, run: RunContext, elsewhere: number[]): string {
  const named = cell.ports.map((n) => `${n}=${run.numbers[n]}`).join(", ");
  return `it listened on ${elsewhere.join(", ")}, not on its port${cell.ports.length > 1 ? "s" : ""} ${named}`;
}

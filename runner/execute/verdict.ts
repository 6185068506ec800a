// How a cell's run ended -> its status and the reason in words: the one place this is decided.
import type { ProcessEnd } from "./process.ts";
import { MEMORY_LIMIT_MIB } from "./sandbox.ts";
import type { CellResult, PlannedCell, Status } from "../types.ts";

// What V8 prints to stderr right before it aborts on a full heap.
const HEAP_FULL = "JavaScript heap out of memory";

/**
 * The one place a cell's status is decided, from how its process ended and what the page expects.
 * `killedForMemory`: the kernel ended the cell at its memory cgroup's limit.
 */
export function verdict(
  cell: PlannedCell,
  end: ProcessEnd,
  wasReady: boolean,
  timeoutS: number,
  killedForMemory: boolean,
): { status: Status; reason: string | null } {
  if (end.spawnError) return { status: "failed", reason: `could not start: ${end.spawnError.message}` };
  // Either limit can come first: node sizes its heap from the cgroup when it starts inside one,
  // and the cell joins it just after spawn, so which one stops a runaway allocation is a race.
  const heapFull = end.signal === "SIGABRT" && end.stopReason === null && end.transcript.text().includes(HEAP_FULL);
  if (killedForMemory || heapFull) return { status: "failed", reason: `stopped: ran out of memory (a cell may use ${MEMORY_LIMIT_MIB} MiB)` };
  if (end.stopReason === "timeout") {
    return { status: "timeout", reason: cell.attrs.server ? `did not listen within ${timeoutS} s` : `still running after ${timeoutS} s` };
  }
  if (end.stopReason === "output-cap") return { status: "failed", reason: "stopped: printed more than the output cap" };
  if (end.stopReason === "channel-cap") return { status: "failed", reason: `stopped: ${end.channelAbuse ?? "abused Lectern's side channel"}` };
  if (cell.attrs.server && wasReady && (end.stopReason === "stopped" || end.stopReason === "interrupted")) {
    return { status: "passed", reason: null };
  }
  if (end.stopReason === "interrupted") return { status: "failed", reason: "interrupted" };
  const how = end.signal ? `was killed by ${end.signal}` : `exited with status ${end.exitCode}`;
  const failed = end.signal !== null || end.exitCode !== 0;
  const { expect, exit } = cell.attrs;
  if (exit !== null) {
    return end.exitCode === exit ? { status: "passed", reason: null } : { status: "failed", reason: `expected exit status ${exit}, but it ${how}` };
  }
  if (expect === "error") {
    return failed ? { status: "passed", reason: null } : { status: "failed", reason: "expected an error, but it exited with status 0" };
  }
  if (expect !== null) {
    if (!failed) return { status: "failed", reason: `expected ${expect}, but it exited with status 0` };
    if (!end.errors.includes(expect)) {
      const seen = end.errors.length > 0 ? `it raised ${end.errors.join(", ")}` : "it raised no socket error";
      return { status: "failed", reason: `expected ${expect}, but ${seen} and ${how}` };
    }
    return { status: "passed", reason: null };
  }
  if (cell.attrs.server && !wasReady && !failed) return { status: "failed", reason: "exited before it listened" };
  return failed ? { status: "failed", reason: `it ${how}` } : { status: "passed", reason: null };
}

export function notRun(cell: PlannedCell, status: Status, reason: string | null): CellResult {
  return { name: cell.name, line: cell.line, status, exitCode: null, signal: null, durationMs: 0, output: "", chunks: [], reason, errors: [], cached: false };
}

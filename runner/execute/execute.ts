// Plan -> PageResult: every cell in its own process, servers in the background until their
// clients are done, clients once their servers listen, independent cells side by side.
import { dirname, resolve } from "node:path";
import { clockMs } from "../../cells/wire.ts";
import { compileCell, compileSupport } from "./compile.ts";
import { LecternError } from "../errors.ts";
import type { Limiter } from "./limit.ts";
import { portEnv } from "../plan/plan.ts";
import { PortSet } from "../plan/ports.ts";
import { CellProcess } from "./process.ts";
import { createSandbox, MEMORY_LIMIT_MIB } from "./sandbox.ts";
import { confineCell, sandboxFor, type ConfineOptions } from "./confine.ts";
import { mergeTraces, withLazyTrace } from "../trace/trace.ts";
import { decodeRecords, TraceFile } from "../trace/tracefile.ts";
import type { CellResult, PageResult, Plan, PlannedCell } from "../types.ts";
import { notRun, verdict } from "./verdict.ts";


export interface ExecuteOptions extends ConfineOptions {
  cacheDir: string;
  /** Run these cells and what they need; all cells when absent. */
  only?: string[];
  /** Cells already done (their results come from the cache): not run again unless a server. */
  reuse?: Set<string>;
  pinned?: Record<string, number>;
  /** Seconds, for cells without timeout= (and for a server to start listening). */
  timeout: number;
  jobs: Limiter;
  /** The environment cells start from (not the user's whole environment). */
  env: Record<string, string>;
  maxOutput: number;
  graceMs: number;
  signal?: AbortSignal;
  /** Servers that no selected cell needs keep serving until the signal aborts. */
  keepServing?: boolean;
  lockDir?: string;
  /**
   * Hosts cells may reach besides loopback (--allow-net); ["*"] for any. When empty and no port
   * is pinned, a page's cells get a network namespace of their own where the machine allows it.
   */
  allowNet?: string[];
  /** Record the network trace (default true). */
  trace?: boolean;
  onEvent?: (event: ExecuteEvent) => void;
}

export type ExecuteEvent =
  | { type: "ports"; page: string; ports: Record<string, number> }
  | { type: "start"; page: string; cell: string }
  | { type: "ready"; page: string; cell: string }
  /** Raw output as it arrives (for a server that keeps serving, shown live). */
  | { type: "output"; page: string; cell: string; stream: "stdout" | "stderr"; data: Buffer }
  | { type: "end"; page: string; result: CellResult };

/** The cells to run: those asked for and, transitively, what they need. */
export function selectCells(plan: Plan, only: string[] | undefined, reuse: Set<string> = new Set()): PlannedCell[] {
  if (!only || only.length === 0) return plan.cells;
  const byName = new Map(plan.cells.map((c) => [c.name, c]));
  const wanted = new Set<string>();
  const add = (name: string) => {
    if (wanted.has(name)) return;
    const cell = byName.get(name);
    // A server must run again for its clients; any other cell that is done stays done.
    if (cell && reuse.has(name) && !cell.attrs.server && !only.includes(name)) return;
    if (!cell) {
      throw new LecternError("E_USAGE", `no cell named "${name}" (its cells: ${plan.cells.map((c) => c.name).join(", ")})`, { file: plan.page.path });
    }
    wanted.add(name);
    cell.deps.forEach(add);
  };
  only.forEach(add);
  return plan.cells.filter((c) => wanted.has(c.name));
}

type State = "waiting" | "starting" | "running" | "ready" | "done";

export async function executePlan(plan: Plan, options: ExecuteOptions): Promise<PageResult> {
  const startedAt = new Date();
  const t0 = performance.now();
  // One clock for every cell: the preload stamps events with clockMs().
  const clock0 = clockMs();
  const page = plan.page.path;
  const cells = selectCells(plan, options.only, options.reuse);
  const served = new Set(cells.filter((c) => c.attrs.server && !c.attrs.skip).flatMap((c) => c.ports));
  const allowNet = options.allowNet ?? [];
  // A pinned port is there to be reached from outside, so such a run stays in our namespace.
  // Made while ports are reserved and cells compiled; the first launch waits for it.
  const bwrap = await sandboxFor(options);
  const sandboxReady = createSandbox({ isolateNet: allowNet.length === 0 && Object.keys(options.pinned ?? {}).length === 0, bwrap });
  const names = plan.ports.filter((p) => cells.some((c) => c.ports.includes(p)));
  let ports: PortSet;
  try {
    ports = await PortSet.allocate(names, served, { pinned: options.pinned, lockDir: options.lockDir });
  } catch (err) {
    (await sandboxReady).close();
    throw err;
  }
  const numbers = ports.numbers();
  options.onEvent?.({ type: "ports", page, ports: numbers });

  const state = new Map<string, State>(cells.map((c) => [c.name, "waiting"]));
  const results = new Map<string, CellResult>();
  const procs = new Map<string, CellProcess>();
  const byName = new Map(cells.map((c) => [c.name, c]));
  const cwd = dirname(resolve(page));
  const env: Record<string, string> = { ...options.env, LECTERN: "1", LECTERN_CHANNEL: "3" };
  for (const [name, port] of Object.entries(numbers)) env[portEnv(name)] = String(port);

  let finish!: () => void;
  const allDone = new Promise<void>((r) => (finish = r));
  let aborted = false;

  const end = (cell: PlannedCell, result: CellResult) => {
    state.set(cell.name, "done");
    results.set(cell.name, result);
    options.onEvent?.({ type: "end", page, result });
    schedule();
  };

  // A dependency is met when a server listens or another cell has ended; it is broken when
  // a server will never listen.
  const blockedBy = (cell: PlannedCell): { wait: boolean; broken: string | null } => {
    let wait = cell.after.some((name) => byName.has(name) && state.get(name) !== "done");
    for (const name of cell.deps) {
      const dep = byName.get(name);
      if (!dep) continue; // not selected: reused from the cache, done

      const s = state.get(name)!;
      if (dep.attrs.server) {
        if (s === "ready") continue;
        if (s === "done") {
          const r = results.get(name)!;
          return { wait: false, broken: r.status === "skipped" ? `needs server "${name}", which was skipped` : `server "${name}" ended before it was ready${r.reason ? ` (${r.reason})` : ""}` };
        }
        wait = true;
      } else if (s !== "done") {
        wait = true;
      }
    }
    return { wait, broken: null };
  };

  const launch = async (cell: PlannedCell) => {
    state.set(cell.name, "starting");
    const release = cell.attrs.server ? () => {} : await options.jobs.acquire();
    // Every await below may span a Ctrl-C: look again before the process exists.
    const interrupted = () => {
      if (!aborted) return false;
      release();
      end(cell, notRun(cell, "skipped", "interrupted before it started"));
      return true;
    };
    if (interrupted()) return;
    let file: string;
    let support: string;
    try {
      file = (await compileCell(cell, page, options.cacheDir)).file;
      support = await compileSupport(cell.lang === "ts" ? "preload" : "shell", options.cacheDir);
    } catch (err) {
      release();
      if (!(err instanceof LecternError)) throw err;
      end(cell, { ...notRun(cell, "failed", err.describe()), output: err.describe() + "\n" });
      return;
    }
    for (const name of cell.attrs.server ? cell.ports : []) await ports.handOver(name);
    const timeoutS = cell.attrs.timeout ?? options.timeout;
    const sandbox = await sandboxReady;
    if (interrupted()) return;
    // A memory cgroup caps the cell where there is one. A V8 flag would too, but any V8 flag
    // makes node compile its built-in modules from source: about 6 ms more for every cell.
    const heap = sandbox.memoryCapped ? [] : [`--max-old-space-size=${MEMORY_LIMIT_MIB}`];
    const argv = cell.lang === "ts" ? [...heap, "--require", support, file] : [support, cell.lang, file];
    const guard = sandbox.net === "guard" && !allowNet.includes("*");
    // Shell cells and the programs cells start are not traced.
    const traceFile = cell.lang === "ts" && options.trace !== false ? new TraceFile() : null;
    const cellEnv = confineCell.env({ ...env, ...(guard ? { LECTERN_ALLOW_NET: ["loopback", ...allowNet].join(",") } : {}), ...(traceFile ? { LECTERN_TRACE: "4" } : {}) }, cell.ports);
    const { command, args } = sandbox.wrap(process.execPath, argv, cellEnv, confineCell.view(options, page, [file, support]));
    let ready = false;
    const wantPorts = new Set(cell.ports.map((p) => numbers[p]!));
    const listening = new Set<number>();
    const becomeReady = () => {
      if (ready || state.get(cell.name) !== "running") return;
      ready = true;
      state.set(cell.name, "ready");
      options.onEvent?.({ type: "ready", page, cell: cell.name });
      schedule();
    };
    const proc = new CellProcess(
      {
        command,
        args,
        cwd,
        env: cellEnv,
        wrapped: sandbox.confined,
        stdin: cell.attrs.stdin,
        // A server has no time limit once it listens; until then, the timeout applies.
        timeoutMs: timeoutS * 1000,
        maxOutput: options.maxOutput,
        graceMs: options.graceMs,
        traceFd: traceFile?.fd ?? null,
      },
      {
        onListen: (_proto, port) => {
          listening.add(port);
          if (!cell.attrs.server || cell.attrs.ready) return;
          if (wantPorts.size === 0 || [...wantPorts].every((p) => listening.has(p))) {
            proc.clearTimeout();
            becomeReady();
          }
        },
        onOutput: (transcript, stream, data) => {
          options.onEvent?.({ type: "output", page, cell: cell.name, stream, data });
          if (cell.attrs.server && cell.attrs.ready && !ready && cell.attrs.ready.test(transcript.stdoutText())) {
            proc.clearTimeout();
            becomeReady();
          }
        },
      },
    );
    if (proc.pid !== undefined) sandbox.adopt(cell.name, proc.pid);
    procs.set(cell.name, proc);
    state.set(cell.name, "running");
    options.onEvent?.({ type: "start", page, cell: cell.name });
    const ended = await proc.done;
    const oom = ended.signal === "SIGKILL" && ended.stopReason === null && sandbox.outOfMemory(cell.name);
    // Whatever left the process group (setsid, a daemon) is still in the cell's cgroup.
    sandbox.sweep(cell.name);
    release();
    procs.delete(cell.name);
    let { status, reason } = verdict(cell, ended, ready, timeoutS, oom);
    const elsewhere = [...listening].filter((p) => !wantPorts.has(p));
    if (status === "timeout" && cell.attrs.server && elsewhere.length > 0) {
      // The usual mistake: a fixed number instead of port("name").
      const named = cell.ports.map((n) => `${n}=${numbers[n]}`).join(", ");
      reason = `${reason}: it listened on ${elsewhere.join(", ")}, not on its port${cell.ports.length > 1 ? "s" : ""} ${named}`;
    }
    const records = traceFile?.finish(clock0);
    const result: CellResult = {
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
      ports: Object.fromEntries(cell.ports.map((n) => [n, numbers[n]!])),
      ranAt: startedAt.toISOString(),
    };
    end(cell, records ? withLazyTrace(result, () => decodeRecords(cell.name, records)) : { ...result, trace: [] });
  };

  // Stops servers whose clients are all done; servers nobody needs stop when the rest is done.
  const stopIdleServers = () => {
    const othersDone = cells.every((c) => c.attrs.server || state.get(c.name) === "done");
    for (const cell of cells) {
      if (!cell.attrs.server || state.get(cell.name) !== "ready") continue;
      const clients = cells.filter((c) => c.deps.includes(cell.name));
      // A server nobody needs still stops as soon as a later server of its port waits for it.
      const blocking = cells.some((c) => c.after.includes(cell.name));
      const idle = clients.length > 0 ? clients.every((c) => state.get(c.name) === "done") : (othersDone || blocking) && !options.keepServing;
      if (idle) procs.get(cell.name)?.stop("stopped");
    }
  };

  function schedule(): void {
    for (const cell of cells) {
      if (state.get(cell.name) !== "waiting") continue;
      if (aborted) {
        end(cell, notRun(cell, "skipped", "interrupted before it started"));
        continue;
      }
      if (cell.attrs.skip) {
        end(cell, notRun(cell, "skipped", null));
        continue;
      }
      const { wait, broken } = blockedBy(cell);
      if (broken !== null) {
        end(cell, notRun(cell, "failed", `not started: ${broken}`));
        continue;
      }
      if (!wait) void launch(cell).catch((err) => end(cell, { ...notRun(cell, "failed", `internal error: ${(err as Error).message}`) }));
    }
    stopIdleServers();
    // A safety net under the plan's cycle check: if nothing runs any more, nothing waiting can start.
    const live = cells.some((c) => ["starting", "running", "ready"].includes(state.get(c.name)!));
    if (!live) {
      for (const cell of cells) {
        if (state.get(cell.name) === "waiting") end(cell, notRun(cell, "failed", "not started: it waits for cells that wait for it"));
      }
    }
    if (cells.every((c) => state.get(c.name) === "done")) finish();
  }

  const onAbort = () => {
    aborted = true;
    for (const proc of procs.values()) proc.stop("interrupted");
    schedule();
  };
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener("abort", onAbort, { once: true });

  try {
    schedule();
    await allDone;
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
    (await sandboxReady).close();
    await ports.close();
  }
  const done = cells.map((c) => results.get(c.name)!);
  const result = { path: page, ports: numbers, cells: done, startedAt: startedAt.toISOString(), durationMs: Math.round(performance.now() - t0) };
  return withLazyTrace(result, () => mergeTraces(done));
}

// Plan -> PageResult: every cell in its own process, servers in the background until their
// clients are done, clients once their servers listen, independent cells side by side.
import { dirname, resolve } from "node:path";
import { clockMs } from "../../cells/wire.ts";
import { launchCell, type LaunchHooks, type RunContext } from "./launch.ts";
import type { Limiter } from "./limit.ts";
import { portEnv } from "../plan/plan.ts";
import { PortSet, type Reservations } from "../plan/ports.ts";
import type { CellProcess } from "./process.ts";
import { createSandbox } from "./sandbox.ts";
import { sandboxFor, type ConfineOptions } from "./confine.ts";
import { Scheduler, selectCells } from "./scheduler.ts";
import { capturePath, captureWanted, PageCapture } from "../trace/capture.ts";
import { withCapture } from "../trace/wiretrace.ts";
import type { CellResult, PageResult, Plan, PlannedCell } from "../types.ts";
import { notRun } from "./verdict.ts";
import { NetworkUnavailable } from "../network/build.ts";
import { hostAddress, hostEnv } from "../network/spec.ts";

export interface ExecuteOptions extends ConfineOptions {
  cacheDir: string;
  /** Run these cells, what they need and the cells they run with; all cells when absent. */
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
  /** Raw output as it arrives (for a server that keeps serving, shown live), and scripted input as it is read. */
  | { type: "output"; page: string; cell: string; stream: "stdout" | "stderr" | "stdin"; data: Buffer }
  | { type: "end"; page: string; result: CellResult };

export async function executePlan(plan: Plan, options: ExecuteOptions): Promise<PageResult> {
  const startedAt = new Date();
  const t0 = performance.now();
  const page = plan.page.path;
  const cells = selectCells(plan, options.only, options.reuse);
  const served = new Set(cells.filter((c) => c.attrs.server && !c.attrs.skip).flatMap((c) => c.ports));
  const allowNet = options.allowNet ?? [];
  // A pinned port is there to be reached from outside, so such a run stays in our namespace.
  // The namespace (and its capture) is made while bwrap is tried: both are process starts.
  const bwrap = sandboxFor(options);
  const network = plan.page.network;
  const sandbox = createSandbox({ isolateNet: allowNet.length === 0 && Object.keys(options.pinned ?? {}).length === 0, bwrap, capture: captureWanted(options.trace !== false), network });
  // A page's network that cannot be made here: its cells are not run on loopback instead.
  const unavailable = await sandbox.then(
    () => null,
    (err: Error) => (err instanceof NetworkUnavailable ? err.message : Promise.reject(err)),
  );
  if (unavailable !== null) return skipAll(plan, cells, unavailable, startedAt, t0, options);
  const names = plan.ports.filter((p) => cells.some((c) => c.ports.includes(p)));
  let ports: Reservations;
  try {
    // Inside the page's namespace when it has one: that is where its cells could take a number.
    ports = await ((await sandbox).reserve(names, served) ?? PortSet.allocate(names, served, { pinned: options.pinned, lockDir: options.lockDir }));
  } catch (err) {
    (await sandbox).close();
    throw err;
  }
  const numbers = ports.numbers();
  options.onEvent?.({ type: "ports", page, ports: numbers });
  // The packets of the run, captured in its namespace from before the first cell starts: a cell
  // waits for the sandbox, and the sandbox is handed over once tcpdump is listening.
  const clock0 = clockMs();
  const capture = new PageCapture(capturePath(options.cacheDir, page), options.trace !== false, clock0, startedAt.toISOString());
  const captured = sandbox.then(async (s) => (await capture.start(s), s));
  const env: Record<string, string> = { ...options.env, LECTERN: "1", LECTERN_CHANNEL: "3" };
  for (const [name, port] of Object.entries(numbers)) env[portEnv(name)] = String(port);
  for (const host of network?.hosts ?? []) env[hostEnv(host.name)] = hostAddress(network!, host.name);
  const run: RunContext = {
    page,
    cwd: dirname(resolve(page)),
    env,
    ports,
    numbers,
    sandbox: captured,
    allowNet,
    confine: options,
    cacheDir: options.cacheDir,
    timeout: options.timeout,
    maxOutput: options.maxOutput,
    graceMs: options.graceMs,
    trace: options.trace !== false,
    // One clock for every cell: the preload stamps events with clockMs().
    clock0,
    ranAt: startedAt.toISOString(),
  };
  let results: Map<string, CellResult>;
  try {
    results = await runCells(cells, run, options, capture);
  } finally {
    await captured.then(() => capture.stop());
    (await sandbox).close();
    await ports.close();
  }
  const done = cells.map((c) => results.get(c.name)!);
  const result = { path: page, ports: numbers, cells: done, startedAt: run.ranAt, durationMs: Math.round(performance.now() - t0) };
  return withCapture(result, await capture.stop());
}

/** Every cell of a page whose network cannot be made: skipped, with the reason, none run. */
function skipAll(plan: Plan, cells: PlannedCell[], reason: string, startedAt: Date, t0: number, options: ExecuteOptions): PageResult {
  const page = plan.page.path;
  const done = cells.map((cell) => notRun(cell, "skipped", `not run: ${reason}`));
  for (const result of done) options.onEvent?.({ type: "end", page, result });
  return { path: page, ports: {}, cells: done, startedAt: startedAt.toISOString(), durationMs: Math.round(performance.now() - t0) };
}

/** Carries out what the scheduler says until every cell is done; Ctrl-C stops what runs. */
function runCells(cells: PlannedCell[], run: RunContext, options: ExecuteOptions, capture: PageCapture): Promise<Map<string, CellResult>> {
  const { page } = run;
  const scheduler = new Scheduler(cells, options.keepServing);
  const results = new Map<string, CellResult>();
  const procs = new Map<string, CellProcess>();
  let finish!: () => void;
  const allDone = new Promise<void>((r) => (finish = r));

  const report = (result: CellResult) => {
    results.set(result.name, result);
    options.onEvent?.({ type: "end", page, result });
  };
  const end = (cell: PlannedCell, result: CellResult) => {
    procs.delete(cell.name);
    scheduler.ended(cell.name, result.status, result.reason);
    report(result);
    pump();
  };
  const hooks = (cell: PlannedCell): LaunchHooks => ({
    aborted: () => scheduler.aborting,
    started: (proc) => {
      capture.cellStarted(cell.name, cell.lang, proc.pid, cell.attrs.host, proc.streamInodes);
      procs.set(cell.name, proc);
      scheduler.running(cell.name);
      options.onEvent?.({ type: "start", page, cell: cell.name });
    },
    ready: () => {
      if (!scheduler.ready(cell.name)) return;
      options.onEvent?.({ type: "ready", page, cell: cell.name });
      pump();
    },
    socket: (proto, local) => capture.claim(cell.name, proto, local),
    captureFile: () => capture.file(cell.name),
    // Before its leftover processes are swept: the capture looks at their sockets once more.
    exited: () => capture.cellEnded(cell.name),
    output: (stream, data) => options.onEvent?.({ type: "output", page, cell: cell.name, stream, data }),
  });
  const launch = async (group: PlannedCell[]) => {
    // Servers take no slot: they run alongside the clients that hold one. A with= group takes one
    // for all its cells: they only get anywhere together, and waiting for a slot each would
    // deadlock under a small --jobs, or leave two groups each holding half of what they need.
    const release = group.every((c) => c.attrs.server) ? () => {} : await options.jobs.acquire();
    await Promise.all(
      group.map((cell) =>
        launchCell(cell, run, hooks(cell)).then(
          (result) => end(cell, result),
          (err: Error) => end(cell, { ...notRun(cell, "failed", `internal error: ${err.message}`), cause: err }),
        ),
      ),
    ).finally(release);
  };
  function pump(): void {
    for (const action of scheduler.next()) {
      if (action.type === "notRun") report(notRun(action.cell, action.status, action.reason));
      else if (action.type === "stop") procs.get(action.cell.name)?.stop("stopped");
      else void launch(action.cells);
    }
    if (scheduler.done) finish();
  }

  const onAbort = () => {
    scheduler.abort();
    for (const proc of procs.values()) proc.stop("interrupted");
    pump();
  };
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener("abort", onAbort, { once: true });
  pump();
  return allDone.then(() => results).finally(() => options.signal?.removeEventListener("abort", onAbort));
}

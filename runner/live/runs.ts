// The live notebook's runs: Run on a cell runs it and what it needs (the plan `run --cell` makes),
// always in the sandbox, and tells every open browser of its page what happens as it happens.
// A server run alone keeps serving until Stop; Run on a running cell restarts it; the last browser
// of a page gone for a grace period stops that page's runs. Cells at once are bounded by the
// serve's one --jobs limiter, across all pages and browsers.
import { StringDecoder } from "node:string_decoder";
import { join } from "node:path";
import { LecternError } from "../errors.ts";
import { executePlan, type ExecuteEvent, type ExecuteOptions } from "../execute/execute.ts";
import { probeSandbox } from "../execute/bwrap.ts";
import { extractPage } from "../extract/extract.ts";
import { planPage } from "../plan/plan.ts";
import { PortSet } from "../plan/ports.ts";
import { pageOptions } from "../cli/settings.ts";
import { spliceCell } from "./save.ts";
import type { PageResult, Plan } from "../types.ts";

/** What the browsers of a page are told (sent as JSON over the page's event stream). */
export type LiveEvent =
  | { type: "start"; cell: string }
  | { type: "output"; cell: string; stream: "stdout" | "stderr" | "stdin"; text: string }
  | { type: "serving"; cell: string; ports: Record<string, number> }
  | { type: "end"; cell: string; status: string }
  | { type: "done"; cell: string }
  | { type: "error"; cell: string; message: string };

export interface RunsDeps {
  /** The page's plan as served now, by its key (the page's HTML path); undefined: not served. */
  plan(page: string): Plan | undefined;
  execute: ExecuteOptions;
  send(page: string, event: LiveEvent): void;
  /** A run has ended: its cells' results, for the page to show. */
  finished(page: string, result: PageResult): Promise<void>;
  /** How long a page's runs outlive its last browser. */
  graceMs: number;
}

/** A cell's run that is under way, with what it printed so far (for a browser that opens later). */
interface Active {
  stop: AbortController;
  done: Promise<void>;
  /** Cells of this run that are running now, with their output so far. */
  running: Map<string, { text: string; ports: Record<string, number> | null }>;
}

/** The refusal of a Run, with the HTTP status it is answered with. */
export class RunRefused extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Free port numbers for these names, as the runner finds them, let go again to be pinned. */
async function reachablePorts(names: string[]): Promise<Record<string, number>> {
  const set = await PortSet.allocate(names, new Set(names));
  const numbers = set.numbers();
  await set.close();
  return numbers;
}

export class LiveRuns {
  private readonly active = new Map<string, Active>();
  private readonly viewers = new Map<string, number>();
  private readonly idle = new Map<string, NodeJS.Timeout>();
  private readonly starting = new Map<string, Promise<void>>();

  constructor(private readonly deps: RunsDeps) {}

  /** The plan to run: the served one, or the page with this cell's code as edited in the browser. */
  private async planFor(page: string, cell: string, code: string | undefined): Promise<Plan> {
    const plan = this.deps.plan(page);
    const planned = plan?.cells.find((c) => c.name === cell);
    if (!plan || !planned) throw new RunRefused(404, `no cell "${cell}" on a served page "${page}"`);
    if (code === undefined || code === planned.code) return plan;
    const source = spliceCell(plan.page, cell, code)!;
    try {
      return await planPage(extractPage(plan.page.path, source));
    } catch (err) {
      if (err instanceof LecternError) throw new RunRefused(400, err.report());
      throw err;
    }
  }

  /** Starts cell `cell` of `page` (restarting it if it runs); resolves once it has started. */
  run(page: string, cell: string, code?: string): Promise<void> {
    // Two Runs of one cell at once (two browsers) take turns: the second restarts the first.
    const key = `${page}\0${cell}`;
    const mine = (this.starting.get(key) ?? Promise.resolve()).then(() => this.start(page, cell, code));
    this.starting.set(key, mine.catch(() => {}));
    return mine;
  }

  private async start(page: string, cell: string, code: string | undefined): Promise<void> {
    const plan = await this.planFor(page, cell, code);
    // The live notebook runs nothing unconfined (issue 15): no bubblewrap, no Run.
    const probe = await probeSandbox();
    if (!probe.bwrap) throw new RunRefused(503, `not run: the live notebook runs cells only in the sandbox, and cells cannot be sandboxed here (${probe.why}); install bubblewrap (Debian: apt-get install bubblewrap)`);
    const key = `${page}\0${cell}`;
    await this.stopKey(key);
    const stop = new AbortController();
    const outer = this.deps.execute.signal;
    const signal = outer ? AbortSignal.any([outer, stop.signal]) : stop.signal;
    const running: Active["running"] = new Map();
    const planned = plan.cells.find((c) => c.name === cell)!;
    const server = planned.attrs.server;
    const options: ExecuteOptions = {
      ...pageOptions(plan, this.deps.execute),
      // Its own cache: a run of unsaved code is never published as the page's result.
      cacheDir: join(this.deps.execute.cacheDir, "live"),
      requireSandbox: true,
      only: [cell],
      keepServing: server,
      // A server run alone is there to be talked to from a terminal: its ports are numbers of this
      // machine's loopback, not of a network namespace of its own (a pinned port keeps the run in ours).
      pinned: server ? await reachablePorts(planned.ports) : undefined,
      signal,
      onEvent: this.listener(page, cell, running),
    };
    const done = executePlan(plan, options).then(
      (result) => this.deps.finished(page, result),
      (err: Error) => this.deps.send(page, { type: "error", cell, message: err instanceof LecternError ? err.report() : err.message }),
    ).finally(() => {
      if (this.active.get(key)?.stop === stop) this.active.delete(key);
      this.deps.send(page, { type: "done", cell });
    });
    this.active.set(key, { stop, done, running });
  }

  /** Turns the runner's events into what browsers are shown, and keeps what a late browser needs. */
  private listener(page: string, asked: string, running: Active["running"]): (event: ExecuteEvent) => void {
    const decoders = new Map<string, StringDecoder>();
    let ports: Record<string, number> = {};
    const cap = this.deps.execute.maxOutput;
    return (event) => {
      if (event.type === "ports") ports = event.ports;
      else if (event.type === "start") {
        running.set(event.cell, { text: "", ports: null });
        this.deps.send(page, { type: "start", cell: event.cell });
      } else if (event.type === "output") {
        const key = `${event.cell}\0${event.stream}`;
        if (!decoders.has(key)) decoders.set(key, new StringDecoder("utf8"));
        const text = decoders.get(key)!.write(event.data);
        const state = running.get(event.cell);
        if (state && state.text.length < cap) state.text += text;
        if (text) this.deps.send(page, { type: "output", cell: event.cell, stream: event.stream, text });
      } else if (event.type === "ready" && event.cell === asked) {
        const plan = this.deps.plan(page);
        const names = plan?.cells.find((c) => c.name === event.cell)?.ports ?? [];
        const mine = Object.fromEntries(names.filter((n) => ports[n] !== undefined).map((n) => [n, ports[n]!]));
        const state = running.get(event.cell);
        if (state) state.ports = mine;
        this.deps.send(page, { type: "serving", cell: event.cell, ports: mine });
      } else if (event.type === "end") {
        running.delete(event.result.name);
        this.deps.send(page, { type: "end", cell: event.result.name, status: event.result.status });
      }
    };
  }

  /** Stops the run of `cell` (a server that keeps serving, or a cell that takes long); false if none. */
  async stop(page: string, cell: string): Promise<boolean> {
    return this.stopKey(`${page}\0${cell}`);
  }

  private async stopKey(key: string): Promise<boolean> {
    const run = this.active.get(key);
    if (!run) return false;
    run.stop.abort();
    await run.done;
    return true;
  }

  /** What runs on a page now, for a browser that has just opened it. */
  snapshot(page: string): { cell: string; text: string; ports: Record<string, number> | null }[] {
    const out = [];
    for (const [key, run] of this.active) {
      if (!key.startsWith(`${page}\0`)) continue;
      for (const [cell, state] of run.running) out.push({ cell, ...state });
    }
    return out;
  }

  /** A browser opened (+1) or closed (-1) the page; the last one gone, its runs stop after the grace period. */
  watching(page: string, delta: 1 | -1): void {
    const n = (this.viewers.get(page) ?? 0) + delta;
    this.viewers.set(page, n);
    clearTimeout(this.idle.get(page));
    this.idle.delete(page);
    if (n > 0) return;
    const timer = setTimeout(() => {
      this.idle.delete(page);
      for (const key of this.active.keys()) if (key.startsWith(`${page}\0`)) void this.stopKey(key);
    }, this.deps.graceMs);
    timer.unref();
    this.idle.set(page, timer);
  }

  /** Stops everything (serve is closing). */
  async close(): Promise<void> {
    for (const t of this.idle.values()) clearTimeout(t);
    await Promise.all([...this.active.keys()].map((k) => this.stopKey(k)));
  }
}

// The pure part of running a page: a state per cell, what blocks what, which cells may start
// now, which never can, and when a server may stop. No processes and no timers: the executor
// tells it what happened (started, ready, ended, aborted) and carries out the actions it returns.
import { LecternError } from "../errors.ts";
import type { Plan, PlannedCell, Status } from "../types.ts";

export type CellState = "waiting" | "starting" | "running" | "ready" | "done";

export type Action =
  /** Start these cells now: one cell, or the members of a `with=` group, together. */
  | { type: "launch"; cells: PlannedCell[] }
  /** This cell will not run (skip, a broken dependency, an interruption): report it so. */
  | { type: "notRun"; cell: PlannedCell; status: Status; reason: string | null }
  /** Every cell that needed this server is done: stop it. */
  | { type: "stop"; cell: PlannedCell };

/** The cells to run: those asked for and, transitively, what they need and the cells they run with. */
export function selectCells(plan: Plan, only: string[] | undefined, reuse: Set<string> = new Set()): PlannedCell[] {
  if (!only || only.length === 0) return plan.cells;
  const byName = new Map(plan.cells.map((c) => [c.name, c]));
  const wanted = new Set<string>();
  const add = (name: string, force: boolean) => {
    if (wanted.has(name)) return;
    const cell = byName.get(name);
    if (!cell) {
      throw new LecternError("E_USAGE", `no cell named "${name}" (its cells: ${plan.cells.map((c) => c.name).join(", ")})`, { file: plan.page.path });
    }
    // A server must run again for its clients, and a group runs whole; any other cell that is done stays done.
    if (!force && reuse.has(name) && !cell.attrs.server) return;
    wanted.add(name);
    cell.together.forEach((m) => add(m, true));
    cell.deps.forEach((d) => add(d, false));
  };
  only.forEach((name) => add(name, true));
  return plan.cells.filter((c) => wanted.has(c.name));
}

/** The cells of one run and where each one is; `next()` says what to do about it. */
export class Scheduler {
  private readonly state = new Map<string, CellState>();
  private readonly ends = new Map<string, { status: Status; reason: string | null }>();
  private readonly byName: Map<string, PlannedCell>;
  private readonly stopped = new Set<string>();
  private aborted = false;

  /** `keepServing`: servers that no selected cell needs keep serving (until an abort). */
  constructor(
    private readonly cells: PlannedCell[],
    private readonly keepServing = false,
  ) {
    this.byName = new Map(cells.map((c) => [c.name, c]));
    for (const c of cells) this.state.set(c.name, "waiting");
  }

  stateOf(name: string): CellState {
    return this.state.get(name)!;
  }

  get aborting(): boolean {
    return this.aborted;
  }

  get done(): boolean {
    return this.cells.every((c) => this.state.get(c.name) === "done");
  }

  /** Its process exists. */
  running(name: string): void {
    if (this.state.get(name) === "starting") this.state.set(name, "running");
  }

  /** A server listens (or printed its ready= line); false when that changes nothing. */
  ready(name: string): boolean {
    if (this.state.get(name) !== "running") return false;
    this.state.set(name, "ready");
    return true;
  }

  ended(name: string, status: Status, reason: string | null): void {
    this.state.set(name, "done");
    this.ends.set(name, { status, reason });
  }

  /** Ctrl-C: nothing more starts; cells still waiting are reported interrupted. */
  abort(): void {
    this.aborted = true;
  }

  /** What to do now. Cells reported not run are done from here on; launched cells are starting. */
  next(): Action[] {
    const actions: Action[] = [];
    // A cell that cannot run may break another one: go round until nothing changes.
    for (let changed = true; changed; ) {
      changed = false;
      for (const cell of this.cells) {
        if (this.state.get(cell.name) !== "waiting") continue;
        const decided = this.decide(cell);
        if (decided.length === 0) continue;
        actions.push(...decided);
        changed = true;
      }
    }
    actions.push(...this.idleServers());
    // A safety net under the plan's cycle check: if nothing runs any more, nothing waiting can start.
    const live = this.cells.some((c) => ["starting", "running", "ready"].includes(this.state.get(c.name)!));
    if (!live) {
      for (const cell of this.cells) {
        if (this.state.get(cell.name) === "waiting") actions.push(this.notRun(cell, "failed", "not started: it waits for cells that wait for it"));
      }
    }
    return actions;
  }

  /**
   * The actions for one waiting cell and the cells it runs with: none while any of them must
   * wait; all of them launched at once when none must; all not run when one of them cannot run.
   */
  private decide(cell: PlannedCell): Action[] {
    if (this.aborted) return [this.notRun(cell, "skipped", "interrupted before it started")];
    if (cell.attrs.skip) return [this.notRun(cell, "skipped", null)];
    const group = [cell, ...cell.together.flatMap((n) => this.byName.get(n) ?? [])];
    const blocks = group.map((c) => this.blockedBy(c));
    const broken = blocks.findIndex((b) => b.broken !== null);
    if (broken >= 0) {
      const why = blocks[broken]!.broken!;
      const first = group[broken]!.name;
      return group.map((c, i) => this.notRun(c, "failed", i === broken ? `not started: ${why}` : `not started: it runs with "${first}", which could not start (${why})`));
    }
    if (blocks.some((b) => b.wait) || group.some((c) => this.state.get(c.name) !== "waiting")) return [];
    for (const c of group) this.state.set(c.name, "starting");
    return [{ type: "launch", cells: group }];
  }

  private notRun(cell: PlannedCell, status: Status, reason: string | null): Action {
    this.ended(cell.name, status, reason);
    return { type: "notRun", cell, status, reason };
  }

  // A dependency is met when a server listens or another cell has ended; it is broken when a
  // server will never listen.
  private blockedBy(cell: PlannedCell): { wait: boolean; broken: string | null } {
    let wait = cell.after.some((name) => this.byName.has(name) && this.state.get(name) !== "done");
    for (const name of cell.deps) {
      const dep = this.byName.get(name);
      if (!dep) continue; // not selected: reused from the cache, done
      const s = this.state.get(name)!;
      if (dep.attrs.server) {
        if (s === "ready") continue;
        if (s === "done") {
          const end = this.ends.get(name)!;
          if (end.status === "skipped") return { wait: false, broken: `needs server "${name}", which was skipped` };
          return { wait: false, broken: `server "${name}" ended before it was ready${end.reason ? ` (${end.reason})` : ""}` };
        }
        wait = true;
      } else if (s !== "done") {
        wait = true;
      }
    }
    return { wait, broken: null };
  }

  // Servers whose clients are all done stop; servers nobody needs stop when the rest is done.
  private idleServers(): Action[] {
    const othersDone = this.cells.every((c) => c.attrs.server || this.state.get(c.name) === "done");
    const actions: Action[] = [];
    for (const cell of this.cells) {
      if (!cell.attrs.server || this.state.get(cell.name) !== "ready" || this.stopped.has(cell.name)) continue;
      const clients = this.cells.filter((c) => c.deps.includes(cell.name));
      // A server nobody needs still stops as soon as a later server of its port waits for it.
      const blocking = this.cells.some((c) => c.after.includes(cell.name));
      const idle = clients.length > 0 ? clients.every((c) => this.state.get(c.name) === "done") : (othersDone || blocking) && !this.keepServing;
      if (!idle) continue;
      this.stopped.add(cell.name);
      actions.push({ type: "stop", cell });
    }
    return actions;
  }
}

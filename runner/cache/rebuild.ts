// Plan + cache -> PageResult: reuse every result the cache holds and run only the cells whose
// key is missing (with the servers they need); store what ran.
import { cellKeys, loadResult, storeResult, type CellInputs } from "./results.ts";
import { compileCell } from "../execute/compile.ts";
import { LecternError } from "../errors.ts";
import { executePlan, type ExecuteOptions } from "../execute/execute.ts";
import { notRun } from "../execute/verdict.ts";
import { pairResults } from "../outcome.ts";
import { carryCapture } from "../trace/wiretrace.ts";
import type { CellResult, PageResult, Plan, PlannedCell } from "../types.ts";

export type CacheMode = "use" | "rerun" | "frozen";

export interface Rebuilt {
  /** Null when --frozen found results missing. */
  result: PageResult | null;
  missing: PlannedCell[];
}

/** Results worth keeping: a cell that was interrupted, never started or hit an error of ours says nothing about its code. */
function storable(r: CellResult): boolean {
  return r.status !== "skipped" && r.reason !== "interrupted" && !(r.reason ?? "").startsWith("not started") && r.cause === undefined;
}

/**
 * Each cell's local inputs, from its compilation (cached by code); null for a cell that does not
 * compile. A cache that cannot be written (read-only, a full disk) throws here, before anything
 * runs: `run` and `test` call it first for that, as `build` does to find its keys.
 */
export async function cellInputs(plan: Plan, cacheDir: string): Promise<CellInputs> {
  const inputs: CellInputs = new Map();
  for (const cell of plan.cells) {
    try {
      inputs.set(cell.name, (await compileCell(cell, plan.page.path, cacheDir)).inputs);
    } catch (err) {
      if (!(err instanceof LecternError)) throw err;
      inputs.set(cell.name, null);
    }
  }
  return inputs;
}

/** Stores the results of a run under their cells' keys (run feeds build this way). */
export async function storeResults(plan: Plan, result: PageResult, options: ExecuteOptions): Promise<void> {
  const keys = cellKeys(plan, await cellInputs(plan, options.cacheDir), options.timeout);
  for (const r of result.cells) {
    const key = keys.get(r.name);
    if (key && storable(r)) await storeResult(options.cacheDir, key, r);
  }
}

/**
 * The page's cells in groups that must come from one run: each server with the cells that need
 * it, joined where a cell needs two servers. A cell that needs no server is a group of its own.
 */
export function runGroups(plan: Plan): PlannedCell[][] {
  const byName = new Map(plan.cells.map((c) => [c.name, c]));
  const parent = new Map(plan.cells.map((c) => [c.name, c.name]));
  const root = (name: string): string => {
    while (parent.get(name) !== name) name = parent.get(name)!;
    return name;
  };
  for (const cell of plan.cells) {
    for (const dep of cell.deps) if (byName.get(dep)?.attrs.server) parent.set(root(cell.name), root(dep));
  }
  const groups = new Map<string, PlannedCell[]>();
  for (const cell of plan.cells) groups.set(root(cell.name), [...(groups.get(root(cell.name)) ?? []), cell]);
  return [...groups.values()];
}

export async function runCached(plan: Plan, options: ExecuteOptions, mode: CacheMode): Promise<Rebuilt> {
  const started = new Date();
  const keys = cellKeys(plan, await cellInputs(plan, options.cacheDir), options.timeout);
  const hits = new Map<string, CellResult>();
  for (const cell of plan.cells) {
    // A skipped cell never runs, so there is nothing to look up.
    const key = keys.get(cell.name);
    const hit = cell.attrs.skip ? notRun(cell, "skipped", null) : mode === "rerun" || !key ? null : loadResult(options.cacheDir, key, cell);
    if (hit) hits.set(cell.name, hit);
  }
  // A server and the cells that talk to it are published from one run: when one of them must run,
  // or their results come from different runs, they all run (a server's log shows its clients).
  for (const group of runGroups(plan)) {
    const results = group.filter((c) => !c.attrs.skip).map((c) => hits.get(c.name));
    const runs = new Set(results.map((r) => (r ? (r.ranAt ?? "") : null)));
    if (group.length > 1 && (runs.size > 1 || runs.has(""))) for (const c of group) if (!c.attrs.skip) hits.delete(c.name);
  }
  const missing = plan.cells.filter((c) => !hits.has(c.name));
  if (mode === "frozen" && missing.length > 0) return { result: null, missing };

  let ran: PageResult | null = null;
  if (missing.length > 0) {
    ran = await executePlan(plan, { ...options, only: missing.map((c) => c.name), reuse: new Set(hits.keys()) });
    for (const r of ran.cells) {
      const key = keys.get(r.name);
      if (key && storable(r)) await storeResult(options.cacheDir, key, r);
    }
  }
  const cells = pairResults(plan.cells, ran).map(({ cell, result }) => {
    if (result) return result;
    const hit = hits.get(cell.name)!;
    options.onEvent?.({ type: "end", page: plan.page.path, result: hit });
    return hit;
  });
  const result = {
    path: plan.page.path,
    // The ports the page's cells used, cached ones included (their output shows those numbers).
    ports: Object.assign({}, ...cells.map((c) => c.ports ?? {}), ran?.ports ?? {}),
    cells,
    // A page that ran nothing is as old as its newest result, and took as long as its longest cell;
    // one without cells has no time (a time would make its page look changed on every build).
    startedAt: ran?.startedAt ?? (cells.map((c) => c.ranAt ?? "").sort().at(-1) || (cells.length === 0 ? new Date(0) : started).toISOString()),
    durationMs: ran?.durationMs ?? Math.max(0, ...cells.map((c) => c.durationMs)),
  };
  return { result: carryCapture(ran, result, plan.page.path, options.cacheDir), missing };
}

// A page's cells with their results, paired in one place, and the one tally of how they ended:
// every report (the summary line, --json's ok, the live line, the site's counts) counts alike.
import type { CellResult, Status } from "./types.ts";

/** A cell with its result in a run; null when it has none (not selected, or never run). */
export interface Paired<C> {
  cell: C;
  result: CellResult | null;
}

/** Each cell, in page order, with its result: results are matched to their cells here and nowhere else. */
export function pairResults<C extends { name: string }>(cells: readonly C[], run: { cells: CellResult[] } | null): Paired<C>[] {
  const byName = new Map(run?.cells.map((r) => [r.name, r]));
  return cells.map((cell) => ({ cell, result: byName.get(cell.name) ?? null }));
}

/** A timeout is a failure: the cell did not behave as its page says. */
export function isFailure(status: Status): boolean {
  return status === "failed" || status === "timeout";
}

export interface Tally {
  passed: number;
  /** Failed or timed out. */
  failed: number;
  skipped: number;
  /** Cells with no result at all. */
  notRun: number;
  total: number;
}

export function tally(results: readonly (Pick<CellResult, "status"> | null)[]): Tally {
  const t: Tally = { passed: 0, failed: 0, skipped: 0, notRun: 0, total: results.length };
  for (const r of results) {
    if (r === null) t.notRun++;
    else if (isFailure(r.status)) t.failed++;
    else if (r.status === "skipped") t.skipped++;
    else t.passed++;
  }
  return t;
}

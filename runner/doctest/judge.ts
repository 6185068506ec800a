// A page's results held to the page: each cell's status (expect=, exit=) and its `output`
// block, as verdicts; and, for test --update, the blocks written from the run.
import { LecternError } from "../errors.ts";
import type { Io } from "../io.ts";
import { pairResults } from "../outcome.ts";
import type { CellResult, PageResult, Plan, PlannedCell } from "../types.ts";
import { diffOutput, portNames } from "./expect.ts";
import { expectedText, updatePage } from "./update.ts";

/** A cell's verdict: its run, held to its page. */
export interface Judged {
  cell: PlannedCell;
  result: CellResult;
  /** The unified diff of its block against its transcript; null when it matches or has no block. */
  diff: string | null;
  /** Set by --update: the block was written from this run. */
  updated: "added" | "updated" | null;
}

/** A cell that behaved as its page says. */
export const passes = (j: Judged) => j.result.status === "passed" && j.diff === null;

/** A cell passes when its status is passed and, if it has an output block, its transcript matches it. */
export function judge(plan: Plan, page: PageResult): Judged[] {
  return pairResults(plan.cells, page).flatMap(({ cell, result }) => {
    if (result === null) return [];
    const diff = cell.expected && result.status !== "skipped" ? diffOutput(cell.expected.text, result.output, page.ports) : null;
    return [{ cell, result, diff, updated: null }];
  });
}

/** Every cell of every page passed or was skipped. */
export function allPass(judged: Judged[][]): boolean {
  return judged.every((js) => js.every((j) => passes(j) || j.result.status === "skipped"));
}

/** An output block that names a port the page does not have can never match: the page is wrong. */
export function checkBlockPorts(plan: Plan): void {
  for (const cell of plan.cells) {
    if (!cell.expected) continue;
    for (const name of portNames(cell.expected.text)) {
      if (plan.ports.includes(name)) continue;
      const have = plan.ports.length > 0 ? `its ports: ${plan.ports.join(", ")}` : "it has none";
      throw new LecternError("E_PORT_VALUE", `the output block of cell "${cell.name}" has {port:${name}}, but this page has no port "${name}" (${have})`, {
        file: plan.page.path,
        line: cell.expected.line,
      });
    }
  }
}

/** Results as the verdicts see them: a cell whose output does not match has failed. */
export function judgedPages(pages: PageResult[], judged: Judged[][]): PageResult[] {
  return pages.map((p, i) => ({
    ...p,
    cells: judged[i]!.map((j) =>
      j.diff === null || j.result.status !== "passed"
        ? j.result
        : { ...j.result, status: "failed" as const, reason: `its output does not match the block at ${p.path}:${j.cell.expected!.line}` },
    ),
  }));
}

/** test --update: the blocks of the passing cells whose output changed (or had none), written into their pages. */
export async function updateBlocks(plans: Plan[], pages: PageResult[], judged: Judged[][], io: Io): Promise<boolean> {
  let allWritten = true;
  for (const [i, plan] of plans.entries()) {
    const stale = judged[i]!.filter((j) => j.result.status === "passed" && (j.cell.expected === null || j.diff !== null));
    if (stale.length === 0) continue;
    const updates = stale.map((j) => ({ cell: j.cell, text: expectedText(j.result.output, pages[i]!.ports, j.cell.expected?.text) }));
    if ((await updatePage(plan.page, updates)) === "changed") {
      io.stderr.write(`lectern: ${plan.page.path}: the page changed while its cells ran; not updated (run again)\n`);
      allWritten = false;
      continue;
    }
    for (const j of stale) {
      j.updated = j.cell.expected === null ? "added" : "updated";
      j.diff = null;
    }
  }
  return allWritten;
}

// A cell whose transcript does not match its `output` block, on the published page: a badge,
// the diff folded under the output, and a count in the run summary (`lectern build --check`).
import { diffOutput } from "../doctest/expect.ts";
import { escapeHtml } from "./html.ts";
import type { Cell, CellResult } from "../types.ts";

/**
 * The unified diff of the cell's block (-) against what it printed (+); null when it matches or
 * has no block. Only for a cell that passed: one that failed says so already, and would
 * otherwise slip through as a pass with the wrong output on the page.
 */
export function outputDiff(cell: Cell, result: CellResult | null): string | null {
  if (!cell.expected || !result || result.status !== "passed") return null;
  // A result carries the ports of the run that made it (cached ones too): its output shows those numbers.
  return diffOutput(cell.expected.text, result.output, result.ports ?? {});
}

export const differsBadge = (diff: string | null) => (diff === null ? "" : ` <span class="status status-differs">output differs</span>`);

/** The diff, folded: open it to see the expected block against the transcript. */
export function differsBlock(cell: Cell, diff: string | null): string {
  if (diff === null) return "";
  const line = cell.expected!.line;
  return `<details class="output-diff"><summary>Output differs from the expected block (line ${line})</summary><pre>${escapeHtml(diff)}</pre></details>\n`;
}

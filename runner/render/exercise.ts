// Exercises on the page: a ```hint block and a solution cell, each folded into a <details> that
// opens without a script (a solution stays hidden until the reader opens it).
import { createMarkdown } from "../extract/markdown.ts";
import { escapeHtml } from "./html.ts";
import type { Cell } from "../types.ts";

// Its own renderer: a hint is plain Markdown (raw HTML off, as everywhere), with no cells in it.
const md = createMarkdown();

/** A ```hint fence: its text as Markdown, folded. */
export function hintHtml(content: string): string {
  return `<details class="hint"><summary>Hint</summary>\n<div class="hint-body">${md.render(content)}</div></details>\n`;
}

/** A solution cell's section, folded under a summary that names its exercise. */
export function solutionHtml(cell: Cell, section: string): string {
  const of = cell.attrs.solution!;
  return `<details class="solution"><summary>Solution to <code>${escapeHtml(of)}</code></summary>\n${section}</details>\n`;
}

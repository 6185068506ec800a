// One cell as HTML: its header (name, tags, the source as a file, its status badge), its
// highlighted code, its transcript (or the page's expected one when it did not run), the diff
// when its output differs from its block, and the line under it (exit, time, why).
import { formatDuration } from "../duration.ts";
import { LANGUAGES } from "../execute/languages.ts";
import type { Cell, CellResult } from "../types.ts";
import { differsBadge, differsBlock, outputDiff } from "./differs.ts";
import { codeBlock } from "./highlight.ts";
import { escapeHtml } from "./html.ts";
import type { PageContext } from "./layout.ts";
import { transcriptHtml } from "./output.ts";

/** How a cell's run reads on its badge; `kind` is its CSS class. */
export function cellStatus(cell: Cell, result: CellResult | null): { kind: string; label: string } {
  if (cell.attrs.exercise) return { kind: "exercise", label: "exercise" };
  if (!result) return { kind: "notrun", label: "not run" };
  switch (result.status) {
    case "skipped":
      return { kind: "skipped", label: "skipped" };
    case "timeout":
      return { kind: "timeout", label: "timed out" };
    case "failed":
      return { kind: "failed", label: "failed" };
    case "passed":
      if (stoppedServer(cell, result)) return { kind: "stopped", label: "server stopped" };
      if (cell.attrs.expect !== null || (cell.attrs.exit !== null && cell.attrs.exit !== 0))
        return { kind: "expected", label: "expected failure" };
      return { kind: "passed", label: "passed" };
  }
}

/** A server Lectern stopped ends by its signal: that is how it is meant to end. */
function stoppedServer(cell: Cell, result: CellResult): boolean {
  return cell.attrs.server && result.status === "passed" && result.exitCode === null && result.signal !== null;
}

/** A cell's id in a document whose ids carry `prefix` (empty for a page of its own). */
const cellId = (prefix: string, name: string) => `${prefix}cell-${name}`;
const cellHref = (prefix: string, name: string) => `#${escapeHtml(encodeURIComponent(cellId(prefix, name)))}`;
export const cellLink = (prefix: string, name: string, text = name) => `<a href="${cellHref(prefix, name)}">${escapeHtml(text)}</a>`;

/** The file a cell's source is offered as: its name and its language's extension. */
export function cellFileName(cell: Cell): string {
  return `${cell.name}.${Object.hasOwn(LANGUAGES, cell.lang) ? LANGUAGES[cell.lang].ext : "txt"}`;
}

/** What the fence says about the cell, beyond its name: small tags in its header. */
function tags(cell: Cell, prefix: string): string {
  const a = cell.attrs;
  const out = [`<span class="tag tag-lang">${escapeHtml(cell.lang)}</span>`];
  if (a.server) out.push(`<span class="tag">server</span>`);
  if (a.needs.length) out.push(`<span class="tag">needs ${a.needs.map((n) => cellLink(prefix, n)).join(", ")}</span>`);
  if (a.expect !== null) out.push(`<span class="tag">expect ${escapeHtml(a.expect)}</span>`);
  if (a.exit !== null) out.push(`<span class="tag">exit ${a.exit}</span>`);
  if (a.timeout !== null) out.push(`<span class="tag">timeout ${a.timeout} s</span>`);
  if (a.skip && !a.exercise) out.push(`<span class="tag">skip</span>`);
  if (a.solution) out.push(`<span class="tag">solution to ${cellLink(prefix, a.solution)}</span>`);
  return out.join(" ");
}

/** Exit code or signal, time, and why, under the output. */
function statusLine(cell: Cell, result: CellResult | null, note: string | null): string {
  const parts: string[] = [];
  if (result) {
    const stopped = stoppedServer(cell, result);
    if (result.exitCode !== null) parts.push(`<span class="exit${result.exitCode === 0 ? "" : " exit-nonzero"}">exit ${escapeHtml(String(result.exitCode))}</span>`);
    else if (result.signal !== null) parts.push(`<span class="exit${stopped ? "" : " exit-nonzero"}">${stopped ? "stopped by" : "killed by"} ${escapeHtml(result.signal)}</span>`);
    if (result.status === "skipped") parts.push(cell.attrs.exercise ? "for you to complete: shown, not run" : "skipped: shown, not run");
    else parts.push(formatDuration(result.durationMs) + (result.cached ? " (cached)" : ""));
    if (result.reason) parts.push(`<span class="reason">${escapeHtml(result.reason)}</span>`);
  } else parts.push("not run");
  if (note) parts.push(note);
  return `<footer class="cell-status">${parts.join(" · ")}</footer>\n`;
}

/** `tag` is a div on a slide, where a section would be a slide of its own (reveal.js). */
export function renderCell(cell: Cell, result: CellResult | null, ctx: PageContext, prefix: string, tag = "section"): string {
  const id = escapeHtml(cellId(prefix, cell.name));
  const status = cellStatus(cell, result);
  const file = cellFileName(cell);
  // The source as a file, so a student can run the cell by hand (README: "Running a cell by hand").
  const download = ctx.sources !== undefined ? ` <a class="download" href="${escapeHtml(ctx.sources + encodeURIComponent(file))}" download>${escapeHtml(file)}</a>` : "";
  let html = `<${tag} class="cell cell-${status.kind}" id="${id}">\n`;
  html += `<header class="cell-header"><a class="cell-name" href="${cellHref(prefix, cell.name)}">${escapeHtml(cell.name)}</a> ${tags(cell, prefix)}`;
  const diff = outputDiff(cell, result);
  html += `${download} <span class="status status-${status.kind}">${status.label}</span>${differsBadge(diff)}</header>\n`;
  html += codeBlock(cell.code, cell.lang, ctx.highlight);
  const chunks = result?.chunks.length ? result.chunks : result?.output ? [{ stream: "stdout" as const, text: result.output }] : [];
  const ran = result !== null && result.status !== "skipped";
  let note: string | null = null;
  if (ran && chunks.length > 0) {
    html += transcriptHtml(chunks);
  } else if (ran) {
    html += `<div class="output output-empty"><pre>\n(no output)</pre></div>\n`;
  } else if (cell.expected) {
    // Nothing ran, so the page's own expected transcript is the best thing to show, marked as such.
    html += transcriptHtml([{ stream: "stdout", text: cell.expected.text }], "expected");
    note = cell.attrs.exercise ? "the check: what a right answer prints" : "expected output shown";
  }
  return `${html}${differsBlock(cell, diff)}${statusLine(cell, result, note)}</${tag}>\n`;
}

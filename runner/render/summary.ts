// What goes under a page's title: the run summary (when it ran, on what, how long, how many
// cells passed, links to the failures and to outputs that differ) and the table of contents,
// with a mark per cell whose shape says how it ended.
import { formatDuration } from "../duration.ts";
import { isFailure, pairResults, tally } from "../outcome.ts";
import type { Cell, Page, PageResult } from "../types.ts";
import { cellLink } from "./cell.ts";
import { outputDiff } from "./differs.ts";
import { escapeHtml } from "./html.ts";
import type { PageContext } from "./layout.ts";
import type { Heading } from "./pagemeta.ts";

/** UTC, so the same run renders the same HTML on every machine. */
function formatWhen(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return escapeHtml(iso);
  const text = `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
  return `<time datetime="${escapeHtml(date.toISOString())}">${text}</time>`;
}

/** When it ran, on what, for how long, and how many cells passed; failures linked. */
export function runSummary(page: Page, result: PageResult | null, ctx: PageContext, prefix: string): string {
  if (page.cells.length === 0) return "";
  if (!result) return `<div class="run-summary run-notrun"><p>Not run: the cells show their code only.</p></div>\n`;
  const pairs = pairResults(page.cells, result);
  const count = tally(pairs.map((p) => p.result));
  const failed = pairs.filter((p) => p.result !== null && isFailure(p.result.status));
  const skipped = count.skipped + count.notRun;
  const ran = count.total - skipped;
  const passed = count.passed;
  const cached = result.cells.filter((c) => c.cached).length;
  const cells = (n: number) => `${n} cell${n === 1 ? "" : "s"}`;
  const headline =
    ran === 0 ? "No cell ran"
    : failed.length ? `${failed.length} of ${cells(ran)} failed`
    : ran === 1 ? "The cell passed"
    : `All ${cells(ran)} passed`;
  const facts = [
    `<strong>${headline}</strong>${failed.length ? ` (${passed} passed)` : ""}${skipped ? `, ${skipped} skipped` : ""}`,
    `ran ${formatWhen(result.startedAt)}`,
    `Node.js ${escapeHtml(ctx.node)}`,
    formatDuration(result.durationMs),
  ];
  if (cached) facts.push(`${cells(cached)} from cache`);
  const differs = pairs.filter((p) => outputDiff(p.cell, p.result) !== null).map((p) => p.cell);
  if (differs.length) facts.push(`<span class="differs">${cells(differs.length)} with output that differs from the page</span>`);
  const failures =
    (failed.length ? `<p class="failures">Failed: ${failed.map((s) => cellLink(prefix, s.cell.name)).join(", ")}</p>` : "") +
    (differs.length ? `<p class="failures">Output differs: ${differs.map((c) => cellLink(prefix, c.name)).join(", ")}</p>` : "");
  // Each fact stays on one line; the line breaks between them.
  const line = facts.map((f) => `<span class="fact">${f}</span>`).join(" · ");
  return `<div class="run-summary ${failed.length ? "run-failed" : "run-passed"}"><p>${line}</p>${failures}</div>\n`;
}

/** A cell's status as a mark of its own shape (not colour alone), for the table of contents. */
const MARKS: Record<string, string> = { passed: "✓", failed: "✗", timeout: "◷", expected: "✓", stopped: "■", skipped: "–", notrun: "○", exercise: "✎" };

/** Sections (h2) and subsections (h3); each section with a mark per cell it holds, by its status. */
export function toc(page: Page, outline: Heading[], status: (cell: Cell) => { kind: string; label: string }): string {
  const entries = outline.filter((h) => h.level === 2 || h.level === 3);
  if (entries.length < 2) return "";
  // An h3 before any h2 stands on its own.
  const sections: { head: Heading; subs: Heading[] }[] = [];
  for (const h of entries) {
    if (h.level === 3 && sections.length > 0) sections.at(-1)!.subs.push(h);
    else sections.push({ head: h, subs: [] });
  }
  const link = (h: Heading) => `<a href="#${escapeHtml(h.id)}">${escapeHtml(h.text)}</a>`;
  const items = sections.map(({ head, subs }, i) => {
    const end = sections[i + 1]?.head.token ?? Infinity;
    const cells = page.cells.filter((c) => c.token > head.token && c.token < end).map((c) => ({ name: c.name, ...status(c) }));
    const marks = cells.map((c) => `<span class="mark mark-${c.kind}" title="${escapeHtml(`${c.name}: ${c.label}`)}">${MARKS[c.kind] ?? "○"}</span>`).join("");
    const said = cells.map((c) => `${c.name} ${c.label}`).join(", ");
    const nested = subs.length ? `<ol>${subs.map((h) => `<li>${link(h)}</li>`).join("")}</ol>` : "";
    return `<li>${link(head)}${marks ? ` <span class="marks" aria-hidden="true">${marks}</span><span class="visually-hidden">: ${escapeHtml(said)}</span>` : ""}${nested}</li>`;
  });
  return `<ol class="toc">${items.join("")}</ol>`;
}

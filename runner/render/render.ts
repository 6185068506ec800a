// Page + results -> HTML: prose through markdown-it, each cell with its code, transcript and
// status, a run summary and a table of contents. The frame around it is layout.ts.
import type { Env, Token } from "markdown-it";
import { formatDuration } from "../duration.ts";
import type { HighlightMemo } from "../cache/memo.ts";
import { codeBlock } from "./highlight.ts";
import { escapeHtml } from "./html.ts";
import { documentShell, pageList, type IndexEntry, type PageContext } from "./layout.ts";
import { traceDiagram } from "../trace/diagram.ts";
import { createMarkdown } from "../extract/markdown.ts";
import { transcriptHtml } from "./output.ts";
import { differsBadge, differsBlock, outputDiff } from "./differs.ts";
import { bodyStart, frontMatter, headings, pageSummary, pageTitle, type Heading } from "./pagemeta.ts";
import { isFailure, pairResults, tally } from "../outcome.ts";
import { eventsOf, pageTrace, traceGroups } from "../trace/trace.ts";
import type { Cell, CellResult, Page, PageResult } from "../types.ts";

export { formatDuration } from "../duration.ts";
export { escapeHtml } from "./html.ts";
export { stripAnsi } from "./ansi.ts";
export { frontMatter, pageSummary, pageTitle } from "./pagemeta.ts";
export { renderIndex, type IndexEntry, type NavLink, type PageContext } from "./layout.ts";

/** What the rules below need to know about the page being rendered, carried in markdown-it's env. */
interface RenderState {
  cells: Map<Token, Cell>;
  hidden: Set<Token>;
  ids: Map<Token, Heading>;
  /** The heading_close of the page's h1, after which the run summary goes. */
  titleClose: Token | null;
  afterTitle: string;
  renderCell: (cell: Cell) => string;
  /** Network diagrams: in place of ```trace fences, or after the last cell of each group that talked. */
  traces: Map<Token, string>;
  afterCell: Map<Cell, string>;
  highlight?: HighlightMemo;
}
const STATE = Symbol("lectern render state");
const stateOf = (env: unknown) => (env as Record<symbol, RenderState> | undefined)?.[STATE];

const md = createMarkdown();
// Every fence goes through here: a cell becomes its section, its `output` fence disappears (the cell
// shows it), any other fence is highlighted. Tokens are only read, never changed.
md.renderer.rules.fence = (tokens, idx, _options, env) => {
  const token = tokens[idx]!;
  const state = stateOf(env);
  if (state?.hidden.has(token)) return "";
  const trace = state?.traces.get(token);
  if (trace !== undefined) return trace;
  const cell = state?.cells.get(token);
  if (state && cell) return state.renderCell(cell) + (state.afterCell.get(cell) ?? "");
  return codeBlock(token.content, token.info.trim().split(/\s+/)[0] ?? "", state?.highlight);
};
md.renderer.rules.heading_open = (tokens, idx, _options, env) => {
  const token = tokens[idx]!;
  const heading = stateOf(env)?.ids.get(token);
  return `<${token.tag}${heading ? ` id="${escapeHtml(heading.id)}"` : ""}>`;
};
md.renderer.rules.heading_close = (tokens, idx, _options, env) => {
  const token = tokens[idx]!;
  const state = stateOf(env);
  if (state && token === state.titleClose) return `</${token.tag}>\n${state.afterTitle}`;
  const heading = state?.ids.get(tokens[idx - 2]!);
  const anchor = heading ? ` <a class="anchor" href="#${escapeHtml(heading.id)}" aria-label="Link to this section">#</a>` : "";
  return `${anchor}</${token.tag}>\n`;
};
// An image from another site would be a request leaving the page: it becomes a link to the image.
const image = md.renderer.rules.image!;
md.renderer.rules.image = (tokens, idx, options, env, self) => {
  const token = tokens[idx]!;
  const src = String(token.attrGet("src") ?? "");
  if (!/^(?:[a-z][a-z0-9+.-]*:|\/\/)/i.test(src) || /^data:/i.test(src)) return image(tokens, idx, options, env, self);
  const alt = self.renderInlineAsText(token.children ?? [], options, env) || src;
  return `<a class="remote-image" href="${escapeHtml(src)}">${escapeHtml(alt)}</a>`;
};

/** How a cell's run reads on its badge; `kind` is its CSS class. */
export function cellStatus(cell: Cell, result: CellResult | null): { kind: string; label: string } {
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

const cellId = (name: string) => `cell-${name}`;
const cellLink = (name: string, text = name) => `<a href="#${escapeHtml(encodeURIComponent(cellId(name)))}">${escapeHtml(text)}</a>`;

/** What the fence says about the cell, beyond its name: small tags in its header. */
function tags(cell: Cell): string {
  const a = cell.attrs;
  const out = [`<span class="tag tag-lang">${escapeHtml(cell.lang)}</span>`];
  if (a.server) out.push(`<span class="tag">server</span>`);
  if (a.needs.length) out.push(`<span class="tag">needs ${a.needs.map((n) => cellLink(n)).join(", ")}</span>`);
  if (a.expect !== null) out.push(`<span class="tag">expect ${escapeHtml(a.expect)}</span>`);
  if (a.exit !== null) out.push(`<span class="tag">exit ${a.exit}</span>`);
  if (a.timeout !== null) out.push(`<span class="tag">timeout ${a.timeout} s</span>`);
  if (a.skip) out.push(`<span class="tag">skip</span>`);
  return out.join(" ");
}

/** Exit code or signal, time, and why, under the output. */
function statusLine(cell: Cell, result: CellResult | null, note: string | null): string {
  const parts: string[] = [];
  if (result) {
    const stopped = stoppedServer(cell, result);
    if (result.exitCode !== null) parts.push(`<span class="exit${result.exitCode === 0 ? "" : " exit-nonzero"}">exit ${escapeHtml(String(result.exitCode))}</span>`);
    else if (result.signal !== null) parts.push(`<span class="exit${stopped ? "" : " exit-nonzero"}">${stopped ? "stopped by" : "killed by"} ${escapeHtml(result.signal)}</span>`);
    if (result.status === "skipped") parts.push("skipped: shown, not run");
    else parts.push(formatDuration(result.durationMs) + (result.cached ? " (cached)" : ""));
    if (result.reason) parts.push(`<span class="reason">${escapeHtml(result.reason)}</span>`);
  } else parts.push("not run");
  if (note) parts.push(note);
  return `<footer class="cell-status">${parts.join(" · ")}</footer>\n`;
}

function renderCell(cell: Cell, result: CellResult | null, highlight?: HighlightMemo): string {
  const id = escapeHtml(cellId(cell.name));
  const status = cellStatus(cell, result);
  let html = `<section class="cell cell-${status.kind}" id="${id}">\n`;
  html += `<header class="cell-header"><a class="cell-name" href="#${escapeHtml(encodeURIComponent(cellId(cell.name)))}">${escapeHtml(cell.name)}</a> ${tags(cell)}`;
  const diff = outputDiff(cell, result);
  html += ` <span class="status status-${status.kind}">${status.label}</span>${differsBadge(diff)}</header>\n`;
  html += codeBlock(cell.code, cell.lang, highlight);
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
    note = "expected output shown";
  }
  return `${html}${differsBlock(cell, diff)}${statusLine(cell, result, note)}</section>\n`;
}

/** UTC, so the same run renders the same HTML on every machine. */
function formatWhen(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return escapeHtml(iso);
  const text = `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
  return `<time datetime="${escapeHtml(date.toISOString())}">${text}</time>`;
}

/** When it ran, on what, for how long, and how many cells passed; failures linked. */
function runSummary(page: Page, result: PageResult | null, ctx: PageContext): string {
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
  const differs = page.cells.filter((c) => outputDiff(c, result.cells.find((r) => r.name === c.name) ?? null) !== null);
  if (differs.length) facts.push(`<span class="differs">${cells(differs.length)} with output that differs from the page</span>`);
  const failures =
    (failed.length ? `<p class="failures">Failed: ${failed.map((s) => cellLink(s.cell.name)).join(", ")}</p>` : "") +
    (differs.length ? `<p class="failures">Output differs: ${differs.map((c) => cellLink(c.name)).join(", ")}</p>` : "");
  // Each fact stays on one line; the line breaks between them.
  const line = facts.map((f) => `<span class="fact">${f}</span>`).join(" · ");
  return `<div class="run-summary ${failed.length ? "run-failed" : "run-passed"}"><p>${line}</p>${failures}</div>\n`;
}

/** Sections (h2) and subsections (h3); each section with a dot per cell it holds, coloured by its status. */
function toc(page: Page, outline: Heading[], status: (cell: Cell) => { kind: string; label: string }): string {
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
    const dots = page.cells
      .filter((c) => c.token > head.token && c.token < end)
      .map((c) => {
        const { kind, label } = status(c);
        const href = escapeHtml(encodeURIComponent(cellId(c.name)));
        return `<a class="dot dot-${kind}" href="#${href}" title="${escapeHtml(`${c.name}: ${label}`)}" aria-label="${escapeHtml(`cell ${c.name}: ${label}`)}"></a>`;
      })
      .join("");
    const nested = subs.length ? `<ol>${subs.map((h) => `<li>${link(h)}</li>`).join("")}</ol>` : "";
    return `<li>${link(head)}${dots ? ` <span class="dots">${dots}</span>` : ""}${nested}</li>`;
  });
  return `<ol>${items.join("")}</ol>`;
}

/**
 * Where the page's network diagrams go: each ```trace fence shows its cells' events; a page
 * without any gets one diagram per group of cells that talked, after the group's last cell.
 *
 * Events of different runs are never drawn together: their times count from different starts,
 * and their ports differ. (A server that ran again for one client has a new port, while its
 * other clients' cached results still talk to the old one.) A fence draws the latest run of
 * its cells, and names the cells it leaves out.
 */
function diagrams(page: Page, result: PageResult | null): Pick<RenderState, "traces" | "afterCell"> {
  const traces = new Map<Token, string>();
  const afterCell = new Map<Cell, string>();
  const events = result ? pageTrace(result) : [];
  const order = page.cells.map((c) => c.name);
  const runOf = new Map(result?.cells.map((c) => [c.name, c.ranAt ?? ""]));
  const traced = [...new Set(events.map((e) => e.cell))];
  // Latest run first.
  const runs = [...new Set(traced.map((c) => runOf.get(c) ?? ""))].sort().reverse();
  const ofRun = (run: string) => events.filter((e) => (runOf.get(e.cell) ?? "") === run);
  page.traces.forEach((t, i) => {
    const named = (t.cells ?? order).filter((c) => traced.includes(c));
    const run = runs.find((r) => named.some((c) => runOf.get(c) === r)) ?? "";
    const earlier = named.filter((c) => runOf.get(c) !== run);
    const drawn = named.filter((c) => runOf.get(c) === run);
    const diagram = drawn.length > 0 ? traceDiagram(eventsOf(ofRun(run), drawn), `trace-${i + 1}`, order) : "";
    const note = earlier.length > 0 ? `<p class="trace-empty">Not drawn with them: ${escapeHtml(earlier.join(", "))}, whose result${earlier.length > 1 ? "s come" : " comes"} from an earlier run (cached). <code>lectern build --rerun</code> runs them together.</p>\n` : "";
    const none = `<p class="trace-empty">No network events recorded${t.cells ? ` for ${escapeHtml(t.cells.join(", "))}` : ""}.</p>\n`;
    traces.set(page.tokens[t.token]!, diagram || note ? diagram + note : none);
  });
  if (page.traces.length === 0) {
    let n = 0;
    for (const run of runs) {
      const mine = ofRun(run);
      for (const group of traceGroups(mine, order)) {
        const last = page.cells.filter((c) => group.includes(c.name)).at(-1)!;
        afterCell.set(last, (afterCell.get(last) ?? "") + traceDiagram(mine.filter((e) => group.includes(e.cell)), `trace-${++n}`, order));
      }
    }
  }
  return { traces, afterCell };
}

/** A whole page as an HTML document; `listing`, when given, is appended as the site's page list. */
export function renderPage(page: Page, result: PageResult | null, ctx: PageContext, listing?: IndexEntry[]): string {
  const resultOf = new Map(pairResults(page.cells, result).map((p) => [p.cell, p.result]));
  const outline = headings(page);
  const title = pageTitle(page);
  const contents = toc(page, outline, (c) => cellStatus(c, resultOf.get(c) ?? null));
  const h1 = outline.find((h) => h.level === 1);
  const header = runSummary(page, result, ctx) + (contents ? `<details class="toc toc-inline"><summary>On this page</summary>${contents}</details>\n` : "");
  const state: RenderState = {
    cells: new Map(page.cells.map((c) => [page.tokens[c.token]!, c])),
    hidden: new Set(page.cells.flatMap((c) => (c.expected ? [page.tokens[c.expected.token]!] : []))),
    ids: new Map(outline.map((h) => [page.tokens[h.token]!, h])),
    titleClose: h1 ? page.tokens[h1.token + 2]! : null,
    afterTitle: header,
    renderCell: (cell) => renderCell(cell, resultOf.get(cell) ?? null, ctx.highlight),
    highlight: ctx.highlight,
    ...diagrams(page, result),
  };
  const env: Env = { [STATE]: state };
  const prose = md.renderer.render(page.tokens.slice(bodyStart(page)), md.options, env);
  // Without an h1 of its own, a page titled by its front matter or file name gets one.
  const titled = outline[0]?.text === title && !frontMatter(page.source).data["title"];
  const top = h1 ? "" : (titled ? "" : `<h1>${escapeHtml(title)}</h1>\n`) + header;
  const main = `<article class="page">\n${top}${prose}</article>\n${listing ? `<section class="site-pages" aria-label="Pages">\n<h2>Pages</h2>\n${pageList(listing)}</section>\n` : ""}`;
  const aside = contents ? `<nav class="toc toc-side" aria-label="On this page"><p class="toc-title">On this page</p>${contents}</nav>\n` : "";
  const source = page.path.split(/[\\/]/).at(-1) ?? page.path;
  const footer = `<p class="built">Built by Lectern from <code>${escapeHtml(source)}</code>.</p>\n`;
  return documentShell(ctx, { title, description: pageSummary(page), aside, main, footer });
}

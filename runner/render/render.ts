// Page + results -> HTML: prose through markdown-it, each cell with its code, transcript and
// status, a run summary and a table of contents. The frame around it is layout.ts.
// Every id and in-page link carries a prefix, so that pages can share one document (print.html).
import type { Env, Token } from "markdown-it";
import { formatDuration } from "../duration.ts";
import { LANGUAGES } from "../execute/languages.ts";
import type { HighlightMemo } from "../cache/memo.ts";
import { codeBlock } from "./highlight.ts";
import { escapeHtml } from "./html.ts";
import { documentShell, pageList, type IndexEntry, type PageContext } from "./layout.ts";
import { traceDiagram, traceSourceOf } from "../trace/diagram.ts";
import { networkFigure } from "./network.ts";
import { createMarkdown } from "../extract/markdown.ts";
import { transcriptHtml } from "./output.ts";
import { hintHtml, solutionHtml } from "./exercise.ts";
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
  /** A page's first heading that is its title but not an h1 is shown as its h1. */
  promoted: Token | null;
  afterTitle: string;
  renderCell: (cell: Cell) => string;
  /** Network diagrams: in place of ```trace fences, or after the last cell of each group that talked. */
  traces: Map<Token, string>;
  afterCell: Map<Cell, string>;
  highlight?: HighlightMemo;
  /** Links to the site's pages (by their href in lower case, without `./` and `#...`). */
  siteLinks?: Map<string, SiteLink>;
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
  if (state && cell) {
    // A solution's diagram would give it away: it is folded with it.
    const html = state.renderCell(cell) + (state.afterCell.get(cell) ?? "");
    return cell.attrs.solution ? solutionHtml(cell, html) : html;
  }
  if (token.info.trim().split(/\s+/)[0] === "hint") return hintHtml(token.content);
  return codeBlock(token.content, token.info.trim().split(/\s+/)[0] ?? "", state?.highlight);
};
// A heading is a link to itself, so its accessible name is its own text; one that holds a link of
// its own (links do not nest) gets a "#" beside it instead, hidden from screen readers.
md.renderer.rules.heading_open = (tokens, idx, _options, env) => {
  const token = tokens[idx]!;
  const state = stateOf(env);
  const heading = state?.ids.get(token);
  if (!heading) return `<${token.tag}>`;
  const open = `<${token === state!.promoted ? "h1" : token.tag} id="${escapeHtml(heading.id)}">`;
  if (tokens[idx + 2] === state!.titleClose || hasLink(tokens[idx + 1]!)) return open;
  return `${open}<a class="heading-link" href="#${escapeHtml(heading.id)}">`;
};
md.renderer.rules.heading_close = (tokens, idx, _options, env) => {
  const token = tokens[idx]!;
  const state = stateOf(env);
  if (state && token === state.titleClose) return `</${state.promoted ? "h1" : token.tag}>\n${state.afterTitle}`;
  const heading = state?.ids.get(tokens[idx - 2]!);
  if (!heading) return `</${token.tag}>\n`;
  if (!hasLink(tokens[idx - 1]!)) return `</a></${token.tag}>\n`;
  return ` <a class="anchor" href="#${escapeHtml(heading.id)}" aria-hidden="true" tabindex="-1">#</a></${token.tag}>\n`;
};
/** Where a link from the front page's prose to one of the site's pages goes, and what follows it. */
export interface SiteLink {
  /** The page's file in the site: a link to `lec3.md` goes to `lec3.html`. */
  href: string;
  /** HTML after the link: how the page's cells did. */
  note: string;
}
const siteLink = (env: unknown, token: Token | undefined) => {
  const href = String(token?.attrGet("href") ?? "");
  return stateOf(env)?.siteLinks?.get(href.split("#")[0]!.replace(/^\.\//, "").toLowerCase());
};
md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
  const token = tokens[idx]!;
  const target = siteLink(env, token);
  if (!target) return self.renderToken(tokens, idx, options);
  // A copy with the new href: tokens are never changed.
  const hash = String(token.attrGet("href")).replace(/^[^#]*/, "");
  const copy = Object.assign(Object.create(Object.getPrototypeOf(token) as object) as Token, token, { attrs: (token.attrs ?? []).map(([k, v]) => [k, k === "href" ? target.href + hash : v]) });
  return self.renderToken([copy], 0, options);
};
md.renderer.rules.link_close = (tokens, idx, options, env, self) => {
  let open = idx;
  while (open > 0 && tokens[open]!.type !== "link_open") open--;
  return self.renderToken(tokens, idx, options) + (siteLink(env, tokens[open])?.note ?? "");
};
// A header cell with nothing in it (the corner of a table) is an ordinary cell: an empty header
// names no column for a screen reader.
const blank = (t: Token | undefined) => t?.type === "inline" && t.content.trim() === "";
md.renderer.rules.th_open = (tokens, idx, options, _env, self) =>
  tokens[idx + 1]?.type === "th_close" || blank(tokens[idx + 1]) ? "<td>" : self.renderToken(tokens, idx, options);
md.renderer.rules.th_close = (tokens, idx, options, _env, self) =>
  tokens[idx - 1]?.type === "th_open" || blank(tokens[idx - 1]) ? "</td>\n" : self.renderToken(tokens, idx, options);
const hasLink = (inline: Token) => (inline.children ?? []).some((c) => c.type === "link_open");
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
const cellLink = (prefix: string, name: string, text = name) => `<a href="${cellHref(prefix, name)}">${escapeHtml(text)}</a>`;

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
function renderCell(cell: Cell, result: CellResult | null, ctx: PageContext, prefix: string, tag = "section"): string {
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

/** UTC, so the same run renders the same HTML on every machine. */
function formatWhen(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return escapeHtml(iso);
  const text = `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
  return `<time datetime="${escapeHtml(date.toISOString())}">${text}</time>`;
}

/** When it ran, on what, for how long, and how many cells passed; failures linked. */
function runSummary(page: Page, result: PageResult | null, ctx: PageContext, prefix: string): string {
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
    const cells = page.cells.filter((c) => c.token > head.token && c.token < end).map((c) => ({ name: c.name, ...status(c) }));
    const marks = cells.map((c) => `<span class="mark mark-${c.kind}" title="${escapeHtml(`${c.name}: ${c.label}`)}">${MARKS[c.kind] ?? "○"}</span>`).join("");
    const said = cells.map((c) => `${c.name} ${c.label}`).join(", ");
    const nested = subs.length ? `<ol>${subs.map((h) => `<li>${link(h)}</li>`).join("")}</ol>` : "";
    return `<li>${link(head)}${marks ? ` <span class="marks" aria-hidden="true">${marks}</span><span class="visually-hidden">: ${escapeHtml(said)}</span>` : ""}${nested}</li>`;
  });
  return `<ol class="toc">${items.join("")}</ol>`;
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
function diagrams(page: Page, result: PageResult | null, prefix: string, capture?: string): Pick<RenderState, "traces" | "afterCell"> {
  const source = traceSourceOf(result, capture);
  const traces = new Map<Token, string>();
  // The network block: what it describes, in place of its fence.
  const netToken = page.network && page.tokens.find((t) => t.type === "fence" && t.map?.[0] === page.network!.line - 1);
  if (netToken) traces.set(netToken, networkFigure(page.network!, netToken.content));
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
    const diagram = drawn.length > 0 ? traceDiagram(eventsOf(ofRun(run), drawn), `${prefix}trace-${i + 1}`, order, source) : "";
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
        afterCell.set(last, (afterCell.get(last) ?? "") + traceDiagram(eventsOf(mine, group), `${prefix}trace-${++n}`, order, source));
      }
    }
  }
  return { traces, afterCell };
}

/** A page's own part, without the frame: its title, its contents list and its article. */
export interface Article {
  title: string;
  toc: string;
  html: string;
}

/** The article of a page; every id in it starts with `prefix` (empty for a page of its own). */
export function renderArticle(page: Page, result: PageResult | null, ctx: PageContext, prefix = "", siteLinks?: Map<string, SiteLink>): Article {
  const resultOf = new Map(pairResults(page.cells, result).map((p) => [p.cell, p.result]));
  const outline = headings(page).map((h) => ({ ...h, id: prefix + h.id }));
  const title = pageTitle(page);
  // Every page has one h1: its own, or its first heading when that is its title, or its title.
  const own = outline.find((h) => h.level === 1);
  const promoted = !own && outline[0]?.text === title && !frontMatter(page.source).data["title"] ? outline[0] : undefined;
  const h1 = own ?? promoted;
  const contents = toc(page, outline.filter((h) => h !== promoted), (c) => cellStatus(c, resultOf.get(c) ?? null));
  const header = runSummary(page, result, ctx, prefix) + (contents ? `<details class="toc-inline"><summary>On this page</summary>${contents}</details>\n` : "");
  const state: RenderState = {
    cells: new Map(page.cells.map((c) => [page.tokens[c.token]!, c])),
    hidden: new Set(page.cells.flatMap((c) => (c.expected ? [page.tokens[c.expected.token]!] : []))),
    ids: new Map(outline.map((h) => [page.tokens[h.token]!, h])),
    titleClose: h1 ? page.tokens[h1.token + 2]! : null,
    promoted: promoted ? page.tokens[promoted.token]! : null,
    afterTitle: header,
    renderCell: (cell) => renderCell(cell, resultOf.get(cell) ?? null, ctx, prefix),
    highlight: ctx.highlight,
    ...diagrams(page, result, prefix, ctx.capture),
    siteLinks,
  };
  const env: Env = { [STATE]: state };
  const prose = md.renderer.render(page.tokens.slice(bodyStart(page)), md.options, env);
  const top = h1 ? "" : `<h1>${escapeHtml(title)}</h1>\n${header}`;
  return { title, toc: contents, html: `<article class="page">\n${top}${prose}</article>\n` };
}

/**
 * A whole page as an HTML document. On the front page, `listing` is appended as a list of pages,
 * and its prose's links to the site's pages go to their HTML, followed by how their cells did.
 */
export function renderPage(page: Page, result: PageResult | null, ctx: PageContext, listing?: IndexEntry[], siteLinks?: Map<string, SiteLink>): string {
  const { title, toc: contents, html } = renderArticle(page, result, ctx, "", siteLinks);
  const main = `${html}${listing?.length ? `<section class="site-pages" aria-labelledby="site-pages">\n<h2 id="site-pages">${ctx.pages?.length ? "More pages" : "Pages"}</h2>\n${pageList(listing)}</section>\n` : ""}`;
  const source = page.path.split(/[\\/]/).at(-1) ?? page.path;
  const file = ctx.sources !== undefined ? `<a href="${escapeHtml(ctx.sources + encodeURIComponent(source))}" download>${escapeHtml(source)}</a>` : `<code>${escapeHtml(source)}</code>`;
  const slides = ctx.slides ? ` <a class="slides-link" href="${escapeHtml(ctx.slides)}">Show it as slides</a>.` : "";
  const footer = `<p class="built">Built by Lectern from ${file}.${slides}</p>\n`;
  return documentShell(ctx, { title, description: pageSummary(page), toc: contents, main, footer });
}

/** A page's tokens rendered a range at a time, as its article renders them, with its diagrams apart. */
export interface ArticleParts {
  render(from: number, to: number): string;
  /** Each network diagram, by the token it follows (a ```trace fence, or the last cell of a group). */
  diagrams: Map<number, string>;
}

/** For views of a page other than the page itself (slides.ts): the same cells, the diagrams kept apart. */
export function articleParts(page: Page, result: PageResult | null, ctx: PageContext): ArticleParts {
  const resultOf = new Map(pairResults(page.cells, result).map((p) => [p.cell, p.result]));
  const { traces, afterCell } = diagrams(page, result, "", ctx.capture);
  const tokenOf = new Map(page.tokens.map((t, i) => [t, i]));
  const found = new Map<number, string>();
  for (const [token, html] of traces) found.set(tokenOf.get(token)!, html);
  for (const [cell, html] of afterCell) found.set(cell.token, html);
  const state: RenderState = {
    cells: new Map(page.cells.map((c) => [page.tokens[c.token]!, c])),
    hidden: new Set([...page.cells.flatMap((c) => (c.expected ? [page.tokens[c.expected.token]!] : [])), ...traces.keys()]),
    ids: new Map(headings(page).map((h) => [page.tokens[h.token]!, h])),
    titleClose: null,
    promoted: null,
    afterTitle: "",
    renderCell: (cell) => renderCell(cell, resultOf.get(cell) ?? null, ctx, "", "div"),
    highlight: ctx.highlight,
    traces: new Map(),
    afterCell: new Map(),
  };
  const env: Env = { [STATE]: state };
  return { render: (from, to) => md.renderer.render(page.tokens.slice(from, to), md.options, env), diagrams: found };
}

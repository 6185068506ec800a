// Page + results -> HTML: prose through markdown-it (its rules are rules.ts), each cell with its
// code, transcript and status (cell.ts), a run summary and a table of contents (summary.ts), the
// diagrams where they go (figures.ts). The frame around it is layout.ts.
// Every id and in-page link carries a prefix, so that pages can share one document (print.html).
import type { Env } from "markdown-it";
import { pairResults } from "../outcome.ts";
import type { Page, PageResult } from "../types.ts";
import { cellStatus, renderCell } from "./cell.ts";
import { diagrams } from "./figures.ts";
import { escapeHtml } from "./html.ts";
import { documentShell, pageList, type IndexEntry, type PageContext } from "./layout.ts";
import { bodyStart, frontMatter, headings, pageSummary, pageTitle } from "./pagemeta.ts";
import { md, STATE, type RenderState, type SiteLink } from "./rules.ts";
import { runSummary, toc } from "./summary.ts";

export { formatDuration } from "../duration.ts";
export { escapeHtml } from "./html.ts";
export { stripAnsi } from "./ansi.ts";
export { cellFileName } from "./cell.ts";
export { frontMatter, pageSummary, pageTitle } from "./pagemeta.ts";
export { renderIndex, type IndexEntry, type NavLink, type PageContext } from "./layout.ts";
export type { SiteLink } from "./rules.ts";

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

// The frame around every page of a site: the document head, the site header with search and the
// course menu, the course's pages beside the page, previous/next, the page list of the index.
// Everything that comes from a page arrives here as text and is escaped here.
import type { HighlightMemo } from "../cache/memo.ts";
import { escapeHtml } from "./html.ts";

export interface NavLink {
  href: string;
  title: string;
}

/** Where a page sits in its site. Hrefs are relative to the page. */
export interface PageContext {
  index: string;
  /** The folder of the stylesheet and the copy script, ending in `/`. */
  assets: string;
  siteTitle: string;
  prev: NavLink | null;
  next: NavLink | null;
  /** The Node.js version the cells ran on, e.g. `v20.19.0`. */
  node: string;
  highlight?: HighlightMemo;
  /** The page's packet capture in the site, relative to the page (its diagrams link to it). */
  capture?: string;
  /** Every page of the course in reading order, the front page first: the course navigation. */
  pages?: NavLink[];
  /** This page's href among `pages`. */
  current?: string;
  /** Where this page's Markdown and its cells' sources are, relative to the page, ending in `/`. */
  sources?: string;
  /** The whole course on one page, to print. */
  print?: string;
  /** This page as slides (NAME.slides.html), when the build writes them. */
  slides?: string;
}

export interface IndexEntry {
  href: string;
  title: string;
  summary: string;
  passed: number;
  failed: number;
  skipped: number;
  total: number;
}

export const STYLESHEET = "lectern.css";
export const SCRIPT = "lectern.js";

// Defence in depth under the escaping: even injected markup could run no inline script, load
// nothing from the network, and send no form. 'self' covers the site's own files, also from file://.
export const CSP =
  "default-src 'none'; style-src 'self'; style-src-attr 'unsafe-inline'; script-src 'self'; img-src 'self' data:; " +
  "base-uri 'none'; form-action 'none'";

export interface Shell {
  title: string;
  description: string;
  /** Already HTML: the page's table of contents, under its entry in the course navigation. */
  toc: string;
  /** Already HTML: the page itself. */
  main: string;
  /** Already HTML: under the page. */
  footer: string;
}

export function documentShell(ctx: PageContext, shell: Shell): string {
  const description = shell.description ? `<meta name="description" content="${escapeHtml(shell.description)}">\n` : "";
  const title = shell.title === ctx.siteTitle ? shell.title : `${shell.title} · ${ctx.siteTitle}`;
  // The script is not deferred: it applies a remembered theme before the first paint.
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)}</title>
${description}<link rel="stylesheet" href="${escapeHtml(ctx.assets + STYLESHEET)}">
<script src="${escapeHtml(ctx.assets + SCRIPT)}"></script>
</head>
<body>
<a class="skip-link" href="#content">Skip to content</a>
<header class="site-header">${courseMenu(ctx)}<a class="site-title" href="${escapeHtml(ctx.index)}">${escapeHtml(ctx.siteTitle)}</a>${searchBox(ctx)}${headerNav(ctx)}</header>
<div class="layout">
${courseNav(ctx, shell.toc)}<main id="content">
${shell.main}</main>
<footer class="site-footer">
${pager(ctx)}${shell.footer}</footer>
</div>
</body>
</html>
`;
}

/** The course's pages, the current one marked, with its contents under it when given. */
function courseList(ctx: PageContext, toc: string): string {
  const items = (ctx.pages ?? []).map((p) => {
    const here = p.href === ctx.current;
    return `<li${here ? ` class="current"` : ""}><a href="${escapeHtml(p.href)}"${here ? ` aria-current="page"` : ""}>${escapeHtml(p.title)}</a>${here ? toc : ""}</li>`;
  });
  const print = ctx.print ? `<p class="course-print"><a href="${escapeHtml(ctx.print)}"${ctx.current === ctx.print ? ` aria-current="page"` : ""}>The whole course on one page</a></p>` : "";
  return `<ol class="course-pages">${items.join("")}</ol>${print}`;
}

/** Beside the page on wide screens: every page of the course, and this page's sections. */
function courseNav(ctx: PageContext, toc: string): string {
  if (!ctx.pages?.length) return toc ? `<nav class="course-side" aria-label="On this page">${toc}</nav>\n` : "";
  return `<nav class="course-side" aria-label="Course">${courseList(ctx, toc)}</nav>\n`;
}

/** On narrow screens the course's pages fold into a menu in the header; it opens without a script. */
function courseMenu(ctx: PageContext): string {
  if (!ctx.pages?.length) return "";
  return `<details class="course-menu"><summary><span class="menu-icon" aria-hidden="true"></span>Pages</summary><nav aria-label="Course">${courseList(ctx, "")}</nav></details>`;
}

/** The search box; the script shows it (search needs the script), and loads the index on first use. */
function searchBox(ctx: PageContext): string {
  const assets = escapeHtml(ctx.assets);
  return (
    `<div class="search" role="search" hidden data-assets="${assets}">` +
    `<label class="visually-hidden" for="search">Search the course</label>` +
    `<input id="search" type="search" placeholder="Search" autocomplete="off" spellcheck="false" aria-describedby="search-help" aria-controls="search-results">` +
    `<kbd class="search-key" aria-hidden="true">/</kbd>` +
    `<p id="search-help" class="visually-hidden">Press / to search; arrow keys move through the results.</p>` +
    `<div id="search-results" class="search-results" hidden></div></div>`
  );
}

/** Small previous/next arrows in the header; the full titles are at the foot of the page. */
function headerNav({ prev, next }: PageContext): string {
  if (!prev && !next) return "";
  const link = (l: NavLink | null, rel: string, text: string) =>
    l ? `<a href="${escapeHtml(l.href)}" title="${escapeHtml(l.title)}" aria-label="${rel === "prev" ? "Previous" : "Next"}: ${escapeHtml(l.title)}">${text}</a>` : `<span aria-hidden="true">${text}</span>`;
  return `<nav class="header-nav" aria-label="Pages">${link(prev, "prev", "←")}${link(next, "next", "→")}</nav>`;
}

function pager({ prev, next }: PageContext): string {
  if (!prev && !next) return "";
  const link = (l: NavLink | null, rel: "prev" | "next") =>
    l
      ? `<a rel="${rel}" href="${escapeHtml(l.href)}"><span class="pager-label">${rel === "prev" ? "← Previous" : "Next →"}</span><span class="pager-title">${escapeHtml(l.title)}</span></a>`
      : "<span></span>";
  return `<nav class="pager" aria-label="Previous and next page">${link(prev, "prev")}${link(next, "next")}</nav>\n`;
}

/** How a page's cells did, as small pills. */
export function counts(e: IndexEntry): string {
  if (e.total === 0) return `<span class="pill">no cells</span>`;
  if (e.passed + e.failed === 0) return `<span class="pill pill-notrun">${e.skipped ? `${e.skipped} skipped` : "not run"}</span>`;
  const pills = [`<span class="pill pill-passed">${e.passed} passed</span>`];
  if (e.failed) pills.push(`<span class="pill pill-failed">${e.failed} failed</span>`);
  if (e.skipped) pills.push(`<span class="pill">${e.skipped} skipped</span>`);
  return pills.join(" ");
}

/** The site's pages in reading order, each with its summary and how its cells did. */
export function pageList(entries: IndexEntry[]): string {
  const items = entries.map(
    (e) =>
      `<li><a class="page-link" href="${escapeHtml(e.href)}">${escapeHtml(e.title)}</a>` +
      (e.summary ? `<p class="summary">${escapeHtml(e.summary)}</p>` : "") +
      `<p class="counts">${counts(e)}</p></li>\n`,
  );
  return `<ol class="page-list">\n${items.join("")}</ol>\n`;
}

/** The generated front page, for a site without an index.md. */
export function renderIndex(entries: IndexEntry[], ctx: PageContext): string {
  const main = `<article class="page">\n<h1>${escapeHtml(ctx.siteTitle)}</h1>\n${pageList(entries)}</article>\n`;
  return documentShell(ctx, { title: ctx.siteTitle, description: "", toc: "", main, footer: "" });
}

// Pages + results -> a static site on disk: index.html, one HTML file per page with its sources,
// the printable course, the search index and the assets.
import { readFile } from "node:fs/promises";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { writeAtomic } from "../atomic.ts";
import type { HighlightMemo, PageMemo } from "../cache/memo.ts";
import { sha } from "../digest.ts";
import { ASSETS_DIR } from "../paths.ts";
import { pairResults, tally } from "../outcome.ts";
import { renderIndex, renderPage } from "./render.ts";
import { SOURCES, siteFiles, type SiteFiles, type WriteFile } from "./sitefiles.ts";
import { counts as countsHtml, SCRIPT, STYLESHEET, type IndexEntry, type PageContext } from "./layout.ts";
import { renderPrint } from "./print.ts";
import { minisearchVersion, searchDocuments, searchIndexScript, searchLibrary } from "./search.ts";
import { pageSummary, pageTitle } from "./pagemeta.ts";
import { copyCapture } from "../trace/capture.ts";
import { renderSlides, slideAssets, slidesWanted } from "./slides.ts";
import type { Page, PageResult } from "../types.ts";

export type { WriteFile } from "./sitefiles.ts";

interface SitePage {
  page: Page;
  result: PageResult | null;
}

export interface SiteOptions {
  /** The Node.js version the cells ran on; this process's by default. */
  node?: string;
  highlight?: HighlightMemo;
  /** Pages written before from the same inputs, which need not be rendered or written again. */
  pages?: PageMemo;
  /** Slides (NAME.slides.html) for every page, not only those whose front matter says `slides: true`. */
  slides?: boolean;
}

// The renderer's own version is in the key: the bundle's file name carries the hash of its sources.
const RENDERER = import.meta.url;

function pageKey(page: Page, result: PageResult | null, ctx: PageContext): string {
  const { highlight: _, ...rest } = ctx;
  // A cell's events are in the key as a digest of its records (TraceRecords.toJSON), not decoded.
  return sha(RENDERER, page.source, JSON.stringify(result), JSON.stringify(rest));
}

const ASSETS = "assets/";
const SEARCH_LIBRARY = "minisearch.js";
const SEARCH_INDEX = "search-index.js";
export const PRINT_PAGE = "print.html";

/** The site's pages, their names and reading order, and what every page's frame shares. */
function siteMap(pages: SitePage[], options: SiteOptions) {
  const home = pages.find((p) => basename(p.page.path).toLowerCase() === "index.md") ?? null;
  const names = new Map<SitePage, string>();
  const rest = pages.filter((p) => p !== home);
  outputNames(rest.map((p) => p.page.path), ["index", PRINT_PAGE.replace(".html", "")]).forEach((name, i) => names.set(rest[i]!, name));
  const { ordered: others, linked } = home ? readingOrder(home.page, rest, names) : { ordered: rest, linked: new Map<string, SitePage>() };
  const links = others.map((p) => ({ href: encodeURIComponent(`${names.get(p)}.html`), title: pageTitle(p.page) }));
  const entries: IndexEntry[] = others.map((p, i) => ({ ...links[i]!, summary: pageSummary(p.page), ...counts(p) }));
  const siteTitle = home ? pageTitle(home.page) : "Lectern";
  const course = [{ href: "index.html", title: siteTitle }, ...links];
  const base = { index: "index.html", assets: ASSETS, siteTitle, node: options.node ?? process.version, highlight: options.highlight, pages: course, print: PRINT_PAGE };
  return { home, others, names, linked, links, entries, siteTitle, course, base };
}

/** The stylesheet, the script, the slides' assets when there are slides, MiniSearch and the search index. */
async function writeAssets(files: SiteFiles, indexed: { page: Page; href: string }[], withSlides: boolean): Promise<void> {
  for (const asset of [STYLESHEET, SCRIPT]) {
    const text = await readFile(join(ASSETS_DIR, asset), "utf8");
    await files.put(ASSETS + asset, text, sha(text));
  }
  if (withSlides) for (const [asset, text] of await slideAssets()) await files.put(ASSETS + asset, text, sha(text));
  await files.put(ASSETS + SEARCH_LIBRARY, searchLibrary, sha(RENDERER, minisearchVersion()));
  // The index is made of the pages' sources alone: they are its key, and it is made only when one changed.
  const docs = () => searchIndexScript(indexed.flatMap((p) => searchDocuments(p.page, p.href)));
  await files.put(ASSETS + SEARCH_INDEX, docs, sha(RENDERER, minisearchVersion(), ...indexed.flatMap((p) => [p.href, p.page.source])));
}

/**
 * Writes the site and returns the paths written: the assets, every page with its Markdown and its
 * cells' sources under src/NAME/, the search index, the printable course, and index.html last.
 * Pages come in the order index.md links to them, then the rest in the order given.
 */
export async function writeSite(outDir: string, pages: SitePage[], write: WriteFile = writeAtomic, options: SiteOptions = {}): Promise<string[]> {
  const { home, others, names, linked, links, entries, siteTitle, course, base } = siteMap(pages, options);
  const memo = options.pages;
  const files = siteFiles(outDir, write, memo);
  const slides = (p: SitePage) => options.slides === true || slidesWanted(p.page);
  await writeAssets(files, [...(home ? [home] : []), ...others].map((p) => ({ page: p.page, href: p === home ? "index.html" : `${names.get(p)}.html` })), pages.some(slides));
  const slidesLink = (p: SitePage, name: string) => (slides(p) ? { slides: `${encodeURIComponent(name)}.slides.html` } : {});
  const putSlides = async (p: SitePage, name: string, ctx: PageContext) => {
    if (slides(p)) await files.put(`${name}.slides.html`, () => renderSlides(p.page, p.result, ctx, `${encodeURIComponent(name)}.html`), memo ? sha(pageKey(p.page, p.result, ctx), "slides") : undefined);
  };
  const keys: string[] = [];
  const putPage = (p: SitePage, name: string, ctx: PageContext, html: () => string, extra = "") => {
    const key = memo ? sha(pageKey(p.page, p.result, ctx), extra) : "";
    keys.push(key);
    return files.page(name, p.page, key, html);
  };
  // A page run's capture goes beside the page on disk (a site kept in memory, as serve's, has none).
  const pcap = async (p: SitePage, name: string) => {
    const capture = write === writeAtomic ? await copyCapture(p.result, outDir, `${name}.pcap`, files.written) : null;
    return capture ? { capture: encodeURIComponent(capture) } : {};
  };
  for (const [i, p] of others.entries()) {
    if (files.failed()) break;
    const name = names.get(p)!;
    const ctx: PageContext = { ...base, current: links[i]!.href, sources: sourceDir(name), prev: links[i - 1] ?? { href: "index.html", title: siteTitle }, next: links[i + 1] ?? null, ...(await pcap(p, name)), ...slidesLink(p, name) };
    await putPage(p, name, ctx, () => renderPage(p.page, p.result, ctx));
    await putSlides(p, name, ctx);
  }
  await files.settle();
  const ctx: PageContext = { ...base, current: "index.html", prev: null, next: links[0] ?? null, ...(home ? { sources: sourceDir("index"), ...(await pcap(home, "index")), ...slidesLink(home, "index") } : {}) };
  // The whole course on one page, to print: made again whenever any page was.
  const printable = [...(home ? [{ ...home, name: "index" }] : []), ...others.map((p) => ({ ...p, name: names.get(p)! }))];
  const homeKey = home && memo ? pageKey(home.page, home.result, ctx) : "";
  await files.put(PRINT_PAGE, () => renderPrint(printable, { ...base, current: PRINT_PAGE, prev: null, next: null }), sha(RENDERER, homeKey, ...keys, JSON.stringify(course)));
  // Written last, so an index never links to a page that is not there yet.
  if (!home) {
    // Keyed by its own text: a build that changed nothing writes nothing, the index included.
    const index = renderIndex(entries, ctx);
    await files.put("index.html", index, sha(index));
  } else {
    // The pages index.md links to get their counts beside the link; only the others are listed below it.
    const notes = new Map([...linked].map(([href, p]) => {
      const entry = entries[others.indexOf(p)]!;
      return [href, { href: entry.href, note: ` ${countsHtml(entry)}` }];
    }));
    const unlisted = entries.filter((_, i) => ![...linked.values()].includes(others[i]!));
    await putPage(home, "index", ctx, () => renderPage(home.page, home.result, ctx, unlisted, notes), JSON.stringify(entries));
    await putSlides(home, "index", ctx);
    await files.settle();
  }
  return files.written;
}

/** Where a page's Markdown and its cells' sources are, as a link from the site's root (and its pages). */
const sourceDir = (name: string) => `${SOURCES}${encodeURIComponent(name)}/`;

/**
 * The pages index.md links to, in the order it links to them (by .md or .html name), then the
 * others; and which page each of its links (lower case, without `./` and `#...`) points to.
 */
function readingOrder(home: Page, pages: SitePage[], names: Map<SitePage, string>): { ordered: SitePage[]; linked: Map<string, SitePage> } {
  const byHref = new Map<string, SitePage>();
  for (const p of pages) {
    byHref.set(`${names.get(p)}.html`.toLowerCase(), p);
    byHref.set(relative(dirname(resolve(home.path)), resolve(p.page.path)).split(sep).join("/").toLowerCase(), p);
  }
  const ordered: SitePage[] = [];
  const linked = new Map<string, SitePage>();
  const links = home.tokens.flatMap((t) => t.children ?? []).filter((t) => t.type === "link_open");
  for (const link of links) {
    const href = String(link.attrGet("href") ?? "").split("#")[0]!.replace(/^\.\//, "");
    const raw = href.toLowerCase();
    let key: string;
    try {
      key = decodeURIComponent(href).toLowerCase();
    } catch {
      continue;
    }
    const p = byHref.get(key);
    if (p) linked.set(raw, p);
    if (p && !ordered.includes(p)) ordered.push(p);
  }
  return { ordered: [...ordered, ...pages.filter((p) => !ordered.includes(p))], linked };
}

function counts({ page, result }: SitePage): { passed: number; failed: number; skipped: number; total: number } {
  const { passed, failed, skipped, total } = tally(pairResults(page.cells, result).map((p) => p.result));
  return { passed, failed, skipped, total };
}

/** Safe file-name characters; letters of any script stay. */
function slug(text: string): string {
  return text.replace(/[^\p{L}\p{N}._-]+/gu, "-").replace(/^[.-]+|-+$/g, "") || "page";
}

/**
 * One output name (without .html) per page: its base name, or, where base names clash, its path
 * below the clashing pages' common folder; any clash left gets -2, -3 in the given order.
 * Names compare case-insensitively, as they do on macOS and Windows disks.
 */
export function outputNames(paths: string[], reserved: string[] = []): string[] {
  const base = (p: string) => slug(basename(p).replace(/\.md$/i, ""));
  const groups = new Map<string, string[]>();
  for (const p of paths) groups.set(base(p).toLowerCase(), [...(groups.get(base(p).toLowerCase()) ?? []), resolve(p)]);
  const wanted = paths.map((p) => {
    const group = groups.get(base(p).toLowerCase())!;
    if (group.length === 1) return base(p);
    return slug(relative(commonDir(group), resolve(p)).replace(/\.md$/i, "").split(sep).join("-"));
  });
  const taken = new Set(reserved.map((r) => r.toLowerCase()));
  return wanted.map((w) => {
    let name = w;
    for (let n = 2; taken.has(name.toLowerCase()); n++) name = `${w}-${n}`;
    taken.add(name.toLowerCase());
    return name;
  });
}

function commonDir(paths: string[]): string {
  let dir = dirname(paths[0]!);
  while (!paths.every((p) => p.startsWith(dir + sep)) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

// Pages + results -> a static site on disk: index.html, one HTML file per page, the assets.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { writeAtomic } from "../atomic.ts";
import type { HighlightMemo, PageMemo } from "../cache/memo.ts";
import { createLimiter } from "../execute/limit.ts";
import { ASSETS_DIR } from "../paths.ts";
import { pairResults, tally } from "../outcome.ts";
import { renderIndex, renderPage } from "./render.ts";
import { SCRIPT, STYLESHEET, type IndexEntry, type PageContext } from "./layout.ts";
import { pageSummary, pageTitle } from "./pagemeta.ts";
import type { Page, PageResult } from "../types.ts";

export type WriteFile = (path: string, data: string) => Promise<void>;

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
}

// The renderer's own version is in the key: the bundle's file name carries the hash of its sources.
const RENDERER = import.meta.url;

function pageKey(page: Page, result: PageResult | null, ctx: PageContext): string {
  const { highlight: _, ...rest } = ctx;
  // A cell's events are in the key as a digest of its records (TraceRecords.toJSON), not decoded.
  return createHash("sha256").update(RENDERER).update("\0").update(page.source).update("\0").update(JSON.stringify(result)).update("\0").update(JSON.stringify(rest)).digest("hex");
}

const ASSETS = "assets/";

/**
 * Writes the site and returns the paths written: the assets, every page, and index.html last.
 * Pages come in the order index.md links to them, then the rest in the order given.
 */
export async function writeSite(outDir: string, pages: SitePage[], write: WriteFile = writeAtomic, options: SiteOptions = {}): Promise<string[]> {
  const home = pages.find((p) => basename(p.page.path).toLowerCase() === "index.md") ?? null;
  const names = new Map<SitePage, string>();
  const rest = pages.filter((p) => p !== home);
  outputNames(rest.map((p) => p.page.path), ["index"]).forEach((name, i) => names.set(rest[i]!, name));
  const others = home ? readingOrder(home.page, rest, names) : rest;
  const links = others.map((p) => ({ href: encodeURIComponent(`${names.get(p)}.html`), title: pageTitle(p.page) }));
  const entries: IndexEntry[] = others.map((p, i) => ({ ...links[i]!, summary: pageSummary(p.page), ...counts(p) }));
  const siteTitle = home ? pageTitle(home.page) : "Lectern";
  const base = { index: "index.html", assets: ASSETS, siteTitle, node: options.node ?? process.version, highlight: options.highlight };

  const written: string[] = [];
  const put = async (name: string, data: string) => {
    const path = join(outDir, name);
    await write(path, data);
    written.push(path);
  };
  for (const asset of [STYLESHEET, SCRIPT]) {
    await put(ASSETS + asset, await readFile(join(ASSETS_DIR, asset), "utf8"));
  }
  // Pages are rendered one by one (that is CPU) while earlier ones are still being written.
  const pending: Promise<void>[] = [];
  const writes = createLimiter(16);
  let failed: unknown = null;
  for (const [i, p] of others.entries()) {
    if (failed) break;
    const ctx: PageContext = { ...base, prev: links[i - 1] ?? { href: "index.html", title: siteTitle }, next: links[i + 1] ?? null };
    const name = `${names.get(p)}.html`;
    const key = options.pages ? pageKey(p.page, p.result, ctx) : "";
    // Unchanged and still there: not written, so not counted as written.
    if (options.pages?.fresh(join(outDir, name), key)) continue;
    const html = renderPage(p.page, p.result, ctx);
    const release = await writes.acquire();
    // Caught at once (a rejection must not wait unhandled for the loop), thrown below.
    pending.push(
      put(name, html)
        .then(() => options.pages?.record(join(outDir, name), key))
        .catch((err: unknown) => void (failed ??= err))
        .finally(release),
    );
  }
  await Promise.all(pending);
  if (failed) throw failed;
  // Written last, so an index never links to a page that is not there yet.
  const ctx: PageContext = { ...base, prev: null, next: links[0] ?? null };
  await put("index.html", home ? renderPage(home.page, home.result, ctx, entries) : renderIndex(entries, ctx));
  return written;
}

/** The pages index.md links to, in the order it links to them (by .md or .html name), then the others. */
function readingOrder(home: Page, pages: SitePage[], names: Map<SitePage, string>): SitePage[] {
  const byHref = new Map<string, SitePage>();
  for (const p of pages) {
    byHref.set(`${names.get(p)}.html`.toLowerCase(), p);
    byHref.set(relative(dirname(resolve(home.path)), resolve(p.page.path)).split(sep).join("/").toLowerCase(), p);
  }
  const ordered: SitePage[] = [];
  const links = home.tokens.flatMap((t) => t.children ?? []).filter((t) => t.type === "link_open");
  for (const link of links) {
    const href = String(link.attrGet("href") ?? "").split("#")[0]!.replace(/^\.\//, "");
    let key: string;
    try {
      key = decodeURIComponent(href).toLowerCase();
    } catch {
      continue;
    }
    const p = byHref.get(key);
    if (p && !ordered.includes(p)) ordered.push(p);
  }
  return [...ordered, ...pages.filter((p) => !ordered.includes(p))];
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

// Pages + results -> a static site on disk: index.html, one HTML file per page, the stylesheet.
import { readFile } from "node:fs/promises";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { writeAtomic } from "./atomic.ts";
import { pageSummary, pageTitle, renderIndex, renderPage, STYLESHEET } from "./render.ts";
import type { IndexEntry } from "./render.ts";
import type { Page, PageResult } from "./types.ts";

export type WriteFile = (path: string, data: string) => Promise<void>;

interface SitePage {
  page: Page;
  result: PageResult | null;
}

/** Writes the site and returns the paths written: the stylesheet, every page, and index.html last. */
export async function writeSite(outDir: string, pages: SitePage[], write: WriteFile = writeAtomic): Promise<string[]> {
  const home = pages.find((p) => basename(p.page.path).toLowerCase() === "index.md") ?? null;
  const others = pages.filter((p) => p !== home);
  const names = outputNames(others.map((p) => p.page.path), ["index"]);
  const links = others.map((p, i) => ({ href: encodeURIComponent(`${names[i]}.html`), title: pageTitle(p.page) }));
  const entries: IndexEntry[] = others.map((p, i) => ({ ...links[i]!, summary: pageSummary(p.page), ...counts(p) }));

  const written: string[] = [];
  const put = async (name: string, data: string) => {
    const path = join(outDir, name);
    await write(path, data);
    written.push(path);
  };
  await put(STYLESHEET, await readFile(new URL("./assets/lectern.css", import.meta.url), "utf8"));
  for (const [i, p] of others.entries()) {
    const nav = { index: "index.html", prev: links[i - 1] ?? null, next: links[i + 1] ?? null, css: STYLESHEET };
    await put(`${names[i]}.html`, renderPage(p.page, p.result, nav));
  }
  // Written last, so an index never links to a page that is not there yet.
  const index = home
    ? renderPage(home.page, home.result, { index: "index.html", prev: null, next: links[0] ?? null, css: STYLESHEET }, entries)
    : renderIndex(entries);
  await put("index.html", index);
  return written;
}

function counts({ page, result }: SitePage): { passed: number; failed: number; total: number } {
  const cells = result?.cells ?? [];
  const passed = cells.filter((c) => c.status === "passed").length;
  const failed = cells.filter((c) => c.status === "failed" || c.status === "timeout").length;
  return { passed, failed, total: page.cells.length };
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

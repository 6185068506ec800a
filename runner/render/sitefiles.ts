// The site's files as they are written. A file whose key is unchanged and which is still there is
// neither made nor written again. A page's files (its Markdown and its cells' sources under
// src/NAME/, then its HTML, last, so its key is recorded once its sources are there) are written
// while the next page is rendered, 16 writes at most at once; the first failure is thrown when the
// writes are waited for. `written` lists what was written, in order.
import { basename, join } from "node:path";
import type { PageMemo } from "../cache/memo.ts";
import { createLimiter } from "../execute/limit.ts";
import type { Cell, Page } from "../types.ts";
import { cellFileName } from "./cell.ts";

export type WriteFile = (path: string, data: string) => Promise<void>;

/** Where each page's Markdown and its cells' sources go, under a folder of the page's name. */
export const SOURCES = "src/";

export interface SiteFiles {
  written: string[];
  /** One file, `data` made only when it must be written; unchanged and still there with a key, skipped. */
  put(name: string, data: string | (() => string | Promise<string>), key?: string): Promise<void>;
  /** A page's HTML (NAME.html) with its sources; `key` is "" without a memo. Its writes go on in the background. */
  page(name: string, page: Page, key: string, html: () => string): Promise<void>;
  /** Whether a page's write has failed yet: the caller stops rendering. */
  failed(): boolean;
  /** Waits for the pages' writes; throws the first failure. */
  settle(): Promise<void>;
}

export function siteFiles(outDir: string, write: WriteFile, memo: PageMemo | undefined): SiteFiles {
  const written: string[] = [];
  const pending: Promise<void>[] = [];
  const writes = createLimiter(16);
  let failure: unknown = null;
  return {
    written,
    async put(name, data, key) {
      const path = join(outDir, name);
      if (key !== undefined && memo?.fresh(path, key)) return;
      await write(path, typeof data === "string" ? data : await data());
      if (key !== undefined) memo?.record(path, key);
      written.push(path);
    },
    async page(name, page, key, html) {
      const file = join(outDir, `${name}.html`);
      const markdown = join(outDir, SOURCES, name, basename(page.path));
      const cellFile = (c: Cell) => join(outDir, SOURCES, name, cellFileName(c));
      if (memo?.fresh(file, key) && memo.fresh(markdown, key)) return;
      // Rendered here, in turn (that is CPU), while earlier pages are still being written.
      const rendered = html();
      const release = await writes.acquire();
      const files: [string, string][] = [[markdown, page.source], ...page.cells.map((c): [string, string] => [cellFile(c), c.code])];
      // Caught at once (a rejection must not wait unhandled for the caller's loop), thrown by settle().
      pending.push(
        Promise.all(files.map(([path, data]) => write(path, data).then(() => void written.push(path))))
          .then(() => write(file, rendered))
          .then(() => {
            written.push(file);
            memo?.record(file, key);
            memo?.record(markdown, key);
          })
          .catch((err: unknown) => void (failure ??= err))
          .finally(release),
      );
    },
    failed: () => failure !== null,
    async settle() {
      await Promise.all(pending);
      if (failure) throw failure;
    },
  };
}

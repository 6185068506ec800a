// The course's search index, built at build time: every page cut into its sections (heading and
// prose) and its cells (name and code), indexed with MiniSearch and written as a script the pages
// load on first use (a script, not JSON: a file:// page may not fetch). The client is
// assets/lectern.js with MiniSearch bundled from node_modules by esbuild (searchLibrary).
import { createRequire } from "node:module";
import { join } from "node:path";
import { ASSETS_DIR } from "../paths.ts";
import { bodyStart, headings, inlineText, pageTitle } from "./pagemeta.ts";
import type { Page } from "../types.ts";

/** One thing a search can find: a section of a page, or a cell. */
export interface SearchDoc {
  /** What the result shows: the heading's text or the cell's name. */
  title: string;
  /** Where it is: the page's title, and for a cell or a subsection the section it is in. */
  where: string;
  /** The link: `page.html#heading` or `page.html#cell-NAME`. */
  href: string;
  /** The words searched besides the title: prose, or code. */
  text: string;
}

// The client (assets/lectern.js) loads the index with the same fields and the same tokenizer.
export const SEARCH_FIELDS = ["title", "text"];
const STORE_FIELDS = ["title", "where", "href"];
// Words are letters, digits and `_`: `dgram.createSocket("udp4")` is dgram, createSocket, udp4.
const tokenize = (text: string) => text.split(/[^\p{L}\p{N}_]+/u).filter((w) => w.length > 0);
// The commonest English words find everything and would be a fifth of the index: they are left out
// (of the index and of queries alike; the client has the same list).
export const STOP_WORDS = "a an and are as at be but by for from has have in into is it its not of on or so than that the their then there these this to was were which will with".split(" ");
const stop = new Set(STOP_WORDS);
const processTerm = (term: string) => {
  const word = term.toLowerCase();
  return word.length < 2 || stop.has(word) ? null : word;
};

/** A page's sections and cells, in page order; `href` is the page's file in the site. */
export function searchDocuments(page: Page, href: string): SearchDoc[] {
  const title = pageTitle(page);
  const byToken = new Map(headings(page).map((h) => [h.token, h]));
  const cells = new Map(page.cells.map((c) => [c.token, c]));
  const hidden = new Set(page.cells.flatMap((c) => (c.expected ? [c.expected.token] : [])));
  const docs: SearchDoc[] = [];
  // The part before the first heading is kept only if it has words; a heading is always kept.
  let section: SearchDoc = { title, where: "", href, text: "" };
  const before = section;
  let h2 = "";
  const tokens = page.tokens;
  for (let i = bodyStart(page); i < tokens.length; i++) {
    const t = tokens[i]!;
    const heading = byToken.get(i);
    if (heading) {
      if (section !== before || section.text.trim()) docs.push(section);
      if (heading.level <= 2) h2 = heading.level === 2 ? heading.text : "";
      const where = heading.level > 2 && h2 ? `${title} › ${h2}` : title;
      section = heading.level === 1 ? { title, where: "", href, text: "" } : { title: heading.text, where, href: `${href}#${heading.id}`, text: "" };
      i++; // the heading's own inline token is its title
      continue;
    }
    const cell = cells.get(i);
    // A solution is folded on its page; search must not show its code to whoever searches the course.
    if (cell?.attrs.solution) continue;
    if (cell) docs.push({ title: cell.name, where: h2 ? `${title} › ${h2}` : title, href: `${href}#cell-${encodeURIComponent(cell.name)}`, text: cell.code });
    else if (t.type === "inline") section.text += `${inlineText(t)}\n`;
    else if ((t.type === "fence" || t.type === "code_block") && !hidden.has(i)) section.text += t.content;
  }
  docs.push(section);
  return docs;
}

/** The index as a script that hands it to the pages' search: `lecternSearch({...})`. */
export async function searchIndexScript(docs: SearchDoc[]): Promise<string> {
  const { default: MiniSearch } = await import("minisearch");
  const search = new MiniSearch<SearchDoc & { id: number }>({ fields: SEARCH_FIELDS, storeFields: STORE_FIELDS, tokenize: (text) => tokenize(text), processTerm });
  search.addAll(docs.map((d, id) => ({ id, ...d })));
  return `lecternSearch(${JSON.stringify({ fields: SEARCH_FIELDS, storeFields: STORE_FIELDS, stopWords: STOP_WORDS, index: search.toJSON() })});\n`;
}

let library: Promise<string> | null = null;

/**
 * MiniSearch for the browser: bundled from node_modules by esbuild into one minified script that
 * defines `MiniSearch`, once per process (a cached rebuild that writes no asset never asks).
 */
export function searchLibrary(): Promise<string> {
  library ??= (async () => {
    const { build } = await import("esbuild");
    const out = await build({
      stdin: { contents: `import MiniSearch from "minisearch";\nglobalThis.MiniSearch = MiniSearch;\n`, resolveDir: ASSETS_DIR, loader: "js" },
      bundle: true, minify: true, format: "iife", target: "es2019", write: false, legalComments: "none", logLevel: "silent",
    });
    return `/* MiniSearch ${minisearchVersion()} (MIT), bundled by Lectern */\n${out.outputFiles[0]!.text}`;
  })();
  return library;
}

/** The version of MiniSearch in node_modules: part of the key of the bundled file. */
export function minisearchVersion(): string {
  const require = createRequire(join(ASSETS_DIR, "x.js"));
  const main = require.resolve("minisearch");
  return (require(join(main.slice(0, main.lastIndexOf("node_modules") + 12), "minisearch", "package.json")) as { version: string }).version;
}

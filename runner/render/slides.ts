// Page + results -> NAME.slides.html, reveal.js slides from the same page: a slide per `##`
// heading, a thematic break (`---` under a blank line) splits one further, every cell with its
// highlighted code and real output as on the page, each network diagram on a slide of its own,
// and speaker notes from `> notes:` block quotes and HTML comments. reveal.js and the script
// that starts it are files of the site's assets: the page's policy allows no inline script.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { Token } from "markdown-it";
import { LecternError } from "../errors.ts";
import { createMarkdown } from "../extract/markdown.ts";
import { ASSETS_DIR } from "../paths.ts";
import { escapeHtml } from "./html.ts";
import { CSP, STYLESHEET, type PageContext } from "./layout.ts";
import { bodyStart, frontMatter, pageTitle } from "./pagemeta.ts";
import { articleParts } from "./render.ts";
import type { Page, PageResult } from "../types.ts";

/** The site's assets the slides need, besides the site's own stylesheet. */
export const SLIDE_ASSETS = ["reveal.js", "reveal.css", "slides.js", "slides.css"] as const;

/** Front matter `slides: true` (or false); any other value is an error at its line. */
export function slidesWanted(page: Page): boolean {
  const { data, lines } = frontMatter(page.source);
  const raw = data["slides"];
  if (raw === undefined || raw === "false") return false;
  if (raw === "true") return true;
  const line = 1 + page.source.split(/\r\n|\r|\n/).slice(0, lines).findIndex((l) => l.startsWith("slides:"));
  throw new LecternError("E_ATTR_VALUE", `front matter slides: takes true or false, not "${raw}"`, { file: page.path, line });
}

/** The assets as text, by their name in the site: reveal.js from its package, the rest from assets/. */
export async function slideAssets(): Promise<[string, string][]> {
  const require = createRequire(import.meta.url);
  const reveal: Record<string, string> = { "reveal.js": require.resolve("reveal.js"), "reveal.css": require.resolve("reveal.js/reveal.css") };
  const from = (name: string) => reveal[name] ?? join(ASSETS_DIR, name);
  return Promise.all(SLIDE_ASSETS.map(async (name): Promise<[string, string]> => [name, await readFile(from(name), "utf8")]));
}

interface Slide {
  html: string;
  notes: string[];
  /** The page line it starts at (0 for the title slide), to place HTML comments' notes. */
  line: number;
  diagram: boolean;
}

/** `> notes: ...`: a top-level block quote whose first paragraph starts with `notes:`. */
function isNotes(tokens: Token[], i: number): boolean {
  return tokens[i]!.type === "blockquote_open" && tokens[i + 1]?.type === "paragraph_open" && /^notes:/i.test(tokens[i + 2]?.content ?? "");
}

/** The index of the token that closes the block opened at `i`. */
function closeOf(tokens: Token[], i: number): number {
  let depth = 0;
  for (let j = i; j < tokens.length; j++) {
    depth += tokens[j]!.nesting;
    if (depth === 0) return j;
  }
  return tokens.length - 1;
}

/** A diagram's slide is headed by its own title (already escaped, in the SVG's <title>). */
const diagramHeading = (html: string) => `<h2>${/<title[^>]*>([^<]*)<\/title>/.exec(html)?.[1] ?? "Network trace"}</h2>\n`;

/** The page cut into slides, in order; notes and diagrams are placed, empty slides dropped. */
export function cutSlides(page: Page, result: PageResult | null, ctx: PageContext): Slide[] {
  const parts = articleParts(page, result, ctx);
  const tokens = page.tokens;
  const slides: Slide[] = [];
  let start = bodyStart(page);
  let slide: Slide = { html: "", notes: [], line: 0, diagram: false };
  let pending: string[] = [];
  const flush = (end: number) => {
    slide.html += parts.render(start, end);
    start = end;
  };
  const next = (line: number) => {
    slides.push(slide);
    slide = { html: "", notes: [], line, diagram: false };
  };
  for (let i = start; i < tokens.length; i++) {
    const t = tokens[i]!;
    const diagram = parts.diagrams.get(i);
    if (diagram !== undefined) pending.push(diagram);
    if (t.level !== 0) continue;
    const line = (t.map?.[0] ?? 0) + 1;
    if (t.type === "heading_open" && t.tag === "h2") {
      flush(i);
      next(line);
    } else if (t.type === "hr") {
      flush(i);
      next(line);
      start = i + 1;
    } else if (isNotes(tokens, i)) {
      flush(i);
      const end = closeOf(tokens, i);
      slide.notes.push(parts.render(i + 1, end).replace(/^<p>notes:\s*/i, "<p>"));
      start = end + 1;
      i = end;
    } else if (t.nesting !== 1 && pending.length > 0) {
      // A diagram follows the block that holds its cell, on a slide of its own.
      flush(i + 1);
      next(line);
      for (const html of pending) slides.push({ html: diagramHeading(html) + html, notes: [], line, diagram: true });
      pending = [];
    }
  }
  flush(tokens.length);
  next(0);
  commentNotes(page, slides);
  // A slide with nothing on it gives its notes to the slide before it.
  const kept: Slide[] = [];
  for (const s of slides) {
    if (s.html.trim() === "" && kept.length > 0) kept.at(-1)!.notes.push(...s.notes);
    else kept.push(s);
  }
  return kept;
}

/**
 * HTML comments are speaker notes of the slide they are on (the page leaves them out). A comment
 * that holds a fence is code put aside, not a note.
 */
function commentNotes(page: Page, slides: Slide[]): void {
  const reader = createMarkdown().set({ html: true });
  for (const t of reader.parse(page.source, {})) {
    if (t.type !== "html_block" || !t.map || !/^[ \t]{0,3}<!--/.test(t.content)) continue;
    const text = t.content.trim().replace(/^<!--/, "").replace(/-->$/, "").trim();
    if (text === "" || /^\s*(```|~~~)/m.test(text)) continue;
    const line = t.map[0] + 1;
    const owner = slides.filter((s) => !s.diagram && s.line <= line).at(-1) ?? slides[0];
    owner?.notes.push(text.split(/\n\s*\n/).map((p) => `<p>${escapeHtml(p.trim())}</p>`).join("\n"));
  }
}

/** The slides of a page as one HTML document; `pageHref` is the page's own HTML, linked from the first slide. */
export function renderSlides(page: Page, result: PageResult | null, ctx: PageContext, pageHref: string): string {
  const slides = cutSlides(page, result, ctx);
  const title = pageTitle(page);
  const first = slides[0];
  // The first slide carries the page's title, and a way back to the page.
  const titled = first && /<h1[\s>]/.test(first.html) ? "" : `<h1>${escapeHtml(title)}</h1>\n`;
  const back = `<p class="slides-page-link"><a href="${escapeHtml(pageHref)}">The notes page</a> · press <kbd>N</kbd> for speaker notes, <kbd>F</kbd> for full screen</p>\n`;
  const sections = slides.map((s, i) => {
    const notes = s.notes.length ? `<aside class="notes">\n${s.notes.join("\n")}</aside>\n` : "";
    const body = i === 0 ? titled + s.html + back : s.html;
    return `<section class="${s.diagram ? "slide slide-diagram" : "slide"}">\n${body}${notes}</section>\n`;
  });
  if (sections.length === 0) sections.push(`<section class="slide">\n${titled}${back}</section>\n`);
  const asset = (name: string) => escapeHtml(ctx.assets + name);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)} (slides)</title>
<link rel="stylesheet" href="${asset("reveal.css")}">
<link rel="stylesheet" href="${asset(STYLESHEET)}">
<link rel="stylesheet" href="${asset("slides.css")}">
</head>
<body class="slides-body">
<div class="reveal"><div class="slides">
${sections.join("")}</div></div>
<script src="${asset("reveal.js")}"></script>
<script src="${asset("slides.js")}"></script>
</body>
</html>
`;
}

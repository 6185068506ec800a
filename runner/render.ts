// Page + results -> HTML: prose through markdown-it, code highlighted at build time, each cell with its transcript.
import { basename } from "node:path";
import hljs from "highlight.js/lib/core";
import bash from "highlight.js/lib/languages/bash";
import javascript from "highlight.js/lib/languages/javascript";
import json from "highlight.js/lib/languages/json";
import typescript from "highlight.js/lib/languages/typescript";
import type { Env, Token } from "markdown-it";
import { createMarkdown } from "./markdown.ts";
import type { Cell, CellResult, Chunk, Page, PageResult } from "./types.ts";

export interface NavLink {
  href: string;
  title: string;
}

export interface Nav {
  /** Relative href of the site index. */
  index: string;
  prev: NavLink | null;
  next: NavLink | null;
  /** Relative href of the stylesheet. */
  css: string;
}

export interface IndexEntry {
  href: string;
  title: string;
  summary: string;
  passed: number;
  failed: number;
  total: number;
}

hljs.registerLanguage("typescript", typescript);
hljs.registerLanguage("javascript", javascript);
hljs.registerLanguage("bash", bash);
hljs.registerLanguage("json", json);

// A fence's first info word -> the highlight.js grammar; anything else is shown as escaped plain text.
const GRAMMARS: Record<string, string> = {
  ts: "typescript", typescript: "typescript", js: "javascript", javascript: "javascript", mjs: "javascript",
  sh: "bash", bash: "bash", shell: "bash", json: "json",
};

/** What the fence rule needs to know about the page being rendered, carried in markdown-it's env. */
interface RenderState {
  cells: Map<Token, Cell>;
  hidden: Set<Token>;
  renderCell: (cell: Cell) => string;
}
const STATE = Symbol("lectern render state");

const md = createMarkdown();
// Every fence goes through here: a cell becomes its section, its `output` fence disappears (the cell
// shows it), any other fence is highlighted. Tokens are only read, never changed.
md.renderer.rules.fence = (tokens, idx, _options, env) => {
  const token = tokens[idx]!;
  const state = env?.[STATE] as RenderState | undefined;
  if (state?.hidden.has(token)) return "";
  const cell = state?.cells.get(token);
  if (state && cell) return state.renderCell(cell);
  return codeBlock(token.content, token.info.trim().split(/\s+/)[0] ?? "");
};

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Safe in text and in quoted attribute values alike. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

// CSI (7-bit and 8-bit); OSC and the other string sequences (DCS, SOS, PM, APC); then every
// shorter escape. Whatever control characters remain go too, so no terminal sequence reaches the page.
const ANSI = /(?:\x1b\[|\x9b)[0-9;?]*[ -/]*[@-~]|\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[ -/]*[0-~]/g;
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

export function stripAnsi(text: string): string {
  return text.replace(/\r\n/g, "\n").replace(ANSI, "").replace(CONTROL, "");
}

/** The simple `key: value` lines of a leading `---` block, and how many source lines it spans. */
export function frontMatter(source: string): { data: Record<string, string>; lines: number } {
  const lines = source.split(/\r\n|\r|\n/);
  const none = { data: {}, lines: 0 };
  if (lines[0]?.trimEnd() !== "---") return none;
  const data: Record<string, string> = {};
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!.trimEnd();
    if (line === "---") return { data, lines: i + 1 };
    if (line === "" || line.startsWith("#")) continue;
    // Anything but `key: value` means this is not front matter but prose that starts with a rule.
    const m = /^([A-Za-z_][\w-]*):(?:\s+(.*))?$/.exec(line);
    if (!m) return none;
    data[m[1]!] = unquote(m[2] ?? "");
  }
  return none;
}

function unquote(value: string): string {
  const m = /^(["'])(.*)\1$/.exec(value);
  return m ? m[2]! : value;
}

/** Index of the first token after the front matter: every block that starts inside it is skipped. */
function bodyStart(page: Page): number {
  const { lines } = frontMatter(page.source);
  if (lines === 0) return 0;
  const i = page.tokens.findIndex((t) => t.level === 0 && t.nesting >= 0 && t.map !== null && t.map[0] >= lines);
  return i === -1 ? page.tokens.length : i;
}

/** The plain text of an inline token: what a reader sees, without markup. */
function inlineText(token: Token): string {
  return (token.children ?? [])
    .map((c) => (c.type === "text" || c.type === "code_inline" ? c.content : c.type.endsWith("break") ? " " : inlineText(c)))
    .join("");
}

/** Front matter `title`, else the first heading, else the file name. */
export function pageTitle(page: Page): string {
  const title = frontMatter(page.source).data["title"];
  if (title) return title;
  const tokens = page.tokens;
  for (let i = bodyStart(page); i < tokens.length - 1; i++) {
    if (tokens[i]!.type === "heading_open") return inlineText(tokens[i + 1]!).trim();
  }
  return basename(page.path).replace(/\.md$/i, "");
}

/** Front matter `description`, else the first paragraph's text, cut to about 200 characters. */
export function pageSummary(page: Page): string {
  const description = frontMatter(page.source).data["description"];
  if (description) return description;
  const tokens = page.tokens;
  for (let i = bodyStart(page); i < tokens.length - 1; i++) {
    if (tokens[i]!.type === "paragraph_open") return truncate(inlineText(tokens[i + 1]!).replace(/\s+/g, " ").trim(), 200);
  }
  return "";
}

function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max);
  const space = cut.lastIndexOf(" ");
  return `${(space > max / 2 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

function codeBlock(code: string, lang: string): string {
  const grammar = Object.hasOwn(GRAMMARS, lang) ? GRAMMARS[lang]! : null;
  const html = grammar ? hljs.highlight(code, { language: grammar, ignoreIllegals: true }).value : escapeHtml(code);
  return `<pre class="code"><code class="hljs language-${escapeHtml(grammar ?? (lang || "text"))}">${html}</code></pre>\n`;
}

/** `12 ms`, `1.4 s`, `2 min 5 s`: rounded first, so 999.6 ms reads `1.0 s`, not `1000 ms`. */
export function formatDuration(ms: number): string {
  if (Math.round(ms) < 1000) return `${Math.round(ms)} ms`;
  const tenths = Math.round(ms / 100);
  if (tenths < 600) return `${(tenths / 10).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** UTC, so the same run renders the same HTML on every machine. */
function formatWhen(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return escapeHtml(iso);
  const text = `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
  return `<time datetime="${escapeHtml(date.toISOString())}">${text}</time>`;
}

function badges(cell: Cell): string {
  const out: string[] = [];
  if (cell.attrs.server) out.push("server");
  if (cell.attrs.skip) out.push("skip");
  if (cell.attrs.expect !== null) out.push(`expect ${cell.attrs.expect}`);
  if (cell.attrs.exit !== null) out.push(`exit ${cell.attrs.exit}`);
  const kind = (b: string) => b.split(" ")[0]!;
  return out.map((b) => ` <span class="badge badge-${kind(b)}">${escapeHtml(b)}</span>`).join("");
}

/** The transcript in arrival order; runs of one stream are joined first so no escape sequence is split. */
function transcript(chunks: Chunk[]): string {
  const runs: Chunk[] = [];
  for (const chunk of chunks) {
    const last = runs.at(-1);
    if (last && last.stream === chunk.stream) last.text += chunk.text;
    else runs.push({ ...chunk });
  }
  return runs
    .map(({ stream, text }) => {
      const html = escapeHtml(stripAnsi(text));
      if (html === "") return "";
      if (stream === "stderr") return `<span class="stderr">${html}</span>`;
      return stream === "stdin" ? `<kbd class="stdin">${html}</kbd>` : html;
    })
    .join("");
}

/** How the cell ended: status, exit code or signal, time, and why; `note` adds a last word. */
function statusLine(cell: Cell, result: CellResult | null, note: string | null): string {
  const status = result?.status ?? "notrun";
  const parts = [`<span class="badge status status-${status}">${result ? status : "not run"}</span>`];
  if (result) {
    // A server Lectern stopped ends by its signal; that is how it is meant to end, so it is not shown.
    const stopped = cell.attrs.server && result.status === "passed" && result.exitCode === null;
    if (result.exitCode !== null) parts.push(`exit ${result.exitCode}`);
    else if (result.signal !== null && !stopped) parts.push(`signal ${escapeHtml(result.signal)}`);
    if (result.status !== "skipped") parts.push(formatDuration(result.durationMs) + (result.cached ? " (cached)" : ""));
    if (result.reason) parts.push(`<span class="reason">${escapeHtml(result.reason)}</span>`);
  }
  if (note) parts.push(note);
  return `<p class="cell-status">${parts.join(" · ")}</p>\n`;
}

function renderCell(cell: Cell, result: CellResult | null): string {
  const id = `cell-${escapeHtml(cell.name)}`;
  let html = `<section class="cell" id="${id}">\n`;
  html += `<header class="cell-header"><a class="cell-name" href="#${id}">${escapeHtml(cell.name)}</a>${badges(cell)}</header>\n`;
  html += codeBlock(cell.code, cell.lang);
  const chunks = result?.chunks.length ? result.chunks : result?.output ? [{ stream: "stdout" as const, text: result.output }] : [];
  const ran = result !== null && result.status !== "skipped";
  let note: string | null = null;
  if (ran && chunks.length > 0) {
    html += `<pre class="output">${transcript(chunks)}</pre>\n`;
  } else if (!ran && cell.expected) {
    // Nothing ran, so the page's own expected transcript is the best thing to show, marked as such.
    html += `<pre class="output expected">${escapeHtml(stripAnsi(cell.expected.text))}</pre>\n`;
    note = "expected output shown";
  }
  return `${html}${statusLine(cell, result, note)}</section>\n`;
}

function runSummary(page: Page, result: PageResult | null): string {
  if (page.cells.length === 0) return "";
  if (!result) return `<p class="run-summary">Not run: no cell output on this page.</p>\n`;
  const cells = result.cells;
  const passed = cells.filter((c) => c.status === "passed").length;
  const skipped = cells.filter((c) => c.status === "skipped").length;
  const ran = cells.length - skipped;
  const skippedText = skipped ? `, ${skipped} skipped` : "";
  return `<p class="run-summary">Ran ${formatWhen(result.startedAt)} · ${passed} of ${ran} cells passed${skippedText} · ${formatDuration(result.durationMs)}</p>\n`;
}

function counts(e: IndexEntry): string {
  if (e.total === 0) return `<span class="counts">no cells</span>`;
  if (e.passed + e.failed === 0) return `<span class="counts counts-notrun">not run</span>`;
  const failed = e.failed ? `, ${e.failed} failed` : "";
  return `<span class="counts ${e.failed ? "counts-failed" : "counts-passed"}">${e.passed} of ${e.total} passed${failed}</span>`;
}

function pageList(entries: IndexEntry[]): string {
  const items = entries.map(
    (e) =>
      `<li><a href="${escapeHtml(e.href)}">${escapeHtml(e.title)}</a> ${counts(e)}` +
      (e.summary ? `<p class="summary">${escapeHtml(e.summary)}</p>` : "") +
      `</li>\n`,
  );
  return `<ul class="page-list">\n${items.join("")}</ul>\n`;
}

function documentShell(title: string, description: string, css: string, header: string, main: string, footer: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${escapeHtml(title)}</title>
${description ? `<meta name="description" content="${escapeHtml(description)}">\n` : ""}<link rel="stylesheet" href="${escapeHtml(css)}">
</head>
<body>
<header class="site-header">${header}</header>
<main>
${main}</main>
${footer}</body>
</html>
`;
}

function pager({ prev, next }: Nav): string {
  if (!prev && !next) return "";
  // An empty span keeps `next` on the right when there is no `prev`.
  const before = prev ? `<a rel="prev" href="${escapeHtml(prev.href)}">← ${escapeHtml(prev.title)}</a>` : "<span></span>";
  const after = next ? `<a rel="next" href="${escapeHtml(next.href)}">${escapeHtml(next.title)} →</a>` : "";
  return `<nav class="pager">${before}${after}</nav>\n`;
}

/** A whole page as an HTML document; `listing`, when given, is appended as the site's page list. */
export function renderPage(page: Page, result: PageResult | null, nav: Nav, listing?: IndexEntry[]): string {
  const byName = new Map(result?.cells.map((c) => [c.name, c]));
  const state: RenderState = {
    cells: new Map(page.cells.map((c) => [page.tokens[c.token]!, c])),
    hidden: new Set(page.cells.flatMap((c) => (c.expected ? [page.tokens[c.expected.token]!] : []))),
    renderCell: (cell) => renderCell(cell, byName.get(cell.name) ?? null),
  };
  const env: Env = { [STATE]: state };
  const prose = md.renderer.render(page.tokens.slice(bodyStart(page)), md.options, env);
  const main = `<article class="page">\n${runSummary(page, result)}${prose}</article>\n${listing ? pageList(listing) : ""}`;
  const header = `<a href="${escapeHtml(nav.index)}">Index</a>`;
  return documentShell(pageTitle(page), pageSummary(page), nav.css, header, main, pager(nav));
}

/** Where a site keeps its stylesheet, relative to the index. */
export const STYLESHEET = "assets/lectern.css";

/** The generated site index, for a site without an index.md page. */
export function renderIndex(entries: IndexEntry[], title = "Lectern"): string {
  const main = `<h1>${escapeHtml(title)}</h1>\n${pageList(entries)}`;
  return documentShell(title, "", STYLESHEET, `<a href="index.html">${escapeHtml(title)}</a>`, main, "");
}

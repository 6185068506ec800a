// markdown-it's renderer rules for a page: a fence becomes its cell (or a highlighted block, a
// hint, a diagram), a heading a link to itself, a link to one of the site's pages goes to its
// HTML, an empty table header an ordinary cell, a remote image a link. The rules read what they
// need from a RenderState that render.ts puts in markdown-it's env; tokens are never changed.
import type { Token } from "markdown-it";
import type { HighlightMemo } from "../cache/memo.ts";
import { createMarkdown } from "../extract/markdown.ts";
import type { Cell } from "../types.ts";
import { hintHtml, solutionHtml } from "./exercise.ts";
import { codeBlock } from "./highlight.ts";
import { escapeHtml } from "./html.ts";
import type { Heading } from "./pagemeta.ts";

/** What the rules below need to know about the page being rendered, carried in markdown-it's env. */
export interface RenderState {
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
export const STATE = Symbol("lectern render state");
const stateOf = (env: unknown) => (env as Record<symbol, RenderState> | undefined)?.[STATE];

export const md = createMarkdown();
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
// A table too wide for the column scrolls inside itself (lectern.css): the keyboard must reach it.
md.renderer.rules.table_open = (tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options).replace(/^<table/, `<table tabindex="0"`);
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

// What a page says about itself: front matter, title, one-line summary, and its outline of headings.
import { basename } from "node:path";
import type { Token } from "markdown-it";
import type { Page } from "../types.ts";

/** The simple `key: value` lines of a leading `---` block, and how many source lines it spans. */
export function frontMatter(source: string): { data: Record<string, string>; lines: number } {
  const lines = source.split(/\r\n|\r|\n/);
  const none = { data: {}, lines: 0 };
  if (lines[0]?.replace(/^\uFEFF/, "").trimEnd() !== "---") return none;
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
export function bodyStart(page: Page): number {
  const { lines } = frontMatter(page.source);
  if (lines === 0) return 0;
  const i = page.tokens.findIndex((t) => t.level === 0 && t.nesting >= 0 && t.map !== null && t.map[0] >= lines);
  return i === -1 ? page.tokens.length : i;
}

/** The plain text of an inline token: what a reader sees, without markup. */
export function inlineText(token: Token): string {
  return (token.children ?? [])
    .map((c) => (c.type === "text" || c.type === "code_inline" ? c.content : c.type.endsWith("break") ? " " : inlineText(c)))
    .join("");
}

export interface Heading {
  /** Index of its heading_open token in Page.tokens. */
  token: number;
  level: number;
  text: string;
  /** Unique in the page, and never one of its cells' `cell-NAME` ids. */
  id: string;
}

/** Every heading of the body, in order, with an id for its anchor. */
export function headings(page: Page): Heading[] {
  const taken = new Set(page.cells.map((c) => `cell-${c.name}`.toLowerCase()));
  const out: Heading[] = [];
  const tokens = page.tokens;
  for (let i = bodyStart(page); i < tokens.length - 1; i++) {
    const t = tokens[i]!;
    if (t.type !== "heading_open") continue;
    const text = inlineText(tokens[i + 1]!).replace(/\s+/g, " ").trim();
    const base = slug(text);
    let id = base;
    for (let n = 2; taken.has(id.toLowerCase()); n++) id = `${base}-${n}`;
    taken.add(id.toLowerCase());
    out.push({ token: i, level: Number(t.tag.slice(1)), text, id });
  }
  return out;
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, "-").replace(/^-+|-+$/g, "").slice(0, 64) || "section";
}

/** Front matter `title`, else the first heading, else the file name. */
export function pageTitle(page: Page): string {
  const title = frontMatter(page.source).data["title"];
  if (title) return title;
  const first = headings(page)[0];
  if (first && first.text) return first.text;
  return basename(page.path).replace(/\.md$/i, "");
}

/** Front matter `description`, else the first paragraph's whole sentences, about 200 characters. */
export function pageSummary(page: Page): string {
  const description = frontMatter(page.source).data["description"];
  if (description) return description;
  const tokens = page.tokens;
  for (let i = bodyStart(page); i < tokens.length - 1; i++) {
    if (tokens[i]!.type === "paragraph_open") return sentences(inlineText(tokens[i + 1]!).replace(/\s+/g, " ").trim(), 200);
  }
  return "";
}

/**
 * As many whole sentences as fit in `max` characters, never cut mid-sentence; a first sentence
 * longer than that is kept whole up to twice as long, and only beyond that cut at a word, with "…".
 */
function sentences(text: string, max: number): string {
  if (text.length <= max) return text;
  const ends = [...text.matchAll(/[.!?](?=\s+[^a-z\s]|$)/g)].map((m) => m.index + 1);
  const fits = ends.filter((e) => e <= max).at(-1);
  if (fits !== undefined) return text.slice(0, fits);
  const first = ends[0];
  if (first !== undefined && first <= max * 2) return text.slice(0, first);
  const cut = text.slice(0, max);
  const space = cut.lastIndexOf(" ");
  return `${(space > max / 2 ? cut.slice(0, space) : cut).trimEnd()}…`;
}
